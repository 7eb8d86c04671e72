"""Shopify refunds as canonical refunds: made in the sandbox (through its Admin API and as a merchant does),
read back over HTTP by the connector, and Shopify's own refund payloads."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx

from koppel.connectors.shopify.connector import ShopifySource
from koppel.connectors.shopify.refunds import parse_refund, parse_refunds
from koppel.documents.model import LineKind
from koppel.documents.refunds import Refund, refunded_total
from tests.conftest import shared_file
from tests.shopify.conftest import ShopifyStore, make_cart


def refund(store: ShopifyStore, order_id: int, **body: Any) -> dict[str, Any]:
    """A refund as the merchant makes it in the admin (the control API)."""
    response = httpx.post(f"{store.control}/orders/{order_id}/refunds", json=body, params={"notify": "true"})
    assert response.status_code == 201, response.text
    return response.json()["refund"]


def lines_of(found: Refund) -> list[tuple[str, Decimal, Decimal, LineKind]]:
    return [(line.description, line.quantity, line.amount, line.vat_rate) for line in found.lines]


def line_id(order: dict[str, Any], sku: str) -> int:
    return next(line["id"] for line in order["line_items"] if line["sku"] == sku)


def test_a_partial_refund_of_one_line_and_the_shipping(store: ShopifyStore) -> None:
    """The tea (9%) and the shipping (21%) go back; the mugs stay: each line at its invoice's rate, the
    credit adding up to the money refunded to the cent."""
    order = store.place()
    made = refund(
        store,
        order["id"],
        refund_line_items=[{"line_item_id": line_id(order, "TEA-9"), "quantity": 1}],
        shipping={"full_refund": True},
        note="Thee was op",
    )
    source = store.source()
    [found] = source.fetch_refunds(str(order["id"]))
    assert (found.refund_id, found.order_id) == (str(made["id"]), source.order_id(order))
    assert found.prices_include_vat and found.reason == "Thee was op"
    assert lines_of(found) == [
        ("Thee, losse blad", Decimal(1), Decimal("7.49"), Decimal("9.00")),
        ("PostNL", Decimal(1), Decimal("4.95"), Decimal("21.00")),
    ]
    assert [line.kind for line in found.lines] == [LineKind.PRODUCT, LineKind.SHIPPING]
    assert found.total == refunded_total(found) == Decimal("12.44")
    again = source.fetch_order(str(order["id"]))
    assert again["financial_status"] == "partially_refunded" and again["updated_at"] >= order["updated_at"]
    assert source.refunds_of(again) == [found]


def test_a_refund_through_the_admin_api_of_an_order_excl_vat(store: ShopifyStore) -> None:
    """``POST orders/{id}/refunds.json`` with Shopify's own body; amounts excl. VAT as the order's."""
    order = store.place(make_cart(taxes_included=False))
    mug = line_id(order, "MUG-1")
    body = {
        "refund": {
            "refund_line_items": [{"line_item_id": mug, "quantity": 1, "restock_type": "return"}],
            "transactions": [{"kind": "refund", "amount": "15.67", "gateway": "shopify_payments"}],
        }
    }
    response = httpx.post(
        f"{store.url}/admin/api/2026-07/orders/{order['id']}/refunds.json",
        json=body,
        headers={"X-Shopify-Access-Token": store.token},
    )
    assert response.status_code == 201, response.text
    [found] = store.source().fetch_refunds(str(order["id"]))
    assert not found.prices_include_vat
    assert lines_of(found) == [("Mok Delfts blauw - Groot", Decimal(1), Decimal("12.95"), Decimal("21.00"))]
    assert found.total == refunded_total(found) == Decimal("15.67")


def test_an_amount_without_items_is_credited_at_the_orders_rates(store: ShopifyStore) -> None:
    """A goodwill refund is an order adjustment (refund_discrepancy): fee lines at the order's rates, in
    proportion to what was invoiced at each, adding up to the money."""
    order = store.place()
    refund(store, order["id"], amount="5.00", note="Excuses voor de vertraging")
    [found] = store.source().fetch_refunds(str(order["id"]))
    assert [line.kind for line in found.lines] == [LineKind.FEE, LineKind.FEE]
    assert [line.vat_rate for line in found.lines] == [Decimal("9.00"), Decimal("21.00")]
    # Invoiced: 7.49 at 9%, 25.90 + 4.95 at 21%.
    assert [line.amount for line in found.lines] == [Decimal("0.98"), Decimal("4.02")]
    assert found.total == refunded_total(found) == Decimal("5.00")


def test_a_line_refunded_for_less_than_it_cost(store: ShopifyStore) -> None:
    """Two mugs go back for 20.00 of 25.90: Shopify records the 5.90 kept as a discrepancy, a negative fee."""
    order = store.place()
    mugs = [{"line_item_id": line_id(order, "MUG-1"), "quantity": 2}]
    made = refund(store, order["id"], refund_line_items=mugs, amount="20.00")
    assert [(a["kind"], a["amount"]) for a in made["order_adjustments"]] == [("refund_discrepancy", "5.90")]
    [found] = store.source().fetch_refunds(str(order["id"]))
    assert lines_of(found)[0] == ("Mok Delfts blauw - Groot", Decimal(2), Decimal("25.90"), Decimal("21.00"))
    assert sum(line.amount for line in found.lines[1:]) == Decimal("-5.90")
    assert found.total == refunded_total(found) == Decimal("20.00")


def test_a_restock_without_money_gives_no_credit(store: ShopifyStore) -> None:
    order = store.place()
    refund(store, order["id"], refund_line_items=[{"line_item_id": line_id(order, "TEA-9")}], amount="0")
    source = store.source()
    listed = store.api(f"orders/{order['id']}/refunds.json").json()["refunds"]
    assert len(listed) == 1 and listed[0]["transactions"] == []
    assert source.fetch_refunds(str(order["id"])) == []
    assert source.fetch_order(str(order["id"]))["financial_status"] == "paid"


def test_a_full_refund_makes_the_order_refunded(store: ShopifyStore) -> None:
    order = store.place()
    items = [{"line_item_id": line["id"], "quantity": line["quantity"]} for line in order["line_items"]]
    refund(store, order["id"], refund_line_items=items, shipping={"full_refund": True})
    source = store.source()
    [found] = source.fetch_refunds(str(order["id"]))
    assert found.total == refunded_total(found) == Decimal(order["total_price"])
    assert source.fetch_order(str(order["id"]))["financial_status"] == "refunded"
    too_much = httpx.post(f"{store.control}/orders/{order['id']}/refunds", json={"amount": "1.00"})
    assert too_much.status_code == 422


def test_the_refunds_create_webhook_names_the_order(store: ShopifyStore, receiver) -> None:
    """Signed like the shop's other webhooks; its body is the refund, and the notice names the order."""
    path = f"/{uuid.uuid4().hex}"
    store.configure(webhook_url=receiver.url + path, webhook_secret="geheim", topics=["refunds/create"])
    order = store.place()
    made = refund(store, order["id"], amount="2.50")
    deadline = time.monotonic() + 10
    while not receiver.for_path(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    [delivery] = receiver.for_path(path)
    headers = dict(delivery["headers"].items())
    assert headers["x-shopify-topic"] == "refunds/create"
    assert ShopifySource.verify_webhook(delivery["body"], headers, "geheim")
    assert json.loads(delivery["body"])["id"] == made["id"]
    notice = ShopifySource.parse_webhook(delivery["body"], headers)
    assert notice is not None and (notice.event, notice.order_id) == ("refunds/create", str(order["id"]))


def test_a_refund_webhook_without_an_order_names_nothing() -> None:
    headers = {"x-shopify-topic": "refunds/create"}
    assert ShopifySource.parse_webhook(b'{"id": 1}', headers) is None


def test_the_docs_order_with_a_refund() -> None:
    """Shopify's REST docs order #1001 (2026-07): its refund gave 209.00 back; the lines Shopify lists are
    worth more (the example's figures were put together by hand), so the difference is credited back as a
    discrepancy and the credit note credits what was refunded."""
    path = shared_file("specs/external-orders/shopify-docs-1001-partially-refunded.json")
    order = json.loads(path.read_text())
    [found] = parse_refunds(order)
    assert (found.refund_id, found.order_id, found.currency) == ("509562969", "450789469", "USD")
    assert found.total == refunded_total(found) == Decimal("209.00")
    assert {line.vat_rate for line in found.lines} == {Decimal("6.00")}
    assert [line.kind for line in found.lines] == [LineKind.PRODUCT, LineKind.PRODUCT, LineKind.FEE]


def test_the_rest_refund_fixture_against_its_order() -> None:
    order = json.loads(shared_file("specs/shopify/order-rest-fixture.json").read_text())
    raw = json.loads(shared_file("specs/shopify/refund-rest-fixture.json").read_text())["refund"]
    found = parse_refund(raw, order)
    assert found is not None and found.total == refunded_total(found) == Decimal("209.00")
    assert found.reason == "it broke during shipping"
