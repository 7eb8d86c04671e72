"""Intake (signatures, storage before judgement), polling, the nightly job, dead workers and several
workers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import pairwise

import httpx
import pytest
from django.db import connection as db_connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from koppel.connections.models import Connection
from koppel.intake.models import WebhookDelivery
from koppel.sync import housekeeping
from koppel.sync.models import Attempt, Record, State, WorkerHeartbeat
from koppel.sync.tasks import poll_connection, recheck_open
from tests.conftest import drain, make_order, record_of, signed, webhook_body

# -- webhook intake ---------------------------------------------------------------------------------------


def test_bad_signature_is_401_and_stored_nowhere_but_a_counter(client, connection):
    body = webhook_body(12345)
    response = client.post(
        connection.webhook_path, body, content_type="application/json", HTTP_X_KMO_SIGNATURE="0" * 64
    )
    assert response.status_code == 401
    assert response.json()["error"] == "SIGNATURE_INVALID"
    unsigned = client.post(connection.webhook_path, body, content_type="application/json")
    assert unsigned.status_code == 401
    assert Record.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert not DBTaskResult.objects.exists()
    connection.refresh_from_db()
    assert connection.rejected_webhooks == 2


def test_signature_of_another_connection_is_refused(client, connection, account):
    other = Connection.objects.get(pk=connection.pk)
    other.pk = None
    other.new_webhook_secret()
    other.save()
    body = webhook_body(1)
    response = client.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_X_KMO_SIGNATURE=signed(body, other.webhook_secret),
    )
    assert response.status_code == 401


def test_signed_but_unreadable_notification_is_stored_then_refused(client, connection):
    body = b'{"event": "order.created"}'
    response = client.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_X_KMO_SIGNATURE=signed(body, connection.webhook_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "WEBHOOK_INVALID"
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.body == body.decode()
    assert delivery.outcome == "invalid"
    assert Record.objects.count() == 0


def test_unknown_connection_is_404(client, connection):
    response = client.post("/webhooks/kmoshops/999999", b"{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"] == "CONNECTION_UNKNOWN"


def test_webhooks_from_the_shop_over_real_http(live_server, shop, administration, connection, settings):
    """The KMO Shops sandbox itself signs and sends the webhook to Koppel's live server."""
    shop.configure(
        webhook_url=live_server.url + connection.webhook_path, webhook_secret=connection.webhook_secret
    )
    shop.knobs(duplicate_webhooks=2)
    order = make_order()
    shop.place(order, notify=True)
    log = httpx.get(f"{shop.control}/webhooks", params={"wait_for": 3, "timeout": 10}).json()
    deliveries = log["deliveries"] if isinstance(log, dict) else log
    assert [d["status"] for d in deliveries][-3:] == [202, 202, 202]
    drain()
    assert record_of(connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1
    assert WebhookDelivery.objects.filter(connection=connection).count() == 3


def test_concurrent_duplicate_webhooks_make_one_record_and_one_invoice(
    live_server, shop, administration, connection
):
    order = make_order()
    shop.place(order)
    body = webhook_body(order["id"])
    headers = {"X-KMO-Signature": signed(body, connection.webhook_secret), "Content-Type": "application/json"}
    url = live_server.url + connection.webhook_path
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: httpx.post(url, content=body, headers=headers).status_code, range(16))
        )
    assert statuses == [202] * 16
    assert Record.objects.filter(connection=connection).count() == 1
    drain()
    assert len(administration.invoices) == 1


# -- polling and the nightly job --------------------------------------------------------------------------


