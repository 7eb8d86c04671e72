"""Backfill ("migration"): book a source's past orders, page by page, resumable, paced to the source.

The runner reads one page of orders placed in ``[since, until)``, and in one transaction gives each new
order a record (with its payload, so the worker need not fetch it again), enqueues its booking at a lower
priority than live orders, and stores the counters and the cursor of the next page. A stop at any moment
(Ctrl-C, a dead worker, a source outage) loses at most the page being read; resuming reads it again, and the
records' unique constraint makes the repeat harmless. Orders that already have a record (booked, or waiting
with a reason) are left as they are. Memory stays flat: one page is held at a time.

Records made by a backfill skip the start-date check ("process orders from the moment of installation"
holds for everything else) and keep their payload until the shop reports a change.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.base import BackfillPage, SourceConnector
from koppel.connectors.errors import ConnectorError, OrderInvalid

from . import queue, retry
from .models import Backfill, Kind, Record, State

logger = logging.getLogger("koppel.sync")

#: Bookings from a backfill wait behind live orders (django-tasks: higher priority runs first).
BACKFILL_PRIORITY = -10
LEASE = timedelta(minutes=5)
#: A transient source failure is retried this many times in a row before the backfill pauses.
MAX_TRANSIENT_FAILURES = 8

Listener = Callable[[Backfill], None]


class Interrupted(Exception):
    """The runner was asked to stop (Ctrl-C): the backfill is paused and can be resumed."""


#: Moments Koppel takes: orders, start dates and backfills between these (a date such as 9999-12-31 in a
#: time zone west of UTC cannot even be converted to UTC; year 1 cannot be stored by every database).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
OUTSIDE = "the moment lies outside the years 2000 to 2099"


def within_reason(value: datetime) -> datetime:
    """``value`` when it lies in the years 2000 to 2099 (UTC; a naive one is taken as UTC), else
    ``ValueError``: such a date is refused at the door, never stored."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        try:
            moment = value.astimezone(UTC)
        except OverflowError:
            raise ValueError(OUTSIDE) from None
    else:
        moment = value.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(OUTSIDE)
    return value


def check_range(since: datetime, until: datetime | None) -> None:
    """``ValueError`` for a range no backfill can have: a moment outside 2000-2099, or an end not after
    the start."""
    within_reason(since)
    if until is not None and within_reason(until) <= since:
        raise ValueError("until must be after since")


def start(connection: Connection, since: datetime, until: datetime | None) -> tuple[Backfill, bool]:
    """The unfinished backfill of this range, or a new one. Returns it and whether it was resumed.
    ``ValueError`` (see :func:`check_range`) for a range that cannot be, before anything is stored."""
    check_range(since, until)
    unfinished = connection.backfills.filter(since=since, until=until).exclude(status=Backfill.Status.DONE)
    existing = unfinished.order_by("-created_at").first()
    if existing is not None:
        return existing, True
    return Backfill.objects.create(connection=connection, since=since, until=until), False


def start_in_background(
    connection: Connection, since: datetime, until: datetime | None
) -> tuple[Backfill, bool]:
    """:func:`start` for a worker to run (the API and the dashboard): a failed backfill of the range is
    tried again, and its first page is queued. Returns it and whether it was resumed."""
    with transaction.atomic():
        item, resumed = start(connection, since, until)
        Backfill.objects.filter(pk=item.pk, status=Backfill.Status.FAILED).update(
            status=Backfill.Status.PAUSED
        )
        queue.enqueue(queue.RUN_BACKFILL, item.pk)
    item.refresh_from_db()
    return item, resumed


@dataclass
class Pacer:
    """At most ``per_second`` calls a second, across the whole backfill."""

    per_second: float
    _next: float = 0.0

    def wait(self, stop: threading.Event | None = None) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted
        delay = self._next - time.monotonic()
        if delay > 0:
            sleep(delay, stop)
        self._next = max(time.monotonic(), self._next) + 1 / max(self.per_second, 0.01)


def sleep(seconds: float, stop: threading.Event | None) -> None:
    if stop is None:
        time.sleep(seconds)
    elif stop.wait(seconds):
        raise Interrupted


