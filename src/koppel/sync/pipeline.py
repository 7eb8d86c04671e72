"""Process one record: fetch the order, pre-check it, find or create the debtor, book the invoice.

Exactly once rests on four things, outermost first:

1. one record per (connection, source order id), enforced by a unique constraint;
2. a lease on the record, taken with a conditional UPDATE, so one worker at a time works on it;
3. before an invoice is created the target is searched for the order's reference, so a crash between
   the target's answer and our commit finds the invoice instead of booking it again;
4. ``booking_started_at`` is committed before the invoice is sent, which tells a recovered booking (ours)
   from an invoice someone else made (``ALREADY_PROCESSED``).

A create whose answer never came (``in_doubt_since``) may be saved by the target late: until the target
shows it, or the doubt window has passed, the record waits and searches again instead of creating again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from koppel.connections import health
from koppel.connections.models import Connection
from koppel.connectors.base import BookedInvoice, Debtor, TargetConnector
from koppel.connectors.errors import AuthFailed, ConnectorError, RateLimited, Side, Unavailable
from koppel.connectors.http import CallLog
from koppel.documents.checks import (
    WAITING_CODES,
    CheckResult,
    check_icp_vat_number,
    check_start_date,
    check_status,
    check_total,
    check_vat_codes,
    first_failure,
    invoice_for,
)
from koppel.documents.codes import Code
from koppel.documents.i18n import Text as _
from koppel.documents.i18n import stored
from koppel.documents.model import Invoice, Order, prepaid_note
from koppel.documents.money import fmt

from . import breaker, kinds, pauses, profiling, retry, statements
from .models import Attempt, DebtorClaim, Kind, Record, State
from .queue import enqueue_process

logger = logging.getLogger("koppel.sync")

DEBTOR_CLAIM_PATIENCE = timedelta(seconds=60)
#: A payload the source gave us this recently (a poll or backfill page) is used as is, not fetched again.
PAYLOAD_FRESH_FOR = timedelta(seconds=60)


class Busy(Exception):
    """Someone else is doing the work this needs (e.g. creating the same debtor): try again shortly."""

    def __init__(self, message: str, retry_in: float = 2.0) -> None:
        super().__init__(message)
        self.retry_in = retry_in


@dataclass
class Outcome:
    state: State
    code: str = ""
    message: str = ""
    retry_at: datetime | None = None
    counts_as_attempt: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    #: The record waits, without a task, for the connection's pause on this side to end.
    parked: Side | None = None
    #: It was parked because it met the rate limit itself (not only found the pause): it plans the release.
    met_the_limit: bool = False

    @property
    def label(self) -> str:
        if self.parked:
            return "waiting"
        return "retry" if self.retry_at else str(self.state)


def claim(record_id: int, owner: str) -> bool:
    """Lease a queued record whose turn has come. Atomic on SQLite and PostgreSQL alike."""
    now = timezone.now()
    return (
        Record.objects.filter(pk=record_id, state=State.QUEUED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)))
        .update(lease_owner=owner, lease_until=now + timedelta(seconds=settings.RECORD_LEASE_SECONDS))
        == 1
    )


def lease_many(record_ids: Sequence[int], owner: str) -> dict[int, Record]:
    """Lease every queued record of ``record_ids`` whose turn has come, in one conditional UPDATE, and read
    the ones now ours in one query (a worker's batch of tasks). The same conditions as :func:`claim`; the
    lease's exact end tells this batch's leases from any other."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.RECORD_LEASE_SECONDS)
    due = (
        Record.objects.filter(pk__in=record_ids, state=State.QUEUED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)))
    )
    if not due.update(lease_owner=owner, lease_until=until):
        return {}
    leased = Record.objects.select_related("connection", "connection__account").filter(
        pk__in=record_ids, lease_owner=owner, lease_until=until
    )
    records: dict[int, Record] = {}
    shared: dict[int, Connection] = {}
    for record in leased:  # one Connection per connection: what one order learns (a pause) the next sees
        record.connection = shared.setdefault(record.connection_id, record.connection)
        payload_written(record)
        records[record.pk] = record
    return records


_NOT_READ = object()


def payload_written(record: Record) -> None:
    """What ``record.payload`` holds now is what the database holds (read with the record, or written)."""
    record._written_payload = record.payload  # type: ignore[attr-defined]


