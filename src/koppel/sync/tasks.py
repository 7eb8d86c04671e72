"""Background tasks (django-tasks on the database backend). Each is small and idempotent: a task that runs
twice, late, or after a crash does no harm."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone
from django_tasks import task

from koppel.connections.models import Connection
from koppel.connectors.errors import ConnectorError

from . import backfill as backfills
from . import invoice_requests, pauses, pipeline, refunds, retry
from .identity import worker_id
from .models import Backfill, Kind, Record, State
from .queue import enqueue_many, enqueue_process  # noqa: F401  (queued from here before koppel.sync.queue)
from .services import note_order, recheck_if_changed, requeue

logger = logging.getLogger("koppel.sync")

#: Polls read a little before the last cursor, so an order changed during the previous poll is not missed.
POLL_OVERLAP = timedelta(minutes=5)
#: A backfill paused by a source outage resumes by itself after this long.
BACKFILL_RESUME_AFTER = timedelta(minutes=5)


@task()
def process_record(record_id: int, trigger: str = "") -> str:
    outcome = pipeline.process(record_id, worker_id(), trigger)
    return outcome.label if outcome else "not-claimed"


@task()
def recheck_record(record_id: int, trigger: str = "") -> str:
    """A notice for a record in error or open: booked again only if the order changed (see services)."""
    try:
        return "requeued" if recheck_if_changed(record_id, trigger) else "unchanged"
    except ConnectorError as exc:  # the shop is away: the next notice, the poll or the night looks again
        logger.warning("Record %s could not be rechecked: %s", record_id, exc.message)
        return "not-rechecked"


@task()
def release_pause(connection_id: int, side: str, planned_for: str) -> int:
    """A rate-limit pause has ended: its parked orders get their tasks (see ``koppel.sync.pauses``)."""
    return pauses.run_planned_release(connection_id, side, planned_for)  # type: ignore[arg-type]


@task()
def poll_connection(connection_id: int, attempt: int = 1) -> int:
    """The safety net under the webhooks: every order changed since the last poll gets a record."""
    connection = Connection.objects.filter(pk=connection_id, active=True).first()
    if connection is None:
        return 0
    started = timezone.now()
    since = (connection.poll_cursor or connection.start_at) - POLL_OVERLAP
    source = connection.source()
    seen = 0
    try:
        for payload in source.iter_orders(since):
            note_order(connection, connection.source_class.order_id(payload), via="poll", payload=payload)
            seen += 1
    except ConnectorError as exc:
        Connection.objects.filter(pk=connection_id).update(last_poll_error=f"{exc.code}: {exc.message}"[:500])
        if exc.transient and not retry.exhausted(attempt):
            when = timezone.now() + retry.backoff(attempt, retry_after=exc.retry_after)
            poll_connection.using(run_after=when).enqueue(connection_id, attempt + 1)
        logger.warning("Poll of connection %s failed: %s", connection_id, exc.message)
        return seen
    finally:
        source.close()
    cursor = started
    try:
        refunds.poll_refunds(connection, since)
    except ConnectorError as exc:
        # The orders were read, the refunds (bol.com's returns) not: the cursor stays where it was, so the
        # next poll reads them from the same moment (the orders read again change nothing).
        logger.warning("Refunds of connection %s not read: %s", connection_id, exc.message)
        cursor = connection.poll_cursor or connection.start_at
    Connection.objects.filter(pk=connection_id).update(
        poll_cursor=cursor, last_polled_at=timezone.now(), last_poll_error=""
    )
    return seen


@task()
def discover_refunds(record_id: int, payload: dict | None = None, trigger: str = "") -> int:
    """A booked order was reported again: its refunds get records (see ``koppel.sync.refunds``)."""
    try:
        return refunds.discover(record_id, payload, trigger)
    except ConnectorError as exc:  # the next notice, the poll or the night looks again
        logger.warning("Refunds of record %s not read: %s", record_id, exc.message)
        return 0


@task()
def recheck_open(connection_id: int) -> int:
    """The nightly job: every open record is looked at again with the order's current status."""
    moved = 0
    for record in Record.objects.filter(connection_id=connection_id, state=State.OPEN).iterator():
        moved += requeue(record, trigger="nightly")
    return moved


