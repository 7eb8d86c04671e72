"""A bol.com shipment survives a worker killed in the middle of booking it: one invoice, no duplicate, and
a duplicate push meanwhile changes nothing (worker processes on the test database, as in production)."""

from __future__ import annotations

import signal
import time

import pytest
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from koppel.sync import housekeeping
from koppel.sync.models import Record, State
from tests.bol.test_pipeline import bol_connection, push
from tests.conftest import drain
from tests.sync.test_intake_and_worker import start_worker, wait_for


@pytest.mark.slow
def test_a_worker_killed_mid_booking_books_the_shipment_once(
    client, sandbox, account, bol_shop, administration, retry_fast, settings
):
    connection = bol_connection(account, bol_shop, administration, source="shipment")
    order = bol_shop.place(notify=False)
    shipment = bol_shop.ship(order["orderId"], notify=False)
    shipment_id = str(shipment["shipmentId"])
    assert push(client, sandbox, connection, "SHIPMENT", shipment_id).status_code == 202
    administration.knobs(latency_ms=700)
    doomed = start_worker("doomed-bol")
    try:
        wait_for(lambda: Record.objects.filter(booking_started_at__isnull=False).exists(), what="booking")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    administration.knobs(latency_ms=0)
    assert push(client, sandbox, connection, "SHIPMENT", shipment_id).status_code == 202  # bol sends again
    # The order's task stays claimed by the dead worker (a poll its housekeeper queued at start may have been
    # claimed in the same batch: it is given back with it).
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING)
    left = running.count()
    assert running.filter(task_path="koppel.sync.tasks.process_record").count() == 1

    settings.WORKER_DEAD_AFTER_SECONDS = 0.5
    time.sleep(1.0)
    assert housekeeping.reap_dead_workers() == left  # the order's task (and a poll's) go back
    drain()
    time.sleep(1.0)  # a request the dead worker left in flight has landed by now
    drain()
    [record] = Record.objects.filter(connection=connection)
    assert record.state == State.HANDLED, record.message
    assert record.source_order_id == shipment_id
    assert len(administration.invoices) == 1