def unwritten_payload(record: Record) -> dict[str, Any]:
    """The payload's fields for the next update, unless the database holds that payload already (the
    webhook body the record was read with, or one written before): a large order's JSON is encoded and
    sent once, not with each of an attempt's updates."""
    if getattr(record, "_written_payload", _NOT_READ) is record.payload:
        return {}
    return {"payload": record.payload, "payload_fetched_at": record.payload_fetched_at}


def keep_lease(record: Record, owner: str) -> bool:
    """A record leased with a batch waits its turn: renew its lease when half of it has gone (the orders
    before it may have waited out rate limits). False when the lease was lost meanwhile."""
    now = timezone.now()
    lease = timedelta(seconds=settings.RECORD_LEASE_SECONDS)
    if record.lease_until is None or record.lease_until - now > lease / 2:
        return True
    until = now + lease
    kept = Record.objects.filter(pk=record.pk, lease_owner=owner, lease_until=record.lease_until).update(
        lease_until=until
    )
    record.lease_until = until
    return bool(kept)


def release_leases(records: Iterable[Record], owner: str) -> int:
    """Give back the leases of records a stopping worker did not get to."""
    pks = [record.pk for record in records]
    return Record.objects.filter(pk__in=pks, lease_owner=owner).update(lease_owner="", lease_until=None)


@profiling.profiled
def process(record_id: int, owner: str, trigger: str = "", leased: Record | None = None) -> Outcome | None:
    """Run one attempt on a record. Returns ``None`` when the record was not ours to process. ``leased``:
    the record, leased already by this worker (:func:`lease_many`)."""
    with profiling.phase("claim"):
        if leased is not None:
            if not keep_lease(leased, owner):
                return None
            record = leased
        else:
            if not claim(record_id, owner):
                return None
            record = Record.objects.select_related("connection", "connection__account").get(pk=record_id)
            payload_written(record)
    started = timezone.now()
    log = CallLog()
    profiling.watch(log)
    waited = 0.0
    probing: Side | None = None  # the side whose rate limit this worker waits out itself
    while True:
        try:
            outcome = attempt(record, log, owner, probing)
        except RateLimited as exc:
            wait = retry.rate_limit_wait(exc.retry_after).total_seconds()
            until = pauses.pause(record.connection_id, exc.side, wait)
            setattr(record.connection, pauses.paused_field(exc.side), until)
            if retry.wait_inline(wait, waited):
                time.sleep(wait)
                waited, probing = waited + wait, exc.side
                continue
            outcome = park(record, exc, until)
        except ConnectorError as exc:
            outcome = failure(record, exc, log)
        except Busy as exc:
            outcome = Outcome(
                State.QUEUED, message=str(exc), retry_at=timezone.now() + timedelta(seconds=exc.retry_in)
            )
        except Exception as exc:
            logger.exception("Record %s failed unexpectedly", record_id)
            outcome = Outcome(
                State.ERROR, Code.INTERNAL_ERROR, f"Unexpected error: {type(exc).__name__}: {exc}"
            )
        break
    if waited:
        outcome.message = _(
            "%(message)s (after waiting %(seconds)s s for a rate limit)",
            message=outcome.message,
            seconds=f"{waited:.1f}",
        )
    with profiling.phase("outcome"):
        finish(
            record,
            outcome,
            owner,
            Attempt(started_at=started, trigger=trigger, worker=owner, calls=log.calls),
        )
        if probing and outcome.parked != probing:  # the system answered again: the orders behind it go on
            pauses.release(record.connection_id, probing)
        if outcome.state == State.HANDLED:
            health.working_again(record.connection)
            breaker.answered(record.connection)
            kinds.booked(record)
        elif trigger.startswith("probe:") and not outcome.parked:  # neither open nor closed: probe again
            pauses.release(record.connection_id, trigger.removeprefix("probe:"))  # type: ignore[arg-type]
    return outcome


def attempt(record: Record, log: CallLog, owner: str, probing: Side | None = None) -> Outcome:
    connection = record.connection
    now = timezone.now()
    if not connection.active:
        return Outcome(
            State.OPEN, Code.CONNECTION_OFF, _("The connection is off; booked when it is switched on")
        )
    if probing != "target" and (waiting := paused("target", connection, now)):
        return waiting
    return kinds.handler(record.kind)(record, log, owner, probing)