def claim(backfill_id: int, owner: str) -> bool:
    """Lease the backfill (one runner at a time); a finished one is not run again."""
    now = timezone.now()
    return bool(
        Backfill.objects.filter(pk=backfill_id)
        .exclude(status=Backfill.Status.DONE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
        .update(status=Backfill.Status.RUNNING, lease_owner=owner, lease_until=now + LEASE, message="")
    )


def pace(connection: Connection) -> float:
    """Pages a second: the setting, or the source's own."""
    return settings.BACKFILL_REQUESTS_PER_SECOND or connection.source_class.backfill_requests_per_second


def run(
    backfill_id: int,
    owner: str,
    *,
    listener: Listener | None = None,
    stop: threading.Event | None = None,
    max_pages: int | None = None,
) -> Backfill:
    """Read the remaining pages of a backfill (at most ``max_pages``); returns it done, paused, failed, or
    still running with its lease released when ``max_pages`` ran out. Raises ``Interrupted`` (after pausing
    it) when ``stop`` is set."""
    if not claim(backfill_id, owner):
        return Backfill.objects.get(pk=backfill_id)
    backfill = Backfill.objects.select_related("connection").get(pk=backfill_id)
    connection = backfill.connection
    source = connection.source()
    pacer = Pacer(pace(connection))
    try:
        for _ in itertools.count() if max_pages is None else range(max_pages):
            page = read_page(source, backfill, pacer, stop)
            if page is None:
                return backfill
            try:
                store_page(backfill, connection, page, owner)
            except OrderInvalid as exc:  # an order without an id: nothing to give a record, so say so
                finish(
                    backfill,
                    owner,
                    Backfill.Status.FAILED,
                    f"{exc.code}: {exc.message} (page {backfill.cursor or 1})",
                )
                return backfill
            if listener:
                listener(backfill)
            if page.next_cursor is None:
                finish(backfill, owner, Backfill.Status.DONE, "")
                return backfill
        finish(backfill, owner, Backfill.Status.RUNNING, "")
        return backfill
    except Interrupted:
        finish(backfill, owner, Backfill.Status.PAUSED, "Stopped by hand; run it again to resume")
        raise
    finally:
        source.close()


def read_page(
    source: SourceConnector, backfill: Backfill, pacer: Pacer, stop: threading.Event | None
) -> BackfillPage | None:
    """The next page, waiting out rate limits and brief outages; ``None`` when the backfill had to stop."""
    failures = 0
    while True:
        pacer.wait(stop)
        try:
            return source.backfill_page(backfill.since, backfill.until, backfill.cursor or None)
        except ConnectorError as exc:
            failures += 1
            if not exc.transient or failures > MAX_TRANSIENT_FAILURES:
                status = Backfill.Status.PAUSED if exc.transient else Backfill.Status.FAILED
                finish(backfill, backfill.lease_owner, status, f"{exc.code}: {exc.message}")
                return None
            wait = retry.backoff(failures, retry_after=exc.retry_after).total_seconds()
            logger.info("Backfill %s: %s; waiting %.1f s", backfill.pk, exc.message, wait)
            sleep(wait, stop)


def store_page(backfill: Backfill, connection: Connection, page: BackfillPage, owner: str) -> None:
    """Records for the page's new orders, their bookings queued, the counters and the cursor: one
    transaction."""
    source_class = connection.source_class
    payloads = {source_class.order_id(payload): payload for payload in page.orders}
    now = timezone.now()
    with transaction.atomic():
        known = set(
            Record.objects.filter(
                connection=connection, kind=Kind.ORDER, source_order_id__in=list(payloads)
            ).values_list("source_order_id", flat=True)
        )
        new = [
            Record(
                connection=connection,
                source_order_id=order_id,
                state=State.QUEUED,
                received_via="backfill",
                backfill=backfill,
                payload=payload,
                payload_fetched_at=now,
                created_at=now,
            )
            for order_id, payload in payloads.items()
            if order_id not in known
        ]
        Record.objects.bulk_create(new, ignore_conflicts=True)
        created = Record.objects.filter(
            connection=connection, backfill=backfill, source_order_id__in=[r.source_order_id for r in new]
        ).values_list("pk", flat=True)
        for record_id in created:
            queue.enqueue(queue.PROCESS_RECORD, record_id, "backfill", priority=BACKFILL_PRIORITY)
        backfill.cursor = page.next_cursor or ""
        backfill.pages_read += 1
        backfill.orders_seen += len(payloads)
        backfill.orders_new += len(new)
        backfill.orders_known += len(payloads) - len(new)
        if page.total is not None:
            backfill.orders_total = page.total
        backfill.lease_until = now + LEASE
        Backfill.objects.filter(pk=backfill.pk, lease_owner=owner).update(
            cursor=backfill.cursor,
            pages_read=backfill.pages_read,
            orders_seen=backfill.orders_seen,
            orders_new=backfill.orders_new,
            orders_known=backfill.orders_known,
            orders_total=backfill.orders_total,
            lease_until=backfill.lease_until,
            updated_at=now,
        )


def finish(backfill: Backfill, owner: str, status: str, message: str) -> None:
    backfill.status, backfill.message = status, message
    backfill.finished_at = timezone.now() if status == Backfill.Status.DONE else None
    Backfill.objects.filter(pk=backfill.pk).update(
        status=status,
        message=message,
        finished_at=backfill.finished_at,
        lease_owner="",
        lease_until=None,
        updated_at=timezone.now(),
    )


def progress(backfill: Backfill) -> dict[str, Any]:
    """What the API and the terminal show: pages and orders read, and how the new records are doing."""
    states = dict(
        Record.objects.filter(backfill=backfill).values_list("state").annotate(n=Count("pk")).order_by()
    )
    settled = sum(n for state, n in states.items() if state != State.QUEUED)
    return {
        "id": backfill.pk,
        "connection": backfill.connection_id,
        "status": backfill.status,
        "since": backfill.since,
        "until": backfill.until,
        "pages_read": backfill.pages_read,
        "orders_seen": backfill.orders_seen,
        "orders_new": backfill.orders_new,
        "orders_known": backfill.orders_known,
        "orders_total": backfill.orders_total,
        "records": {state.value: states.get(state.value, 0) for state in State},
        "settled": settled,
        "reading_done": backfill.status == Backfill.Status.DONE,
        "message": backfill.message,
        "created_at": backfill.created_at,
        "finished_at": backfill.finished_at,
    }
