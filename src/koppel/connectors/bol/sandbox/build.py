"""Orders from the control API's short body, and the changes bol makes to them: shipping and cancelling.

The control body (snake_case, every field but ``items`` optional)::

    {"items": [{"ean": "8717418510749", "title": "Mok", "quantity": 2, "unit_price": "12.99",
                "fulfilment": "FBR", "discount": "1.00", "offer_reference": "MOK-1", "commission": "2.10"}],
     "customer": {"salutation": "FEMALE", "first_name": "Sanne", "surname": "Jansen",
                  "street_name": "Dorpstraat",
                  "house_number": "1", "house_number_extension": "B", "zip_code": "1111ZZ", "city": "Utrecht",
                  "country_code": "NL", "company": null, "phone": "0612345678", "language": "nl"},
     "billing": {... the same fields, plus "vat_number", "kvk_number", "order_reference"},
     "fulfilment": "FBR", "placed_at": "2026-05-01T10:00:00+02:00", "pickup_point": false, "vvb": false}

``billing`` defaults to the customer. An item's ``discount`` is an amount incl. VAT (or ``discounts``: a list
of ``{"title", "amount"}``); ``commission`` defaults to 15% of the item's total price.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .state import AMSTERDAM, Ids, Item, Order, Shipment, ShipmentLine, cents, now

METHODS = ("FBR", "FBB")
SALUTATIONS = ("MALE", "FEMALE", "UNKNOWN")
COMMISSION_RATE = Decimal("0.15")
ADDRESS = {
    "salutation": "salutation",
    "first_name": "firstName",
    "surname": "surname",
    "street_name": "streetName",
    "house_number": "houseNumber",
    "house_number_extension": "houseNumberExtension",
    "extra_address_information": "extraAddressInformation",
    "zip_code": "zipCode",
    "city": "city",
    "country_code": "countryCode",
    "company": "company",
}
SHIPMENT_ONLY = {
    "pickup_point_name": "pickupPointName",
    "phone": "deliveryPhoneNumber",
    "language": "language",
}
BILLING_ONLY = {"vat_number": "vatNumber", "kvk_number": "kvkNumber", "order_reference": "orderReference"}
DEFAULT_CUSTOMER = {
    "salutation": "FEMALE",
    "first_name": "Sanne",
    "surname": "Jansen",
    "street_name": "Dorpstraat",
    "house_number": "1",
    "zip_code": "1111ZZ",
    "city": "Utrecht",
    "country_code": "NL",
    "language": "nl",
}


def money(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number")
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what}: {value!r} is not a non-negative number")
    return cents(amount)


def moment(value: Any, what: str) -> datetime:
    if value is None:
        return now()
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=AMSTERDAM)
    return parsed.astimezone(AMSTERDAM).replace(microsecond=0)


def _address(given: Any, fields: dict[str, str], what: str, email: str) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ValueError(f"{what} must be an object")
    salutation = given.get("salutation", "UNKNOWN")
    if salutation not in SALUTATIONS:
        raise ValueError(f"{what}.salutation must be one of {', '.join(SALUTATIONS)}")
    out: dict[str, Any] = {}
    for key, name in {**ADDRESS, **fields}.items():
        value = given.get(key)
        if value not in (None, ""):
            out[name] = str(value)
    out["salutation"] = salutation
    out["email"] = str(given.get("email") or email)
    return out


def _discounts(raw: dict[str, Any], what: str) -> list[dict[str, Any]]:
    if raw.get("discounts") is not None:
        if not isinstance(raw["discounts"], list):
            raise ValueError(f"{what}.discounts must be a list")
        return [
            {
                "title": str(d.get("title", "Actie")),
                "amount": money(d.get("amount"), f"{what}.discounts.amount"),
            }
            for d in raw["discounts"]
            if isinstance(d, dict)
        ]
    if raw.get("discount") not in (None, "", 0):
        return [
            {
                "title": str(raw.get("discount_title", "Actie")),
                "amount": money(raw["discount"], f"{what}.discount"),
            }
        ]
    return []


def _item(raw: Any, n: int, default_method: str, ids: Ids, placed: datetime) -> Item:
    what = f"items[{n}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{what} must be an object")
    quantity = raw.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError(f"{what}.quantity must be a positive integer")
    method = str(raw.get("fulfilment", default_method)).upper()
    if method not in METHODS:
        raise ValueError(f"{what}.fulfilment must be FBR or FBB")
    item = Item(
        order_item_id=ids.order_item(),
        ean=str(raw.get("ean") or "8712345678906"),
        title=str(raw.get("title") or "Product"),
        quantity=quantity,
        unit_price=money(raw.get("unit_price", raw.get("price")), f"{what}.unit_price"),
        method=method,
        discounts=_discounts(raw, what),
        commission=Decimal(0),
        offer_id=ids.uuid(),
        offer_reference=str(raw["offer_reference"]) if raw.get("offer_reference") else None,
        changed=placed,
    )
    if item.total_price < 0:
        raise ValueError(f"{what}: the discounts exceed the price")
    given = raw.get("commission")
    item.commission = (
        money(given, f"{what}.commission") if given is not None else cents(item.total_price * COMMISSION_RATE)
    )
    return item


def build_order(data: Any, ids: Ids) -> Order:
    """An order from the control body; ``ValueError`` says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise ValueError("items must be a non-empty list")
    placed = moment(data.get("placed_at"), "placed_at")
    method = str(data.get("fulfilment", "FBR")).upper()
    customer = (
        {**DEFAULT_CUSTOMER, **(data.get("customer") or {})}
        if isinstance(data.get("customer", {}), dict)
        else None
    )
    if customer is None:
        raise ValueError("customer must be an object")
    billing = data.get("billing") or customer
    order = Order(
        order_id=ids.order(),
        placed=placed,
        shipment_details=_address(customer, SHIPMENT_ONLY, "customer", _relay(ids)),
        billing_details=_address(billing, BILLING_ONLY, "billing", _relay(ids)),
        items=[_item(raw, n, method, ids, placed) for n, raw in enumerate(items)],
        pickup_point=bool(data.get("pickup_point", False)),
        vvb=bool(data.get("vvb", False)),
    )
    if order.pickup_point:
        order.shipment_details.setdefault("pickupPointName", "Albert Heijn: UTRECHT")
    return order