def test_polling_books_orders_whose_webhooks_never_came(shop, administration, connection):
    orders = [make_order() for _ in range(3)]
    for order in orders:
        shop.place(order, notify=False)
    poll_connection.enqueue(connection.pk)
    drain()
    assert sorted(Record.objects.values_list("state", flat=True)) == [State.HANDLED] * 3
    assert len(administration.invoices) == 3
    # The orders came with the poll's page; the worker did not fetch them one by one again.
    log = httpx.get(f"{shop.control}/requests").json()
    paths = [entry["path"] for entry in (log["requests"] if isinstance(log, dict) else log)]
    assert not [path for path in paths if "/api/v1/orders/" in path]
    connection.refresh_from_db()
    assert connection.last_polled_at is not None and connection.last_poll_error == ""
    # A second poll (with its overlap) sees the same orders and books nothing again.
    poll_connection.enqueue(connection.pk)
    drain()
    assert len(administration.invoices) == 3


def test_poll_with_a_wrong_shop_key_is_reported_on_the_connection(shop, connection):
    connection.source_credentials = {"api_key": "nope"}
    connection.save()
    poll_connection.enqueue(connection.pk)
    drain()
    connection.refresh_from_db()
    assert connection.last_poll_error.startswith("SOURCE_AUTH_FAILED")


def test_nightly_job_books_open_orders_that_became_eligible(shop, administration, connection, deliver):
    order = make_order(status="pending", paid=False)
    shop.place(order)
    deliver(connection, order["id"])
    drain()
    assert record_of(connection, order).state == State.OPEN
    shop.update(order["id"], {"status": "completed", "paid": True})  # no webhook: notify is off
    recheck_open.enqueue(connection.pk)
    drain()
    assert record_of(connection, order).state == State.HANDLED


def test_scheduler_polls_each_connection_once_per_interval(connection):
    assert housekeeping.schedule_polls() == 1
    assert housekeeping.schedule_polls() == 0
    connection.refresh_from_db()
    assert (
        timezone.now() + timedelta(minutes=55)
        < connection.next_poll_at
        <= timezone.now() + timedelta(hours=1)
    )


def test_nightly_schedule_runs_once_per_night(connection, settings):
    from koppel.sync.models import Schedule

    assert housekeeping.schedule_nightly() == 0  # first call only plans the next night
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert housekeeping.schedule_nightly() == 1
    assert housekeeping.schedule_nightly() == 0
    next_run = timezone.localtime(Schedule.objects.get().next_run_at)
    assert next_run.hour == settings.NIGHTLY_HOUR and next_run > timezone.now()


# -- dead workers and several workers ---------------------------------------------------------------------


def database_url() -> str:
    conf = db_connection.settings_dict
    if db_connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or "postgres"
    return f"postgres://{user}@{conf.get('HOST') or '127.0.0.1'}:{conf.get('PORT') or 5432}/{conf['NAME']}"


def start_worker(worker_id: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "DATABASE_URL": database_url(), "KOPPEL_WORKER_HEARTBEAT": "0.5", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "koppel.cli", "worker", "--worker-id", worker_id, "--interval", "0.05"],
        env=environment,
    )


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["fetching", "booking"])
def test_worker_killed_mid_processing_loses_nothing_and_books_once(
    shop, administration, connection, deliver, settings, kill_when
):
    order = make_order()
    shop.place(order)
    deliver(connection, order["id"])
    administration.knobs(latency_ms=700)
    doomed = start_worker("doomed")
    try:
        if kill_when == "booking":
            wait_for(lambda: Record.objects.filter(booking_started_at__isnull=False).exists(), what="booking")
        else:
            wait_for(lambda: Record.objects.filter(lease_owner="doomed").exists(), what="the lease")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    administration.knobs(latency_ms=0)
    # The order's task stays claimed by the dead worker (a poll its housekeeper queued at start may have been
    # claimed in the same batch: it is given back with it).
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING)
    left = running.count()
    assert running.filter(task_path="koppel.sync.tasks.process_record").count() == 1
    assert record_of(connection, order).state == State.QUEUED

    settings.WORKER_DEAD_AFTER_SECONDS = 0.5
    time.sleep(1.0)
    assert housekeeping.reap_dead_workers() == left  # the order's task (and a poll's) go back
    assert not WorkerHeartbeat.objects.filter(pk="doomed").exists()
    drain()
    record = record_of(connection, order)
    assert record.state == State.HANDLED, record.message
    time.sleep(1.0)  # a request the dead worker left in flight has landed by now
    assert len(administration.invoices) == 1


