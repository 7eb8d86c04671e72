"""The canonical refund and the credit note Koppel books for it.

A source connector maps its platform's refund (Shopify's ``refunds``, WooCommerce's order refunds, a bol.com
return handled with an accepted result, a bol.com cancellation of an item already invoiced) into a
:class:`Refund`: what was refunded, line by line, at the VAT rate of the order line it refunds (the source
knows which line that is). :func:`build_credit_note` turns it into an :class:`~.model.Invoice` that credits
the order's invoice: positive amounts (what is credited) and ``credit_for`` naming the invoice. Pure Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from .model import Invoice, LineKind, OrderLine, Party, VatTotal, invoice_line
from .money import CENT, ZERO, cents

#: A credit note's reference: the order number, then the refund's own id (bounded, as references are).
REFERENCE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One refunded line, with positive quantity and amount.

    ``amount`` is incl. VAT when the refund's ``prices_include_vat``, else excl.; ``vat_rate`` is the rate
    of the order line refunded. A refund of an amount without items (Shopify's order adjustment, a
    WooCommerce refund of an amount) is a line of kind ``fee`` (or ``shipping``) with quantity 1."""

    description: str
    quantity: Decimal
    amount: Decimal
    vat_rate: Decimal
    kind: LineKind = LineKind.PRODUCT
    sku: str = ""
    vat_reason: str = ""
    vat_category: str = ""

    @property
    def unit_price(self) -> Decimal:
        return cents(self.amount / self.quantity) if self.quantity else self.amount


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund of part or all of an order, as the platform reported it.

    ``refund_id`` is unique per connection (the platform's refund id, bol.com's RMA id, or
    ``cancel-<order item id>`` for a cancellation); ``order_id`` is the id of the order record it refunds
    (the id the source's ``order_id`` gives that order's payload). ``total`` is what the customer got back
    (incl. VAT), positive."""

    source: str
    refund_id: str
    order_id: str
    created_at: datetime
    currency: str
    prices_include_vat: bool
    lines: tuple[RefundLine, ...]
    total: Decimal
    reason: str = ""
    #: The raw refund (or return, or cancelled items) as the platform sent it.
    raw: dict | None = None
    #: An invoice booked after this refund already leaves its lines out (bol.com's cancelled items are not
    #: invoiced): only what was cancelled after the invoice is credited.
    reduces_invoice: bool = False


def credit_reference(order_number: str, refund_id: str) -> str:
    """``<order number>-CR<refund id>``: how a target finds the credit note again before creating it."""
    return f"{order_number}-CR{refund_id}"[:REFERENCE_LENGTH]


def build_credit_note(
    refund: Refund,
    invoice: Invoice,
    *,
    invoice_number: str,
    invoice_id: str = "",
    customer: Party | None = None,
) -> Invoice:
    """The credit note for ``refund`` of the order whose booked invoice is ``invoice`` (the target's number
    ``invoice_number``, id ``invoice_id``): the refunded lines at their VAT rates, positive amounts, the same
    customer and VAT treatment as the invoice."""
    lines = tuple(
        invoice_line(
            OrderLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                kind=line.kind,
                sku=line.sku,
                total=line.amount,
                vat_reason=line.vat_reason,
                vat_category=line.vat_category,
            ),
            prices_include_vat=refund.prices_include_vat,
        )
        for line in refund.lines
    )
    rates: dict[Decimal, list] = {}
    for line in lines:
        rates.setdefault(line.vat_rate, []).append(line)
    vat_totals = tuple(
        VatTotal(rate, sum((x.net for x in group), ZERO), sum((x.vat for x in group), ZERO))
        for rate, group in sorted(rates.items())
    )
    return replace(
        invoice,
        order_number=credit_reference(invoice.order_number, refund.refund_id),
        date=refund.created_at.date(),
        customer=customer or invoice.customer,
        lines=lines,
        prices_include_vat=refund.prices_include_vat,
        vat_totals=vat_totals,
        rounding_difference=ZERO,
        credit_for=invoice_number,
        credit_for_id=invoice_id,
        credit_reason=refund.reason,
        prepaid=(),  # a gift card paid the invoice; the credit note says nothing about how it is paid back
    )


def refunded_total(refund: Refund) -> Decimal:
    """What the credit note's lines add up to, incl. VAT (equal to ``refund.total`` for a consistent
    refund)."""
    return lines_total(refund.lines, prices_include_vat=refund.prices_include_vat)


def lines_total(lines: Iterable[RefundLine], *, prices_include_vat: bool) -> Decimal:
    """What refund lines credit, incl. VAT (excl.-VAT amounts get their VAT per line, as invoices do)."""
    return cents(
        sum(
            (
                line.amount if prices_include_vat else cents(line.amount * (1 + line.vat_rate / 100))
                for line in lines
            ),
            ZERO,
        )
    )


def split(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` in cents over ``weights`` in proportion, the cents left over to the largest remainders (a
    refund of an amount spread over the order's VAT rates)."""
    whole = sum(weights, ZERO)
    if not whole:
        return [total, *([ZERO] * (len(weights) - 1))]
    sign = -1 if total < 0 else 1
    exact = [abs(total) * weight / whole for weight in weights]
    shares = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((abs(total) - sum(shares, ZERO)) / CENT)
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)[:left]:
        shares[i] += CENT
    return [sign * share for share in shares]


