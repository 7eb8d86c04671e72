"""Shopify order JSON (REST Admin API ``Order`` resource, identical to the ``orders/*`` webhook body) into
the canonical order.

What is read, and why:

- Amounts are in the order's basis: ``taxes_included`` true means every ``price`` is incl. VAT. Product
  lines carry ``price`` (the unit price before discounts) × ``quantity``; discounts are the line's
  ``discount_allocations`` (or, in payloads without them, its ``total_discount``), summed per VAT rate into
  one DISCOUNT line per rate, described with the codes or titles of the ``discount_applications`` they point
  at (``discount_codes`` for payloads without applications).
- A line's VAT rate is the sum of its ``tax_lines[].rate`` (a fraction: 0.21 is 21%). A line without
  ``tax_lines`` is untaxed (0%), except in old payloads whose lines carry no ``tax_lines`` at all while the
  order's own ``tax_lines`` name exactly one rate: that rate then applies to every taxable line.
- Every charged ``shipping_lines[]`` entry becomes a SHIPPING line at its ``price``; a shipping discount
  (its ``discount_allocations``, else ``price - discounted_price``) joins the discount line of its rate.
- Duties and additional fees (``original_total_duties_set``, ``original_total_additional_fees_set``) are
  FEE lines at 0%: they are part of what the customer paid and carry no VAT of the shop.
- The invoice address is ``billing_address`` (else ``shipping_address``, else the customer's default
  address); the e-mail is the order's ``email`` (else ``contact_email``, else the customer's).
- Shopify has no VAT-number field on orders; VAT apps store it in ``note_attributes`` (names such as
  "VAT number", "vat_id", "BTW-nummer", "TVA", "USt-IdNr") or append it to ``billing_address.company``.
  Both are read; a number found in the company is taken out of the company name.
- ``status`` is ``financial_status``; ``paid`` for paid, partially_refunded and refunded (a refunded order
  was a sale first). ``total`` is ``total_price``, what the customer paid at checkout; refunds become
  credit notes of their own (:mod:`.refunds`).
- A gift card redeemed is a payment (``total_price`` is the full sale, the card included): the order names
  the gateway ``gift_card`` in ``payment_gateway_names`` but not the amount. When it does, the connector
  reads ``GET orders/{id}/transactions.json`` and adds the answer to the payload as ``transactions``
  (:func:`needs_transactions`); each successful ``sale`` or ``capture`` through ``gift_card`` becomes a
  :class:`~koppel.documents.model.Prepayment` ("Cadeaubon •••• <receipt.gift_card_last_characters>"). A
  payload without ``transactions`` (``koppel preview`` of a bare order) books the full sale all the same.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from koppel.connectors.errors import OrderInvalid
from koppel.documents.countries import EU_MEMBER_CODES
from koppel.documents.model import LineKind, Order, OrderLine, Party, Prepayment
from koppel.documents.money import ZERO, MoneyError, to_decimal

SOURCE = "shopify"
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
DISCOUNT_DESCRIPTION = "Korting"
GIFT_CARD_GATEWAY = "gift_card"
SHIPPING_DESCRIPTION = "Verzendkosten"
DUTIES_DESCRIPTION = "Invoerrechten"
FEES_DESCRIPTION = "Extra kosten"
#: Gateway identifiers Shopify reports in ``payment_gateway_names`` and their titles. Manual payment
#: methods ("Bank Deposit", "Cash on Delivery (COD)") and app gateways ("Mollie - iDEAL") already are titles.
GATEWAY_TITLES = {
    "shopify_payments": "Shopify Payments",
    "shopify_installments": "Shop Pay Installments",
    "paypal": "PayPal",
    "gift_card": "Cadeaubon",
    "manual": "Handmatig",
    "cash": "Contant",
    "bogus": "Bogus Gateway (test)",
    "authorize_net": "Authorize.Net",
}
#: ``note_attributes`` names (lower case, letters and digits only) under which VAT apps store the number.
VAT_ATTRIBUTE_NAMES = frozenset(
    {
        "vat",
        "vatnumber",
        "vatno",
        "vatnr",
        "vatid",
        "vatreg",
        "vatregistrationnumber",
        "euvat",
        "euvatnumber",
        "euvatid",
        "taxid",
        "btw",
        "btwnummer",
        "btwnr",
        "btwid",
        "tva",
        "numerotva",
        "ustid",
        "ustidnr",
        "iva",
        "partitaiva",
    }
)
_VAT_PREFIXES = "|".join(sorted((EU_MEMBER_CODES - {"GR"}) | {"EL", "XI"}))
#: A token that looks like an EU VAT number: a member state prefix, then 8 to 12 letters and digits of
#: which at least 7 are digits (company names rarely contain such a word).
_VAT_TOKEN = re.compile(rf"^(?:{_VAT_PREFIXES})(?=(?:[A-Z]*\d){{7}})[0-9A-Z+*]{{8,12}}$")
#: A "BTW:"/"VAT no."/"USt-IdNr." label right before such a token, taken out with it.
_VAT_LABEL = re.compile(
    r"\b(?:btw|vat|tva|iva|ust)(?:[\s-]*(?:id|idnr|nummer|number|nr|no))?[\s.:#-]*$", re.IGNORECASE
)
_PERCENT = Decimal(100)


# -- readers ----------------------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    """Shopify writes money as decimal strings; a JSON number is read through its text, never as float."""
    if isinstance(value, float):
        value = str(value)
    try:
        return to_decimal(value)
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("amount: ")) from None


def _rate(value: Any) -> Decimal:
    """Tax rates are JSON numbers (0.21); read them through their text."""
    if value is None:
        return ZERO
    return _money(value)


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
Text = Annotated[str, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TaxLine(_Model):
    price: Money | None = None
    rate: Rate = ZERO
    title: Text = ""


class DiscountAllocation(_Model):
    amount: Money
    discount_application_index: int | None = None


class DiscountApplication(_Model):
    type: Text = ""
    code: Text = ""
    title: Text = ""
    description: Text = ""

    @property
    def label(self) -> str:
        return self.code if self.type == "discount_code" and self.code else self.title or self.code


class DiscountCode(_Model):
    code: Text = ""


class LineItem(_Model):
    title: Text = ""
    name: Text = ""
    variant_title: Text = ""
    sku: Text = ""
    quantity: int = Field(gt=0)
    price: Money
    taxable: bool = True
    total_discount: Money | None = None
    tax_lines: list[TaxLine] = Field(default_factory=list)
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)

    @property
    def description(self) -> str:
        if self.name:
            return self.name
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title

    @property
    def discount(self) -> Decimal:
        if self.discount_allocations:
            return sum((a.amount for a in self.discount_allocations), ZERO)
        return self.total_discount or ZERO


class ShippingLine(_Model):
    title: Text = ""
    price: Money
    discounted_price: Money | None = None
    tax_lines: list[TaxLine] = Field(default_factory=list)
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)

    @property
    def discount(self) -> Decimal:
        if self.discount_allocations:
            return sum((a.amount for a in self.discount_allocations), ZERO)
        if self.discounted_price is not None and self.discounted_price < self.price:
            return self.price - self.discounted_price
        return ZERO


class Address(_Model):
    first_name: Text = ""
    last_name: Text = ""
    name: Text = ""
    company: Text = ""
    address1: Text = ""
    address2: Text = ""
    city: Text = ""
    zip: Text = ""
    country: Text = ""
    country_code: Text = ""
    phone: Text = ""


class Customer(_Model):
    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    phone: Text = ""
    default_address: Address | None = None


class NoteAttribute(_Model):
    name: Text = ""
    value: Text = ""


class ShopMoney(_Model):
    amount: Money = ZERO


class MoneySet(_Model):
    shop_money: ShopMoney = Field(default_factory=ShopMoney)


class Transaction(_Model):
    """One entry of ``GET orders/{id}/transactions.json`` (what Koppel reads of it)."""

    kind: Text = ""
    status: Text = ""
    gateway: Text = ""
    amount: Money = ZERO
    receipt: dict[str, Any] | None = None

    @field_validator("receipt", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None  # some gateways send a receipt string


class ShopifyOrder(_Model):
    id: int
    name: Text = ""
    order_number: Text = ""
    created_at: datetime
    financial_status: str
    currency: Text = "EUR"
    taxes_included: bool = False
    total_price: Money
    email: Text = ""
    contact_email: Text = ""
    phone: Text = ""
    gateway: Text = ""
    payment_gateway_names: list[Text] = Field(default_factory=list)
    billing_address: Address | None = None
    shipping_address: Address | None = None
    customer: Customer | None = None
    line_items: list[LineItem] = Field(min_length=1)
    shipping_lines: list[ShippingLine] = Field(default_factory=list)
    discount_applications: list[DiscountApplication] = Field(default_factory=list)
    discount_codes: list[DiscountCode] = Field(default_factory=list)
    note_attributes: list[NoteAttribute] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)
    total_tax: Money | None = None
    original_total_duties_set: MoneySet | None = None
    original_total_additional_fees_set: MoneySet | None = None
    #: Not in Shopify's order: added by the connector from ``orders/{id}/transactions.json``.
    transactions: list[Transaction] = Field(default_factory=list)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at needs a UTC offset")
        return value


# -- helpers used by the connector (before full validation) ----------------------------------------------


def unwrap(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The order itself: a webhook body is the order, a REST answer wraps it as ``{"order": {...}}``."""
    inner = payload.get("order")
    if isinstance(inner, Mapping) and "id" not in payload:
        return inner
    return payload


