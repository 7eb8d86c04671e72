"""The simulated Shopify over real HTTP: the Admin API's orders, auth, errors, cursor pagination, the leaky
bucket, API versions, the 60-day window, the control API and the webhooks it signs and sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from koppel.connectors.shopify.sandbox import AUTH_MESSAGE, RATE_LIMIT_MESSAGE, spread
from tests.conftest import WebhookReceiver
from tests.shopify.conftest import ShopifyStore, make_cart

SECRET = "shpss_s3cret-äé"


def page_info(response: httpx.Response, rel: str = "next") -> str | None:
    link = response.links.get(rel)
    return parse_qs(urlsplit(link["url"]).query)["page_info"][0] if link else None


# --- the order ---------------------------------------------------------------------------------------------


def test_an_order_as_shopify_writes_it(store: ShopifyStore) -> None:
    placed = store.place(make_cart())
    response = store.api(f"orders/{placed['id']}.json")
    assert response.status_code == 200
    assert response.headers["x-shopify-api-version"] == "2026-07"
    assert response.headers["x-shopify-shop-api-call-limit"] == "1/40"
    order = response.json()["order"]
    assert order == placed
    assert order["name"] == "#1001" and order["order_number"] == 1001 and order["number"] == 1
    assert len(str(order["id"])) == 13 and order["financial_status"] == "paid"
    assert order["taxes_included"] is True and order["currency"] == "EUR"
    assert order["total_price"] == "38.34" == order["total_price_set"]["shop_money"]["amount"]
    assert order["subtotal_price"] == "33.39" and order["total_line_items_price"] == "33.39"
    mug = order["line_items"][0]
    assert (mug["name"], mug["price"], mug["quantity"], mug["sku"]) == (
        "Mok Delfts blauw - Groot",
        "12.95",
        2,
        "MUG-1",
    )
    assert mug["tax_lines"] == [
        {
            "channel_liable": False,
            "price": "4.50",  # 25.90 incl. 21%
            "price_set": {
                "shop_money": {"amount": "4.50", "currency_code": "EUR"},
                "presentment_money": {"amount": "4.50", "currency_code": "EUR"},
            },
            "rate": 0.21,
            "title": "BTW",
        }
    ]
    assert [(t["rate"], t["price"]) for t in order["tax_lines"]] == [(0.21, "5.36"), (0.09, "0.62")]
    assert order["shipping_lines"][0]["discounted_price"] == "4.95"
    assert (
        order["billing_address"]["country_code"] == "NL"
        and order["billing_address"]["name"] == "Sanne Jansen"
    )
    assert datetime.fromisoformat(order["created_at"]).utcoffset() in (timedelta(hours=1), timedelta(hours=2))


def test_excl_vat_tax_is_rounded_per_discounted_line(store: ShopifyStore) -> None:
    store.configure(taxes_included=False)
    cart = {
        "line_items": [
            {"title": "A", "price": "0.50", "quantity": 1, "tax_rate": "21"},
            {"title": "B", "price": "0.50", "quantity": 1, "tax_rate": "21"},
            {"title": "C", "price": "0.50", "quantity": 1, "tax_rate": "21"},
        ],
        "discounts": [{"code": "VIJF", "value_type": "fixed_amount", "value": "0.10"}],
    }
    order = store.place(cart)
    assert [a["discount_allocations"][0]["amount"] for a in order["line_items"]] == ["0.04", "0.03", "0.03"]
    assert [a["tax_lines"][0]["price"] for a in order["line_items"]] == ["0.10", "0.10", "0.10"]
    assert order["discount_codes"] == [{"code": "VIJF", "amount": "0.10", "type": "fixed_amount"}]
    assert order["discount_applications"][0]["code"] == "VIJF"
    assert (order["total_tax"], order["total_price"]) == ("0.30", "1.70")


# --- auth, errors, versions ---------------------------------------------------------------------------


def test_a_wrong_or_missing_token_is_401_in_shopifys_words(store: ShopifyStore) -> None:
    for token in ("shpat_wrong", ""):
        response = store.api("orders.json", token=token)
        assert response.status_code == 401
        assert response.json() == {"errors": AUTH_MESSAGE}
        assert "x-shopify-shop-api-call-limit" not in response.headers


def test_not_found(store: ShopifyStore, sandbox) -> None:
    assert store.api("orders/123.json").json() == {"errors": "Not Found"}
    assert store.api("orders/123.json").status_code == 404
    assert store.api("products.json").status_code == 404
    unknown = httpx.get(f"{sandbox.url}/shopify/no-such-shop/admin/api/2026-07/orders.json")
    assert unknown.status_code == 404


def test_an_old_version_falls_forward_and_a_future_one_is_not_found(store: ShopifyStore) -> None:
    response = store.api("orders.json", version="2024-10")
    assert response.status_code == 200 and response.headers["x-shopify-api-version"] == "2025-10"
    assert store.api("orders.json", version="2099-01").status_code == 404


def test_bad_parameters_are_400_with_the_field(store: ShopifyStore) -> None:
    assert store.api("orders.json", limit=251).json() == {"errors": {"limit": ["must be between 1 and 250"]}}
    assert store.api("orders.json", limit=0).status_code == 400
    assert "created_at_min" in store.api("orders.json", created_at_min="gisteren").json()["errors"]
    assert store.api("orders.json", status="open-ish").status_code == 400
    assert store.api("orders.json", since_id="abc").json() == {"errors": {"since_id": ["expected Integer"]}}


def test_fault_knobs(store: ShopifyStore) -> None:
    store.knobs(fail_next=[503, 429])
    first, second = store.api("orders.json"), store.api("orders.json")
    assert (first.status_code, first.json()) == (503, {"errors": "Service Unavailable"})
    assert second.status_code == 429 and second.headers["retry-after"] == "2.0"
    assert store.api("orders.json").status_code == 200
    bad = httpx.post(f"{store.control}/knobs", json={"error_rate": 2})
    assert bad.status_code == 400
    assert httpx.post(f"{store.control}/knobs", json={"nope": 1}).status_code == 400


# --- the leaky bucket ---------------------------------------------------------------------------------


def test_the_bucket_fills_answers_429_and_leaks(store: ShopifyStore) -> None:
    store.knobs(bucket_size=5, leak_rate=0.2)  # slow enough that nothing leaks out during the burst
    levels = [store.api("orders.json").headers["x-shopify-shop-api-call-limit"] for _ in range(5)]
    assert levels == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    full = store.api("orders.json")
    assert full.status_code == 429
    assert full.json() == {"errors": RATE_LIMIT_MESSAGE}
    assert full.headers["retry-after"] == "2.0"
    assert full.headers["x-shopify-shop-api-call-limit"] == "5/5"
    store.knobs(leak_rate=50.0)  # the time since the last call now leaks the bucket empty
    time.sleep(0.2)
    assert store.api("orders.json").headers["x-shopify-shop-api-call-limit"] == "1/5"


def test_the_default_bucket_is_shopifys(store: ShopifyStore) -> None:
    knobs = store.knobs()
    assert (knobs["bucket_size"], knobs["leak_rate"], knobs["rate_limit_enabled"]) == (40, 2.0, True)


# --- lists and pagination --------------------------------------------------------------------------------


def test_the_list_shows_open_orders_by_default(store: ShopifyStore) -> None:
    open_, closed, cancelled = (store.place() for _ in range(3))
    store.update(closed["id"], {"close": True})
    store.update(cancelled["id"], {"cancel": True, "financial_status": "voided"})
    default = [o["id"] for o in store.api("orders.json").json()["orders"]]
    assert default == [open_["id"]]
    every = [o["id"] for o in store.api("orders.json", status="any").json()["orders"]]
    assert every == [cancelled["id"], closed["id"], open_["id"]]  # newest first
    assert [o["id"] for o in store.api("orders.json", status="closed").json()["orders"]] == [closed["id"]]
    voided = store.api("orders.json", status="any", financial_status="voided").json()["orders"]
    assert [o["id"] for o in voided] == [cancelled["id"]]
    assert store.api("orders/count.json", status="any").json() == {"count": 3}
    assert store.api("orders/count.json").json() == {"count": 1}


def test_cursor_pagination_through_the_link_header(store: ShopifyStore) -> None:
    ids = [store.place()["id"] for _ in range(7)]
    first = store.api("orders.json", status="any", limit=3, order="id asc")
    assert [o["id"] for o in first.json()["orders"]] == ids[:3]
    assert "previous" not in first.links
    assert first.links["next"]["url"].startswith(
        f"{store.url}/admin/api/2026-07/orders.json?limit=3&page_info="
    )
    second = store.api("orders.json", limit=3, page_info=page_info(first))
    assert [o["id"] for o in second.json()["orders"]] == ids[3:6]
    third = store.api("orders.json", limit=3, page_info=page_info(second))
    assert [o["id"] for o in third.json()["orders"]] == ids[6:]
    assert "next" not in third.links
    back = store.api("orders.json", limit=3, page_info=page_info(third, "previous"))
    assert [o["id"] for o in back.json()["orders"]] == ids[3:6]


def test_page_info_takes_only_limit_and_fields(store: ShopifyStore) -> None:
    for _ in range(3):
        store.place()
    first = store.api("orders.json", status="any", limit=2)
    token = page_info(first)
    refused = store.api("orders.json", limit=2, page_info=token, status="any")
    assert refused.status_code == 400
    assert refused.json() == {
        "errors": {"page_info": ["cannot be combined with status; only limit and fields may be given"]}
    }
    fields = store.api("orders.json", limit=2, page_info=token, fields="id,name")
    assert [set(o) for o in fields.json()["orders"]] == [{"id", "name"}]
    assert store.api("orders.json", page_info="garbage").json() == {
        "errors": {"page_info": ["Invalid value."]}
    }


def test_since_id_sorts_by_id_and_the_date_filters_include_their_bounds(store: ShopifyStore) -> None:
    jan = [
        store.place(make_cart(created_at=f"2026-01-{day:02d}T12:00:00+01:00"))["id"] for day in (10, 11, 12)
    ]
    store.place(make_cart(created_at="2025-12-31T23:59:59+01:00"))
    params = {
        "status": "any",
        "created_at_min": "2026-01-10T12:00:00+01:00",
        "created_at_max": "2026-01-12T11:00:00Z",
    }
    listed = store.api("orders.json", since_id=0, **params).json()["orders"]
    assert [o["id"] for o in listed] == jan
    after = store.api("orders.json", since_id=jan[0], limit=1, **params)
    assert [o["id"] for o in after.json()["orders"]] == [jan[1]]
    assert store.api("orders/count.json", **params).json() == {"count": 3}


def test_updated_at_min_finds_changed_orders(store: ShopifyStore) -> None:
    old = store.place(make_cart(created_at="2026-01-05T10:00:00+01:00"))
    store.place(make_cart(created_at="2026-01-06T10:00:00+01:00"))
    changed = store.update(old["id"], {"financial_status": "refunded"})
    since = (datetime.fromisoformat(changed["updated_at"]) - timedelta(seconds=1)).isoformat()
    found = store.api("orders.json", status="any", updated_at_min=since, order="updated_at asc").json()[
        "orders"
    ]
    assert [o["id"] for o in found] == [old["id"]]
    assert found[0]["financial_status"] == "refunded"


def test_without_read_all_orders_only_60_days_are_visible(store: ShopifyStore) -> None:
    old = store.place(make_cart(created_at=(datetime.now().astimezone() - timedelta(days=61)).isoformat()))
    new = store.place()
    store.knobs(all_orders_access=False)
    assert [o["id"] for o in store.api("orders.json", status="any").json()["orders"]] == [new["id"]]
    assert store.api(f"orders/{old['id']}.json").status_code == 404
    assert store.api("orders/count.json", status="any").json() == {"count": 1}


def test_fields_picks_top_level_fields(store: ShopifyStore) -> None:
    placed = store.place()
    one = store.api(f"orders/{placed['id']}.json", fields="id,total_price").json()
    assert one == {"order": {"id": placed["id"], "total_price": placed["total_price"]}}


# --- control API -----------------------------------------------------------------------------------------


def test_updates_change_updated_at_and_recompute(store: ShopifyStore) -> None:
    placed = store.place(make_cart(financial_status="pending", created_at="2026-02-01T09:00:00+01:00"))
    assert placed["total_outstanding"] == placed["total_price"]
    paid = store.update(placed["id"], {"financial_status": "paid", "email": "nieuw@example.nl"})
    assert paid["financial_status"] == "paid" and paid["total_outstanding"] == "0.00"
    assert paid["email"] == "nieuw@example.nl" and paid["created_at"] == placed["created_at"]
    assert paid["updated_at"] > placed["updated_at"] and paid["name"] == placed["name"]
    more = store.update(
        placed["id"], {"line_items": [{"title": "Fiets", "price": "499.00", "tax_rate": "21"}]}
    )
    assert more["total_price"] == "503.95"
    assert httpx.patch(f"{store.control}/orders/1", json={}).status_code == 404


def test_delete_order_and_product(store: ShopifyStore) -> None:
    placed = store.place()
    store.delete(placed["id"])
    assert store.api(f"orders/{placed['id']}.json").status_code == 404
    kept = store.place()
    product = kept["line_items"][0]["product_id"]
    response = httpx.delete(f"{store.control}/products/{product}")
    assert response.json() == {"orders_changed": 1}
    item = store.api(f"orders/{kept['id']}.json").json()["order"]["line_items"][0]
    assert (item["product_id"], item["variant_id"], item["product_exists"]) == (None, None, False)
    assert item["name"] == "Mok Delfts blauw - Groot" and item["price"] == "12.95"


def test_bulk_orders_are_spread_over_the_range(store: ShopifyStore) -> None:
    made = store.bulk(
        count=500, created_from="2026-01-01T00:00:00+01:00", created_to="2026-01-11T00:00:00+01:00"
    )
    assert made["created"] == 500
    orders = store.api("orders.json", status="any", limit=250, order="id asc").json()["orders"]
    assert orders[0]["id"] == made["first_id"] and orders[0]["created_at"] == "2026-01-01T00:00:00+01:00"
    assert orders[1]["created_at"] == "2026-01-01T00:28:48+01:00"
    assert len({o["id"] for o in orders}) == 250 and len({o["name"] for o in orders}) == 250
    assert store.api("orders/count.json", status="any").json() == {"count": 500}
    listed = store.bulk(orders=[make_cart(), make_cart()])
    assert listed["created"] == 2


def test_the_request_log(store: ShopifyStore) -> None:
    store.api("orders.json", status="any")
    [entry] = store.requests()
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/admin/api/2026-07/orders.json", 200)
    assert entry["query"] == {"status": "any"}


def test_shop_names_and_tokens_are_checked(sandbox) -> None:
    base = f"{sandbox.url}/_sandbox/shopify/shops"
    assert httpx.post(base, json={"shop": "Bad Name!", "access_token": "x"}).status_code == 400
    assert httpx.post(base, json={"shop": f"s-{uuid.uuid4().hex[:6]}"}).status_code == 400
    assert httpx.get(f"{base}/nope").status_code == 404


# --- webhooks ----------------------------------------------------------------------------------------------


@pytest.fixture
def hooked(store: ShopifyStore, receiver: WebhookReceiver) -> tuple[ShopifyStore, str]:
    path = f"/hooks/{store.name}"
    store.configure(webhook_url=receiver.url + path, webhook_secret=SECRET)
    return store, path


def signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_a_paid_order_sends_create_and_paid_signed_like_shopify(hooked, receiver: WebhookReceiver) -> None:
    store, path = hooked
    placed = store.place(notify=True)
    assert [d["status"] for d in store.deliveries(wait_for=2)] == [200, 200]
    received = receiver.for_path(path)
    assert sorted(r["headers"]["x-shopify-topic"] for r in received) == ["orders/create", "orders/paid"]
    for item in received:
        headers, body = item["headers"], item["body"]
        assert headers["x-shopify-hmac-sha256"] == signature(body)
        assert json.loads(body) == placed
        assert headers["x-shopify-shop-domain"] == f"{store.name}.myshopify.com"
        assert headers["x-shopify-api-version"] == "2026-10"
        assert headers["content-type"] == "application/json"
        uuid.UUID(headers["x-shopify-webhook-id"])
        uuid.UUID(headers["x-shopify-event-id"])
        assert headers["x-shopify-triggered-at"].endswith("Z")
    assert len({r["headers"]["x-shopify-webhook-id"] for r in received}) == 2


def test_only_subscribed_topics_are_sent(hooked, receiver: WebhookReceiver) -> None:
    store, path = hooked
    store.configure(topics=["orders/updated"])
    placed = store.place(make_cart(financial_status="pending"), notify=True)
    store.update(placed["id"], {"financial_status": "paid"}, notify=True)
    store.deliveries(wait_for=1)
    time.sleep(0.2)
    assert [r["headers"]["x-shopify-topic"] for r in receiver.for_path(path)] == ["orders/updated"]
    store.knobs(webhooks_enabled=False)
    store.update(placed["id"], {"note": "stil"}, notify=True)
    time.sleep(0.2)
    assert len(receiver.for_path(path)) == 1


def test_failed_deliveries_are_retried_with_the_same_webhook_id(hooked, receiver: WebhookReceiver) -> None:
    store, path = hooked
    store.configure(topics=["orders/create"])
    receiver.answers.extend([500, 302])
    store.place(notify=True)
    log = store.deliveries(wait_for=3)
    assert [(d["attempt"], d["status"]) for d in log] == [(1, 500), (2, 302), (3, 200)]
    assert len({r["headers"]["x-shopify-webhook-id"] for r in receiver.for_path(path)}) == 1


def test_duplicates_carry_the_same_webhook_id(hooked, receiver: WebhookReceiver) -> None:
    store, path = hooked
    store.configure(topics=["orders/create"], knobs={"duplicate_webhooks": 2})
    store.place(notify=True)
    store.deliveries(wait_for=3)
    received = receiver.for_path(path)
    assert len(received) == 3 and len({r["headers"]["x-shopify-webhook-id"] for r in received}) == 1
    resent = httpx.post(
        f"{store.control}/webhooks/resend",
        json={"order_id": json.loads(received[0]["body"])["id"], "topic": "orders/create"},
    )
    assert resent.json()["webhook_id"] == received[0]["headers"]["x-shopify-webhook-id"]
    store.deliveries(wait_for=4)


def test_out_of_order_delivery_sends_the_newest_first_with_each_bodys_own_data(
    hooked, receiver: WebhookReceiver
) -> None:
    store, path = hooked
    store.configure(topics=["orders/create", "orders/updated"], knobs={"out_of_order_webhooks": True})
    placed = store.place(make_cart(financial_status="pending"), notify=True)
    store.update(placed["id"], {"financial_status": "paid"}, notify=True)
    assert httpx.get(f"{store.control}/webhooks").json()["held"] == 2
    store.knobs(out_of_order_webhooks=False)
    store.deliveries(wait_for=2)
    received = receiver.for_path(path)  # in the order they arrived
    assert [r["headers"]["x-shopify-topic"] for r in received] == ["orders/updated", "orders/create"]
    assert [json.loads(r["body"])["financial_status"] for r in received] == ["paid", "pending"]
    triggered = [r["headers"]["x-shopify-triggered-at"] for r in received]
    assert triggered[0] > triggered[1]  # each carries the moment of its own event


def test_money_in_webhook_bodies_is_text(hooked, receiver: WebhookReceiver) -> None:
    store, path = hooked
    store.configure(topics=["orders/create"])
    store.place(notify=True)
    store.deliveries(wait_for=1)
    body: dict[str, Any] = json.loads(receiver.for_path(path)[0]["body"])
    assert isinstance(body["total_price"], str) and Decimal(body["total_price"]) > 0
    assert isinstance(body["line_items"][0]["tax_lines"][0]["rate"], float)


def test_a_fixed_discount_is_spread_in_whole_cents_that_add_up() -> None:
    shares = spread(Decimal("0.03"), [Decimal("1.00")] * 5)
    assert shares == [Decimal("0.01")] * 3 + [Decimal("0.00")] * 2
    shares = spread(Decimal("10.00"), [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")])
    assert sum(shares) == Decimal("10.00") and all(s >= 0 for s in shares)
    assert spread(Decimal("5.00"), [Decimal("5.00"), Decimal("0.01")]) == [Decimal("4.99"), Decimal("0.01")]
