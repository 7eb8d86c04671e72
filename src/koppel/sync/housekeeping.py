"""What django-tasks-db does not do by itself: notice dead workers and give their work back, schedule the
safety-net polls, the nightly look at open records and at orders given up on after an outage (and the daily
sweep of sources that have one) and the answers to customers' invoice requests, and re-queue records whose
task went missing."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from koppel.connections.models import Connection
from koppel.connectors import registry
from koppel.connectors.base import SourceConnector

from . import invoice_requests, pauses
from .models import Record, Schedule, State, WorkerHeartbeat
from .tasks import (
    answer_invoice_requests,
    enqueue_many,
    poll_connection,
    recheck_open,
    requeue_unavailable,
    sweep_connection,
)

logger = logging.getLogger("koppel.worker")

NIGHTLY = "nightly-open-records"
STUCK_AFTER = timedelta(minutes=10)
#: Customers' invoice requests are looked at this often per connection whose source has them.
INVOICE_REQUESTS_EVERY = timedelta(minutes=settings.INVOICE_REQUESTS_MINUTES)
INVOICE_REQUESTS = "invoice-requests-"


def heartbeat(worker_id: str) -> None:
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(pk=worker_id).update(last_seen=now)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id,
            defaults={
                "hostname": socket.gethostname()[:200],
                "pid": os.getpid(),
                "started_at": now,
                "last_seen": now,
            },
        )


def forget_worker(worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(pk=worker_id).delete()


def reap_dead_workers() -> int:
    """Tasks left RUNNING by a worker that stopped beating go back to READY; its record leases are freed."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    alive = set(WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True))
    dead = set(WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).values_list("worker_id", flat=True))
    reset = 0
    for task in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff):
        owner = task.worker_ids[-1] if task.worker_ids else ""
        if owner in alive:
            continue
        reset += DBTaskResult.objects.filter(pk=task.pk, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY, started_at=None, run_after=now
        )
        logger.warning("Task %s of dead worker %s is picked up again", task.pk, owner or "?")
    if dead:
        freed = Record.objects.filter(lease_owner__in=dead).update(lease_owner="", lease_until=None)
        if freed:
            logger.warning("Freed %d record lease(s) of dead worker(s) %s", freed, ", ".join(sorted(dead)))
        WorkerHeartbeat.objects.filter(worker_id__in=dead, last_seen__lt=cutoff).delete()
    return reset


def schedule_polls() -> int:
    """Enqueue a poll for each connection whose turn has come (at least hourly, or its own interval)."""
    now = timezone.now()
    started = 0
    due = Connection.objects.filter(active=True).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    )
    for connection in due.only("pk", "poll_minutes", "next_poll_at"):
        minutes = min(connection.poll_minutes or settings.DEFAULT_POLL_MINUTES, settings.DEFAULT_POLL_MINUTES)
        claimed = Connection.objects.filter(pk=connection.pk, next_poll_at=connection.next_poll_at).update(
            next_poll_at=now + timedelta(minutes=max(1, minutes))
        )
        if claimed:
            poll_connection.enqueue(connection.pk)
            started += 1
    return started


def next_nightly(after: datetime) -> datetime:
    local = timezone.localtime(after)
    run = timezone.make_aware(datetime.combine(local.date(), time(settings.NIGHTLY_HOUR)))
    return run if run > after else run + timedelta(days=1)


def schedule_nightly() -> int:
    now = timezone.now()
    row, _ = Schedule.objects.get_or_create(name=NIGHTLY, defaults={"next_run_at": next_nightly(now)})
    if row.next_run_at > now:
        return 0
    claimed = Schedule.objects.filter(name=NIGHTLY, next_run_at=row.next_run_at).update(
        next_run_at=next_nightly(now), last_run_at=now
    )
    if not claimed:
        return 0
    previous = row.last_run_at.isoformat() if row.last_run_at else ""
    sweeping = [kind for kind, cls in registry.sources().items() if sweeps(cls)]
    connections = list(Connection.objects.filter(active=True).values_list("pk", "source_kind"))
    for connection_id, source_kind in connections:
        recheck_open.enqueue(connection_id)
        requeue_unavailable.enqueue(connection_id)
        if source_kind in sweeping:
            sweep_connection.enqueue(connection_id, previous)
    return len(connections)


def sweeps(source: type[SourceConnector]) -> bool:
    """Whether the source has a daily sweep (overrides ``swept_order_ids``)."""
    return source.swept_order_ids is not SourceConnector.swept_order_ids


def schedule_invoice_requests() -> int:
    """Enqueue the invoice-request run of each active connection whose source has invoice requests
    (bol.com) and whose turn has come; one ``Schedule`` row per connection, claimed like the nightly job."""
    kinds = [kind for kind, cls in registry.sources().items() if invoice_requests.supported(cls)]
    ids = list(Connection.objects.filter(active=True, source_kind__in=kinds).values_list("pk", flat=True))
    started = claim_due(INVOICE_REQUESTS, ids, INVOICE_REQUESTS_EVERY)
    for pk, _last_run in started:
        answer_invoice_requests.enqueue(pk)
    return len(started)


def claim_due(prefix: str, ids: list[int], every: timedelta) -> list[tuple[int, datetime | None]]:
    """The connections among ``ids`` whose turn of the job ``prefix`` has come, each with the job's last
    run, claimed (one ``Schedule`` row per connection, moved on by a conditional update) so that of several
    workers one runs it. A connection seen for the first time is due at once."""
    if not ids:
        return []
    now = timezone.now()
    names = {f"{prefix}{pk}": pk for pk in ids}
    rows = Schedule.objects.filter(name__in=names).values_list("name", "next_run_at", "last_run_at")
    due = {name: (next_run, last_run) for name, next_run, last_run in rows}
    claimed = []
    for name, pk in names.items():
        if name not in due:
            row, _ = Schedule.objects.get_or_create(name=name, defaults={"next_run_at": now})
            due[name] = (row.next_run_at, row.last_run_at)
        next_run, last_run = due[name]
        if next_run > now:
            continue
        if Schedule.objects.filter(name=name, next_run_at=next_run).update(
            next_run_at=now + every, last_run_at=now
        ):
            claimed.append((pk, last_run))
    return claimed


def requeue_stuck() -> int:
    """Queued records nobody works on and no retry is planned for: enqueue them again (a duplicate task is
    harmless, the record lease decides)."""
    cutoff = timezone.now() - STUCK_AFTER
    stuck = (
        Record.objects.filter(state=State.QUEUED, updated_at__lt=cutoff, paused_side="")
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff))
    )
    ids = list(stuck.values_list("pk", flat=True)[:500])
    with transaction.atomic():
        Record.objects.filter(pk__in=ids).update(updated_at=timezone.now())
        return enqueue_many(ids, trigger="sweep")


#: Scheduling jobs of other apps (e.g. the marketplace's invoices), run with every housekeeping round; each
#: claims its own ``Schedule`` rows, so several workers run it harmlessly.
PERIODIC: list[Callable[[], int]] = []


def register_periodic(job: Callable[[], int]) -> None:
    if job not in PERIODIC:
        PERIODIC.append(job)


def run_once(worker_id: str) -> None:
    heartbeat(worker_id)
    reap_dead_workers()
    schedule_polls()
    schedule_nightly()
    schedule_invoice_requests()
    for job in PERIODIC:
        try:
            job()
        except Exception:  # one app's scheduling must not stop the worker's housekeeping
            logger.exception("Periodic job %s failed", getattr(job, "__name__", job))
    requeue_stuck()
    pauses.release_forgotten()
