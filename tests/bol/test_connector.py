"""The bol.com connector through real HTTP against the sandbox: one token shared through the store and
renewed, the v10 media type, rate limits paced and 429 raised, paging, orders and shipments fetched,
polled and backfilled, the webhook subscription and the push signature."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from koppel.connectors.base import MemoryTokenStore, StoredToken
from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol import signatures
from koppel.connectors.bol.client import token_url
from koppel.connectors.bol.connector import BolSource
from koppel.connectors.errors import AuthFailed, NotFound, RateLimited
from tests.bol.conftest import make_order


@pytest.fixture(autouse=True)
def fresh_process_state():
    bol_client.BUCKETS.clear()
    signatures.KEYS.clear()
    yield


def source(shop, store=None, **settings) -> BolSource:
    return BolSource(url=shop.url, credentials=shop.credentials, settings=settings, token_store=store)


def token_requests(shop) -> int:
    return len([r for r in shop.requests() if r["path"] == "/token"])


def test_token_urls() -> None:
    assert token_url("https://api.bol.com") == "https://login.bol.com/token"
    assert token_url("https://api.bol.com/") == "https://login.bol.com/token"
    assert token_url("http://127.0.0.1:8100/bol") == "http://127.0.0.1:8100/bol/token"


def test_one_token_for_two_connectors_sharing_a_store(bol_shop) -> None:
    order = bol_shop.place(notify=False)
    store = MemoryTokenStore()
    for _ in range(2):
        connector = source(bol_shop, store, source="order")
        assert connector.fetch_order(order["orderId"])["orderId"] == order["orderId"]
        connector.close()
    assert token_requests(bol_shop) == 1
    assert store.get() is not None and store.get().expires_at > datetime.now(UTC) + timedelta(seconds=200)


def test_the_token_is_renewed_before_it_expires(bol_shop) -> None:
    bol_shop.knobs(token_lifetime=2)
    order = bol_shop.place(notify=False)
    store = MemoryTokenStore()
    connector = source(bol_shop, store, source="order")
    connector.fetch_order(order["orderId"])
    time.sleep(2.0)
    connector.fetch_order(order["orderId"])
    assert token_requests(bol_shop) == 2
    assert all(r["status"] == 200 for r in bol_shop.requests())  # renewed in time: no 401


def test_a_token_bol_calls_expired_is_renewed_once(bol_shop) -> None:
    bol_shop.knobs(token_lifetime=1)
    order = bol_shop.place(notify=False)
    expired = bol_shop.token()
    time.sleep(2.2)  # past the second of allowed clock skew
    store = MemoryTokenStore()
    store.put(StoredToken(expired, datetime.now(UTC) + timedelta(hours=1)))  # we believe it still good
    connector = source(bol_shop, store, source="order")
    bol_shop.knobs(token_lifetime=299)
    assert connector.fetch_order(order["orderId"])["orderId"] == order["orderId"]
    statuses = [c["status"] for c in connector.log.calls]
    assert statuses == [401, 200, 200]  # the order, the token, the order again
    assert store.get().value != expired


def test_wrong_credentials_are_auth_failed(bol_shop) -> None:
    connector = BolSource(
        url=bol_shop.url, credentials={"client_id": bol_shop.client_id, "client_secret": "x"}
    )
    with pytest.raises(AuthFailed, match="Bad client credentials"):
        connector.test_connection()


def test_every_call_sends_the_v10_media_type_and_demo_uses_demo_paths(bol_shop) -> None:
    connector = source(bol_shop, environment="test", source="order")
    demo = connector.fetch_order("1042823870")
    assert demo["orderId"] == "1042823870"
    paths = [r["path"] for r in bol_shop.requests() if r["path"] != "/token"]
    assert paths == ["/retailer-demo/orders/1042823870"]
    assert not [r for r in bol_shop.requests() if r["status"] == 406]


def test_an_unknown_order_is_not_found(bol_shop) -> None:
    with pytest.raises(NotFound):
        source(bol_shop, source="order").fetch_order("1000000000")


def test_a_429_raises_rate_limited_with_retry_after(bol_shop) -> None:
    order = bol_shop.place(notify=False)
    connector = source(bol_shop, source="order")
    connector.test_connection()
    bol_shop.knobs(force_429=1, retry_after=7)
    with pytest.raises(RateLimited) as info:
        connector.fetch_order(order["orderId"])
    assert info.value.retry_after == 7
    with pytest.raises(RateLimited):  # the bucket is known empty: no call is made
        connector.fetch_order(order["orderId"])
    assert [c["status"] for c in connector.log.calls][-1] == 429


def test_steady_traffic_is_paced_without_429(bol_shop) -> None:
    bol_shop.knobs(rate_limit_scale=0.2)  # one order: 5 a second
    order = bol_shop.place(notify=False)
    connector = source(bol_shop, source="order")
    for _ in range(12):
        connector.fetch_order(order["orderId"])
    assert not [r for r in bol_shop.requests() if r["status"] == 429]


def test_polling_orders_and_paging(bol_shop) -> None:
    placed = [bol_shop.place(notify=False)["orderId"] for _ in range(53)]
    connector = source(bol_shop, source="order")
    since = datetime.now(UTC) - timedelta(minutes=5)
    seen = [payload["orderId"] for payload in connector.iter_orders(since)]
    assert sorted(seen) == sorted(placed)
    listing = [r for r in bol_shop.requests() if r["path"] == "/retailer/orders"]
    assert [r["query"]["page"] for r in listing] == ["1", "2"]
    assert listing[0]["query"]["status"] == "ALL" and listing[0]["query"]["fulfilment-method"] == "ALL"
    assert "change-interval-minute" in listing[0]["query"]


def test_shipments_polled_fetched_with_their_order_and_backfilled(bol_shop) -> None:
    order = bol_shop.place(notify=False)
    first = order["orderItems"][0]["orderItemId"]
    shipped = bol_shop.ship(order["orderId"], items=[{"order_item_id": first, "quantity": 1}])
    fbb = bol_shop.place(make_order(fulfilment="FBB"), notify=False)
    fbb_shipment = bol_shop.ship(fbb["orderId"])
    connector = source(bol_shop, source="shipment")
    payload = connector.fetch_order(shipped["shipmentId"])
    assert set(payload) == {"shipment", "order"} and connector.order_id(payload) == shipped["shipmentId"]
    polled = [connector.order_id(p) for p in connector.iter_orders(datetime.now(UTC) - timedelta(minutes=5))]
    assert sorted(polled) == sorted([shipped["shipmentId"], fbb_shipment["shipmentId"]])
    since = datetime.now(UTC) - timedelta(days=1)
    page = connector.backfill_page(since, None, None)
    assert [connector.order_id(p) for p in page.orders] == [
        shipped["shipmentId"]
    ] and page.next_cursor == "FBB:1"
    page = connector.backfill_page(since, None, page.next_cursor)
    assert [connector.order_id(p) for p in page.orders] == [
        fbb_shipment["shipmentId"]
    ] and page.next_cursor is None
    found = connector.find_order_by_number(order["orderId"])
    assert found is not None and connector.order_id(found) == shipped["shipmentId"]


def test_order_backfill_walks_the_days(bol_shop) -> None:
    order = bol_shop.place(notify=False)
    connector = source(bol_shop, source="order")
    cursor, seen = None, []
    for _ in range(5):
        page = connector.backfill_page(datetime.now(UTC) - timedelta(days=2), None, cursor)
        seen += [p["orderId"] for p in page.orders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [order["orderId"]]


def test_register_webhook_and_verify_pushes(bol_shop, receiver) -> None:
    connector = source(bol_shop, source="order")
    url = f"{receiver.url}/hooks/{bol_shop.name}"
    connector.register_webhook(url)
    connector.register_webhook(url)  # again: updated, not a second subscription
    subs = connector.client.subscriptions()
    assert [(s["url"], s["resources"], s["subscriptionType"]) for s in subs] == [(url, ["ORDER"], "WEBHOOK")]
    order = bol_shop.place()
    bol_shop.deliveries(wait_for=1)
    push = receiver.for_path(f"/hooks/{bol_shop.name}")[-1]
    headers = {k.lower(): v for k, v in push["headers"].items()}
    assert BolSource.verify_webhook(push["body"], headers, "")
    assert connector.check_webhook(push["body"], headers, "")
    notice = BolSource.parse_webhook(push["body"], headers)
    assert notice is not None and notice.order_id == order["orderId"]
    forged = push["body"].replace(order["orderId"].encode(), b"1999999999")
    assert not BolSource.verify_webhook(forged, headers, "")
    assert not connector.check_webhook(forged, headers, "")
    assert not BolSource.verify_webhook(push["body"], {}, "")


def test_check_webhook_reads_the_keys_when_the_process_has_none(bol_shop, sandbox) -> None:
    body = json.dumps({"retailerId": 1, "timestamp": "x", "event": {"resource": "TEST"}}).encode()
    header = sandbox.app.bol.core.keys.signature_header(body)
    assert not BolSource.verify_webhook(body, {"signature": header}, "")  # nothing read yet
    assert source(bol_shop).check_webhook(body, {"signature": header}, "")
    assert BolSource.verify_webhook(body, {"signature": header}, "")
    httpx.post(f"{sandbox.url}/_sandbox/bol/signature-keys/rotate")
    rotated = sandbox.app.bol.core.keys.signature_header(body)
    signatures.KEYS.clear()
    assert source(bol_shop).check_webhook(body, {"signature": rotated}, "")
