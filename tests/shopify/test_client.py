"""The Shopify connector against the sandbox: fetching, errors as Koppel classifies them, the leaky bucket
honoured before it overflows, and webhook signatures and topics."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from koppel.connectors import registry
from koppel.connectors.errors import AuthFailed, NotFound, RateLimited, Rejected, Unavailable
from koppel.connectors.shopify.client import (
    API_VERSION,
    CallBucket,
    ShopifyClient,
    error_text,
    next_page_info,
)
from koppel.connectors.shopify.connector import ShopifySource, parse_cursor, sign
from koppel.connectors.shopify.sandbox import AUTH_MESSAGE
from koppel.documents.codes import Code
from tests.shopify.conftest import ShopifyStore, make_cart


def test_the_registry_finds_shopify() -> None:
    source = registry.source("shopify")
    assert source is ShopifySource
    assert (source.label, source.credential_fields) == ("Shopify", ("access_token",))
    assert source.backfill_requests_per_second < 2
    assert "shopify" in registry.sandboxes()


def test_fetch_order_returns_the_order_as_shopify_sent_it(store: ShopifyStore) -> None:
    placed = store.place()
    source = store.source()
    try:
        assert source.fetch_order(str(placed["id"])) == placed
        assert source.parse_order(placed).number == "#1001"
    finally:
        source.close()
    [entry] = source.log.calls
    assert entry["path"] == f"orders/{placed['id']}.json" and entry["status"] == 200
    assert store.token not in json.dumps(source.log.calls)
    assert store.requests()[0]["path"] == f"/admin/api/{API_VERSION}/orders/{placed['id']}.json"


def expect(store: ShopifyStore, error: type, **source_args: str):
    source = ShopifySource(url=store.url, credentials={"access_token": source_args.get("token", store.token)})
    with pytest.raises(error) as info:
        source.fetch_order(source_args.get("order_id", "1"))
    source.close()
    return info.value


def test_errors_are_classified(store: ShopifyStore) -> None:
    auth = expect(store, AuthFailed, token="shpat_wrong")
    assert auth.code == Code.SOURCE_AUTH_FAILED
    assert auth.message == f"Shopify answered 401: {AUTH_MESSAGE}"
    assert expect(store, NotFound).code == Code.SOURCE_ORDER_NOT_FOUND
    store.knobs(fail_next=[503])
    assert expect(store, Unavailable).transient
    store.knobs(fail_next=[402])
    assert expect(store, Unavailable).message == "Shopify answered 402: Payment Required"
    store.knobs(fail_next=[429])
    limited = expect(store, RateLimited)
    assert limited.retry_after == 2.0 and limited.code == Code.SOURCE_UNAVAILABLE


def test_a_400_names_the_field() -> None:
    response = httpx.Response(400, json={"errors": {"page_info": ["Invalid value."], "base": ["Oops"]}})
    assert error_text(response) == "page_info: Invalid value.; Oops"
    client = ShopifyClient("https://x.myshopify.com", "t")
    with pytest.raises(Rejected) as info:
        client.classify(response)
    assert info.value.message == "Shopify answered 400: page_info: Invalid value.; Oops"
    assert error_text(httpx.Response(502, text="<html>Bad gateway</html>")) == "<html>Bad gateway</html>"


def test_next_page_info_from_the_link_header() -> None:
    link = (
        '<https://x.myshopify.com/admin/api/2026-07/orders.json?limit=3&page_info=abc>; rel="previous", '
        '<https://x.myshopify.com/admin/api/2026-07/orders.json?limit=3&page_info=def>; rel="next"'
    )
    assert next_page_info(httpx.Response(200, headers={"Link": link})) == "def"
    assert next_page_info(httpx.Response(200)) is None


def test_the_bucket_estimates_the_wait_from_the_last_answer() -> None:
    bucket = CallBucket()
    assert bucket.delay() == 0
    bucket.observe("31/40")
    assert bucket.delay() == 0  # 32 calls may be in the bucket: a fifth stays free
    bucket.observe("36/40")
    assert 2.4 < bucket.delay() <= 2.5  # (36 + 1 - 32) calls leaking 2 a second
    bucket.observe("390/400")
    assert bucket.rate == 20  # Shopify Plus: 400 calls, 20 a second
    bucket.observe("garbage")
    assert bucket.size == 400


def test_the_client_slows_down_before_the_bucket_overflows(store: ShopifyStore) -> None:
    store.knobs(bucket_size=10, leak_rate=10.0)
    client = ShopifyClient(store.url, store.token, bucket=CallBucket(leak_rate=10.0))
    started = time.monotonic()
    for _ in range(25):
        client.orders_page({"status": "any"})
    client.close()
    assert time.monotonic() - started > 1.2  # 25 calls, at most 8 in the bucket, 10 leak a second
    assert all(entry["status"] == 200 for entry in store.requests())


def test_without_slowing_down_the_bucket_answers_429(store: ShopifyStore) -> None:
    store.knobs(bucket_size=3, leak_rate=0.5)
    client = ShopifyClient(store.url, store.token, bucket=CallBucket(max_wait=0))
    with pytest.raises(RateLimited) as info:
        for _ in range(4):
            client.orders_page({"status": "any"})
    client.close()
    assert info.value.retry_after == 2.0
    assert "Exceeded 2 calls per second" in info.value.message


def test_iter_orders_follows_page_info_oldest_change_first(store: ShopifyStore) -> None:
    store.bulk(count=260, created_from="2026-01-01T00:00:00+01:00", created_to="2026-01-02T00:00:00+01:00")
    newest = store.place(make_cart(created_at="2025-12-01T00:00:00+01:00"))
    store.update(newest["id"], {"note": "Graag inpakken"})  # an old order, changed now
    source = store.source()
    orders = list(source.iter_orders(datetime(2025, 12, 31, tzinfo=UTC)))
    source.close()
    assert len(orders) == 261 and len({o["id"] for o in orders}) == 261
    assert orders[-1]["id"] == newest["id"]
    assert [o["updated_at"] for o in orders] == sorted(o["updated_at"] for o in orders)
    requests = store.requests()
    assert requests[0]["query"]["status"] == "any" and requests[0]["query"]["limit"] == "250"
    assert set(requests[1]["query"]) == {"limit", "page_info"}


# --- webhooks ---------------------------------------------------------------------------------------------


BODY = json.dumps({"id": 5980000000001, "name": "#1001"}).encode()


def headers(body: bytes = BODY, secret: str = "geheim", **extra: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "x-shopify-hmac-sha256": digest,
        "x-shopify-topic": "orders/updated",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        **extra,
    }


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    assert ShopifySource.verify_webhook(BODY, headers(), "geheim")
    assert sign(BODY, "geheim") == headers()["x-shopify-hmac-sha256"]
    assert not ShopifySource.verify_webhook(BODY, headers(secret="anders"), "geheim")
    assert not ShopifySource.verify_webhook(BODY + b" ", headers(), "geheim")
    assert not ShopifySource.verify_webhook(BODY, {}, "geheim")
    assert not ShopifySource.verify_webhook(BODY, headers(secret=""), "")
    hex_digest = hmac.new(b"geheim", BODY, hashlib.sha256).hexdigest()
    assert not ShopifySource.verify_webhook(BODY, {"x-shopify-hmac-sha256": hex_digest}, "geheim")
    assert not ShopifySource.is_ping(BODY, headers())


def test_parse_webhook_reads_topic_order_and_webhook_id() -> None:
    notice = ShopifySource.parse_webhook(BODY, headers())
    assert (notice.event, notice.order_id, notice.delivery_id) == (
        "orders/updated",
        "5980000000001",
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    )
    for topic in ("orders/create", "orders/paid", "orders/cancelled"):
        assert ShopifySource.parse_webhook(BODY, headers(**{"x-shopify-topic": topic})).event == topic


@pytest.mark.parametrize(
    ("body", "topic", "message"),
    [
        (BODY, "products/update", "unknown topic 'products/update'"),
        (BODY, "", "unknown topic ''"),
        (b'{"order_id": 1}', "orders/create", "the webhook body is not an order with an id"),
        (b'{"id": "1"}', "orders/create", "the webhook body is not an order with an id"),
        (b"[1]", "orders/create", "the webhook body is not an order with an id"),
        (b"not json", "orders/create", "Expecting value"),
    ],
)
def test_webhooks_koppel_does_not_understand(body: bytes, topic: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShopifySource.parse_webhook(body, headers(body, **{"x-shopify-topic": topic}))


@pytest.mark.parametrize("topic", ["orders/delete", "orders/edited", "refunds/create"])
def test_topics_with_nothing_to_book_are_ignored(topic: str) -> None:
    assert ShopifySource.parse_webhook(b'{"id": 1}', headers(**{"x-shopify-topic": topic})) is None


def test_cursors() -> None:
    assert parse_cursor(None) == 0 and parse_cursor("since_id=42") == 42 and parse_cursor("42") == 42
    with pytest.raises(ValueError):
        parse_cursor("page_info=abc")
