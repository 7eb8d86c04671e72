"""Property: for any cart Shopify prices (any lines, rates 21/9/0, shipping, coupons and automatic discounts,
duties, prices incl. or excl. VAT), the invoice Koppel books totals ``total_price`` to the cent whenever the
total check lets the order through, and it lets it through whenever the difference is Shopify's rounding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.connectors.shopify.mapping import parse_order
from koppel.connectors.shopify.sandbox import Identity, ShopSettings, build_order
from koppel.documents.checks import CheckContext, check_total, expected_total, invoice_for

RATES = ("21", "9", "0")


def cents(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{Decimal(n) / 100:.2f}")


line_items = st.lists(
    st.fixed_dictionaries(
        {
            "title": st.sampled_from(["Mok", "Thee", "Boek", "Kaars", "Fiets"]),
            "sku": st.sampled_from(["A", "B", "C"]),
            "quantity": st.integers(1, 7),
            "price": cents(1, 50_000),
            "tax_rate": st.sampled_from(RATES),
            "taxable": st.sampled_from([True, True, True, False]),
        }
    ),
    min_size=1,
    max_size=6,
)
shipping_lines = st.lists(
    st.fixed_dictionaries({"price": cents(0, 2_500), "tax_rate": st.sampled_from(RATES)}), max_size=2
)
discount = st.fixed_dictionaries(
    {"value_type": st.just("percentage"), "value": st.integers(1, 100).map(str)}
) | st.fixed_dictionaries({"value_type": st.just("fixed_amount"), "value": cents(1, 20_000)})
discounts = st.lists(
    st.tuples(
        discount,
        st.sampled_from([{"code": "ZOMER10"}, {"type": "automatic", "title": "Actie"}, {"type": "manual"}]),
        st.sampled_from([{}, {"target_type": "shipping_line"}, {"skus": ["A"]}]),
    ).map(lambda parts: {**parts[0], **parts[1], **parts[2]}),
    max_size=2,
)
carts = st.fixed_dictionaries(
    {
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "discounts": discounts,
        "taxes_included": st.booleans(),
    },
    optional={"duties": cents(1, 5_000)},
)


def shopify(cart: dict[str, Any]) -> dict[str, Any]:
    return build_order(cart, Identity(5_980_000_000_001, 1001, "2026-05-01T12:00:00+02:00"), ShopSettings())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(carts)
def test_the_invoice_totals_what_the_customer_paid(cart: dict[str, Any]) -> None:
    payload = shopify(cart)
    order = parse_order(payload)
    assert order.total == Decimal(payload["total_price"])
    invoice = invoice_for(order, "NL")
    passed = check_total(order, CheckContext()).passed
    if order.prices_include_vat:
        assert passed and invoice.gross == order.total and invoice.rounding_difference == 0
        return
    if passed:
        assert invoice.gross == order.total
    # Excl. VAT the only difference is rounding: Koppel rounds each of its lines, Shopify each discounted one.
    discounted = sum(
        1 for item in payload["line_items"] + payload["shipping_lines"] if item["discount_allocations"]
    )
    expected, _ = expected_total(order)
    assert abs(order.total - expected) <= Decimal("0.005") * (len(order.lines) + discounted)
    if not any(item["discount_allocations"] for item in payload["line_items"] + payload["shipping_lines"]):
        assert passed and invoice.rounding_difference == 0
