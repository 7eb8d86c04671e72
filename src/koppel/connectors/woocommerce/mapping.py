"""WooCommerce REST v3 order JSON (``shared/specs/woocommerce``; a webhook body is the same JSON) into the
canonical order.

WooCommerce keeps every amount net, with its tax beside it: ``subtotal``/``subtotal_tax`` before discounts
and ``total``/``total_tax`` after them, per line item, and ``total``/``total_tax`` per shipping and fee
line. A line's amount in the order's basis is therefore the net amount, plus its tax when the shop's prices
include tax (``prices_include_tax``). Product lines are booked at their amount before discount; the
difference to the amount after discount, summed per VAT rate, becomes one "Korting" line per rate. The
order is marked ``gross_from_net``: the shop's total is computed from unrounded net amounts, so it may be a
cent off the sum of the lines, which Koppel books on a rounding line.

The VAT rate of a line comes from the shop's own tax data: the line's ``taxes[].id`` is joined to the
order's ``tax_lines[].rate_id``, whose ``rate_percent`` (WooCommerce 3.7 and later) is the rate. Without it
(older shops, a tax line removed by hand) the rate is derived from the amounts: the first of the usual
Dutch and Belgian rates (21, 12, 9, 6, 0) that the line's tax can be rounded from, the nearest one when
several can; when none can, the ratio tax / net rounded to one decimal (7.5 for the US sales tax of the
REST documentation's example).

A shipping or fee line that carries taxes at several rates (a negative fee is taxed in proportion to the
cart's tax classes; some shipping plugins split shipping tax the same way) is booked as one line per rate:
the net amount of each part is its tax divided by its rate, and what no taxed part accounts for is a 0%
part. Several rates on one amount (stacked taxes, outside the EU) add up to one rate.

Gift cards redeemed (``gift_cards[]`` of the WooCommerce Gift Cards extension, ``code`` and ``amount``)
are payments, not discounts: WooCommerce's ``total`` is what is left to pay after them, so the order's
total is that plus the cards, and each card is a :class:`~koppel.documents.model.Prepayment`.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from koppel.connectors.errors import OrderInvalid
from koppel.documents.model import LineKind, Order, OrderLine, Party, Prepayment, prepaid_total
from koppel.documents.money import ZERO, cents

SOURCE = "woocommerce"

#: The rates a derived rate is matched to (see the module docstring).
USUAL_RATES = tuple(Decimal(rate) for rate in ("21", "12", "9", "6", "0"))
#: ``meta_data`` keys under which VAT plugins keep the customer's VAT number, most common first.
VAT_NUMBER_KEYS = (
    "_billing_vat_number",
    "_vat_number",
    "vat_number",
    "_billing_vat",
    "_billing_eu_vat_number",
    "_billing_btw_nummer",
    "_billing_yweu_vat",
    "yweu_billing_vat",
)
NO_VAT = Decimal(0)
DISCOUNT_DESCRIPTION = "Korting"
SHIPPING_DESCRIPTION = "Verzendkosten"
FEE_DESCRIPTION = "Toeslag"
GIFT_CARD_DESCRIPTION = "Cadeaubon"
UNIT_PRECISION = Decimal("0.0001")
_HALF_CENT = Decimal("0.005")


# --- the payload -------------------------------------------------------------------------------------------


def decimal(value: Any, *, blank_is_zero: bool = False) -> Decimal:
    """A JSON number or numeric string as a Decimal; floats go through ``str`` so they keep what they
    show. WooCommerce sends money as strings and some tax amounts as ``""``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text and blank_is_zero:
            return ZERO
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


Money = Annotated[Decimal, BeforeValidator(decimal)]
TaxMoney = Annotated[
    Decimal, BeforeValidator(lambda v: ZERO if v is None else decimal(v, blank_is_zero=True))
]


def _text(value: Any) -> Any:
    if value is None:
        return ""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class WooAddress(_Model):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    address_1: Text = ""
    address_2: Text = ""
    city: Text = ""
    state: Text = ""
    postcode: Text = ""
    country: Text = ""
    email: Text = ""
    phone: Text = ""

    @property
    def has_address(self) -> bool:
        return bool(self.address_1 or self.postcode or self.city)


class WooMeta(_Model):
    key: Text = ""
    value: Any = None


class WooTax(_Model):
    """One entry of a line's ``taxes``: the tax (unrounded, as WooCommerce stores it) of one rate."""

    id: int
    total: TaxMoney = ZERO
    subtotal: TaxMoney = ZERO


