"""Request bodies through real HTTP (uvicorn and Koppel's ASGI app): large signed webhooks are stored whole;
a body over the limit is refused with the JSON error before it is spooled anywhere."""

from __future__ import annotations

import json

import httpx

from koppel.intake.models import WebhookDelivery
from koppel.sync.models import Record
from tests.conftest import signed


def large_webhook(order_id: int, size: int) -> bytes:
    notice = {"event": "order.created", "order_id": str(order_id), "shop": "test", "note": ""}
    notice["note"] = "x" * (size - len(json.dumps(notice, separators=(",", ":"))))
    return json.dumps(notice, separators=(",", ":")).encode()


def post(web, connection, body, **kwargs) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-KMO-Signature": signed(body, connection.webhook_secret)}
    return httpx.post(
        f"{web.url}{connection.webhook_path}", content=body, headers=headers, timeout=30, **kwargs
    )


def test_a_3_mb_signed_webhook_is_stored_whole(koppel_web, connection):
    body = large_webhook(4711, 3 * 1024 * 1024)
    response = post(koppel_web, connection, body)
    assert response.status_code == 202, response.text
    delivery = WebhookDelivery.objects.get(connection=connection)
    assert len(delivery.body) == len(body)
    assert Record.objects.filter(connection=connection, source_order_id="4711").exists()


def test_a_body_over_the_limit_is_refused_with_the_json_error(koppel_web, connection, settings):
    settings.MAX_BODY_BYTES = 1024 * 1024
    response = post(koppel_web, connection, large_webhook(1, 2 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"] == "BODY_TOO_LARGE"

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(40):
            yield b"x" * 65536

    response = httpx.post(f"{koppel_web.url}{connection.webhook_path}", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error"] == "BODY_TOO_LARGE"
    assert not WebhookDelivery.objects.exists()
    assert httpx.get(f"{koppel_web.url}/health").json() == {"ok": True}