def refund_to_json(refund: Refund) -> dict:
    """The refund as a record keeps it (its payload)."""
    return {
        "source": refund.source,
        "refund_id": refund.refund_id,
        "order_id": refund.order_id,
        "created_at": refund.created_at.isoformat(),
        "currency": refund.currency,
        "prices_include_vat": refund.prices_include_vat,
        "total": str(refund.total),
        "reason": refund.reason,
        "reduces_invoice": refund.reduces_invoice,
        "lines": [
            {
                "description": line.description,
                "quantity": str(line.quantity),
                "amount": str(line.amount),
                "vat_rate": str(line.vat_rate),
                "kind": str(line.kind),
                "sku": line.sku,
                "vat_reason": line.vat_reason,
                "vat_category": line.vat_category,
            }
            for line in refund.lines
        ],
        "raw": refund.raw,
    }


def refund_from_json(data: dict) -> Refund:
    return Refund(
        source=str(data["source"]),
        refund_id=str(data["refund_id"]),
        order_id=str(data["order_id"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        currency=str(data.get("currency") or "EUR"),
        prices_include_vat=bool(data.get("prices_include_vat", True)),
        total=Decimal(str(data["total"])),
        reason=str(data.get("reason") or ""),
        reduces_invoice=bool(data.get("reduces_invoice")),
        lines=tuple(
            RefundLine(
                description=str(row["description"]),
                quantity=Decimal(str(row["quantity"])),
                amount=Decimal(str(row["amount"])),
                vat_rate=Decimal(str(row["vat_rate"])),
                kind=LineKind(row.get("kind") or LineKind.PRODUCT),
                sku=str(row.get("sku") or ""),
                vat_reason=str(row.get("vat_reason") or ""),
                vat_category=str(row.get("vat_category") or ""),
            )
            for row in data.get("lines") or []
        ),
        raw=data.get("raw"),
    )


def less_what_was_left_out(refund: Refund, earlier: Refund | None) -> Refund:
    """A ``reduces_invoice`` refund less the quantities the invoice already left out (``earlier``: the same
    refund as the booked order showed it)."""
    if earlier is None or not refund.reduces_invoice:
        return refund
    left_out: dict[str, Decimal] = {}
    for line in earlier.lines:
        left_out[line.sku] = left_out.get(line.sku, ZERO) + line.quantity
    lines = []
    for line in refund.lines:
        already = min(left_out.get(line.sku, ZERO), line.quantity)
        left_out[line.sku] = left_out.get(line.sku, ZERO) - already
        quantity = line.quantity - already
        if quantity > 0:
            amount = cents(line.amount * quantity / line.quantity)
            lines.append(replace(line, quantity=quantity, amount=amount))
    reduced = replace(refund, lines=tuple(lines))
    return replace(reduced, total=refunded_total(reduced))
