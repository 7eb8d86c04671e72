"""WooCommerce refunds as canonical refunds: made in the sandbox (its REST API and as a merchant does in
the back office), fetched over HTTP by the connector, and the real orders with refunds."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from koppel.connectors.woocommerce.refunds import parse_refund, parse_refunds, summary_refunds
from koppel.documents.model import LineKind
from koppel.documents.refunds import Refund, refunded_total
from tests.conftest import shared_file
from tests.woocommerce.conftest import WooStore, new_store, shared_payload, wc_order

REAL_ORDERS = (
    "woocommerce-docs-v3-723-refunds.json",
    "woocommerce-ios-324-partially-refunded.json",
    "woocommerce-ios-560-four-refunds.json",
    "woocommerce-ios-609-fully-refunded.json",
)


def refund(store: WooStore, order_id: int, **body: Any) -> dict[str, Any]:
    """A refund as the merchant makes it in the back office (the control API)."""
    response = httpx.post(f"{store.control}/orders/{order_id}/refunds", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def lines_of(found: Refund) -> list[tuple[str, Decimal, Decimal, Decimal, LineKind]]:
    return [(line.description, line.quantity, line.amount, line.vat_rate, line.kind) for line in found.lines]


def test_a_partial_refund_of_one_item(store: WooStore) -> None:
    """The tea goes back: one line at the 9% its invoice line had, adding up to the refund's amount."""
    order = store.place(wc_order())
    tea = next(item for item in order["line_items"] if item["sku"] == "TEA-9")
    made = refund(store, order["id"], line_items=[{"id": tea["id"], "quantity": 1}], reason="Op")
    source = store.connector()
    again = source.fetch_order(str(order["id"]))
    assert again["refunds"] == [{"id": made["id"], "reason": "Op", "total": f"-{made['amount']}"}]
    assert again["status"] == "processing" and again["date_modified_gmt"] >= order["date_modified_gmt"]
    assert source.refunds_of(again) == [] and source.refund_hint(again)
    [found] = source.fetch_refunds(str(order["id"]))
    assert (found.refund_id, found.order_id, found.reason) == (str(made["id"]), str(order["id"]), "Op")
    [line] = found.lines
    assert (line.description, line.quantity, line.vat_rate, line.kind) == (
        "Thee, losse blad",
        Decimal(1),
        Decimal(9),
        LineKind.PRODUCT,
    )
    assert found.total == refunded_total(found) == Decimal(made["amount"])
    assert refunded_total(found) == Decimal(tea["total"]) + Decimal(tea["total_tax"])


def test_a_full_refund_of_the_items_and_shipping_through_the_rest_api(store: WooStore) -> None:
    order = store.place(wc_order())
    items = [*order["line_items"], *order["shipping_lines"]]
    body = {
        "api_refund": False,
        "line_items": [
            {
                "id": item["id"],
                "quantity": item.get("quantity", 0),
                "refund_total": item["total"],
                "refund_tax": [{"id": t["id"], "refund_total": t["total"]} for t in item["taxes"]],
            }
            for item in items
        ],
    }
    response = httpx.post(f"{store.api_url}/orders/{order['id']}/refunds", json=body, auth=store_auth(store))
    assert response.status_code == 201, response.text
    made = response.json()
    assert [i["quantity"] for i in made["line_items"]] == [-2, -1] and made["shipping_lines"]
    one = store.api(f"orders/{order['id']}/refunds/{made['id']}")
    assert one.status_code == 200 and one.json()["id"] == made["id"]
    source = store.connector()
    [found] = source.fetch_refunds(str(order["id"]))
    assert [(kind, rate) for _, _, _, rate, kind in lines_of(found)] == [
        (LineKind.PRODUCT, Decimal(21)),
        (LineKind.PRODUCT, Decimal(9)),
        (LineKind.SHIPPING, Decimal(21)),
    ]
    assert found.total == refunded_total(found) == Decimal(order["total"])
    assert source.fetch_order(str(order["id"]))["status"] == "refunded"


def test_an_amount_only_full_refund(store: WooStore) -> None:
    """Status Refunded in the back office refunds what is left as an amount: fee lines at the order's
    rates, in proportion to what was invoiced at each."""
    order = store.place(wc_order())
    made = refund(store, order["id"], full=True)
    assert made["line_items"] == [] and made["amount"] == order["total"]
    source = store.connector()
    assert source.fetch_order(str(order["id"]))["status"] == "refunded"
    [found] = source.fetch_refunds(str(order["id"]))
    assert [(line.kind, line.vat_rate) for line in found.lines] == [
        (LineKind.FEE, Decimal(9)),
        (LineKind.FEE, Decimal(21)),
    ]
    assert found.total == refunded_total(found) == Decimal(order["total"])
    too_much = httpx.post(f"{store.control}/orders/{order['id']}/refunds", json={"amount": "1.00"})
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "woocommerce_rest_cannot_create_order_refund"


def test_a_refund_sends_order_updated(sandbox, receiver) -> None:
    store = new_store(sandbox)
    path = f"/{uuid.uuid4().hex}"
    store.hook_up(receiver.url + path, "geheim")
    order = store.place(wc_order())
    made = refund(store, order["id"], amount="5.00")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not updated(receiver.for_path(path)):
        time.sleep(0.05)
    [delivery] = updated(receiver.for_path(path))
    assert json.loads(delivery["body"])["refunds"][0]["id"] == made["id"]


def updated(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in deliveries if d["headers"].get("x-wc-webhook-topic") == "order.updated"]


def external(name: str) -> dict[str, Any]:
    return json.loads(shared_file(f"specs/external-orders/{name}").read_text(encoding="utf-8"))


def store_auth(store: WooStore) -> tuple[str, str]:
    return store.credentials["consumer_key"], store.credentials["consumer_secret"]


@pytest.mark.parametrize("name", REAL_ORDERS)
def test_the_real_orders_refunds_parse_with_their_totals(name: str) -> None:
    """A real order's ``refunds`` name only totals: read as amount-only refunds, each credits its total."""
    order = external(name)
    found = parse_refunds(order, summary_refunds(order))
    assert {refund.refund_id for refund in found} == {str(r["id"]) for r in order["refunds"]}
    for summary in order["refunds"]:
        [one] = [refund for refund in found if refund.refund_id == str(summary["id"])]
        assert one.total == refunded_total(one) == -Decimal(summary["total"])
        assert one.order_id == str(order["id"])


def test_the_docs_refund_of_its_order() -> None:
    """The REST docs' refund 726 of order 723 (an amount of 10.00, no items) against that order."""
    order = external("woocommerce-docs-v3-723-refunds.json")
    found = parse_refund(shared_payload("order-refund-v3-docs-example.json"), order)
    assert found is not None and (found.refund_id, found.order_id) == ("726", "723")
    assert lines_of(found) == [("Terugbetaling", Decimal(1), Decimal("10.00"), Decimal(0), LineKind.FEE)]
    assert found.total == refunded_total(found) == Decimal("10.00")