def attempt_order(record: Record, log: CallLog, owner: str, probing: Side | None = None) -> Outcome:
    """An order (or shipment): fetch it, check it, find or create the debtor, book the invoice."""
    connection = record.connection
    now = timezone.now()
    if not has_fresh_payload(record, now):
        if probing != "source" and (waiting := paused("source", connection, now)):
            return waiting
        with profiling.phase("fetch"):
            log.begin("source")
            source = connection.source(log)
            try:
                record.payload = source.fetch_order(record.source_order_id)
            finally:
                source.close()
        record.payload_fetched_at = now
    with profiling.phase("checks"):
        payload = record.payload
        order = connection.parse_order(payload)
        summarize(record, order)

        ctx = connection.check_context(vat_rates=None)
        # A backfill books past orders on purpose: the start date holds for every other way in.
        checks = (check_status,) if record.received_via == "backfill" else (check_status, check_start_date)
        for check in checks:
            result = check(order, ctx)
            if not result.passed:
                state = State.OPEN if result.code in WAITING_CODES else State.SKIPPED
                return Outcome(state, result.code, result.message)
        failed = first_failure(
            [check_total(order, ctx), *check_icp_vat_number(order, ctx), *ctx.vat_rule_checks(order)]
        )
        if failed:
            return Outcome(State.ERROR, failed.code, failed.message)

    with profiling.phase("invoice"):  # the checks and debtor phases inside book() pause it
        log.begin("target")
        target = connection.target(log)
        try:
            return book(record, order, connection, target, owner)
        finally:
            target.close()


def paused(side: Side, connection: Connection, now: datetime) -> Outcome | None:
    """While a system's rate limit or its breaker pauses the connection, the order is parked behind the
    pause."""
    until = getattr(connection, pauses.paused_field(side))
    if until is None or until <= now:
        return None
    down_since = getattr(connection, breaker.down_field(side))
    if down_since is not None and getattr(connection, breaker.failures_field(side)) >= (
        settings.BREAKER_THRESHOLD
    ):
        return outage_outcome(
            side, until, breaker.waiting_reason(system_label(connection, side), down_since, until)
        )
    system = system_label(connection, side)
    return waiting_outcome(side, until, _("%(system)s asked us to wait (rate limit)", system=system))


def system_label(connection: Connection, side: Side) -> str:
    return (connection.target_class if side == "target" else connection.source_class).label


def park(record: Record, exc: RateLimited, until: datetime) -> Outcome:
    """The system asked us to wait longer than a worker waits by itself. That is no failure, so it uses up
    none of the record's tries; the whole connection pauses on that side, so the other orders wait too
    instead of all asking again."""
    outcome = waiting_outcome(exc.side, until, _("Asked to wait: %(message)s", message=exc.message))
    outcome.met_the_limit = True
    return outcome


def outage_outcome(side: Side, until: datetime, reason: str) -> Outcome:
    return Outcome(State.QUEUED, message=reason, retry_at=until, parked=side)


def waiting_outcome(side: Side, until: datetime, reason: str) -> Outcome:
    return Outcome(
        State.QUEUED,
        message=_(
            "%(reason)s; waits until %(until)s", reason=reason, until=f"{timezone.localtime(until):%H:%M:%S}"
        ),
        retry_at=until,
        parked=side,
    )


def has_fresh_payload(record: Record, now: datetime) -> bool:
    """A payload a poll page delivered moments ago, or a backfill page (past orders rarely change, and a
    change reported by the shop marks the payload stale), is used as is, unless it lacks what the mapping
    reads (``payload_complete``: a Shopify gift-card order without its transactions)."""
    fetched = record.payload_fetched_at
    if record.payload is None or fetched is None:
        return False
    if not record.connection.source_class.payload_complete(record.payload):
        return False
    return record.received_via == "backfill" or now - fetched < PAYLOAD_FRESH_FOR


