"""The simulated KMO Shops, spoken to over real HTTP like Koppel's connector will.

Uses the session ``sandbox`` server of ``tests/conftest.py``; the ``shop`` fixture here replaces the shared
one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from koppel.sandbox.server import SandboxServer
from tests.conftest import WebhookReceiver

ORDER = {  # every field of the README's order, in its order
    "id": 424242,
    "number": "W-424242",
    "created_at": "2026-02-13T10:15:00+01:00",
    "status": "paid",
    "currency": "EUR",
    "priceincltax": True,
    "payment_method": "iDEAL",
    "paid": True,
    "customer": {
        "firstname": "Jan",
        "lastname": "Jansen",
        "company": "Jansen Meubels",
        "address1": "Dorpsstraat",
        "address2": "",
        "house_number": "7",
        "zipcode": "1234 AB",
        "city": "Utrecht",
        "country": "NL",
        "telnr": "0301234567",
        "mobile": "",
        "email": "jan@example.nl",
        "vatnumber": "",
    },
    "lines": [
        {"sku": "M-1", "description": "Matras", "amount": 1, "price": "249.00", "tax_rate": "21.00"},
        {"sku": "K-2", "description": "Kussen", "amount": 2, "price": "19.99", "tax_rate": "21.00"},
        {"sku": "B-3", "description": "Boek", "amount": 1, "price": "12.50", "tax_rate": "9.00"},
    ],
    "shipping": {"description": "Verzending", "price": "6.95", "tax_rate": "21.00"},
    "total": "308.43",
}
SECRET = "s3cret-äé"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    item = WebhookReceiver(default_status=204)
    yield item
    item.close()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


@pytest.fixture
def shop(client: httpx.Client, receiver: WebhookReceiver) -> dict[str, str]:
    name = f"shop-{uuid.uuid4().hex[:8]}"
    hook_path = f"/webhooks/kmoshops/{name}"
    response = client.post(
        "/_sandbox/kmoshops/shops",
        json={
            "shop": name,
            "api_key": "key-1",
            "webhook_url": receiver.url + hook_path,
            "webhook_secret": SECRET,
        },
    )
    assert response.status_code == 201
    return {
        "name": name,
        "url": f"/kmoshops/{name}",
        "control": f"/_sandbox/kmoshops/shops/{name}",
        "hook": hook_path,
    }


def api(client: httpx.Client, shop: dict[str, str], path: str, **params: Any) -> httpx.Response:
    return client.get(f"{shop['url']}/api/v1/{path}", params=params, headers={"X-Api-Key": "key-1"})


def add_order(
    client: httpx.Client, shop: dict[str, str], order: dict[str, Any], notify: bool = False
) -> dict:
    response = client.post(f"{shop['control']}/orders", json=order, params={"notify": str(notify).lower()})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(client: httpx.Client, shop: dict[str, str], wait_for: int) -> list[dict[str, Any]]:
    return client.get(f"{shop['control']}/webhooks", params={"wait_for": wait_for, "timeout": 5}).json()


def test_auth_and_not_found(client: httpx.Client, shop: dict[str, str]) -> None:
    add_order(client, shop, {"id": 123})
    url = f"{shop['url']}/api/v1/orders/123"
    for headers in ({}, {"X-Api-Key": "wrong"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorized", "message": "Invalid API key"}
    assert api(client, shop, "orders/123").status_code == 200
    missing = api(client, shop, "orders/999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Order 999 not found"}
    assert (
        client.get("/kmoshops/no-such-shop/api/v1/orders/1", headers={"X-Api-Key": "key-1"}).status_code
        == 404
    )
    assert api(client, shop, "customers").status_code == 404


def test_example_order_round_trip_and_totals(client: httpx.Client, shop: dict[str, str]) -> None:
    stored = add_order(client, shop, {k: v for k, v in ORDER.items() if k != "total"})
    fetched = api(client, shop, f"orders/{ORDER['id']}").json()
    assert fetched == stored
    assert list(fetched) == [*ORDER, "updated_at"]
    assert {k: v for k, v in fetched.items() if k != "updated_at"} == ORDER  # total computed: 308.43
    assert datetime.fromisoformat(fetched["updated_at"]).utcoffset() is not None

    excl = add_order(
        client,
        shop,
        {
            "priceincltax": False,
            "lines": [
                {"amount": 3, "price": "10.00", "tax_rate": "21.00"},
                {"price": "9.99", "tax_rate": "9"},
            ],
            "shipping": {"price": "5.00", "tax_rate": "21.00"},
        },
    )
    assert excl["total"] == "53.24"  # 36.30 + 10.89 + 6.05
    assert excl["id"] >= 100001 and excl["number"] == str(excl["id"])
    assert excl["status"] == "paid" and excl["paid"] is True and excl["currency"] == "EUR"
    assert excl["customer"]["email"] == ""
    pending = add_order(client, shop, {"status": "pending"})
    assert pending["paid"] is False and pending["id"] == excl["id"] + 1


def test_orders_list_pages_and_order(client: httpx.Client, shop: dict[str, str]) -> None:
    assert api(client, shop, "orders").json() == {"orders": [], "page": 1, "pages": 1}
    start = datetime.fromisoformat("2026-01-10T12:00:00+01:00")
    # 120 orders, ids descending while updated_at ascends in pairs: ordering must be (updated_at, id).
    orders = [
        {"id": 500000 - n, "updated_at": (start + timedelta(minutes=n // 2)).isoformat()} for n in range(120)
    ]
    response = client.post(f"{shop['control']}/orders/bulk", json={"orders": orders})
    assert response.status_code == 201 and response.json()["created"] == 120

    seen = []
    for page in (1, 2, 3):
        body = api(client, shop, "orders", updated_since="2026-01-01T00:00:00+01:00", page=page).json()
        assert body["page"] == page and body["pages"] == 3
        assert len(body["orders"]) == (50 if page < 3 else 20)
        seen += [(o["updated_at"], o["id"]) for o in body["orders"]]
    assert seen == sorted(seen) and len(set(seen)) == 120

    since = (start + timedelta(minutes=50)).isoformat()  # orders n = 100..119
    body = api(client, shop, "orders", updated_since=since).json()
    assert body["pages"] == 1 and len(body["orders"]) == 20
    assert all(o["updated_at"] >= since for o in body["orders"])
    assert api(client, shop, "orders", updated_since=since, page=5).json()["orders"] == []
    bad = api(client, shop, "orders", updated_since="yesterday")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


def test_rate_limit_with_retry_after(client: httpx.Client, shop: dict[str, str]) -> None:
    client.post(f"{shop['control']}/knobs", json={"rate_limit_per_minute": 3})
    assert [api(client, shop, "orders").status_code for _ in range(3)] == [200, 200, 200]
    limited = api(client, shop, "orders")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"] == "rate_limited"
    client.post(f"{shop['control']}/knobs", json={"rate_limit_per_minute": 0})
    assert api(client, shop, "orders").status_code == 200


def test_fault_knobs_and_request_log(client: httpx.Client, shop: dict[str, str]) -> None:
    knobs = client.post(f"{shop['control']}/knobs", json={"fail_next": [503, 500]}).json()
    assert knobs["fail_next"] == [503, 500] and knobs["rate_limit_per_minute"] == 60
    assert [api(client, shop, "orders").status_code for _ in range(3)] == [503, 500, 200]
    log = client.get(f"{shop['control']}/requests").json()
    assert [(e["method"], e["path"], e["status"]) for e in log[-3:]] == [
        ("GET", "/api/v1/orders", s) for s in (503, 500, 200)
    ]
    assert client.post(f"{shop['control']}/knobs", json={"nonsense": 1}).status_code == 400
    assert client.post(f"{shop['control']}/knobs", json={"error_rate": 2}).status_code == 400

    client.post(f"{shop['control']}/knobs", json={"latency_ms": 150})
    started = time.perf_counter()
    api(client, shop, "orders")
    assert time.perf_counter() - started >= 0.15


def test_webhook_signed_delivery(
    client: httpx.Client, shop: dict[str, str], receiver: WebhookReceiver
) -> None:
    order = add_order(client, shop, {"customer": {"email": "a@example.nl"}}, notify=True)
    log = deliveries(client, shop, 1)
    assert len(log) == 1 and log[0]["status"] == 204 and log[0]["event"] == "order.created"
    [hit] = receiver.for_path(shop["hook"])
    body = hit["body"]
    assert (
        body
        == json.dumps(
            {"event": "order.created", "order_id": str(order["id"]), "shop": shop["name"]},
            separators=(",", ":"),
        ).encode()
    )
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hit["headers"]["X-KMO-Signature"] == expected
    assert hit["headers"]["Content-Type"] == "application/json"

    patched = client.patch(f"{shop['control']}/orders/{order['id']}", json={"status": "shipped"})
    assert patched.json()["status"] == "shipped"
    deliveries(client, shop, 2)
    assert json.loads(receiver.for_path(shop["hook"])[1]["body"])["event"] == "order.updated"


def test_duplicates_retries_resend_and_delete(
    client: httpx.Client, shop: dict[str, str], receiver: WebhookReceiver
) -> None:
    client.post(f"{shop['control']}/knobs", json={"duplicate_webhooks": 2})
    order = add_order(client, shop, {}, notify=True)
    assert len(deliveries(client, shop, 3)) == 3
    assert len({hit["body"] for hit in receiver.for_path(shop["hook"])}) == 1

    client.post(f"{shop['control']}/knobs", json={"duplicate_webhooks": 0})
    receiver.answers.extend([500])  # first try fails, the retry (0.2 s later) succeeds
    client.patch(f"{shop['control']}/orders/{order['id']}", json={"paid": True})
    log = deliveries(client, shop, 5)
    assert [(e["attempt"], e["status"]) for e in log[3:]] == [(1, 500), (2, 204)]

    resent = client.post(
        f"{shop['control']}/webhooks/resend", json={"order_id": "42", "event": "order.created"}
    )
    assert resent.status_code == 202
    assert deliveries(client, shop, 6)[-1]["order_id"] == "42"

    client.post(f"{shop['control']}/knobs", json={"webhooks_enabled": False})
    add_order(client, shop, {}, notify=True)
    assert client.delete(f"{shop['control']}/orders/{order['id']}").status_code == 204
    assert api(client, shop, f"orders/{order['id']}").status_code == 404
    time.sleep(0.1)
    assert len(client.get(f"{shop['control']}/webhooks").json()) == 6


def test_webhook_to_unreachable_url_is_retried_and_logged(client: httpx.Client) -> None:
    name = f"shop-{uuid.uuid4().hex[:8]}"
    client.post(
        "/_sandbox/kmoshops/shops",
        json={"shop": name, "api_key": "k", "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "x"},
    )
    client.post(f"/_sandbox/kmoshops/shops/{name}/orders", json={})
    log = client.get(f"/_sandbox/kmoshops/shops/{name}/webhooks", params={"wait_for": 3, "timeout": 5}).json()
    assert [e["attempt"] for e in log] == [1, 2, 3]
    assert all(e["status"] is None and e["error"] for e in log)


def test_a_burst_of_ten_thousand_webhooks_is_delivered_whole(
    client: httpx.Client, shop: dict[str, str], receiver: WebhookReceiver
) -> None:
    """10,000 orders placed in one bulk call with webhooks on: every one reaches the receiver, signed; a
    try the receiver was too busy to answer in time is tried again, as the platform does."""
    orders = [{"id": 900_000 + n, "number": f"B-{n}"} for n in range(10_000)]
    placed = client.post(
        f"{shop['control']}/orders/bulk", json={"orders": orders, "notify": True}, timeout=60
    )
    assert placed.status_code == 201 and placed.json()["created"] == 10_000
    expected = {str(order["id"]) for order in orders}

    def delivered() -> set[str]:
        return {json.loads(hit["body"])["order_id"] for hit in receiver.for_path(shop["hook"])}

    deadline = time.monotonic() + 240
    while delivered() != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert delivered() == expected
    for hit in receiver.for_path(shop["hook"])[-100:]:
        assert (
            hit["headers"]["X-KMO-Signature"] == hmac.new(SECRET.encode(), hit["body"], "sha256").hexdigest()
        )
    log = client.get(f"{shop['control']}/webhooks", timeout=30).json()  # the last 10,000 tries
    assert len(log) == 10_000 and sum(entry["status"] == 204 for entry in log) > 9_000
