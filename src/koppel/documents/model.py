"""The canonical order and invoice.

A source connector maps its platform's order into an :class:`Order`; :func:`build_invoice` turns it into
an :class:`Invoice` with net/VAT/gross per line; a target connector maps the invoice out into its own API.
Nothing here knows about Django, HTTP or any platform.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from .countries import Country, country_by_code, resolve_country
from .i18n import Text
from .i18n import Text as _  # makemessages finds the templates
from .money import ZERO, cents, fmt, fmt_money, fmt_rate, vat_factor

UNIT_PRICE_PRECISION = Decimal("0.0001")


class LineKind(StrEnum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    #: A payment or handling fee the shop charged (may be negative when a shop books a discount as a fee).
    FEE = "fee"
    #: A discount (coupon, automatic discount) at one VAT rate: a negative amount.
    DISCOUNT = "discount"
    #: The cents by which the shop's own rounding differs from per-line VAT (added by :func:`build_invoice`).
    ROUNDING = "rounding"


#: How the rounding line is described on the invoice.
ROUNDING_DESCRIPTION = "Afrondingsverschil"


@dataclass(frozen=True, slots=True)
class Party:
    """The customer: a consumer, or a business when ``company`` or ``vat_number`` is set."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street: str = ""
    address2: str = ""
    house_number: str = ""
    zipcode: str = ""
    city: str = ""
    country_raw: str = ""
    phone: str = ""
    mobile: str = ""
    email: str = ""
    vat_number: str = ""
    #: The chamber of commerce number (KvK in the Netherlands, the enterprise number in Belgium), when given.
    company_number: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def address_line(self) -> str:
        """Street, second line and house number joined by single spaces, empty parts left out."""
        return " ".join(part for part in (self.street, self.address2, self.house_number) if part)

    @property
    def country(self) -> Country | None:
        """The country the order names, or ``None`` when it is empty or unknown."""
        return resolve_country(self.country_raw) if self.country_raw.strip() else None

    @property
    def is_business(self) -> bool:
        return bool(self.company.strip() or self.vat_number.strip())


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line as the shop reported it, in the order's basis (incl. or excl. VAT).

    ``total`` is the line's exact amount when the platform states it (e.g. 10.00 for 3 items at 3.33⅓);
    without it the amount is quantity × unit price, rounded to the cent.
    """

    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    kind: LineKind = LineKind.PRODUCT
    sku: str = ""
    total: Decimal | None = None
    #: Why this VAT rate, when the platform gave none and Koppel chose it (bol.com: "9%: the rate for EAN …").
    vat_reason: str = ""
    #: The VAT category (UNCL5305: S, Z, E, K, G, O, AE) when the VAT rules decided one; empty: derived
    #: from the rate (:func:`vat_category_of`).
    vat_category: str = ""

    @property
    def amount(self) -> Decimal:
        return self.total if self.total is not None else cents(self.quantity * self.unit_price)


@dataclass(frozen=True, slots=True)
class Prepayment:
    """Part of the sale the customer paid before the invoice, with something that is no discount: a gift
    card redeemed. The invoice is the full sale; this part is registered as already paid."""

    amount: Decimal
    #: How it was paid, as the invoice names it ("Cadeaubon SU9F-…").
    description: str

    def as_dict(self) -> dict[str, str]:
        return {"amount": fmt(self.amount), "description": self.description}


def prepaid_total(prepayments: tuple[Prepayment, ...]) -> Decimal:
    return sum((p.amount for p in prepayments), ZERO)


@dataclass(frozen=True, slots=True)
class Order:
    """One webshop order as the shop reported it. Prices are unit prices, incl. or excl. VAT."""

    source: str
    source_id: str
    number: str
    created_at: datetime
    status: str
    currency: str
    prices_include_vat: bool
    payment_method: str
    paid: bool
    customer: Party
    lines: tuple[OrderLine, ...]
    shipping: OrderLine | None
    total: Decimal
    #: The shop keeps net amounts and derives incl.-VAT ones from them (WooCommerce), so a line's gross may
    #: be a cent off the shop's total; the total check then allows per-line rounding as for excl. VAT.
    gross_from_net: bool = False
    #: Gift cards redeemed on the order: payments, not discounts. ``total`` is the full sale, these
    #: included (WooCommerce's own ``total`` is what is left after them).
    prepaid: tuple[Prepayment, ...] = ()

    @property
    def order_date(self) -> date:
        """The date as the shop saw it (in the offset the shop reported)."""
        return self.created_at.date()

    @property
    def all_lines(self) -> tuple[OrderLine, ...]:
        """Order lines plus the shipping cost, when there is any."""
        if self.shipping is not None and self.shipping.unit_price != ZERO:
            return (*self.lines, self.shipping)
        return self.lines

    @property
    def vat_rates(self) -> tuple[Decimal, ...]:
        return tuple(sorted({line.vat_rate for line in self.all_lines}))


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    prices_include_vat: bool
    vat_rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal
    kind: LineKind = LineKind.PRODUCT
    sku: str = ""
    #: The line's amount was stated by the shop rather than quantity × unit price.
    exact_total: bool = False
    vat_reason: str = ""
    #: See :attr:`OrderLine.vat_category`.
    vat_category: str = ""

    def unit_price_for(self, *, include_vat: bool) -> Decimal:
        """The unit price incl. or excl. VAT, converted when the target keeps prices the other way.

        A converted price keeps four decimals: rounded to the cent, quantity × price would drift from what
        the customer paid (3 × 9.99 incl. 21% is 29.97; 3 × 8.26 excl. plus VAT is 29.98). A line whose
        total the shop stated is priced from that total (10.00 for 3 → 3.3333), so the target's
        quantity × price gives it back.
        """
        if self.exact_total:
            amount = self.gross if include_vat else self.net
            if self.quantity == 0:
                return amount
            return (amount / self.quantity).quantize(UNIT_PRICE_PRECISION, rounding=ROUND_HALF_UP)
        if include_vat == self.prices_include_vat:
            return self.unit_price
        factor = vat_factor(self.vat_rate)
        converted = self.unit_price * factor if include_vat else self.unit_price / factor
        return converted.quantize(UNIT_PRICE_PRECISION, rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "sku": self.sku,
            "description": self.description,
            "quantity": _fmt_quantity(self.quantity),
            "unit_price": fmt(self.unit_price),
            "prices_include_vat": self.prices_include_vat,
            "vat_rate": fmt_rate(self.vat_rate),
            "net": fmt(self.net),
            "vat": fmt(self.vat),
            "gross": fmt(self.gross),
            **({"vat_reason": self.vat_reason} if self.vat_reason else {}),
            **({"vat_category": self.vat_category} if self.vat_category else {}),
        }


@dataclass(frozen=True, slots=True)
class VatTotal:
    rate: Decimal
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True)
class Invoice:
    """The invoice Koppel books for an order: lines with net/VAT/gross and the totals."""

    order_number: str
    date: date
    currency: str
    customer: Party
    lines: tuple[InvoiceLine, ...]
    prices_include_vat: bool
    paid: bool
    payment_method: str
    intra_community: bool = False
    vat_totals: tuple[VatTotal, ...] = field(default=())
    #: What the rounding line absorbs: the shop's total minus the per-line sum (zero when they agree).
    rounding_difference: Decimal = ZERO
    #: The legal mention the VAT rules require on the invoice (an intra-community supply's "btw verlegd",
    #: an export's), empty when none.
    vat_note: str = ""
    #: A credit note: the target's number (and id) of the invoice it credits. A credit note's amounts are
    #: positive (what is credited); each target books it its own way (a negative invoice, a credit note).
    credit_for: str = ""
    credit_for_id: str = ""
    #: Why it is credited (a refund, a return, a cancellation), in the platform's words.
    credit_reason: str = ""
    #: See :attr:`Order.prepaid`: what was paid with gift cards, registered as already paid.
    prepaid: tuple[Prepayment, ...] = ()

    @property
    def prepaid_amount(self) -> Decimal:
        return prepaid_total(self.prepaid)

    @property
    def payable(self) -> Decimal:
        """What is left to pay after the prepaid part (UBL's PayableAmount)."""
        return self.gross - self.prepaid_amount

    @property
    def is_credit_note(self) -> bool:
        return bool(self.credit_for or self.credit_for_id)

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), ZERO)

    @property
    def gross(self) -> Decimal:
        return sum((line.gross for line in self.lines), ZERO)

    def as_dict(self) -> dict[str, object]:
        country = self.customer.country
        return {
            "order_number": self.order_number,
            "date": self.date.isoformat(),
            "currency": self.currency,
            "prices_include_vat": self.prices_include_vat,
            "paid": self.paid,
            "payment_method": self.payment_method,
            "intra_community": self.intra_community,
            "customer": {
                "name": self.customer.full_name,
                "company": self.customer.company,
                "email": self.customer.email,
                "address": self.customer.address_line,
                "zipcode": self.customer.zipcode,
                "city": self.customer.city,
                "country": country.alpha2 if country else self.customer.country_raw,
                "vat_number": self.customer.vat_number,
                **({"company_number": self.customer.company_number} if self.customer.company_number else {}),
            },
            "lines": [line.as_dict() for line in self.lines],
            "rounding_difference": fmt(self.rounding_difference),
            "vat_totals": [
                {"vat_rate": fmt_rate(t.rate), "net": fmt(t.net), "vat": fmt(t.vat), "gross": fmt(t.gross)}
                for t in self.vat_totals
            ],
            "totals": {"net": fmt(self.net), "vat": fmt(self.vat), "gross": fmt(self.gross)},
            **({"vat_note": self.vat_note} if self.vat_note else {}),
            **(
                {
                    "prepaid": [p.as_dict() for p in self.prepaid],
                    "prepaid_amount": fmt(self.prepaid_amount),
                    "payable": fmt(self.payable),
                }
                if self.prepaid
                else {}
            ),
            **(
                {
                    "credit_for": self.credit_for,
                    "credit_for_id": self.credit_for_id,
                    "credit_reason": self.credit_reason,
                }
                if self.is_credit_note
                else {}
            ),
        }