def book(
    record: Record, order: Order, connection: Connection, target: TargetConnector, owner: str
) -> Outcome:
    with profiling.phase("checks"):
        failed = check_vat_rates(order, connection, target)
    if failed:
        return Outcome(State.ERROR, failed.code, failed.message)

    invoice = invoice_for(order, connection.check_context(vat_rates=None))
    record.document = invoice.as_dict()
    existing = target.find_invoice(invoice)
    if existing is not None:
        return found_booked(
            record,
            existing,
            recovered=_(
                "Booked (found invoice %(invoice)s after an interrupted attempt)",
                invoice=existing.number or existing.id,
            ),
            again=_(
                "%(target)s already has invoice %(invoice)s for order %(order)s; not booked again",
                target=target.label,
                invoice=existing.number or existing.id,
                order=order.number,
            ),
        )

    if waiting := still_in_doubt(record, target.label, timezone.now()):
        return waiting

    with profiling.phase("debtor"):
        debtor = obtain_debtor(connection, target, invoice, owner)
    record.target_debtor_id = debtor.id
    booked = create_once(record, owner, lambda: target.create_invoice(invoice, debtor))
    if booked.draft:
        message = _("Saved in %(target)s as a draft (%(invoice)s)", target=target.label, invoice=booked.id)
    else:
        message = _(
            "Booked as %(target)s invoice %(invoice)s",
            target=target.label,
            invoice=booked.number or booked.id,
        )
    if invoice.rounding_difference:
        message = _(
            "%(message)s; the shop's rounding differs from per-line VAT by %(difference)s, booked on a "
            "separate rounding line",
            message=message,
            difference=fmt(invoice.rounding_difference),
        )
    if invoice.prepaid:
        message = _("%(message)s; %(note)s", message=message, note=prepaid_note(invoice))
    if any("VIES could not be asked" in line.vat_reason for line in invoice.lines):
        message = _(
            "%(message)s; VIES could not be asked about the VAT number, so it was booked on the check of "
            "its format and check digits",
            message=message,
        )
    if booked.note:
        message = _("%(message)s; %(note)s", message=message, note=booked.note)
    return Outcome(
        State.HANDLED,
        message=message,
        fields={"target_invoice_id": booked.id, "target_invoice_number": booked.number},
    )


def found_booked(record: Record, existing: BookedInvoice, *, recovered: Any, again: Any) -> Outcome:
    """The target already has the document: ours when this record began booking it (an interrupted
    attempt, ``recovered``), else someone else's (``again``: skipped, ``ALREADY_PROCESSED``)."""
    record.in_doubt_since = None
    ids = {"target_invoice_id": existing.id, "target_invoice_number": existing.number}
    if record.booking_started_at is not None:
        return Outcome(State.HANDLED, message=recovered, fields=ids)
    return Outcome(State.SKIPPED, Code.ALREADY_PROCESSED, again, fields=ids)


def create_once(record: Record, owner: str, create: Callable[[], BookedInvoice]) -> BookedInvoice:
    """Send a create to the target with the record's booking marks committed first (``booking_started_at``
    tells a recovered booking from someone else's; ``in_doubt_since`` stops a second create while the
    outcome is unknown), and clear the doubt once the target has answered or refused.

    Nothing is sent when the lease is no longer ours: a newer order arrived meanwhile and the record was
    taken back to book that (``koppel.sync.services.replace_queued``), or the lease ran out."""
    record.booking_started_at = record.in_doubt_since = timezone.now()
    marked = Record.objects.update_leased(
        record.pk,
        owner,
        booking_started_at=record.booking_started_at,
        in_doubt_since=record.in_doubt_since,
        target_debtor_id=record.target_debtor_id,
        **unwritten_payload(record),
    )
    if not marked:
        raise Busy("The record was taken back (a newer order arrived, or the lease ran out): not booked")
    payload_written(record)
    try:
        booked = create()
    except ConnectorError as exc:
        if not (isinstance(exc, Unavailable) and exc.outcome_unknown):
            record.in_doubt_since = None  # refused, or never sent: nothing was created
        raise
    record.in_doubt_since = None
    return booked


def check_vat_rates(order: Order, connection: Connection, target: TargetConnector) -> CheckResult | None:
    """Does the administration have every VAT rate of the order? The rates are remembered for a while; a
    rate missing from the remembered ones is looked up once more (the merchant may just have added it)."""
    cached = connection.cached_vat_rates()
    rates = cached if cached is not None else target.vat_rates()
    failed = first_failure([check_vat_codes(order, connection.check_context(vat_rates=rates))])
    if failed and cached is not None:
        rates = target.vat_rates()
        failed = first_failure([check_vat_codes(order, connection.check_context(vat_rates=rates))])
    if cached is None or rates != cached:
        connection.remember_vat_rates(rates)
    return failed


