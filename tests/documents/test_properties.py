"""Properties of the money rules over random KMO Shops orders (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.connectors.factuursturen.mapping import FactuursturenSettings, invoice_body
from koppel.connectors.kmoshops.mapping import parse_order
from koppel.connectors.kmoshops.sandbox import order_total
from koppel.documents.checks import CheckContext, check_total
from koppel.documents.model import InvoiceLine, build_invoice
from koppel.documents.money import CENT

D = Decimal
RATES = ["0.00", "6.00", "9.00", "12.00", "21.00"]
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

prices = st.integers(min_value=1, max_value=99_999).map(lambda c: f"{D(c).scaleb(-2):.2f}")
rates = st.sampled_from(RATES)
lines = st.lists(
    st.fixed_dictionaries(
        {"description": st.just("Artikel"), "amount": st.integers(1, 20), "price": prices, "tax_rate": rates}
    ),
    min_size=1,
    max_size=6,
)
shipping = st.fixed_dictionaries(
    {
        "description": st.just("Verzendkosten"),
        "price": st.integers(0, 2_500).map(lambda c: f"{D(c).scaleb(-2):.2f}"),
        "tax_rate": rates,
    }
)


@st.composite
def kmo_orders(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": 1,
        "number": "1",
        "created_at": "2024-01-02T10:00:00+01:00",
        "status": "paid",
        "priceincltax": draw(st.booleans()),
        "paid": True,
        "customer": {"firstname": "Jan", "lastname": "Jansen", "email": "jan@example.nl", "country": "NL"},
        "lines": draw(lines),
        "shipping": draw(shipping),
    }
    payload["total"] = order_total(payload)  # the way the KMO Shops sandbox computes it: per line
    return payload


def _quantity_times_price(payload: dict[str, Any]) -> Decimal:
    items = [(line["amount"], line["price"]) for line in payload["lines"]]
    items.append((1, payload["shipping"]["price"]))
    return sum((D(amount) * D(price) for amount, price in items), D(0))


@FAST
@given(kmo_orders())
def test_every_line_adds_up_and_the_invoice_is_the_sum_of_its_lines(payload: dict[str, Any]) -> None:
    invoice = build_invoice(parse_order(payload))
    for line in invoice.lines:
        assert line.gross == line.net + line.vat
        for amount in (line.net, line.vat, line.gross):
            assert amount == amount.quantize(CENT)
    assert invoice.gross == sum((line.gross for line in invoice.lines), D(0))
    assert invoice.net + invoice.vat == invoice.gross
    # The per-rate summary a bookkeeper files must add up to the same invoice.
    assert sum((t.net for t in invoice.vat_totals), D(0)) == invoice.net
    assert sum((t.vat for t in invoice.vat_totals), D(0)) == invoice.vat
    assert len({t.rate for t in invoice.vat_totals}) == len(invoice.vat_totals)


@FAST
@given(kmo_orders())
def test_incl_vat_invoice_is_exactly_what_the_customer_paid(payload: dict[str, Any]) -> None:
    order = parse_order(payload)
    invoice = build_invoice(order)
    if order.prices_include_vat:
        assert invoice.gross == _quantity_times_price(payload)
        assert invoice.gross == order.total
    else:
        assert invoice.net == _quantity_times_price(payload)


@FAST
@given(kmo_orders())
def test_shop_total_computed_per_line_passes_and_a_wrong_one_does_not(payload: dict[str, Any]) -> None:
    ctx = CheckContext(eligible_statuses=frozenset({"paid"}))
    assert check_total(parse_order(payload), ctx).passed

    off = D("0.05") * (len(payload["lines"]) + 1)
    for wrong in (D(payload["total"]) + off, D(payload["total"]) - off):
        result = check_total(parse_order({**payload, "total": f"{wrong:.2f}"}), ctx)
        assert not result.passed
        assert f"{wrong:.2f}" in result.message


@FAST
@given(kmo_orders())
def test_what_factuursturen_receives_adds_up_to_the_invoice(payload: dict[str, Any]) -> None:
    # Sent the way the debtor keeps prices (a new debtor gets the order's tax_type): no conversion.
    invoice = build_invoice(parse_order(payload))
    body = invoice_body(
        invoice,
        "1",
        debtor_prices_include_vat=invoice.prices_include_vat,
        settings=FactuursturenSettings(),
    )
    sent = sum((D(x["amount"]) * D(x["price"]) for x in body["lines"]), D(0))
    assert sent == (invoice.gross if invoice.prices_include_vat else invoice.net)
    assert [x["tax_rate"] for x in body["lines"]] == [f"{line.vat_rate:.2f}" for line in invoice.lines]


@FAST
@given(price=prices, rate=rates)
def test_unit_price_incl_excl_incl_stays_within_a_cent(price: str, rate: str) -> None:
    incl = InvoiceLine("x", D(1), D(price), True, D(rate), D(0), D(0), D(0))
    excl_price = incl.unit_price_for(include_vat=False)
    excl = InvoiceLine("x", D(1), excl_price, False, D(rate), D(0), D(0), D(0))
    back = excl.unit_price_for(include_vat=True)
    assert abs(back - D(price)) <= CENT
    assert excl_price == excl_price.quantize(D("0.0001"))
    if rate == "0.00":
        assert back == excl_price == D(price)