@pytest.mark.slow
def test_several_workers_never_process_a_record_twice(shop, administration, connection, deliver):
    """Three worker processes on one queue; on PostgreSQL they claim in parallel with SKIP LOCKED."""
    orders = [make_order() for _ in range(24)]
    # Some customers order more than once, so debtor creation races too.
    for index, order in enumerate(orders):
        order["customer"]["email"] = f"klant{index % 8}@example.nl"
        shop.place(order)
        deliver(connection, order["id"])
    workers = [start_worker(f"parallel-{n}") for n in range(3)]
    try:
        wait_for(
            lambda: Record.objects.filter(state=State.HANDLED).count() == len(orders),
            timeout=90,
            what="all booked",
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
    handled_attempts = Attempt.objects.filter(outcome="handled")
    assert handled_attempts.count() == len(orders)
    assert handled_attempts.values("record").distinct().count() == len(orders)
    assert len(administration.invoices) == len(orders)
    assert len(administration.clients) == 8
    assert set(handled_attempts.values_list("worker", flat=True)) <= {f"parallel-{n}" for n in range(3)}


@pytest.mark.slow
def test_one_worker_books_orders_side_by_side_each_once_and_stops_cleanly(
    shop, administration, connection, deliver
):
    """One worker process with four order threads: orders are under way together (their attempts
    overlap), customers who order twice still get one debtor, every order one invoice; stopped (SIGTERM)
    mid-burst it finishes what it began and gives back the rest, holding no task and no lease."""
    orders = [make_order() for _ in range(24)]
    for index, order in enumerate(orders):
        order["customer"]["email"] = f"klant{index % 8}@example.nl"
        shop.place(order)
        deliver(connection, order["id"])
    administration.knobs(latency_ms=150)
    worker = start_worker("threads", KOPPEL_WORKER_THREADS="4")
    try:
        wait_for(lambda: Record.objects.filter(state=State.HANDLED).count() >= 8, timeout=60, what="some")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()
    assert not Record.objects.filter(lease_owner="threads").exists()
    handled = Attempt.objects.filter(outcome="handled").order_by("started_at")
    spans = list(handled.values_list("started_at", "finished_at"))
    assert any(later_start < earlier_end for (_, earlier_end), (later_start, _) in pairwise(spans))

    administration.knobs(latency_ms=0)
    drain()
    assert Record.objects.filter(state=State.HANDLED).count() == len(orders)
    assert Attempt.objects.filter(outcome="handled").values("record").distinct().count() == len(orders)
    assert Attempt.objects.filter(outcome="handled").count() == len(orders)
    assert len(administration.invoices) == len(orders)
    assert len(administration.clients) == 8


def test_a_replayed_webhook_changes_nothing_about_a_record_in_error(
    shop, administration, connection, deliver
):
    """KMO Shops' notifications carry no delivery id: twenty replays of one leave the failed record as it
    is; a real change in the shop is booked."""
    order = make_order(customer={"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": ""})
    shop.place(order)
    deliver(connection, order["id"])
    drain()
    record = record_of(connection, order)
    assert record.error_code == "ICP_VAT_NUMBER_MISSING"
    attempts = record.attempt_log.count()
    for _ in range(20):
        assert deliver(connection, order["id"], "order.updated").status_code == 202
    drain()
    after = record_of(connection, order)
    assert (after.state, after.error_code, after.updated_at) == (
        record.state,
        record.error_code,
        record.updated_at,
    )
    assert after.attempt_log.count() == attempts

    shop.update(order["id"], {"customer": {**order["customer"], "vatnumber": "BE0403019261"}})
    deliver(connection, order["id"], "order.updated")
    drain()
    assert record_of(connection, order).state == State.HANDLED