def still_in_doubt(record: Record, target_label: str, now: datetime) -> Outcome | None:
    """A create sent without a known outcome, not (yet) visible in the target: search again shortly, and
    create again only once the doubt window has passed."""
    since = record.in_doubt_since
    if since is None:
        return None
    until = since + timedelta(seconds=settings.BOOKING_DOUBT_SECONDS)
    if now >= until:
        return None
    sent, searching_until = (f"{timezone.localtime(moment):%H:%M:%S}" for moment in (since, until))
    return Outcome(
        State.QUEUED,
        Code.BOOKING_IN_DOUBT,
        _(
            "In doubt: the invoice was sent to %(target)s at %(sent)s without an answer, and it is not in "
            "the administration yet. Searching again until %(until)s before booking it again.",
            target=target_label,
            sent=sent,
            until=searching_until,
        ),
        retry_at=min(until, now + timedelta(seconds=settings.BOOKING_DOUBT_RECHECK_SECONDS)),
    )


def obtain_debtor(connection: Connection, target: TargetConnector, invoice: Invoice, owner: str) -> Debtor:
    """The target's debtor for this customer: found by e-mail, else created once (never modified)."""
    found = target.find_debtor(invoice.customer)
    if found is not None:
        return found
    email = invoice.customer.email.strip().lower()
    if not email:
        return target.create_debtor(invoice)
    now = timezone.now()
    try:
        with transaction.atomic():
            claim_row, created = DebtorClaim.objects.get_or_create(
                connection=connection, email=email, defaults={"claimed_by": owner, "claimed_at": now}
            )
    except IntegrityError:
        claim_row, created = DebtorClaim.objects.get(connection=connection, email=email), False
    if not created:
        if claim_row.debtor_id:
            return Debtor(id=claim_row.debtor_id, email=email, name=invoice.customer.full_name)
        if claim_row.claimed_by != owner and claim_row.claimed_at > now - DEBTOR_CLAIM_PATIENCE:
            raise Busy(f"Debtor {email} is being created by another worker")
        taken = DebtorClaim.objects.filter(pk=claim_row.pk, claimed_at=claim_row.claimed_at).update(
            claimed_by=owner, claimed_at=now
        )
        if not taken:
            raise Busy(f"Debtor {email} is being created by another worker")
    debtor = target.create_debtor(invoice)
    DebtorClaim.objects.filter(pk=claim_row.pk).update(debtor_id=debtor.id)
    return debtor


def failure(record: Record, exc: ConnectorError, log: CallLog | None = None) -> Outcome:
    if isinstance(exc, AuthFailed):  # the dot turns red, and the merchant gets one e-mail, not one per order
        health.credentials_refused(record.connection, exc.side, exc.message)
    if not exc.transient:
        breaker.answered(record.connection, exc.side)  # a refusal is an answer
        return Outcome(State.ERROR, exc.code, exc.message)
    if isinstance(exc, Unavailable):
        if log is not None and log.answered(exc.side):  # it answered this order's other calls: no outage
            breaker.answered(record.connection, exc.side)
        elif (waiting := outage(record, exc)) is not None:
            return waiting
    tries = record.attempts + 1
    if retry.exhausted(tries) and not keeps_trying(record, exc):
        return Outcome(
            State.ERROR,
            exc.code,
            _("Gave up after %(tries)s attempts: %(message)s", tries=tries, message=exc.message),
            counts_as_attempt=True,
        )
    delay = retry.backoff(tries, retry_after=exc.retry_after)
    if isinstance(exc, Unavailable):  # the breaker guards a system that is down, not the order's backoff
        delay = min(delay, timedelta(seconds=settings.RETRY_UNAVAILABLE_CAP_SECONDS))
    retry_at = timezone.now() + delay
    message = _("Attempt %(tries)s failed, retrying: %(message)s", tries=tries, message=exc.message)
    if record.in_doubt_since:
        message = _(
            "%(message)s; the invoice may have been saved all the same: Koppel searches for it before it "
            "books again",
            message=message,
        )
    return Outcome(
        State.QUEUED,
        exc.code,
        message,
        retry_at,
        counts_as_attempt=True,
    )


