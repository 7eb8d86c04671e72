"""Every order booked after any outage: a target that keeps failing trips the connection's breaker (a pause,
like a rate limit's: no try spent, no task per order), one order probes it, and when it answers every
waiting order is booked once. Only an outage past the horizon puts orders in error, for the nightly job."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from koppel.connections.models import Connection
from koppel.sync import housekeeping
from koppel.sync.models import Attempt, Record, Schedule, State
from tests.conftest import drain
from tests.sync.test_rate_limits import place_and_deliver


def test_a_target_down_for_twenty_answers_books_every_order_once_when_it_is_back(
    shop, administration, connection, deliver, settings
):
    """Twenty 503s in a row, five times an order's four tries: none in error, each order booked once, and
    the attempt log and the queue grow with the failed answers, not with the orders times the cycles."""
    settings.BREAKER_BASE_SECONDS, settings.BREAKER_CAP_SECONDS = 0.05, 0.4
    orders = place_and_deliver(shop, connection, deliver, 12)
    tasks_before = DBTaskResult.objects.count()
    administration.knobs(fail_next=[503] * 20)
    drain(timeout=90)

    records = Record.objects.filter(connection=connection)
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert set(records.values_list("paused_side", flat=True)) == {""}
    assert len(administration.invoices) == len(orders)
    refused = [r for r in administration.requests() if r["status"] == 503]
    assert len(refused) == 20
    # One attempt per refused answer and one per booking; a task per retry, probe and release, no more.
    assert Attempt.objects.filter(record__connection=connection).count() <= len(orders) + 20
    assert DBTaskResult.objects.count() - tasks_before <= 2 * len(orders) + 20 * 2
    row = Connection.objects.get(pk=connection.pk)
    assert (row.target_failures, row.target_down_since) == (0, None)


def test_orders_wait_behind_a_tripped_breaker_and_say_why(
    shop, administration, connection, deliver, settings
):
    settings.BREAKER_BASE_SECONDS, settings.BREAKER_CAP_SECONDS = 60.0, 60.0
    place_and_deliver(shop, connection, deliver, 8)
    administration.knobs(error_rate=1.0)

    from koppel.sync.worker import run_worker

    run_worker(batch=True, worker_id="test-worker", housekeeping_enabled=False, interval=0)
    records = Record.objects.filter(connection=connection)
    waiting = records.filter(paused_side="target")
    assert waiting.count() >= 4  # the one that tripped it and those after it in the batch
    assert set(records.values_list("state", flat=True)) == {State.QUEUED}
    assert set(records.values_list("attempts", flat=True)) <= {0, 1}
    message = waiting.first().message
    assert message.startswith("Factuursturen has not answered since ") and "Koppel tries again at" in message
    row = Connection.objects.get(pk=connection.pk)
    assert row.target_failures == settings.BREAKER_THRESHOLD
    assert row.target_paused_until > timezone.now() + timedelta(seconds=50)


def test_a_target_down_past_the_horizon_puts_its_orders_in_error_and_the_night_books_them(
    shop, administration, connection, deliver, settings
):
    settings.BREAKER_BASE_SECONDS, settings.BREAKER_CAP_SECONDS = 0.05, 0.1
    settings.OUTAGE_HORIZON_HOURS = 1.0 / 3600  # one second
    orders = place_and_deliver(shop, connection, deliver, 6)
    administration.knobs(error_rate=1.0)
    drain(timeout=60)

    records = Record.objects.filter(connection=connection)
    assert set(records.values_list("state", flat=True)) == {State.ERROR}
    assert set(records.values_list("error_code", flat=True)) == {"TARGET_UNAVAILABLE"}
    assert all("longer than" in message for message in records.values_list("message", flat=True))
    assert administration.invoices == []

    administration.knobs(error_rate=0.0)
    Schedule.objects.update_or_create(
        name=housekeeping.NIGHTLY, defaults={"next_run_at": timezone.now() - timedelta(minutes=1)}
    )
    assert housekeeping.schedule_nightly() >= 1
    drain(timeout=60)
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert len(administration.invoices) == len(orders)


def test_scattered_failures_between_bookings_never_trip_the_breaker(shop, connection, deliver, settings):
    """Failures in a row, not failures in all: an order booked after a counted failure clears the streak,
    also when both came from one worker's batch (whose Connection was read before the failure)."""
    from koppel.connectors.errors import Unavailable
    from koppel.sync import breaker, pipeline

    orders = place_and_deliver(shop, connection, deliver, 2)
    failing, booked = (Record.objects.get(source_order_id=str(order["id"])) for order in orders)
    booked.connection = failing.connection  # one batch: one Connection for both records
    for _ in range(3 * settings.BREAKER_THRESHOLD):
        outcome = pipeline.failure(failing, Unavailable("503", side="target"))
        assert not outcome.parked
        breaker.answered(booked.connection)
    row = Connection.objects.get(pk=connection.pk)
    assert (row.target_failures, row.target_paused_until) == (0, None)


def test_a_shop_down_for_twenty_answers_books_every_order_once_when_it_is_back(
    shop, administration, connection, deliver, settings
):
    """The shop side has its own breaker: twenty 503s on fetching orders (more than three orders' four
    tries each) pause the source side, spending no try, and when the shop answers again every order is
    booked once."""
    settings.BREAKER_BASE_SECONDS, settings.BREAKER_CAP_SECONDS = 0.05, 0.4
    orders = place_and_deliver(shop, connection, deliver, 3)
    assert len(orders) * settings.RETRY_MAX_ATTEMPTS < 20  # without the breaker, all would end in error
    shop.knobs(fail_next=[503] * 20)
    drain(timeout=90)

    records = Record.objects.filter(connection=connection)
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert len(administration.invoices) == len(orders)
    assert len([entry for entry in shop.requests() if entry["status"] == 503]) == 20
    log = Attempt.objects.filter(record__connection=connection)
    # Each failed fetch is in the attempt log: a retry before the breaker tripped, then "waiting" (the
    # trip and each failed probe), saying the shop has not answered since when.
    assert log.filter(outcome__in=["retry", "waiting"]).count() == 20
    tries = log.filter(outcome="retry", error_code="SOURCE_UNAVAILABLE")
    assert 0 < tries.count() < settings.BREAKER_THRESHOLD
    assert all("KMO Shops has not answered since" in entry.message for entry in log.filter(outcome="waiting"))
    row = Connection.objects.get(pk=connection.pk)
    assert (row.source_failures, row.source_down_since) == (0, None)
