"""``koppel preview`` shows the credit notes of the refunds an order's payload holds, with the requests
that would book them, and ``--oss`` books a German consumer at 19%."""

from __future__ import annotations

import json
from decimal import Decimal

from koppel.connectors.shopify.sandbox import Identity, ShopSettings, build_order
from koppel.preview import preview
from tests.conftest import shared_file
from tests.shopify.conftest import make_cart


def test_a_partly_refunded_shopify_order_previews_its_credit_note() -> None:
    payload = json.loads(shared_file("specs/shopify/refund-rest-fixture.json").read_text(encoding="utf-8"))
    order = json.loads(shared_file("specs/shopify/order-rest-fixture.json").read_text(encoding="utf-8"))
    order = order.get("order", order)
    order["refunds"] = [payload.get("refund", payload)]
    for target in ("factuursturen", "eenvoudigfactureren", "moneybird"):
        result = preview(order, source="shopify", target=target)
        (credit,) = result["credit_notes"]
        assert credit["document"]["credit_for"] == "<invoice number>"
        assert Decimal(credit["document"]["totals"]["gross"]) > 0
        assert any(r["method"] == "POST" for r in credit["requests"]), target


def test_oss_books_a_german_consumer_at_nineteen_percent() -> None:
    """A Dutch shop's order to a consumer in Berlin, at Dutch VAT: right without OSS, stopped with it
    (under OSS the German consumer pays 19%)."""
    identity = Identity(5_980_000_000_002, 1002, "2026-12-01T10:00:00+01:00")
    payload = build_order(make_cart(), identity, ShopSettings())
    for key in ("billing_address", "shipping_address"):
        assert payload[key]["country_code"] == "NL"
        payload[key].update(country_code="DE", country="Germany", city="Berlin", zip="10115")
    home = preview(payload, source="shopify", target="factuursturen")
    oss = preview(payload, source="shopify", target="factuursturen", oss=True)
    assert all(check["passed"] for check in home["checks"]), home["checks"]
    mismatches = [c for c in oss["checks"] if not c["passed"] and c["code"] == "VAT_RATE_MISMATCH"]
    assert len(mismatches) == 3  # two products and the shipping
    assert "19%" in mismatches[0]["message"]