class WooTaxLine(_Model):
    rate_id: int | None = None
    rate_code: Text = ""
    label: Text = ""
    compound: bool = False
    rate_percent: Annotated[
        Decimal | None, BeforeValidator(lambda v: None if v in (None, "") else decimal(v))
    ] = None


class WooLineItem(_Model):
    name: Text = ""
    sku: Text = ""
    quantity: Annotated[Decimal, BeforeValidator(decimal), Field(gt=0)]
    subtotal: Money
    subtotal_tax: TaxMoney = ZERO
    total: Money
    total_tax: TaxMoney = ZERO
    taxes: list[WooTax] = []


class WooShippingLine(_Model):
    method_title: Text = ""
    total: Money
    total_tax: TaxMoney = ZERO
    taxes: list[WooTax] = []


class WooFeeLine(_Model):
    name: Text = ""
    total: Money
    total_tax: TaxMoney = ZERO
    taxes: list[WooTax] = []


class WooCouponLine(_Model):
    code: Text = ""


class WooGiftCard(_Model):
    """One entry of ``gift_cards`` (the WooCommerce Gift Cards extension): a card redeemed on the order."""

    code: Text = ""
    amount: Money


class WooOrder(_Model):
    id: int
    number: Text = ""
    status: Text
    currency: Text = "EUR"
    prices_include_tax: bool = False
    date_created: Text = ""
    date_created_gmt: Text = ""
    date_paid: Text = ""
    date_paid_gmt: Text = ""
    total: Money
    billing: WooAddress = WooAddress()
    shipping: WooAddress = WooAddress()
    payment_method: Text = ""
    payment_method_title: Text = ""
    meta_data: list[WooMeta] = []
    line_items: list[WooLineItem] = Field(min_length=1)
    tax_lines: list[WooTaxLine] = []
    shipping_lines: list[WooShippingLine] = []
    fee_lines: list[WooFeeLine] = []
    coupon_lines: list[WooCouponLine] = []
    gift_cards: list[WooGiftCard] = []

    @field_validator("billing", "shipping", mode="before")
    @classmethod
    def _empty_address(cls, value: Any) -> Any:
        return {} if value in (None, []) else value  # PHP sends an empty object as []

    @field_validator(
        "meta_data", "tax_lines", "shipping_lines", "fee_lines", "coupon_lines", "gift_cards", mode="before"
    )
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return [] if value is None else value


# --- dates -------------------------------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time; ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def gmt_time(payload: Mapping[str, Any], field: str) -> datetime | None:
    """``<field>_gmt`` (WooCommerce writes it without an offset; it is UTC) as an aware datetime."""
    moment = _moment(payload.get(f"{field}_gmt"))
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def created_at(raw: WooOrder) -> datetime:
    """When the order was placed, in the shop's own offset.

    WooCommerce gives the time twice, without offsets: ``date_created`` in the site's time zone and
    ``date_created_gmt`` in UTC. Their difference is the site's offset that day, so the order date is the
    date the shop showed. With only one of them, UTC is assumed.
    """
    local, gmt = _moment(raw.date_created), _moment(raw.date_created_gmt)
    if local is not None and local.tzinfo is not None:
        return local
    if gmt is not None and gmt.tzinfo is not None:
        gmt = gmt.astimezone(UTC).replace(tzinfo=None)
    if local is not None and gmt is not None:
        offset = timedelta(minutes=round((local - gmt).total_seconds() / 60))
        if abs(offset) < timedelta(hours=15):
            return local.replace(tzinfo=timezone(offset))
    moment = gmt or local
    if moment is None:
        raise OrderInvalid("Order field date_created_gmt: the order has no readable creation date")
    return moment.replace(tzinfo=UTC)


def created_between(payload: Mapping[str, Any], since: datetime, until: datetime | None) -> bool:
    """Whether the order was placed in ``[since, until)``; an order without a readable date is kept (its
    record will say what is wrong with it)."""
    created = gmt_time(payload, "date_created")
    return created is None or (created >= since and (until is None or created < until))


# --- rates -------------------------------------------------------------------------------------------------


def clean_rate(rate: Decimal) -> Decimal:
    """21.0, 21.00 and 21 as ``Decimal("21")``; 7.50 as ``Decimal("7.5")``."""
    rate = rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if rate == rate.to_integral_value():
        return rate.quantize(Decimal(1))
    return rate.quantize(Decimal("0.1")) if rate * 10 == (rate * 10).to_integral_value() else rate