@task()
def requeue_unavailable(connection_id: int) -> int:
    """The nightly job: orders given up on after an outage past the horizon are tried again (see
    ``koppel.sync.breaker``)."""
    from .breaker import requeue_given_up

    return requeue_given_up(connection_id)


#: The first daily sweep of a connection reads this far back (at most to the connection's start).
SWEEP_FIRST_LOOKBACK = timedelta(days=7)


@task()
def sweep_connection(connection_id: int, since_text: str = "") -> int:
    """The daily sweep (see ``SourceConnector.swept_order_ids``): every order the source names that has no
    record yet gets one, fetched whole. Answers the number of records made."""
    connection = Connection.objects.filter(pk=connection_id, active=True).first()
    if connection is None:
        return 0
    since = datetime.fromisoformat(since_text) if since_text else timezone.now() - SWEEP_FIRST_LOOKBACK
    since = max(since, connection.start_at) - POLL_OVERLAP
    source = connection.source()
    made = 0
    try:
        for order_id in source.swept_order_ids(since):
            if Record.objects.filter(
                connection=connection, kind=Kind.ORDER, source_order_id=order_id
            ).exists():
                continue
            note_order(connection, order_id, via="sweep", payload=source.fetch_order(order_id))
            made += 1
    except ConnectorError as exc:  # the next night looks again, from the same moment
        logger.warning("Sweep of connection %s stopped: %s", connection_id, exc.message)
    finally:
        source.close()
    return made


@task()
def run_backfill(backfill_id: int) -> str:
    """Read one page of a backfill (started from the API), then queue the next page at the source's pace:
    a worker interleaves the pages with live orders instead of being taken for the whole backfill. A dead
    worker's page is read again when its lease runs out; a backfill paused by a source outage tries again
    in a few minutes."""
    item = backfills.run(backfill_id, worker_id(), max_pages=1)
    if item.status == Backfill.Status.RUNNING:
        if item.lease_owner:  # another runner holds it: look again when its lease runs out
            run_backfill.using(run_after=item.lease_until).enqueue(backfill_id)
            return "leased"
        wait = timedelta(seconds=1 / backfills.pace(item.connection))
        run_backfill.using(run_after=timezone.now() + wait).enqueue(backfill_id)
    elif item.status == Backfill.Status.PAUSED:
        run_backfill.using(run_after=timezone.now() + BACKFILL_RESUME_AFTER).enqueue(backfill_id)
    return str(item.status)


#: An upload's process status is looked at again this long after a run left it pending (times the
#: follow-up's number), at most :data:`INVOICE_FOLLOW_UPS` times before the regular run takes over.
INVOICE_FOLLOW_AFTER = timedelta(seconds=2)
INVOICE_FOLLOW_UPS = 4


@task()
def answer_invoice_requests(connection_id: int, follow_up: int = 0) -> str:
    """Customers' invoice requests (bol.com): upload the booked invoices' PDFs and follow the uploads
    (see ``koppel.sync.invoice_requests``). An upload still pending is looked at again in seconds, not at
    the next scheduled run; a marketplace that is away is asked again at the next run."""
    try:
        summary = invoice_requests.run(connection_id)
    except ConnectorError as exc:
        logger.warning("Invoice requests of connection %s not read: %s", connection_id, exc.message)
        return "not-read"
    if summary.pending and follow_up < INVOICE_FOLLOW_UPS:
        when = timezone.now() + INVOICE_FOLLOW_AFTER * (follow_up + 1)
        answer_invoice_requests.using(run_after=when).enqueue(connection_id, follow_up + 1)
    return (
        f"uploaded {summary.uploaded}, waiting {summary.waiting}, pending {summary.pending}, "
        f"failed {summary.failed}"
    )
