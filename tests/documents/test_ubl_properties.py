"""Random carts (21/9/0%, quantities, discounts, fees, shipping, incl. or excl. VAT, the shop's rounding,
paid or not, invoice or credit note) as UBL: the document totals are the invoice's to the cent, and the
document is valid for EN 16931 and Peppol BIS Billing 3.0."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.documents.model import Invoice, LineKind, OrderLine, Party, build_invoice
from koppel.documents.money import CENT, ZERO
from koppel.documents.ubl import Seller, invoice_ubl
from koppel.documents.ubl.document import quantity_and_price
from tests.documents.einvoice import (
    SELLER_JSON,
    assert_totals_are_the_invoices,
    expected_fatal,
    validate_many,
)
from tests.documents.test_ubl import KLANT_NL, order

D = Decimal
RATES = (D(21), D(9), D(0))
SELLER = Seller.from_json(SELLER_JSON)
CONSUMER_NL = Party(
    first_name="Karin",
    last_name="de Wit",
    street="Kerkstraat",
    house_number="12",
    zipcode="1017 GB",
    city="Amsterdam",
    country_raw="Nederland",
    email="karin@example.nl",
)
prices = st.integers(min_value=1, max_value=50_000).map(lambda c: D(c) / 100)
quantities = st.sampled_from((1, 1, 2, 3, 5, 12, 250))


@st.composite
def products(draw: st.DrawFn, index: int) -> OrderLine:
    quantity, price, rate = D(draw(quantities)), draw(prices), draw(st.sampled_from(RATES))
    # Sometimes the shop states the line's total ("3 for 10.00"): the unit price is then a fraction.
    total = draw(st.none() | st.just((quantity * price).quantize(CENT) - CENT * D(draw(st.integers(0, 2)))))
    return OrderLine(f"Artikel {index}", quantity, price, rate, total=total)


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    lines = [draw(products(i)) for i in range(draw(st.integers(min_value=1, max_value=5)))]
    for rate in draw(st.lists(st.sampled_from(sorted({line.vat_rate for line in lines})), max_size=2)):
        base = sum((line.amount for line in lines if line.vat_rate == rate), ZERO)
        discount = -(base * D(draw(st.integers(1, 60))) / 100).quantize(CENT)
        lines.append(OrderLine("Korting", D(1), discount, rate, LineKind.DISCOUNT))
    if draw(st.booleans()):
        fee = draw(st.sampled_from((D("0.29"), D("1.50"), D("-0.50"))))
        lines.append(OrderLine("Betaalkosten", D(1), fee, D(21), LineKind.FEE))
    shipping = draw(
        st.none()
        | st.builds(
            lambda price, rate: OrderLine("Verzendkosten", D(1), price, rate, LineKind.SHIPPING),
            st.sampled_from((D("4.95"), D("6.95"), D("0.00"), D("12.10"))),
            st.sampled_from(RATES),
        )
    )
    incl = draw(st.booleans())
    customer = draw(st.sampled_from((KLANT_NL, CONSUMER_NL)))
    placed = order("WEB-1", customer, lines, shipping=shipping, incl=incl, total="0")
    exact = build_invoice(placed).gross
    # The shop's own rounding: a cent more or less than the per-line sum becomes a rounding line.
    total = exact + draw(st.sampled_from((ZERO, CENT, -CENT)))
    invoice = build_invoice(replace(placed, total=total), rounding_tolerance=CENT)
    invoice = replace(invoice, paid=draw(st.booleans()))
    return replace(invoice, credit_for="2026-0001") if draw(st.booleans()) else invoice


@settings(max_examples=200, deadline=None)
@given(invoices())
def test_the_totals_are_the_invoices(invoice: Invoice) -> None:
    assert_totals_are_the_invoices(invoice_ubl(invoice, SELLER), invoice)


@settings(max_examples=200, deadline=None)
@given(invoices())
def test_quantity_times_price_is_each_lines_net_and_no_price_is_negative(invoice: Invoice) -> None:
    for line in invoice.lines:
        quantity, price = quantity_and_price(line)
        assert price >= 0
        assert abs(quantity * price - line.net) <= CENT  # PEPPOL-EN16931-R120 allows 0.02


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(invoices(), min_size=8, max_size=8))
def test_every_cart_is_a_valid_e_invoice(batch: list[Invoice]) -> None:
    """Validated eight at a time: one run of the validator compiles the schematrons once (~1 s)."""
    verdicts = validate_many([invoice_ubl(invoice, SELLER) for invoice in batch])
    assert verdicts == [expected_fatal(invoice) for invoice in batch]
