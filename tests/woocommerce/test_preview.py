"""``koppel preview --source woocommerce`` on the real payloads and on an order the sandbox computed, for
both targets: exit 0, or exactly the check that blocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from koppel.connectors.woocommerce import sandbox as simulation
from koppel.preview import EXIT_BLOCKED, EXIT_OK, EXIT_UNREADABLE, main
from tests.woocommerce.conftest import shared_path, wc_order

TARGETS = ("factuursturen", "eenvoudigfactureren")


def run(capsys: pytest.CaptureFixture[str], path: Path, target: str, *extra: str) -> tuple[int, Any, str]:
    code = main(["--source", "woocommerce", "--target", target, str(path), *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def failing(result: dict[str, Any]) -> list[str]:
    return [check["code"] for check in result["checks"] if not check["passed"]]


@pytest.mark.parametrize("target", TARGETS)
def test_rest_docs_example_is_blocked_only_by_its_us_sales_tax(capsys, target: str) -> None:
    path = shared_path("order-v3-docs-example.json")
    code, result, _ = run(capsys, path, target)
    assert code == EXIT_BLOCKED
    assert failing(result) == ["VAT_CODE_MISSING"]  # 7.5% California tax in a Dutch administration
    assert result["document"]["totals"]["gross"] == "29.35"
    code, result, err = run(capsys, path, target, "--vat-rates", "7.5,0")
    assert (code, err, failing(result)) == (EXIT_OK, "", [])
    assert result["requests"]


@pytest.mark.parametrize("target", TARGETS)
def test_woocommerce_8_webhook_payload_passes(capsys, target: str) -> None:
    code, result, err = run(capsys, shared_path("order-webhook-test-event-pipedream.json"), target)
    assert (code, err, failing(result)) == (EXIT_OK, "", [])
    assert result["document"]["totals"]["gross"] == "0.00"


@pytest.mark.parametrize("target", TARGETS)
def test_refund_payload_is_unreadable_with_the_reason(capsys, target: str) -> None:
    code, result, err = run(capsys, shared_path("order-refund-v3-docs-example.json"), target)
    assert code == EXIT_UNREADABLE and result is None
    assert json.loads(err) == {
        "error": "ORDER_UNREADABLE",
        "message": "This is a WooCommerce refund (726), not an order; refunds are not processed",
    }


@pytest.mark.parametrize("target", TARGETS)
def test_a_dutch_order_with_coupon_and_fee_passes(capsys, tmp_path: Path, target: str) -> None:
    sim = simulation.WooCommerceSandbox("http://shop.test")
    store, _ = sim.add_store("preview", {"consumer_key": "ck", "consumer_secret": "cs"}, "http://shop.test")
    order = wc_order(
        coupon_lines=[{"code": "ZOMER10", "discount_type": "percent", "amount": "10"}],
        fee_lines=[{"name": "Betaalkosten", "total": "0.29"}],
    )
    doc = sim.place(store, order).doc
    path = tmp_path / "order.json"
    path.write_bytes(simulation.php_json(doc))
    code, result, err = run(capsys, path, target)
    assert (code, err, failing(result)) == (EXIT_OK, "", [])
    assert result["document"]["totals"]["gross"] == doc["total"]
    kinds = [line["kind"] for line in result["document"]["lines"]]
    assert kinds == ["product", "product", "discount", "discount", "shipping", "fee"]
