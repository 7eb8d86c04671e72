"""Waiting costs nothing: a rate limit pauses the connection, its orders wait without an attempt or a task
each, and bookings go on at the limit's own speed when it ends."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from koppel.sync.models import Attempt, Record, State
from tests.conftest import drain, make_order


def place_and_deliver(shop, connection, deliver, count: int) -> list[dict]:
    orders = [make_order() for _ in range(count)]
    for order in orders:
        shop.place(order)
        assert deliver(connection, order["id"]).status_code == 202
    return orders


def test_a_429_storm_of_200_answers_writes_no_more_than_a_handful_of_rows(
    shop, eenvoudigfactureren, account, deliver, retry_fast
):
    from tests.conftest import connect

    connection = connect(account, shop, eenvoudigfactureren)
    orders = place_and_deliver(shop, connection, deliver, 10)
    tasks_before = DBTaskResult.objects.count()
    eenvoudigfactureren.knobs(rate_limit_burst=200, rate_limit_burst_retry_after=0)
    drain(timeout=120)

    records = Record.objects.filter(connection=connection)
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert set(records.values_list("attempts", flat=True)) == {0}
    assert len(eenvoudigfactureren.invoices) == len(orders)
    refused = [r for r in eenvoudigfactureren.requests() if r["status"] == 429]
    assert len(refused) == 200
    # One attempt per order (the one that booked it) and no task beyond the orders' own.
    assert Attempt.objects.filter(record__connection=connection).count() == len(orders)
    assert DBTaskResult.objects.count() - tasks_before <= 3
    limited = Attempt.objects.filter(record__connection=connection, message__contains="after waiting")
    assert limited.count() == 1 and sum(c["status"] == 429 for c in limited.get().calls) == 200


@pytest.mark.parametrize("orders_waiting", [6])
def test_a_long_pause_parks_the_orders_and_one_task_releases_them(
    shop, administration, connection, deliver, settings, monkeypatch, orders_waiting
):
    """Factuursturen's hourly budget is spent: longer than a worker waits by itself. The order that met it
    parks; the others find the pause and park without an attempt or a task; one task ends the pause."""
    from koppel.connectors.factuursturen import client as fs_client

    settings.RATE_LIMIT_INLINE_WAIT_SECONDS = 0.1
    monkeypatch.setattr(fs_client, "seconds_to_next_hour", lambda now=None: 1.0)
    orders = place_and_deliver(shop, connection, deliver, orders_waiting)
    administration.knobs(rate_limit_burst=1)
    tasks_before = DBTaskResult.objects.count()

    from koppel.sync.worker import run_worker

    run_worker(batch=True, worker_id="test-worker", housekeeping_enabled=False, interval=0)
    records = Record.objects.filter(connection=connection)
    assert set(records.values_list("state", flat=True)) == {State.QUEUED}
    assert set(records.values_list("paused_side", flat=True)) == {"target"}
    assert all("waits until" in message for message in records.values_list("message", flat=True))
    assert Attempt.objects.filter(record__connection=connection).count() == 1  # the one that met the limit
    assert DBTaskResult.objects.count() - tasks_before == 1  # the release, nothing per order

    drain()
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert set(records.values_list("paused_side", flat=True)) == {""}
    assert len(administration.invoices) == len(orders)
    assert DBTaskResult.objects.count() - tasks_before == 1 + orders_waiting
    assert Attempt.objects.filter(record__connection=connection).count() == 1 + orders_waiting


def test_orders_parked_behind_a_dead_workers_pause_are_released_by_the_housekeeper(
    shop, administration, connection, deliver, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from koppel.sync import housekeeping

    place_and_deliver(shop, connection, deliver, 1)
    record = Record.objects.get(connection=connection)
    Record.objects.filter(pk=record.pk).update(paused_side="target")
    DBTaskResult.objects.all().delete()  # the task is gone with the worker that held the pause
    type(connection).objects.filter(pk=connection.pk).update(
        target_paused_until=timezone.now() - timedelta(minutes=5)
    )
    housekeeping.run_once("keeper")
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED, record.message