def derive_rate(net: Decimal, tax: Decimal) -> Decimal:
    """The rate a line's tax was computed with, from its amounts (see the module docstring)."""
    if net == 0 or tax == 0:
        return NO_VAT
    ratio = tax / net * 100
    fitting = [
        rate
        for rate in USUAL_RATES
        if abs(net * rate / 100 - tax) <= _HALF_CENT * (1 + rate / 100) + _HALF_CENT
    ]
    if fitting:
        return min(fitting, key=lambda rate: abs(rate - ratio))
    # The rate with the fewest decimals (up to three: 8.875% in New York) that gives this tax to the cent.
    for places in range(4):
        rate = ratio.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if (net * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == tax:
            return clean_rate(rate) if places <= 2 else rate
    return clean_rate(ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _known(entries: Sequence[WooTax], rates: Mapping[int, WooTaxLine]) -> list[Decimal] | None:
    """The ``rate_percent`` of each entry's tax line; ``None`` when one is unknown or compound."""
    found = []
    for entry in entries:
        line = rates.get(entry.id)
        if line is None or line.rate_percent is None or line.compound:
            return None
        found.append(line.rate_percent)
    return found


def line_rate(
    entries: Sequence[WooTax], net: Decimal, tax: Decimal, rates: Mapping[int, WooTaxLine]
) -> Decimal:
    """The VAT rate of a line with ``net`` and ``tax`` and the tax entries ``entries``."""
    used = [entry for entry in entries if entry.total or entry.subtotal]
    if not used:
        # Untaxed, or taxed at a rate that came to nothing (0%, a free product): name the rate if known.
        known = {clean_rate(r) for r in _known(entries, rates) or ()} if tax == 0 else set()
        return known.pop() if len(known) == 1 else derive_rate(net, tax)
    known_rates = _known(used, rates)
    if known_rates is None:
        return derive_rate(net, tax)
    return clean_rate(sum(known_rates, ZERO))


@dataclass(frozen=True, slots=True)
class Part:
    rate: Decimal
    net: Decimal
    tax: Decimal


def split_parts(
    entries: Sequence[WooTax], net: Decimal, tax: Decimal, rates: Mapping[int, WooTaxLine]
) -> list[Part]:
    """A shipping or fee line as parts at one rate each (see the module docstring)."""
    used = [entry for entry in entries if entry.total]
    known = _known(used, rates) if used else None
    if known is None or any(rate == 0 for rate in known):
        return [Part(line_rate(entries, net, tax, rates), net, tax)]
    nets = [cents(entry.total * 100 / rate) for entry, rate in zip(used, known, strict=True)]
    # Older shops store the tax rounded to the cent: the net it implies is then that far off.
    slack = sum((_HALF_CENT * 100 / rate + Decimal("0.01") for rate in known), ZERO)
    if abs(sum(nets, ZERO)) > abs(net) + slack:
        # Stacked rates on the same amount, or a tax too big for any part of it: one rate.
        return [Part(line_rate(entries, net, tax, rates), net, tax)]
    taxes = [cents(entry.total) for entry in used]
    taxes[-1] += tax - sum(taxes, ZERO)
    parts = [Part(clean_rate(rate), n, t) for rate, n, t in zip(known, nets, taxes, strict=True)]
    rest = net - sum(nets, ZERO)
    if abs(rest) > slack:
        parts.append(Part(NO_VAT, rest, ZERO))
    elif rest:
        biggest = max(range(len(parts)), key=lambda i: abs(parts[i].net))
        parts[biggest] = Part(parts[biggest].rate, parts[biggest].net + rest, parts[biggest].tax)
    return parts


# --- the order ---------------------------------------------------------------------------------------------


def order_id(payload: Mapping[str, Any]) -> str:
    value = payload.get("id")
    if value in (None, "") or isinstance(value, bool):
        raise OrderInvalid("The order has no id")
    return str(value)


def _validate(payload: Mapping[str, Any]) -> WooOrder:
    if "refunded_by" in payload or ("amount" in payload and "status" not in payload):
        raise OrderInvalid(
            f"This is a WooCommerce refund ({payload.get('id')}), not an order; refunds are not processed"
        )
    try:
        return WooOrder.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        raise OrderInvalid(f"Order field {where}: {first['msg']}") from None


def _line(
    description: str, quantity: Decimal, amount: Decimal, rate: Decimal, kind: LineKind, sku: str = ""
) -> OrderLine:
    unit = (amount / quantity).quantize(UNIT_PRECISION, rounding=ROUND_HALF_UP) if quantity else amount
    return OrderLine(description, quantity, unit, rate, kind, sku, total=amount)


def _name(value: str, default: str) -> str:
    """WooCommerce sends names HTML-escaped (``Shirt &ndash; Black``)."""
    return html.unescape(value).strip() or default


def product_lines(raw: WooOrder, rates: Mapping[int, WooTaxLine]) -> tuple[list[OrderLine], list[OrderLine]]:
    """Product lines at their amount before discount, and one discount line per rate."""
    incl = raw.prices_include_tax
    products: list[OrderLine] = []
    discounts: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for item in raw.line_items:
        net, tax = (item.subtotal, item.subtotal_tax) if item.subtotal else (item.total, item.total_tax)
        rate = line_rate(item.taxes, net, tax, rates)
        before = item.subtotal + (item.subtotal_tax if incl else ZERO)
        after = item.total + (item.total_tax if incl else ZERO)
        if after > before:  # no discount: the price was raised after the fact
            before = after
        discounts[rate] += before - after
        products.append(
            _line(_name(item.name, "Product"), item.quantity, before, rate, LineKind.PRODUCT, item.sku)
        )
    codes = [coupon.code for coupon in raw.coupon_lines if coupon.code]
    description = f"{DISCOUNT_DESCRIPTION} ({', '.join(codes)})" if codes else DISCOUNT_DESCRIPTION
    discount_lines = [
        _line(description, Decimal(1), -amount, rate, LineKind.DISCOUNT)
        for rate, amount in sorted(discounts.items(), reverse=True)
        if amount
    ]
    return products, discount_lines


def charge_lines(
    lines: Sequence[WooShippingLine | WooFeeLine], incl: bool, rates: Mapping[int, WooTaxLine]
) -> list[OrderLine]:
    """Shipping and fee lines, one per rate; lines that cost nothing are left out."""
    result = []
    for line in lines:
        if isinstance(line, WooShippingLine):
            kind, description = LineKind.SHIPPING, _name(line.method_title, SHIPPING_DESCRIPTION)
        else:
            kind, description = LineKind.FEE, _name(line.name, FEE_DESCRIPTION)
        for part in split_parts(line.taxes, line.total, line.total_tax, rates):
            amount = part.net + (part.tax if incl else ZERO)
            if amount:
                result.append(_line(description, Decimal(1), amount, part.rate, kind))
    return result


def vat_number(raw: WooOrder) -> str:
    values = {meta.key: meta.value for meta in raw.meta_data}
    for key in VAT_NUMBER_KEYS:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def customer(raw: WooOrder) -> Party:
    """The billing address is the invoice address; when the shop asks for no billing address (digital
    goods), the shipping address fills in the address."""
    billing, shipping = raw.billing, raw.shipping
    where = shipping if not billing.has_address and shipping.has_address else billing
    return Party(
        first_name=billing.first_name or shipping.first_name,
        last_name=billing.last_name or shipping.last_name,
        company=billing.company or (where.company if where is shipping else ""),
        street=where.address_1,
        address2=where.address_2,
        zipcode=where.postcode,
        city=where.city,
        country_raw=where.country or billing.country,
        phone=billing.phone or shipping.phone,
        email=billing.email,
        vat_number=vat_number(raw),
    )


def gift_cards(raw: WooOrder) -> tuple[Prepayment, ...]:
    """The gift cards redeemed (``gift_cards[]``, WooCommerce Gift Cards): payments, not discounts.
    WooCommerce's ``total`` is what is left to pay after them."""
    return tuple(
        Prepayment(cents(card.amount), f"{GIFT_CARD_DESCRIPTION} {card.code}".strip())
        for card in raw.gift_cards
        if card.amount
    )


def parse_order(payload: Mapping[str, Any]) -> Order:
    raw = _validate(payload)
    prepaid = gift_cards(raw)
    rates = {line.rate_id: line for line in raw.tax_lines if line.rate_id is not None}
    products, discounts = product_lines(raw, rates)
    shipping = charge_lines(raw.shipping_lines, raw.prices_include_tax, rates)
    fees = charge_lines(raw.fee_lines, raw.prices_include_tax, rates)
    return Order(
        source=SOURCE,
        source_id=str(raw.id),
        number=raw.number or str(raw.id),
        created_at=created_at(raw),
        status=raw.status.lower(),
        currency=(raw.currency or "EUR").upper(),
        prices_include_vat=raw.prices_include_tax,
        payment_method=raw.payment_method_title or raw.payment_method,
        paid=bool(raw.date_paid or raw.date_paid_gmt),
        customer=customer(raw),
        lines=(*products, *discounts, *shipping, *fees),
        shipping=None,
        total=raw.total + prepaid_total(prepaid),
        gross_from_net=True,
        prepaid=prepaid,
    )
