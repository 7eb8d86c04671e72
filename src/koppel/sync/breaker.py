"""The circuit breaker: a system that keeps failing pauses its side of the connection, like a rate limit.

It is the rate-limit pause's sibling and uses its row and its release (:mod:`koppel.sync.pauses`): the
same ``<side>_paused_until``, the same parked records (``paused_side``, no attempt, no task each) and the
same planned release task. What the breaker adds, per side of a connection:

- ``<side>_failures``: unavailable answers in a row (timeouts, connection errors, 5xx; a 4xx refusal of
  one order is an answer), and ``<side>_down_since``, the first of them. Any answer resets both.
- At ``BREAKER_THRESHOLD`` failures in a row the side *trips*: it pauses for ``BREAKER_BASE_SECONDS``,
  doubling with each failure since, up to ``BREAKER_CAP_SECONDS``. The order that tripped it and every
  order that comes up meanwhile wait behind the pause, spending none of their tries.
- When the pause ends, the release lets *one* order through (half-open: the probe). Its failure trips the
  side again, for longer; its success (any answer) closes the breaker and releases every waiting order in
  bulk.
- A side down longer than ``OUTAGE_HORIZON_HOURS`` gives up: its waiting orders go to ``error`` with
  ``*_UNAVAILABLE``, and the nightly job (:func:`koppel.sync.tasks.requeue_unavailable`) tries them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.errors import Side
from koppel.documents.i18n import Text as _
from koppel.documents.i18n import stored

from . import pauses
from .models import Record, State
from .queue import enqueue_many

#: The codes of orders given up on after an outage past the horizon, which the nightly job tries again.
GIVEN_UP_CODES = ("TARGET_UNAVAILABLE", "SOURCE_UNAVAILABLE")


@dataclass(frozen=True, slots=True)
class Streak:
    """One more unavailable answer counted: how many in a row, since when, and the side's pause (if the
    side was paused already, the answer came from an order that had not seen the pause yet)."""

    failures: int
    down_since: datetime
    paused_until: datetime | None
    counted: bool

    @property
    def tripped(self) -> bool:
        return self.counted and self.failures >= settings.BREAKER_THRESHOLD


def failures_field(side: Side) -> str:
    return f"{side}_failures"


def down_field(side: Side) -> str:
    return f"{side}_down_since"


def horizon() -> timedelta:
    return timedelta(hours=settings.OUTAGE_HORIZON_HOURS)


def count_failure(connection: Connection, side: Side) -> Streak:
    """Count an unavailable answer of ``side`` (one conditional UPDATE and one read). While the side is
    paused nothing is counted: the answer came from an order of a batch read before the pause. The streak
    is copied onto ``connection``, the worker's copy its batch shares, so that the batch's next answer
    clears it (:func:`answered` reads that copy)."""
    now, connection_id = timezone.now(), connection.pk
    paused, down = pauses.paused_field(side), down_field(side)
    counted = (
        Connection.objects.filter(pk=connection_id)
        .filter(Q(**{f"{paused}__isnull": True}) | Q(**{f"{paused}__lte": now}))
        .update(
            **{
                failures_field(side): F(failures_field(side)) + 1,
                down: Coalesce(F(down), Value(now), output_field=DateTimeField()),
            }
        )
    )
    failures, down_since, until = Connection.objects.values_list(failures_field(side), down, paused).get(
        pk=connection_id
    )
    streak = Streak(failures, down_since or now, until if until and until > now else None, bool(counted))
    setattr(connection, failures_field(side), streak.failures)
    setattr(connection, down, streak.down_since)
    return streak


def probe_delay(failures: int) -> float:
    """Seconds until the next probe: the base at the threshold, doubling with each failure since."""
    doublings = max(0, failures - settings.BREAKER_THRESHOLD)
    return min(settings.BREAKER_CAP_SECONDS, settings.BREAKER_BASE_SECONDS * 2 ** min(doublings, 30))


def trip(connection_id: int, side: Side, failures: int) -> datetime:
    """Open the breaker: pause the side until the next probe. Returns the pause's end."""
    return pauses.pause(connection_id, side, probe_delay(failures))


def answered(connection: Connection, *sides: Side) -> None:
    """The systems of ``sides`` (default both: an order was booked) answered. A side with failures counts
    from zero again (one conditional UPDATE, touching nothing in the usual case); if its breaker had tripped
    and its pause is over (this was the probe, or an order that came in meanwhile), every order waiting
    behind it is released."""
    sides = sides or ("target", "source")
    if not any(getattr(connection, failures_field(side)) for side in sides):
        # As the worker read the connection (at its batch's start): no failures to clear, and no statement
        # for every order booked. A streak another worker began since is cleared by the next answer after.
        return
    failing = Q()
    for side in sides:
        failing |= Q(**{f"{failures_field(side)}__gt": 0})
    cleared = {
        field: value
        for side in sides
        for field, value in ((failures_field(side), 0), (down_field(side), None))
    }
    if Connection.objects.filter(pk=connection.pk).filter(failing).update(**cleared):
        for side in sides:
            pauses.release(connection.pk, side)


def past_horizon(streak: Streak, now: datetime) -> bool:
    return now - streak.down_since >= horizon()


def give_up(connection_id: int, side: Side, code: str, message: str) -> int:
    """The side has been down past the horizon: the orders waiting behind it go to error, in one UPDATE,
    for the nightly job to try again. Returns how many."""
    return Record.objects.filter(connection_id=connection_id, paused_side=side, state=State.QUEUED).update(
        state=State.ERROR,
        error_code=code,
        message=message,
        message_text=stored(message),
        paused_side="",
        next_attempt_at=None,
        updated_at=timezone.now(),
    )


def requeue_given_up(connection_id: int) -> int:
    """The nightly job's part: every order of the connection in error because a system did not answer is
    queued again, in chunks of one UPDATE and one INSERT of tasks. Returns how many."""
    ids = list(
        Record.objects.filter(
            connection_id=connection_id, state=State.ERROR, error_code__in=GIVEN_UP_CODES
        ).values_list("pk", flat=True)
    )
    message = _("Queued again by the nightly job after the outage")
    queued = 0
    for start in range(0, len(ids), pauses.RELEASE_CHUNK):
        with transaction.atomic():
            chunk = list(
                Record.objects.select_for_update()
                .filter(pk__in=ids[start : start + pauses.RELEASE_CHUNK], state=State.ERROR)
                .values_list("pk", flat=True)
            )
            Record.objects.filter(pk__in=chunk).update(
                state=State.QUEUED,
                attempts=0,
                next_attempt_at=None,
                error_code="",
                message=message,
                message_text=stored(message),
                updated_at=timezone.now(),
            )
            queued += enqueue_many(chunk, trigger="nightly")
    return queued


def clock(moment: datetime) -> str:
    """A moment as the merchant reads it on the record: 10:02 today, else with its date."""
    local = timezone.localtime(moment)
    if local.date() == timezone.localtime().date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def waiting_reason(system: str, down_since: datetime, until: datetime) -> _:
    return _(
        "%(system)s has not answered since %(since)s; Koppel tries again at %(until)s",
        system=system,
        since=clock(down_since),
        until=f"{timezone.localtime(until):%H:%M:%S}",
    )


def gave_up_reason(system: str, down_since: datetime) -> _:
    return _(
        "%(system)s has not answered since %(since)s, longer than %(hours)s hours: Koppel stopped trying; "
        "the nightly job tries again, or press Process",
        system=system,
        since=clock(down_since),
        hours=f"{settings.OUTAGE_HORIZON_HOURS:g}",
    )