def _relay(ids: Ids) -> str:
    """A scrambled relay address, as bol hands out instead of the customer's own."""
    return f"{ids.text(30)}@verkopen.bol.com"


def ship(
    order: Order,
    wanted: list[tuple[Item, int]],
    ids: Ids,
    *,
    shipped: datetime | None = None,
    reference: str | None = None,
    transporter_code: str | None = None,
    track_and_trace: str | None = None,
    shipping_label_id: str | None = None,
) -> Shipment:
    """Ship ``wanted`` (item, quantity) of ``order``: one shipment. ``ValueError`` when more is asked than is
    open; nothing changes then."""
    for item, quantity in wanted:
        if quantity < 1 or quantity > item.open:
            raise ValueError(f"Order item {item.order_item_id} has {item.open} to ship, not {quantity}")
    moment_ = shipped or now()
    for item, quantity in wanted:
        item.quantity_shipped += quantity
        item.changed = moment_
    fbb = all(item.method == "FBB" for item, _ in wanted)
    code = transporter_code or ("POSTNL" if fbb else "TNT")
    return Shipment(
        shipment_id=ids.shipment(),
        order=order,
        lines=[ShipmentLine(item, quantity) for item, quantity in wanted],
        shipped=moment_,
        reference=reference,
        transport_id=ids.transport(),
        transporter_code=code,
        track_and_trace=track_and_trace or f"3S{ids.text(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}{ids.number(9)}",
        shipping_label_id=shipping_label_id,
    )


def cancel(item: Item, at: datetime | None = None, *, by_customer: bool = False) -> None:
    """Cancel what is open of ``item``; ``ValueError`` when nothing is open."""
    if item.open < 1:
        raise ValueError(f"Order item {item.order_item_id} has nothing open to cancel")
    item.quantity_cancelled += item.open
    if by_customer:
        item.cancellation_request = True
    item.changed = at or now()
