"""Property: for any order the simulated WooCommerce computes (prices incl. or excl. VAT, tax rounded per line
or at the subtotal, coupons of every type, fees of either sign, shipping or none, 21/9/0%), the invoice
Koppel books totals what WooCommerce charged, to the cent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.connectors.woocommerce import sandbox as simulation
from koppel.connectors.woocommerce.mapping import parse_order
from koppel.documents.checks import CheckContext, check_total, invoice_for
from koppel.documents.model import LineKind

CLASSES = ("", "reduced-rate", "zero-rate")
money = st.integers(min_value=1, max_value=50_000).map(lambda c: f"{Decimal(c) / 100:.2f}")

line = st.fixed_dictionaries(
    {"quantity": st.integers(1, 12), "price": money, "tax_class": st.sampled_from(CLASSES)}
)
coupon = st.fixed_dictionaries(
    {
        "code": st.sampled_from(["zomer10", "welkom", "vaste-klant"]),
        "discount_type": st.sampled_from(["percent", "fixed_cart", "fixed_product"]),
        "amount": st.sampled_from(["5", "10", "12.5", "2.50", "7.99", "100"]),
    }
)
fee = st.fixed_dictionaries(
    {
        "name": st.just("Toeslag"),
        "total": st.integers(-2_000, 2_000).map(lambda c: f"{Decimal(c) / 100:.2f}"),
        "tax_class": st.sampled_from(CLASSES),
        "tax_status": st.sampled_from(["taxable", "none"]),
    }
)
shipping = st.fixed_dictionaries(
    {"method_title": st.just("PostNL"), "total": st.sampled_from(["0.00", "4.09", "6.95", "12.40"])}
)
order = st.fixed_dictionaries(
    {
        "line_items": st.lists(line, min_size=1, max_size=6),
        "coupon_lines": st.lists(coupon, max_size=2, unique_by=lambda c: c["code"]),
        "fee_lines": st.lists(fee, max_size=2),
        "shipping_lines": st.lists(shipping, max_size=2),
        "vat_exempt": st.booleans().map(lambda b: b and False),
    }
)
shop = st.fixed_dictionaries(
    {
        "prices_include_tax": st.booleans(),
        "tax_round_at_subtotal": st.booleans(),
        "legacy_tax_lines": st.booleans(),
    }
)


def computed(shop_settings: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The order as the sandbox's WooCommerce returns it (through JSON, as Koppel receives it)."""
    sim = simulation.WooCommerceSandbox("http://shop.test")
    store, _ = sim.add_store(
        "prop", {"consumer_key": "ck", "consumer_secret": "cs", "settings": shop_settings}, "http://shop.test"
    )
    return json.loads(simulation.php_json(sim.place(store, data).doc))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shop_settings=shop, data=order)
def test_invoice_total_is_what_woocommerce_charged(
    shop_settings: dict[str, Any], data: dict[str, Any]
) -> None:
    payload = computed(shop_settings, data)
    parsed = parse_order(payload)
    assert check_total(parsed, CheckContext()).passed, (payload["total"], parsed.lines)
    invoice = invoice_for(parsed, "NL")
    assert invoice.gross == Decimal(payload["total"])
    assert sum(1 for x in invoice.lines if x.kind == LineKind.ROUNDING) <= 1
    if not shop_settings["legacy_tax_lines"]:
        assert {x.vat_rate for x in parsed.lines} <= {Decimal(21), Decimal(9), Decimal(0)}
    discounts = [x for x in parsed.lines if x.kind == LineKind.DISCOUNT]
    assert len({x.vat_rate for x in discounts}) == len(discounts)  # one per rate
    assert all(x.amount < 0 for x in discounts)


@settings(max_examples=150, deadline=None)
@given(data=order)
def test_vat_exempt_orders_carry_no_vat(data: dict[str, Any]) -> None:
    payload = computed({"prices_include_tax": True}, {**data, "vat_exempt": True})
    parsed = parse_order(payload)
    assert {x.vat_rate for x in parsed.lines} == {Decimal(0)}
    assert invoice_for(parsed, "NL").gross == Decimal(payload["total"])