def prepaid_note(invoice: Invoice) -> Text:
    """What the record says of the part gift cards paid: "€ 25.00 paid with a gift card"."""
    amount = fmt_money(invoice.prepaid_amount, invoice.currency)
    if len(invoice.prepaid) > 1:
        return _("%(amount)s paid with %(count)s gift cards", amount=amount, count=len(invoice.prepaid))
    return _("%(amount)s paid with a gift card", amount=amount)


def invoice_line(line: OrderLine, *, prices_include_vat: bool) -> InvoiceLine:
    """Compute net, VAT and gross for one line, rounding per line as Dutch invoicing software does."""
    factor = vat_factor(line.vat_rate)
    if prices_include_vat:
        gross = line.amount
        net = cents(gross / factor)
        vat = gross - net
    else:
        net = line.amount
        vat = cents(net * line.vat_rate / 100)
        gross = net + vat
    return InvoiceLine(
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        prices_include_vat=prices_include_vat,
        vat_rate=line.vat_rate,
        net=net,
        vat=vat,
        gross=gross,
        kind=line.kind,
        sku=line.sku,
        exact_total=line.total is not None,
        vat_reason=line.vat_reason,
        vat_category=line.vat_category,
    )


def vat_category_of(line: InvoiceLine, invoice: Invoice) -> str:
    """The line's VAT category: the one the VAT rules set, else S for a rate above 0, K for 0% on an
    intra-community supply, Z for another 0%."""
    if line.vat_category:
        return line.vat_category
    if line.vat_rate > ZERO:
        return "S"
    return "K" if invoice.intra_community else "Z"


