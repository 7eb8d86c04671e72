"""For random carts and random refunds of them, the invoice minus its credit notes equals what the customer
finally paid, per VAT rate and in total (incl. and excl. VAT prices)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.documents.model import LineKind, Order, OrderLine, Party, build_invoice
from koppel.documents.money import ZERO, cents
from koppel.documents.refunds import Refund, RefundLine, build_credit_note, refunded_total

RATES = [Decimal(21), Decimal(9), Decimal(0)]
prices = st.decimals(min_value=Decimal("0.50"), max_value=Decimal("250"), places=2)
cart_lines = st.lists(
    st.tuples(prices, st.integers(min_value=1, max_value=5), st.sampled_from(RATES)), min_size=1, max_size=5
)


def order_of(lines: list[tuple[Decimal, int, Decimal]], include_vat: bool) -> Order:
    order_lines = tuple(
        OrderLine(f"Artikel {n}", Decimal(quantity), price, rate, LineKind.PRODUCT, sku=f"SKU-{n}")
        for n, (price, quantity, rate) in enumerate(lines)
    )
    return Order(
        source="test",
        source_id="1",
        number="1001",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        status="paid",
        currency="EUR",
        prices_include_vat=include_vat,
        payment_method="ideal",
        paid=True,
        customer=Party(first_name="Sanne", last_name="Jansen", email="sanne@example.nl", country_raw="NL"),
        lines=order_lines,
        shipping=None,
        total=ZERO,
    )


@st.composite
def carts_with_refunds(draw):
    lines = draw(cart_lines)
    include_vat = draw(st.booleans())
    # Each refund takes some quantity of some lines; together never more than was bought.
    left = [quantity for _price, quantity, _rate in lines]
    refunds = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        taken = []
        for n, (price, _quantity, rate) in enumerate(lines):
            count = draw(st.integers(min_value=0, max_value=left[n]))
            if count:
                left[n] -= count
                taken.append((n, count, price, rate))
        if taken:
            refunds.append(taken)
    return lines, include_vat, refunds


def refund_of(number: int, taken, include_vat: bool) -> Refund:
    lines = tuple(
        RefundLine(f"Artikel {n}", Decimal(count), cents(price * count), rate, sku=f"SKU-{n}")
        for n, count, price, rate in taken
    )
    refund = Refund(
        source="test",
        refund_id=str(number),
        order_id="1",
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        currency="EUR",
        prices_include_vat=include_vat,
        lines=lines,
        total=ZERO,
    )
    return replace(refund, total=refunded_total(refund))


def refunded_per_rate(refunds, include_vat: bool) -> dict[Decimal, Decimal]:
    """The money each refund gave back per rate, computed here (not by the code under test)."""
    sums: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for taken in refunds:
        for _n, count, price, rate in taken:
            amount = cents(price * count)
            sums[rate] += amount if include_vat else cents(amount * (1 + rate / 100))
    return sums


def gross_per_rate(document) -> dict[Decimal, Decimal]:
    sums: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in document.lines:
        sums[line.vat_rate] += line.gross
    return sums


@settings(max_examples=200, deadline=None)
@given(carts_with_refunds())
def test_invoice_minus_credit_notes_is_what_was_finally_paid_per_rate(case) -> None:
    lines, include_vat, refunds = case
    invoice = build_invoice(order_of(lines, include_vat))
    credits = [
        build_credit_note(refund_of(n, taken, include_vat), invoice, invoice_number="F2026-1")
        for n, taken in enumerate(refunds)
    ]
    remaining = gross_per_rate(invoice)
    for credit in credits:
        assert credit.is_credit_note and credit.credit_for == "F2026-1"
        for rate, amount in gross_per_rate(credit).items():
            remaining[rate] -= amount
    paid, refunded = gross_per_rate(invoice), refunded_per_rate(refunds, include_vat)
    for rate in RATES:
        assert remaining.get(rate, ZERO) == paid.get(rate, ZERO) - refunded.get(rate, ZERO), rate
    if include_vat:  # prices incl. VAT: what is left is exactly an invoice of what was kept
        kept = [
            (price, quantity - sum(c for taken in refunds for m, c, _p, _r in taken if m == n), rate)
            for n, (price, quantity, rate) in enumerate(lines)
        ]
        kept = [line for line in kept if line[1]]
        final = gross_per_rate(build_invoice(order_of(kept, include_vat))) if kept else {}
        for rate in RATES:
            assert remaining.get(rate, ZERO) == final.get(rate, ZERO), rate
