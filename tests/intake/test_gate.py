"""The webhook gate through real HTTP (uvicorn and Koppel's ASGI app, as ``koppel serve`` runs it): a
concurrent burst is stored in group commits, every answer given only once its delivery is stored, and what
is wrong in a burst is answered as a single webhook always was, without failing the rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django_tasks_db.models import DBTaskResult

from koppel.connections.models import Connection
from koppel.intake import receive as receiving
from koppel.intake.gate import Writer
from koppel.intake.models import WebhookDelivery
from koppel.intake.receive import Answer, Arrival, receive
from koppel.sync.models import Record
from tests.conftest import signed, webhook_body


def kmo_post(client: httpx.Client, web, connection, order_id, *, secret: str | None = None) -> httpx.Response:
    body = webhook_body(order_id, "order.created")
    headers = {
        "Content-Type": "application/json",
        "X-KMO-Signature": signed(body, secret or connection.webhook_secret),
    }
    return client.post(f"{web.url}{connection.webhook_path}", content=body, headers=headers)


def burst(calls, threads: int = 16) -> list[httpx.Response]:
    local = threading.local()

    def run(call):
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        return call(local.client)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, calls))


def test_a_burst_is_stored_whole_and_every_order_gets_one_record_and_one_task(koppel_web, connection):
    orders = [str(9000 + n) for n in range(120)]
    calls = [lambda c, o=o: kmo_post(c, koppel_web, connection, o) for o in orders + orders[:40]]
    responses = burst(calls)
    assert [r.status_code for r in responses] == [202] * 160
    assert sum(r.json()["queued"] for r in responses) == 120  # the repeats queue nothing
    records = Record.objects.filter(connection=connection)
    assert sorted(records.values_list("source_order_id", flat=True)) == sorted(orders)
    assert set(records.values_list("state", flat=True)) == {"queued"}
    assert WebhookDelivery.objects.filter(connection=connection).count() == 160
    tasks = DBTaskResult.objects.filter(task_path__endswith="process_record")
    assert sorted(row.args_kwargs["args"][0] for row in tasks) == sorted(records.values_list("pk", flat=True))
    by_order = {r.json()["record"] for r in responses}
    assert by_order == set(records.values_list("pk", flat=True))


def test_each_answer_comes_after_its_delivery_is_stored(koppel_web, connection):
    with httpx.Client(timeout=30) as client:
        for order_id in ("501", "502", "503"):
            response = kmo_post(client, koppel_web, connection, order_id)
            assert response.status_code == 202
            assert WebhookDelivery.objects.filter(connection=connection, order_id=order_id).exists()
            assert Record.objects.get(pk=response.json()["record"]).source_order_id == order_id


def test_what_is_wrong_in_a_burst_is_answered_alone(koppel_web, connection):
    url = f"{koppel_web.url}{connection.webhook_path}"
    secret = connection.webhook_secret
    not_json = b"{not json"

    def bad_signature(client):
        return kmo_post(client, koppel_web, connection, "700", secret="not the secret")

    def unknown_connection(client):
        return client.post(f"{koppel_web.url}/webhooks/kmoshops/{connection.pk + 1000}", content=b"{}")

    def not_understood(client):
        return client.post(url, content=not_json, headers={"X-KMO-Signature": signed(not_json, secret)})

    good = [lambda c, o=o: kmo_post(c, koppel_web, connection, o) for o in map(str, range(800, 830))]
    calls = [*good[:10], bad_signature, unknown_connection, not_understood, *good[10:]]
    responses = burst(calls)
    statuses = [r.status_code for r in responses]
    assert statuses == [202] * 10 + [401, 404, 400] + [202] * 20
    assert [r.json()["error"] for r in responses[10:13]] == [
        "SIGNATURE_INVALID",
        "CONNECTION_UNKNOWN",
        "WEBHOOK_INVALID",
    ]
    assert Record.objects.filter(connection=connection).count() == 30
    connection.refresh_from_db()
    assert connection.rejected_webhooks == 1
    assert WebhookDelivery.objects.get(connection=connection, outcome="invalid").body == not_json.decode()
    assert connection.last_webhook_at is not None


def test_bol_and_other_requests_still_reach_django(koppel_web, connection):
    answer = httpx.get(f"{koppel_web.url}{connection.webhook_path}")
    assert answer.status_code == 405  # Django's require_POST, as before the gate
    answer = httpx.post(f"{koppel_web.url}/webhooks/bol/{connection.pk}", content=b"{}")
    assert answer.status_code == 404 and answer.json()["error"] == "CONNECTION_UNKNOWN"


# --- the batch itself ---------------------------------------------------------------------------------------

SECRET = "woo secret"


@pytest.fixture
def woo_connection(account):
    connection = Connection(
        account=account,
        name="woo",
        source_kind="woocommerce",
        source_url="http://127.0.0.1:9/woo",  # never called: no worker runs
        target_kind="factuursturen",
        target_url="http://127.0.0.1:9/fs",
    )
    connection.webhook_secret = SECRET
    connection.save()
    return connection


def woo_arrival(connection, order_id: int, delivery: str) -> Arrival:
    body = json.dumps({"id": order_id, "status": "processing", "date_modified_gmt": "2026-12-07T10:00:00"})
    signature = base64.b64encode(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()).decode()
    headers = {
        "x-wc-webhook-topic": "order.updated",
        "x-wc-webhook-resource": "order",
        "x-wc-webhook-event": "updated",
        "x-wc-webhook-signature": signature,
        "x-wc-webhook-delivery-id": delivery,
    }
    return Arrival("woocommerce", connection.pk, body.encode(), headers)


def test_one_delivery_twice_in_a_batch_is_acted_on_once(woo_connection):
    answers = receive([woo_arrival(woo_connection, 1, "d1"), woo_arrival(woo_connection, 1, "d1")])
    assert [a.status for a in answers] == [202, 202]
    assert answers[0].content["queued"] is True
    assert answers[1].content == {**answers[0].content, "queued": False, "duplicate": True}
    outcomes = WebhookDelivery.objects.filter(connection=woo_connection).values_list("outcome", flat=True)
    assert sorted(outcomes) == ["duplicate", "queued"]
    record = Record.objects.get(connection=woo_connection)
    assert record.payload["id"] == 1  # booked from the webhook's own body


def test_a_batch_that_collides_with_another_writer_is_received_one_by_one(woo_connection, monkeypatch):
    """Another web process created order 2's record after this batch looked: the bulk insert fails, and
    each arrival is received alone (order 2 noted on its existing record, order 3 created)."""
    (first,) = receive([woo_arrival(woo_connection, 2, "other-process")])
    monkeypatch.setattr(receiving, "existing_records", lambda noticed: {})
    answers = receive([woo_arrival(woo_connection, 2, "d2"), woo_arrival(woo_connection, 3, "d3")])
    assert [a.status for a in answers] == [202, 202]
    assert answers[0].content["record"] == first.content["record"]
    assert answers[0].content["queued"] is False
    assert answers[1].content["queued"] is True
    assert Record.objects.filter(connection=woo_connection).count() == 2
    assert WebhookDelivery.objects.filter(connection=woo_connection).count() == 3


def test_a_failing_batch_does_not_fail_its_other_webhooks(db):
    """The writer receives a batch that fails for another reason one by one: only the bad one is a 500."""
    calls: list[int] = []

    def receive_batch(arrivals):
        calls.append(len(arrivals))
        if len(arrivals) > 1 or arrivals[0].connection_id == 13:
            raise RuntimeError("boom")
        return [Answer(202, {"id": arrivals[0].connection_id})]

    writer = Writer(receive_batch)
    try:
        answers = writer.answered([Arrival("kmoshops", n, b"", {}) for n in (12, 13, 14)])
    finally:
        writer.stop()
    assert [a.status for a in answers] == [202, 500, 202]
    assert answers[1].content["error"] == "INTERNAL_ERROR"
    assert calls == [3, 1, 1, 1]
