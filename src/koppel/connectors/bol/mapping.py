"""bol.com Retailer API v10 orders and shipments → the canonical :class:`~koppel.documents.model.Order`.

Three payloads are read, told apart by their fields:

- an ``Order`` (``GET /retailer/orders/{id}``: ``orderId`` and ``orderItems``): the order source. Each
  item's quantity minus ``quantityCancelled`` is invoiced at ``unitPrice``; its ``discounts`` (for that
  share) become one negative "Korting" line per VAT rate, so the invoice totals what the customer paid
  (``totalPrice``, which is quantity × unit price minus the discounts).
- a ``Shipment`` (``GET /retailer/shipments/{id}``: ``shipmentId`` and ``shipmentItems``): the shipment
  source, exactly the shipped items (``quantityShipped``, or ``quantity`` before v10.23 added it).
- what the shipment source fetches, ``{"shipment": <Shipment>, "order": <Order>}``: the shipment with its
  order, whose items hold the discounts (a shipment's items have none) and whose billing details stand in
  when the shipment lacks them. A shipment carries the share of each item's discount it ships, rounded
  to the cent.

Money values are numbers incl. VAT; bol sends no VAT rate, so each line's rate comes from the connection's
settings (:func:`.config.vat_rate`), with its reason (:func:`line_reasons`). The customer is the billing
details, falling back to the shipment details; the e-mail address is bol's relay address. Every bol order
is paid before bol passes it on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.connectors.errors import OrderInvalid
from koppel.documents.model import LineKind, Order, OrderLine, Party
from koppel.documents.money import ZERO, cents

from .config import BolSettings, ChosenRate, vat_rate

SOURCE = "bol"
PAYMENT_METHOD = "bol.com"
DISCOUNT = "Korting"
#: The statuses of a bol order (the items together); a shipment is always ``shipped``.
OPEN, CANCELLATION_REQUESTED, SHIPPED, CANCELLED = "open", "cancellation_requested", "shipped", "cancelled"
STATUSES = (OPEN, CANCELLATION_REQUESTED, SHIPPED, CANCELLED)


def kind_of(payload: Mapping[str, Any]) -> str:
    """``"order"``, ``"shipment"`` (bare) or ``"shipment+order"``; ``OrderInvalid`` for anything else."""
    if isinstance(payload.get("shipment"), Mapping):
        return "shipment+order"
    if "shipmentId" in payload or "shipmentItems" in payload:
        return "shipment"
    if "orderId" in payload or "orderItems" in payload:
        return "order"
    raise OrderInvalid("neither a bol.com Order (orderId, orderItems) nor a Shipment (shipmentId)")


def parts(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The shipment and the order in a payload (either may be missing)."""
    kind = kind_of(payload)
    if kind == "order":
        return None, payload
    if kind == "shipment":
        return payload, None
    order = payload.get("order")
    return payload["shipment"], order if isinstance(order, Mapping) and "orderItems" in order else None


def order_id(payload: Mapping[str, Any]) -> str:
    """The record's id: the order id for an order, the shipment id for a shipment."""
    shipment, order = parts(payload)
    value = shipment.get("shipmentId") if shipment is not None else (order or {}).get("orderId")
    if value in (None, ""):
        raise OrderInvalid("shipmentId is missing" if shipment is not None else "orderId is missing")
    return str(value)


def bol_order_id(payload: Mapping[str, Any]) -> str:
    """The bol order number of an order or of a shipment's order."""
    shipment, order = parts(payload)
    if order is not None and order.get("orderId"):
        return str(order["orderId"])
    ref = shipment.get("order") if shipment is not None else None
    return str(ref.get("orderId") or "") if isinstance(ref, Mapping) else ""


def order_number(payload: Mapping[str, Any]) -> str:
    """The invoice's reference: the bol order number; for a shipment ``<order number>-<shipment id>``."""
    shipment, _order = parts(payload)
    number = bol_order_id(payload)
    if shipment is None:
        return number
    return f"{number}-{shipment.get('shipmentId', '')}" if number else str(shipment.get("shipmentId", ""))