def order_id(payload: Mapping[str, Any]) -> str:
    value = unwrap(payload).get("id")
    if value in (None, "") or isinstance(value, bool):
        raise OrderInvalid("The order has no id")
    return str(value)


def timestamp(payload: Mapping[str, Any], field: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(unwrap(payload).get(field, "")))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def created_between(payload: Mapping[str, Any], since: datetime, until: datetime | None) -> bool:
    """Whether the order was placed in ``[since, until)``; an order without a readable date is kept (its
    record will say what is wrong with it)."""
    created = timestamp(payload, "created_at")
    return created is None or (created >= since and (until is None or created < until))


# -- the mapping ------------------------------------------------------------------------------------------


def parse_order(payload: Mapping[str, Any]) -> Order:
    try:
        raw = ShopifyOrder.model_validate(unwrap(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        raise OrderInvalid(f"Order field {where}: {first['msg']}") from None
    status = raw.financial_status.lower()
    return Order(
        source=SOURCE,
        source_id=str(raw.id),
        number=raw.name or raw.order_number or str(raw.id),
        created_at=raw.created_at,
        status=status,
        currency=raw.currency.upper(),
        prices_include_vat=raw.taxes_included,
        payment_method=payment_method(raw),
        paid=status in PAID_STATUSES,
        customer=customer(raw),
        lines=lines(raw),
        shipping=None,
        total=raw.total_price,
        prepaid=gift_cards(raw),
    )


def needs_transactions(payload: Mapping[str, Any]) -> bool:
    """Whether a gift card paid part of the order and its amount is not read yet: the connector then
    fetches the order's transactions (one call, only for such orders)."""
    order = unwrap(payload)
    gateways = order.get("payment_gateway_names")
    return isinstance(gateways, list) and GIFT_CARD_GATEWAY in gateways and "transactions" not in order


def gift_cards(raw: ShopifyOrder) -> tuple[Prepayment, ...]:
    """The successful gift-card sales and captures among the order's transactions."""
    paid = []
    for transaction in raw.transactions:
        if not (
            transaction.gateway == GIFT_CARD_GATEWAY
            and transaction.kind.lower() in ("sale", "capture")
            and transaction.status.lower() == "success"
            and transaction.amount > 0
        ):
            continue
        last = str((transaction.receipt or {}).get("gift_card_last_characters") or "").strip()
        description = (
            f"{GATEWAY_TITLES[GIFT_CARD_GATEWAY]} •••• {last}" if last else GATEWAY_TITLES[GIFT_CARD_GATEWAY]
        )
        paid.append(Prepayment(transaction.amount, description))
    return tuple(paid)


def lines(raw: ShopifyOrder) -> tuple[OrderLine, ...]:
    """Products, shipping, duties and fees, then one discount line per VAT rate."""
    fallback = legacy_rate(raw)
    discounts: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    labels: dict[Decimal, list[str]] = defaultdict(list)
    result: list[OrderLine] = []
    for item in raw.line_items:
        rate = item_rate(item, fallback)
        result.append(OrderLine(item.description, Decimal(item.quantity), item.price, rate, sku=item.sku))
        _add_discount(raw, discounts, labels, rate, item.discount, item.discount_allocations)
    for shipping in raw.shipping_lines:
        rate = line_rate(shipping.tax_lines, fallback)
        if shipping.price != ZERO:
            description = shipping.title or SHIPPING_DESCRIPTION
            result.append(OrderLine(description, Decimal(1), shipping.price, rate, LineKind.SHIPPING))
        _add_discount(raw, discounts, labels, rate, shipping.discount, shipping.discount_allocations)
    result.extend(fee_lines(raw))
    for rate, amount in discounts.items():
        if amount != ZERO:
            result.append(
                OrderLine(discount_description(labels[rate]), Decimal(1), -amount, rate, LineKind.DISCOUNT)
            )
    return tuple(result)


def item_rate(item: LineItem, fallback: Decimal | None) -> Decimal:
    """A product line's VAT percentage (``fallback``: the order's :func:`legacy_rate`)."""
    if not item.taxable and all((tax.price or ZERO) == ZERO for tax in item.tax_lines):
        return ZERO  # an untaxed line may still list a tax line with a rate and a price of 0
    return line_rate(item.tax_lines, fallback if item.taxable else None)


def _add_discount(
    raw: ShopifyOrder,
    discounts: dict[Decimal, Decimal],
    labels: dict[Decimal, list[str]],
    rate: Decimal,
    amount: Decimal,
    allocations: list[DiscountAllocation],
) -> None:
    if amount == ZERO:
        return
    discounts[rate] += amount
    for allocation in allocations:
        index = allocation.discount_application_index
        if index is not None and 0 <= index < len(raw.discount_applications):
            labels[rate].append(raw.discount_applications[index].label)
    if not raw.discount_applications:
        labels[rate].extend(code.code for code in raw.discount_codes)


def discount_description(labels: list[str]) -> str:
    """ "Korting", or "Korting (ZOMER10, Welkomstkorting)" with the codes and titles that apply."""
    named = list(dict.fromkeys(label for label in labels if label))
    return f"{DISCOUNT_DESCRIPTION} ({', '.join(named)})" if named else DISCOUNT_DESCRIPTION


def fee_lines(raw: ShopifyOrder) -> list[OrderLine]:
    result = []
    for money, description in (
        (raw.original_total_duties_set, DUTIES_DESCRIPTION),
        (raw.original_total_additional_fees_set, FEES_DESCRIPTION),
    ):
        amount = money.shop_money.amount if money is not None else ZERO
        if amount != ZERO:
            result.append(OrderLine(description, Decimal(1), amount, ZERO, LineKind.FEE))
    return result


def line_rate(tax_lines: list[TaxLine], fallback: Decimal | None) -> Decimal:
    """The line's VAT percentage: its tax lines' rates added up (0.21 → 21)."""
    if not tax_lines:
        return fallback if fallback is not None else ZERO
    return percentage(sum((tax.rate for tax in tax_lines), ZERO))


def percentage(fraction: Decimal) -> Decimal:
    """0.21 → 21.00, 0.055 → 5.50, 0.08875 → 8.8750 (two decimals unless the rate needs more)."""
    value = (fraction * _PERCENT).quantize(Decimal("0.0001"))
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value


def legacy_rate(raw: ShopifyOrder) -> Decimal | None:
    """For old payloads whose lines carry no ``tax_lines`` (tax only on the order): the order's single rate.

    ``None`` when the lines carry their own taxes or the order charged none. Several rates on the order that
    no line claims cannot be attributed, so the order is refused rather than booked at a guessed rate.
    """
    if any(item.tax_lines for item in raw.line_items) or any(s.tax_lines for s in raw.shipping_lines):
        return None
    charged = [tax for tax in raw.tax_lines if tax.rate != ZERO and (tax.price is None or tax.price != ZERO)]
    if not charged or raw.total_tax == ZERO:
        return None
    rates = sorted({percentage(tax.rate) for tax in charged})
    if len(rates) > 1:
        shown = ", ".join(f"{rate.normalize():f}%" for rate in rates)
        raise OrderInvalid(
            f"Order field line_items.0.tax_lines: the order charges tax at several rates ({shown}) "
            "but its lines do not say which"
        )
    return rates[0]


def payment_method(raw: ShopifyOrder) -> str:
    names = [name for name in raw.payment_gateway_names if name] or ([raw.gateway] if raw.gateway else [])
    return ", ".join(dict.fromkeys(gateway_title(name) for name in names))


def gateway_title(name: str) -> str:
    if name in GATEWAY_TITLES:
        return GATEWAY_TITLES[name]
    if name.islower() and " " not in name:
        return name.replace("_", " ").title()
    return name


def customer(raw: ShopifyOrder) -> Party:
    person = raw.customer or Customer()
    address = raw.billing_address or raw.shipping_address or person.default_address or Address()
    first, last = address.first_name, address.last_name
    if not (first or last):
        first, last = person.first_name, person.last_name
    if not (first or last) and address.name:
        last = address.name
    company, vat_from_company = split_company(address.company)
    return Party(
        first_name=first,
        last_name=last,
        company=company,
        street=address.address1,
        address2=address.address2,
        zipcode=address.zip,
        city=address.city,
        country_raw=address.country_code or address.country,
        phone=address.phone or raw.phone or person.phone,
        email=raw.email or raw.contact_email or person.email,
        vat_number=vat_from_attributes(raw.note_attributes) or vat_from_company,
    )


def vat_from_attributes(attributes: list[NoteAttribute]) -> str:
    for attribute in attributes:
        key = re.sub(r"[^a-z0-9]", "", attribute.name.lower())
        value = re.sub(r"[\s.\-]", "", attribute.value).upper()
        if key in VAT_ATTRIBUTE_NAMES and any(ch.isdigit() for ch in value):
            return value
    return ""


def split_company(company: str) -> tuple[str, str]:
    """``"Bakkerij De Witte BV (BTW NL123456789B01)"`` → ``("Bakkerij De Witte BV", "NL123456789B01")``.

    Only a word that looks like an EU VAT number is taken out, with a "BTW"/"VAT" label before it.
    """
    for match in re.finditer(r"[0-9A-Za-z.+*]+", company):
        token = match.group().replace(".", "").upper()
        if not _VAT_TOKEN.match(token):
            continue
        before = _VAT_LABEL.sub("", company[: match.start()])
        name = re.sub(r"\(\s*\)|\[\s*\]", "", before + company[match.end() :])
        return re.sub(r"\s{2,}", " ", name).strip(" -:,;/|"), token
    return company, ""