def outage(record: Record, exc: Unavailable) -> Outcome | None:
    """Count the unavailable answer on the connection's side (the breaker). The order waits behind the
    side's pause, spending no try, when this answer tripped the breaker or the side was paused already;
    a side down past the horizon gives up, with every order waiting behind it. ``None``: an order's own
    retry."""
    connection, side = record.connection, exc.side
    streak = breaker.count_failure(connection, side)
    system, now = system_label(connection, side), timezone.now()
    if breaker.past_horizon(streak, now):
        reason = breaker.gave_up_reason(system, streak.down_since)
        breaker.give_up(connection.pk, side, str(exc.code), reason)
        message = _("%(reason)s (%(message)s)", reason=reason, message=exc.message)
        return Outcome(State.ERROR, exc.code, message, counts_as_attempt=True)
    if streak.tripped:
        until = breaker.trip(connection.pk, side, streak.failures)
    elif streak.paused_until is not None:
        until = streak.paused_until
    else:
        return None
    setattr(connection, pauses.paused_field(side), until)  # the rest of the batch waits without a call
    outcome = outage_outcome(side, until, breaker.waiting_reason(system, streak.down_since, until))
    outcome.met_the_limit = streak.tripped
    return outcome


def keeps_trying(record: Record, exc: ConnectorError) -> bool:
    """An order whose tries ran out on a system that did not answer keeps trying (at most a probe's wait
    apart) until it is older than the outage horizon: only an outage that long puts it in error."""
    return isinstance(exc, Unavailable) and timezone.now() - record.created_at < breaker.horizon()


def summarize(record: Record, order: Order) -> None:
    record.order_number = order.number
    record.order_created_at = order.created_at
    record.order_status = order.status
    record.total = order.total
    record.currency = order.currency
    record.customer_name = (order.customer.company or order.customer.full_name)[:200]
    record.customer_email = order.customer.email[:254]


def finish(record: Record, outcome: Outcome, owner: str, log_entry: Attempt) -> None:
    """Write the outcome, the attempt and (for a retry) the next task in one transaction."""
    now = timezone.now()
    if outcome.parked and not log_entry.calls:
        return park_quietly(record, outcome, owner)
    settled = outcome.state in (State.HANDLED, State.OPEN, State.SKIPPED)
    attempts = 0 if settled else record.attempts + int(outcome.counts_as_attempt)
    values: dict[str, Any] = {
        "state": outcome.state,
        "error_code": "" if outcome.state == State.HANDLED else str(outcome.code),
        "message": outcome.message,
        "message_text": stored(outcome.message),
        "attempts": attempts,
        "next_attempt_at": outcome.retry_at,
        "lease_owner": "",
        "lease_until": None,
        **unwritten_payload(record),
        "document": record.document,
        "order_number": record.order_number,
        "order_created_at": record.order_created_at,
        "order_status": record.order_status,
        "total": record.total,
        "currency": record.currency,
        "customer_name": record.customer_name,
        "customer_email": record.customer_email,
        "target_debtor_id": record.target_debtor_id,
        "in_doubt_since": None if outcome.state == State.HANDLED else record.in_doubt_since,
        "paused_side": outcome.parked or "",
        "updated_at": now,
        **outcome.fields,
    }
    if outcome.state == State.HANDLED:
        values["handled_at"] = now
    log_entry.record = record
    log_entry.finished_at = now
    log_entry.outcome = outcome.label
    log_entry.error_code = str(outcome.code)
    log_entry.message = outcome.message
    log_entry.message_text = stored(outcome.message)
    with statements.unflushed():
        updated = Record.objects.update_leased(record.pk, owner, **values)
        if not updated:
            logger.warning(
                "Record %s: lease lost before the outcome %s was written", record.pk, outcome.label
            )
            log_entry.outcome = "lease-lost"
        statements.insert(Attempt, [log_entry], returning_pk=True)
        if updated and outcome.retry_at is not None and not outcome.parked:
            enqueue_process(record.pk, run_after=outcome.retry_at, trigger="retry")
    if updated and outcome.parked:
        pauses.parked(record.connection_id, outcome.parked, met_the_limit=outcome.met_the_limit)


def park_quietly(record: Record, outcome: Outcome, owner: str) -> None:
    """A record that only met a pause: it says so and waits; no attempt is logged, no task is made."""
    assert outcome.parked is not None
    updated = Record.objects.update_leased(
        record.pk,
        owner,
        state=State.QUEUED,
        message=outcome.message,
        message_text=stored(outcome.message),
        next_attempt_at=outcome.retry_at,
        paused_side=outcome.parked,
        lease_owner="",
        lease_until=None,
        updated_at=timezone.now(),
    )
    if updated:
        pauses.parked(record.connection_id, outcome.parked, met_the_limit=outcome.met_the_limit)


kinds.register(Kind.ORDER, attempt_order)