def _money(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise OrderInvalid(f"{field} is missing or not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise OrderInvalid(f"{field}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise OrderInvalid(f"{field}: {value!r} is not a number")
    return amount


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OrderInvalid(f"{field} must be a whole number of at least 0")
    return value


def _moment(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise OrderInvalid(f"{field}: {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise OrderInvalid(f"{field}: {value!r} has no offset")
    return moment


def _text(data: Mapping[str, Any] | None, key: str) -> str:
    value = (data or {}).get(key)
    return str(value).strip() if value not in (None, "") else ""


def customer(*details: Any) -> Party:
    """The first billing or shipment details given (``billingDetails`` before ``shipmentDetails``)."""
    found = [d for d in details if isinstance(d, Mapping) and d]
    if not found:
        raise OrderInvalid("billingDetails and shipmentDetails are both missing")
    data = found[0]
    phone = next((_text(d, "deliveryPhoneNumber") for d in found if _text(d, "deliveryPhoneNumber")), "")
    email = next((_text(d, "email") for d in found if _text(d, "email")), "")
    house = " ".join(filter(None, (_text(data, "houseNumber"), _text(data, "houseNumberExtension"))))
    return Party(
        first_name=_text(data, "firstName"),
        last_name=_text(data, "surname"),
        company=_text(data, "company"),
        street=_text(data, "streetName"),
        address2=_text(data, "extraAddressInformation"),
        house_number=house,
        zipcode=_text(data, "zipCode"),
        city=_text(data, "city"),
        country_raw=_text(data, "countryCode"),
        phone=phone,
        email=email,
        vat_number=_text(data, "vatNumber"),
        company_number=_text(data, "kvkNumber"),
    )


def kvk_number(payload: Mapping[str, Any]) -> str:
    """The customer's KvK (Chamber of Commerce) number, when bol has one (the canonical Party has none)."""
    shipment, order = parts(payload)
    for source in (shipment, order):
        if source is not None and _text(source.get("billingDetails"), "kvkNumber"):
            return _text(source.get("billingDetails"), "kvkNumber")
    return ""


def _items(order: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    items = (order or {}).get("orderItems")
    if order is not None and (not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items)):
        raise OrderInvalid("orderItems must be a list of order items")
    return list(items or [])


def order_status(order: Mapping[str, Any]) -> str:
    """``cancelled`` when nothing is left, ``cancellation_requested`` while the customer asks to cancel
    what is still open, ``open`` while anything is to ship, else ``shipped``."""
    items = _items(order)
    left = opened = asked = 0
    for n, item in enumerate(items):
        quantity = _quantity(item.get("quantity"), f"orderItems[{n}].quantity")
        shipped = _quantity(item.get("quantityShipped", 0), f"orderItems[{n}].quantityShipped")
        cancelled = _quantity(item.get("quantityCancelled", 0), f"orderItems[{n}].quantityCancelled")
        still = max(0, quantity - shipped - cancelled)
        left += quantity - cancelled
        opened += still
        asked += still if item.get("cancellationRequest") else 0
    if left <= 0:
        return CANCELLED
    if asked:
        return CANCELLATION_REQUESTED
    return OPEN if opened else SHIPPED


def _discount(item: Mapping[str, Any], field: str, unit: Decimal, quantity: int) -> tuple[Decimal, str]:
    """The item's discount for all its quantity (incl. VAT) and the titles it has."""
    given = item.get("discounts") or []
    if not isinstance(given, list):
        raise OrderInvalid(f"{field}.discounts must be a list")
    titles = [str(d.get("title") or "").strip() for d in given if isinstance(d, Mapping)]
    amount = sum(
        (_money(d.get("amount"), f"{field}.discounts.amount") for d in given if isinstance(d, Mapping)), ZERO
    )
    if not given and item.get("totalPrice") is not None:  # a total below the list price, unexplained
        amount = max(ZERO, cents(unit * quantity) - _money(item["totalPrice"], f"{field}.totalPrice"))
    return amount, ", ".join(dict.fromkeys(t for t in titles if t))


class _Builder:
    """Lines and the expected total, with each line's VAT rate and reason."""

    def __init__(self, settings: BolSettings, country: str) -> None:
        self.settings, self.country = settings, country
        self.lines: list[OrderLine] = []
        self.reasons: list[str] = []
        self.discounts: dict[Decimal, tuple[Decimal, list[str]]] = defaultdict(lambda: (ZERO, []))
        self.total = ZERO

    def product(self, ean: str, title: str, quantity: int, unit: Decimal) -> ChosenRate:
        chosen = vat_rate(self.settings, ean, self.country)
        description = title or (f"EAN {ean}" if ean else "Product")
        self.lines.append(
            OrderLine(description, Decimal(quantity), unit, chosen.rate, sku=ean, vat_reason=str(chosen))
        )
        self.reasons.append(str(chosen))
        return chosen

    def discount(self, chosen: ChosenRate, amount: Decimal, title: str) -> None:
        if amount <= 0:
            return
        total, titles = self.discounts[chosen.rate]
        self.discounts[chosen.rate] = (total + amount, titles + ([title] if title else []))

    def done(self) -> tuple[tuple[OrderLine, ...], list[str]]:
        for rate, (amount, titles) in sorted(self.discounts.items()):
            names = ", ".join(dict.fromkeys(titles))
            text = f"{DISCOUNT} ({names})" if names else DISCOUNT
            reason = f"{rate.normalize():f}%: the rate of the discounted products"
            self.lines.append(
                OrderLine(text, Decimal(1), -amount, rate, LineKind.DISCOUNT, vat_reason=reason)
            )
            self.reasons.append(reason)
        return tuple(self.lines), self.reasons


def _order_lines(order: Mapping[str, Any], builder: _Builder) -> None:
    for n, item in enumerate(_items(order)):
        field = f"orderItems[{n}]"
        quantity = _quantity(item.get("quantity"), f"{field}.quantity")
        cancelled = _quantity(item.get("quantityCancelled", 0), f"{field}.quantityCancelled")
        billable = max(0, quantity - cancelled)
        if billable == 0:
            continue
        unit = _money(item.get("unitPrice"), f"{field}.unitPrice")
        product = item.get("product") if isinstance(item.get("product"), Mapping) else {}
        chosen = builder.product(_text(product, "ean"), _text(product, "title"), billable, unit)
        discount, titles = _discount(item, field, unit, quantity)
        share = discount if billable == quantity else cents(discount * billable / quantity)
        builder.discount(chosen, share, titles)
        if billable == quantity and item.get("totalPrice") is not None:
            builder.total += _money(item["totalPrice"], f"{field}.totalPrice")
        else:
            builder.total += cents(unit * billable) - share


def _shipment_lines(shipment: Mapping[str, Any], order: Mapping[str, Any] | None, builder: _Builder) -> None:
    by_id = {str(i.get("orderItemId")): i for i in _items(order)}
    items = shipment.get("shipmentItems")
    if not isinstance(items, list) or not items or not all(isinstance(i, Mapping) for i in items):
        raise OrderInvalid("shipmentItems must be a non-empty list")
    for n, item in enumerate(items):
        field = f"shipmentItems[{n}]"
        ordered = by_id.get(str(item.get("orderItemId")), {})
        shipped = _quantity(item.get("quantityShipped", item.get("quantity")), f"{field}.quantityShipped")
        if shipped == 0:
            continue
        price = item.get("unitPrice", ordered.get("unitPrice"))
        unit = _money(price, f"{field}.unitPrice")
        product = item.get("product") or ordered.get("product") or {}
        chosen = builder.product(_text(product, "ean"), _text(product, "title"), shipped, unit)
        share = ZERO
        if ordered:
            quantity = _quantity(ordered.get("quantity"), f"order item {item.get('orderItemId')}.quantity")
            discount, titles = _discount(ordered, f"order item {item.get('orderItemId')}", unit, quantity)
            share = discount if shipped >= quantity else cents(discount * shipped / max(quantity, 1))
            builder.discount(chosen, share, titles)
        builder.total += cents(unit * shipped) - share


def _party(payload: Mapping[str, Any]) -> Party:
    """The customer of a payload: the billing details (the shipment's, then the order's), else the
    shipment details."""
    shipment, order = parts(payload)
    sources = [source for source in (shipment, order) if source is not None]
    return customer(*(source.get(key) for key in ("billingDetails", "shipmentDetails") for source in sources))


def customer_country(payload: Mapping[str, Any]) -> str:
    """The customer's country (alpha-2, or as bol wrote it) that chooses the VAT rates of a payload."""
    party = _party(payload)
    return party.country.alpha2 if party.country else party.country_raw


def product_rate(payload: Mapping[str, Any], ean: str, settings: BolSettings | None = None) -> ChosenRate:
    """The VAT rate (and why) :func:`parse_order` gives a product with ``ean`` in this payload."""
    return vat_rate(settings if settings is not None else BolSettings(), ean, customer_country(payload))


def item_discount(item: Mapping[str, Any], field: str = "order item") -> tuple[Decimal, str]:
    """An order item's discount for all its quantity (incl. VAT) and its titles, as the invoice takes it."""
    unit = _money(item.get("unitPrice"), f"{field}.unitPrice")
    return _discount(item, field, unit, _quantity(item.get("quantity"), f"{field}.quantity"))


def parse_order(payload: Mapping[str, Any], settings: BolSettings | None = None) -> Order:
    if not isinstance(payload, Mapping):
        raise OrderInvalid("the payload is not a JSON object")
    settings = settings if settings is not None else BolSettings()
    shipment, order = parts(payload)
    party = _party(payload)
    country = party.country.alpha2 if party.country else party.country_raw
    builder = _Builder(settings, country)
    if shipment is not None:
        _shipment_lines(shipment, order, builder)
        created = _moment(shipment.get("shipmentDateTime"), "shipmentDateTime")
        status = SHIPPED
    else:
        assert order is not None
        _order_lines(order, builder)
        created = _moment(order.get("orderPlacedDateTime"), "orderPlacedDateTime")
        status = order_status(order)
    lines, _reasons = builder.done()
    return Order(
        source=SOURCE,
        source_id=order_id(payload),
        number=order_number(payload),
        created_at=created,
        status=status,
        currency="EUR",
        prices_include_vat=True,
        payment_method=PAYMENT_METHOD,
        paid=True,
        customer=party,
        lines=lines,
        shipping=None,
        total=builder.total,
    )


def line_reasons(payload: Mapping[str, Any], settings: BolSettings | None = None) -> list[str]:
    """Why each line of :func:`parse_order`'s order has its VAT rate, in the same order as its lines
    (``"9%: the rate for EAN 9789012345678"``)."""
    settings = settings if settings is not None else BolSettings()
    shipment, order = parts(payload)
    builder = _Builder(settings, customer_country(payload))
    if shipment is not None:
        _shipment_lines(shipment, order, builder)
    else:
        _order_lines(order or {}, builder)
    return builder.done()[1]
