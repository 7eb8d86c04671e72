"""Real orders from other projects (``../shared/specs/external-orders/``, with their sources): each previews
to the platform's own total, or is refused for a reason that holds. Skipped when ../shared is absent."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from koppel.connectors.errors import OrderInvalid
from koppel.preview import preview
from tests.conftest import SHARED

FOLDER = SHARED / "specs" / "external-orders"

#: Orders a gift card paid part of: the invoice is the full sale, the gift-card part registered as paid,
#: and what is left to pay is the platform's own total (WooCommerce's ``total`` is after the cards).
GIFT_CARDS = {"woocommerce-ios-459-gift-card.json": (Decimal("28.00"), Decimal("24.00"))}

#: Orders Koppel refuses, and why that holds (the code of the failing check, or ORDER_INVALID).
REFUSED = {
    # A refund already subtracted from the total: credit notes are issue 11; booked at full value it would
    # not match, so the order is stopped, not booked wrong.
    "shopify-docs-1001-partially-refunded.json": "TOTAL_MISMATCH",
    # The author edited its id to a string: not a Shopify order id.
    "shopify-jpy-1003-fake-id.json": "ORDER_INVALID",
    # The fixture's total was edited by hand and no longer adds up.
    "woocommerce-ios-357-bundle.json": "TOTAL_MISMATCH",
    "woocommerce-ios-963-coupon-fee-edited.json": "TOTAL_MISMATCH",
    # A trimmed fixture: the shipping its total and tax include has no shipping line.
    "woocommerce-ios-656-faulty-attributes.json": "TOTAL_MISMATCH",
}


def payloads() -> list[str]:
    if not FOLDER.exists():
        return []
    return sorted(path.name for path in FOLDER.glob("*.json"))


@pytest.mark.skipif(not FOLDER.exists(), reason="../shared/specs/external-orders is not available")
@pytest.mark.parametrize("name", payloads())
def test_a_real_order_totals_what_the_platform_charged_or_is_refused_for_a_reason(name):
    data = json.loads((FOLDER / name).read_text(encoding="utf-8"))
    data = data.get("order", data)
    source = "shopify" if name.startswith("shopify") else "woocommerce"
    charged = Decimal(str(data.get("total_price") if source == "shopify" else data["total"]))
    try:
        result = preview(data, source=source, target="factuursturen")
    except OrderInvalid:
        assert REFUSED.get(name) == "ORDER_INVALID", f"{name} is unreadable"
        return
    failing = [check["code"] for check in result["checks"] if not check["passed"]]
    gross = Decimal(result["document"]["totals"]["gross"])
    if name in REFUSED:
        assert REFUSED[name] in failing, (name, failing)
        return
    assert "TOTAL_MISMATCH" not in failing
    if name in GIFT_CARDS:
        sale, prepaid = GIFT_CARDS[name]
        document = result["document"]
        assert (gross, Decimal(document["prepaid_amount"])) == (sale, prepaid)
        assert Decimal(document["payable"]) == charged
        return
    assert gross == charged, (name, gross, charged)
    assert "prepaid" not in result["document"]


def test_an_untaxed_shopify_line_is_at_zero_whatever_its_zero_priced_tax_line_says():
    path = FOLDER / "shopify-jpy-1002-untaxed-lines-with-zero-tax-lines.json"
    if not path.exists():
        pytest.skip("../shared/specs/external-orders is not available")
    data = json.loads(path.read_text(encoding="utf-8"))
    result = preview(data.get("order", data), source="shopify", target="factuursturen")
    rates = sorted({line["vat_rate"] for line in result["document"]["lines"]})
    assert rates == ["0.00", "10.00"]


def test_a_woocommerce_rate_is_derived_to_the_precision_the_amounts_carry():
    from koppel.connectors.woocommerce.mapping import derive_rate

    assert derive_rate(Decimal("340.40"), Decimal("30.21")) == Decimal("8.875")  # New York's 8.875%
    assert derive_rate(Decimal("100.00"), Decimal("21.00")) == Decimal("21")
