"""The WooCommerce source against the sandbox: fetching, errors as Koppel classifies them, webhook
signatures and pings, polling (``iter_orders``) and backfill pages that skip nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from koppel.connectors.errors import AuthFailed, NotFound, RateLimited, Rejected, Unavailable
from koppel.connectors.woocommerce.client import WooCommerceClient, api_base
from koppel.connectors.woocommerce.connector import WooCommerceSource, sign
from koppel.documents.codes import Code
from tests.woocommerce.conftest import WooStore, wc_order

SECRET = "whsec-äé"
START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def source_for(store: WooStore, **credentials: str) -> WooCommerceSource:
    return WooCommerceSource(url=store.url, credentials={**store.credentials, **credentials})


# --- fetching and errors ---------------------------------------------------------------------------------


def test_fetch_order_returns_the_payload_as_the_shop_sent_it(store: WooStore) -> None:
    placed = store.place(wc_order())
    source = store.connector()
    try:
        assert source.fetch_order(str(placed["id"])) == placed
        assert str(source.parse_order(placed).total) == placed["total"] == "38.34"
    finally:
        source.close()
    [call] = source.log.calls
    assert (call["method"], call["path"], call["status"]) == ("GET", f"orders/{placed['id']}", 200)
    assert store.credentials["consumer_secret"] not in json.dumps(source.log.calls)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.nl", "https://shop.example.nl/wp-json/wc/v3/"),
        ("https://shop.example.nl/", "https://shop.example.nl/wp-json/wc/v3/"),
        ("https://example.nl/winkel", "https://example.nl/winkel/wp-json/wc/v3/"),
        ("https://shop.example.nl/wp-json/wc/v3/", "https://shop.example.nl/wp-json/wc/v3/"),
    ],
)
def test_api_address_from_the_shop_address(url: str, expected: str) -> None:
    assert api_base(url) == expected


def test_errors_are_classified(store: WooStore) -> None:
    source = store.connector()
    with pytest.raises(NotFound) as missing:
        source.fetch_order("999999")
    assert missing.value.code == Code.SOURCE_ORDER_NOT_FOUND
    with pytest.raises(AuthFailed) as refused:
        source_for(store, consumer_secret="cs_wrong").fetch_order("1")
    assert (
        refused.value.code == Code.SOURCE_AUTH_FAILED
        and "Consumer secret is invalid" in refused.value.message
    )
    store.knobs(fail_next=[500, 503, 429])
    for kind in (Unavailable, Unavailable, RateLimited):
        with pytest.raises(kind) as failed:
            source.fetch_order("1")
        assert failed.value.transient
    assert failed.value.retry_after == 1.0
    store.knobs(rate_limit_per_minute=1)
    list(source.iter_orders(START))
    with pytest.raises(RateLimited) as limited:
        list(source.iter_orders(START))
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    source.close()


@pytest.mark.parametrize("suffix", ["/winkel", "-elders"])
def test_a_wrong_shop_address_is_a_setting_not_a_missing_order(store: WooStore, suffix: str) -> None:
    source = WooCommerceSource(url=store.url + suffix, credentials=store.credentials)
    with pytest.raises(AuthFailed) as wrong:
        source.fetch_order("1001")
    assert "REST API was not found" in wrong.value.message and "shop address" in wrong.value.message


def test_no_route_is_a_setting_too(store: WooStore) -> None:
    source = WooCommerceSource(url=store.url, credentials=store.credentials)
    with pytest.raises(AuthFailed) as wrong:
        source.fetch_order("abc")
    assert "rest_no_route" in wrong.value.message


# --- webhooks --------------------------------------------------------------------------------------------


def headers_for(body: bytes, topic: str = "order.updated", delivery: str = "a" * 32) -> dict[str, str]:
    return {
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": "order",
        "x-wc-webhook-event": topic.split(".")[1],
        "x-wc-webhook-signature": sign(body, SECRET),
        "x-wc-webhook-id": "3",
        "x-wc-webhook-delivery-id": delivery,
    }


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":1001,"billing":{"first_name":"Ren\\u00e9"},"_links":"https:\\/\\/x"}'
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = headers_for(body)
    assert headers["x-wc-webhook-signature"] == expected
    assert WooCommerceSource.verify_webhook(body, headers, SECRET)
    reencoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    assert not WooCommerceSource.verify_webhook(reencoded, headers, SECRET)
    assert not WooCommerceSource.verify_webhook(body, headers, "another secret")
    assert not WooCommerceSource.verify_webhook(body, headers, "")
    assert not WooCommerceSource.verify_webhook(body, {**headers, "x-wc-webhook-signature": "ïïï"}, SECRET)
    unsigned = {k: v for k, v in headers.items() if k != "x-wc-webhook-signature"}
    assert not WooCommerceSource.verify_webhook(body, unsigned, SECRET)


def test_ping_is_the_unsigned_form_body() -> None:
    assert WooCommerceSource.is_ping(b"webhook_id=12", {"content-type": "application/x-www-form-urlencoded"})
    assert not WooCommerceSource.is_ping(b"webhook_id=12", {"x-wc-webhook-signature": "x"})
    assert not WooCommerceSource.is_ping(b'{"id": 12}', {})
    assert not WooCommerceSource.is_ping(b"webhook_id=12&x=1", {})


def test_parse_webhook_names_the_order_and_a_delivery_key() -> None:
    body = json.dumps(
        {"id": 1001, "date_modified_gmt": "2024-03-01T08:00:05", "status": "processing"}
    ).encode()
    notice = WooCommerceSource.parse_webhook(body, headers_for(body, "order.created"))
    assert (notice.event, notice.order_id) == ("order.created", "1001")
    # WooCommerce's delivery id repeats within a second for other orders: the order and version join it.
    assert notice.delivery_id == f"{'a' * 32}:1001:2024-03-01T08:00:05"
    other = json.dumps({"id": 1002, "date_modified_gmt": "2024-03-01T08:00:05"}).encode()
    assert WooCommerceSource.parse_webhook(other, headers_for(other)).delivery_id != notice.delivery_id
    restored = WooCommerceSource.parse_webhook(body, headers_for(body, "order.restored"))
    assert (restored.event, restored.order_id) == ("order.restored", "1001")
    # A trashed order is nothing to book: the intake answers 200 and stores it as ignored.
    assert WooCommerceSource.parse_webhook(b'{"id":1001}', headers_for(b"", "order.deleted")) is None
    no_id = {k: v for k, v in headers_for(body).items() if k != "x-wc-webhook-delivery-id"}
    assert WooCommerceSource.parse_webhook(body, no_id).delivery_id == ""


@pytest.mark.parametrize(
    ("body", "topic", "message"),
    [
        (b'{"id": 5}', "product.updated", "unexpected topic 'product.updated'"),
        (b'{"id": 5}', "", "unexpected topic ''"),
        (b'{"status": "processing"}', "order.updated", "no order id"),
        (b'{"id": "abc"}', "order.updated", "no order id"),
        (b"[1, 2]", "order.updated", "no order id"),
        (b"webhook_id=5", "order.updated", "Expecting value"),
    ],
)
def test_webhooks_not_understood(body: bytes, topic: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WooCommerceSource.parse_webhook(body, headers_for(body, topic) if topic else {})


# --- polling and backfill --------------------------------------------------------------------------------


def ids(orders: list[dict[str, Any]]) -> list[int]:
    return [order["id"] for order in orders]


def test_iter_orders_pages_by_last_change_oldest_first(store: WooStore) -> None:
    older = store.bulk(count=3, template=wc_order(), start_gmt="2024-02-01T08:00:00", interval_seconds=60)
    recent = store.bulk(count=230, template=wc_order(), start_gmt="2024-03-01T08:00:00", interval_seconds=7)
    source = store.connector()
    found = list(source.iter_orders(START))
    assert ids(found) == recent
    stamps = [order["date_modified_gmt"] for order in found]
    assert stamps == sorted(stamps)
    requests = [e for e in store.requests() if e["path"].endswith("/orders")]
    assert all(
        e["query"]["orderby"] == "modified" and e["query"]["dates_are_gmt"] == "true" for e in requests
    )
    assert requests[0]["query"]["modified_after"] == "2024-03-01T07:59:59"  # "after" is exclusive
    assert len(requests) == 3 and all(e["query"]["per_page"] == "100" for e in requests)
    assert ids(list(source.iter_orders(datetime(2024, 1, 1, tzinfo=UTC)))) == older + recent
    source.close()


def test_iter_orders_through_many_orders_changed_in_one_second(store: WooStore) -> None:
    same = store.bulk(count=150, template=wc_order(), start_gmt="2024-03-01T09:00:00")
    later = store.bulk(count=2, template=wc_order(), start_gmt="2024-03-01T09:00:01")
    assert ids(list(store.connector().iter_orders(START))) == same + later


def test_backfill_pages_through_the_range_only(store: WooStore) -> None:
    before = store.bulk(count=2, template=wc_order(), start_gmt="2024-02-29T23:59:58", interval_seconds=1)
    inside = store.bulk(count=240, template=wc_order(), start_gmt="2024-03-01T08:00:00", interval_seconds=30)
    after = store.bulk(count=2, template=wc_order(), start_gmt="2024-03-03T08:00:00")
    until = datetime(2024, 3, 3, 8, 0, tzinfo=UTC)
    source = store.connector()
    first = source.backfill_page(START - timedelta(hours=8), until, None)
    assert first.total == 240
    seen, cursor, pages = ids(first.orders), first.next_cursor, 1
    while cursor is not None:
        page = source.backfill_page(START - timedelta(hours=8), until, cursor)
        assert page.total is None
        seen += ids(page.orders)
        cursor, pages = page.next_cursor, pages + 1
    assert sorted(set(seen)) == inside and pages == 3
    assert not set(seen) & set(before + after)
    query = store.requests()[0]["query"]
    assert (query["orderby"], query["order"], query["after"], query["before"]) == (
        "date",
        "asc",
        "2024-02-29T23:59:59",  # after and before are exclusive
        "2024-03-03T08:00:00",
    )


def test_backfill_resumes_from_a_cursor_and_skips_nothing_while_the_shop_changes(store: WooStore) -> None:
    inside = store.bulk(count=300, template=wc_order(), start_gmt="2024-03-01T08:00:00", interval_seconds=30)
    source = store.connector()
    first = source.backfill_page(START, None, None)
    assert first.total == 300 and ids(first.orders) == inside[:100]
    # Between pages: an order already read is trashed and one is changed (both leave their place in a
    # list by page number), an order not yet read is changed, and new orders are placed.
    store.delete(inside[3])
    store.update(inside[10], {"status": "completed"}, notify=False)
    store.update(inside[150], {"status": "completed"}, notify=False)
    new = [store.place(wc_order())["id"] for _ in range(3)]
    source.close()
    resumed = store.connector()  # a new process resuming from the stored cursor
    seen, cursor = ids(first.orders), first.next_cursor
    while cursor is not None:
        page = resumed.backfill_page(START, None, cursor)
        seen += ids(page.orders)
        cursor = page.next_cursor
    assert set(inside) | set(new) == set(seen)
    assert len(seen) == len(set(seen))  # the cursor leaves out what its second already gave


def test_a_page_number_walk_would_have_skipped_an_order(store: WooStore) -> None:
    """Why the cursor is keyset-like: the same change with plain page numbers loses an order."""
    inside = store.bulk(count=200, template=wc_order(), start_gmt="2024-03-01T08:00:00", interval_seconds=30)
    query = {"orderby": "date", "order": "asc", "per_page": 100, "dates_are_gmt": "true"}
    first = ids(store.api("orders", page=1, **query).json())
    store.delete(inside[3])
    second = ids(store.api("orders", page=2, **query).json())
    assert inside[100] not in first + second  # shifted onto page 1, already read
    auth = (store.credentials["consumer_key"], store.credentials["consumer_secret"])
    assert httpx.get(f"{store.api_url}/orders/{inside[100]}", auth=auth).status_code == 200


def test_a_missing_total_pages_header_does_not_end_the_listing_early() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        size = 100 if request.url.params["page"] == "1" else 3
        if request.url.params.get("broken"):
            return httpx.Response(200, text="<br />\n<b>Notice</b>: Undefined index in functions.php<br />[]")
        return httpx.Response(200, json=[{"id": n} for n in range(size)])  # a proxy dropped X-WP-*

    client = WooCommerceClient("https://shop.test", "ck", "cs", transport=httpx.MockTransport(answer))
    assert client.orders_page({"page": 1}).pages == 2
    assert client.orders_page({"page": 2}).pages == 2
    with pytest.raises(Rejected, match="not JSON"):
        client.orders_page({"page": 1, "broken": 1})
    assert client.log.calls[0]["path"] == "orders"


def test_times_with_fractions_of_a_second(store: WooStore) -> None:
    [order_id] = store.bulk(count=1, template=wc_order(), start_gmt="2024-03-01T08:00:00")
    source = store.connector()
    moment = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    half = timedelta(milliseconds=500)
    assert ids(source.backfill_page(moment - half, moment + half, None).orders) == [order_id]
    assert ids(source.backfill_page(moment + half, None, None).orders) == []
    assert ids(source.backfill_page(moment - half, moment, None).orders) == []
    assert ids(list(source.iter_orders(moment + half))) == []
    assert ids(list(source.iter_orders(moment - half))) == [order_id]


def test_a_redirecting_shop_address_names_the_address_to_enter() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "https://www.shop.test/wp-json/wc/v3/orders/5"})

    client = WooCommerceClient("http://shop.test", "ck", "cs", transport=httpx.MockTransport(answer))
    with pytest.raises(AuthFailed, match=r"redirects to https://www\.shop\.test/wp-json/wc/v3/orders/5"):
        client.get_order("5")
