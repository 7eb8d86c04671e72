"""Rate-limit pauses: waiting costs nothing.

When a system answers "slow down" (429, Factuursturen's exhausted hourly budget), the connection pauses on
that side (``<side>_paused_until``). The orders that come up meanwhile are *parked*: the record says it
waits (``paused_side``), without an attempt, without a task of its own. The pause ends in one of two ways:

- a short wait is waited out by the worker that met it (it sleeps and asks again, see
  :func:`koppel.sync.pipeline.process`), and releases the parked orders when the system answers;
- a long wait (an hourly limit) is ended by one task, :func:`koppel.sync.tasks.release_pause`, at the end of
  the pause (``<side>_release_at`` says one is planned).

Either way, releasing gives each parked order one task. The housekeeper releases what a dead worker left.
A system that keeps failing pauses its side the same way (the circuit breaker, :mod:`koppel.sync.breaker`);
its pause's end releases one order, the probe, and the probe's success releases the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.errors import Side

from . import queue
from .models import Record, State
from .queue import enqueue_many

#: Records released per transaction.
RELEASE_CHUNK = 200


def paused_field(side: Side) -> str:
    return f"{side}_paused_until"


def release_field(side: Side) -> str:
    return f"{side}_release_at"


def probe_trigger(side: Side) -> str:
    """The trigger of the one order a half-open breaker lets through (see ``koppel.sync.breaker``)."""
    return f"probe:{side}"


def pause(connection_id: int, side: Side, seconds: float) -> datetime:
    """Pause the connection on ``side`` for ``seconds`` (or longer, if it already is). Returns the end."""
    until = timezone.now() + timedelta(seconds=seconds)
    field = paused_field(side)
    Connection.objects.filter(pk=connection_id).filter(
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": until})
    ).update(**{field: until})
    return Connection.objects.values_list(field, flat=True).get(pk=connection_id) or until


def pause_end(connection_id: int, side: Side) -> datetime | None:
    """The end of the side's pause, or ``None`` when it is not paused (any more)."""
    until = Connection.objects.values_list(paused_field(side), flat=True).get(pk=connection_id)
    return until if until is not None and until > timezone.now() else None


def plan_release(connection_id: int, side: Side, until: datetime) -> None:
    """Make sure one task releases the parked orders when the pause ends (one row for the pause)."""
    field = release_field(side)
    planned = (
        Connection.objects.filter(pk=connection_id)
        .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": until}))
        .update(**{field: until})
    )
    if planned:
        queue.enqueue(queue.RELEASE_PAUSE, connection_id, side, until.isoformat(), run_after=until)


def parked(connection_id: int, side: Side, *, met_the_limit: bool) -> None:
    """A record was just parked. Whoever met the limit and waits no longer itself plans the release; one
    that only found the pause leaves that to whoever made it. If the pause ended meanwhile (its releaser
    may have run a moment ago), release now."""
    until = pause_end(connection_id, side)
    if until is None:
        release(connection_id, side)
    elif met_the_limit:
        plan_release(connection_id, side, until)


def release(connection_id: int, side: Side) -> int:
    """The pause on ``side`` is over: every order parked behind it gets its task, or, behind a breaker that
    tripped (``<side>_failures`` at the threshold), the oldest one only, as the probe. Returns how many."""
    until, failures = Connection.objects.values_list(paused_field(side), f"{side}_failures").get(
        pk=connection_id
    )
    if until is not None and until > timezone.now():
        return 0  # extended meanwhile: whoever extended it releases, or its planned task does
    waiting = Record.objects.filter(connection_id=connection_id, paused_side=side, state=State.QUEUED)
    released = 0
    ids = list(waiting.order_by("created_at", "pk").values_list("pk", flat=True))
    trigger = "resume"
    if failures >= settings.BREAKER_THRESHOLD:  # the breaker is half-open: one order probes the system
        ids, trigger = ids[:1], probe_trigger(side)
    for start in range(0, len(ids), RELEASE_CHUNK):
        with transaction.atomic():  # each chunk: one read, one UPDATE and one INSERT of its tasks
            still = Record.objects.select_for_update().filter(
                pk__in=ids[start : start + RELEASE_CHUNK], paused_side=side
            )
            chunk = list(still.values_list("pk", flat=True))
            Record.objects.filter(pk__in=chunk).update(paused_side="", next_attempt_at=None)
            released += enqueue_many(chunk, trigger=trigger)
    return released


def run_planned_release(connection_id: int, side: Side, planned_for: str) -> int:
    """The task at a pause's end. A task made stale by a later plan does nothing, and so does one whose pause
    was extended since: whoever extended it met the limit again, and releases (or plans) in turn."""
    field = release_field(side)
    planned = datetime.fromisoformat(planned_for)
    if not Connection.objects.filter(pk=connection_id, **{field: planned}).update(**{field: None}):
        return 0
    return release(connection_id, side)


def release_forgotten() -> int:
    """The housekeeper's safety net: orders parked behind a pause that ended a while ago (the worker that
    waited it out died) are released."""
    grace = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    released = 0
    pairs = (
        Record.objects.filter(state=State.QUEUED)
        .exclude(paused_side="")
        .values_list("connection_id", "paused_side")
        .distinct()
    )
    for connection_id, side in list(pairs):
        until = Connection.objects.filter(pk=connection_id).values_list(paused_field(side), flat=True).first()
        if until is None or until < grace:
            released += release(connection_id, side)
    return released