def rounding_line(difference: Decimal, *, prices_include_vat: bool) -> InvoiceLine:
    """A line at 0% VAT for the cents the shop's own rounding differs from per-line VAT.

    Targets compute VAT from unit prices, so the VAT split of a line cannot be nudged; a separate line at
    0% keeps every other line's VAT exact and makes the invoice total what the customer paid.
    """
    line = OrderLine(ROUNDING_DESCRIPTION, Decimal(1), difference, ZERO, LineKind.ROUNDING)
    return invoice_line(line, prices_include_vat=prices_include_vat)


def build_invoice(
    order: Order, *, intra_community: bool = False, rounding_tolerance: Decimal = ZERO
) -> Invoice:
    """The invoice for ``order``. When the shop's total differs from the per-line sum by no more than
    ``rounding_tolerance`` (the shop rounded VAT per rate or per order), a rounding line absorbs it."""
    lines = tuple(invoice_line(line, prices_include_vat=order.prices_include_vat) for line in order.all_lines)
    difference = order.total - sum((line.gross for line in lines), ZERO)
    if difference and abs(difference) <= rounding_tolerance:
        lines = (*lines, rounding_line(difference, prices_include_vat=order.prices_include_vat))
    else:
        difference = ZERO
    per_rate: dict[Decimal, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        per_rate[line.vat_rate].append(line)
    vat_totals = tuple(
        VatTotal(rate=rate, net=sum((x.net for x in group), ZERO), vat=sum((x.vat for x in group), ZERO))
        for rate, group in sorted(per_rate.items())
    )
    return Invoice(
        order_number=order.number,
        date=order.order_date,
        currency=order.currency,
        customer=order.customer,
        lines=lines,
        prices_include_vat=order.prices_include_vat,
        paid=order.paid,
        payment_method=order.payment_method,
        intra_community=intra_community,
        vat_totals=vat_totals,
        rounding_difference=difference,
        prepaid=order.prepaid,
    )


def _fmt_quantity(quantity: Decimal) -> str:
    return str(int(quantity)) if quantity == quantity.to_integral() else str(quantity.normalize())


__all__ = [
    "Invoice",
    "InvoiceLine",
    "LineKind",
    "Order",
    "OrderLine",
    "Party",
    "Prepayment",
    "VatTotal",
    "build_invoice",
    "country_by_code",
    "invoice_line",
    "prepaid_note",
    "vat_category_of",
]
