"""State changes of records that come from outside the pipeline: an order arrives, a merchant presses
Process, the nightly job looks again."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.documents.i18n import Text as _
from koppel.documents.i18n import stored

from . import queue
from .models import Kind, Record, State
from .pipeline import has_fresh_payload
from .queue import enqueue_process

#: When the shop reports a change, these records get another try.
REQUEUE_ON_CHANGE = frozenset({State.OPEN, State.ERROR})


class AlreadyHandled(Exception):
    """A handled order is never booked again (the manual: "it cannot be processed again")."""


def note_order(
    connection: Connection,
    order_id: str,
    *,
    via: str,
    payload: dict[str, Any] | None = None,
    modified_at: datetime | None = None,
) -> tuple[Record, bool]:
    """An order reached the connection (webhook, poll, backfill): store its record and queue the work.

    Returns the record and whether this call queued work. ``payload`` is the order when the notice carried
    it (a WooCommerce or Shopify webhook's body, a poll page), ``modified_at`` the platform's modification
    time of it (read from the payload when not given). A body newer than the stored order replaces it (see
    :func:`noted_with_body`); a repeated, late or out-of-order notice changes nothing, and a handled record
    stays handled.
    """
    now = timezone.now()
    if payload is not None and modified_at is None:
        modified_at = connection.source_class.modified_at(payload)
    with transaction.atomic():
        record, created = Record.objects.get_or_create(
            connection=connection,
            kind=Kind.ORDER,
            source_order_id=order_id,
            defaults={
                "state": State.QUEUED,
                "received_via": via,
                "payload": payload,
                "payload_fetched_at": now if payload is not None else None,
                "created_at": now,
            },
        )
        if created:
            enqueue_process(record.pk, trigger=via)
            return record, True
        if payload is not None and modified_at is not None:
            return record, noted_with_body(record, via, payload, modified_at)
        return record, noted_again(record, via, payload)


def changes_nothing(state: str, payload: dict[str, Any] | None) -> bool:
    """Whether a notice without the order (``payload`` None) leaves a record in ``state`` exactly as it is
    (what :func:`noted_again` does): a queued record, or one a worker holds, fetches the order anyway, so a
    burst of repeats can be answered without noting each."""
    return payload is None and state not in REQUEUE_ON_CHANGE and state != State.HANDLED


def noted_again(record: Record, via: str, payload: dict[str, Any] | None) -> bool:
    """A notice without the order, or with an order whose platform gives no modification time: a record
    in error or open is looked at again when the order changed; a queued one is left to its worker, which
    fetches the order unless it has it fresh."""
    if record.state in REQUEUE_ON_CHANGE:
        if payload is None:  # a notice without the order: the worker looks whether it changed
            queue.enqueue(queue.RECHECK_RECORD, record.pk, via)
            return False
        if payload != record.payload:
            return requeue(record, trigger=via, payload=payload)
    if record.state == State.HANDLED and payload != record.payload:
        refunds_may_be_why(record, payload, via)
    return False


class Change(enum.Enum):
    """How a notice's order compares with the record's stored one."""

    NEWER = "newer"
    SAME = "same"  # the same body (a duplicate, or a second topic of the same change)
    OLDER = "older"  # a late or out-of-order webhook: changes nothing
    UNKNOWN = "unknown"  # another body with the same modification time: which is newer is unknown


def compared(record: Record, payload: dict[str, Any], modified_at: datetime) -> Change:
    """Newer means a later modification time by the platform's clock (WooCommerce's
    ``date_modified_gmt``, Shopify's ``updated_at``, both whole seconds). Two different bodies of the same
    second, or a stored order without a readable time, cannot be put in order: the order is fetched."""
    if record.payload is None:
        return Change.NEWER
    if payload == record.payload:
        return Change.SAME
    stored = record.connection.source_class.modified_at(record.payload)
    if stored is None or stored == modified_at:
        return Change.UNKNOWN
    return Change.NEWER if modified_at > stored else Change.OLDER


def noted_with_body(
    record: Record, via: str, payload: dict[str, Any], modified_at: datetime, tries: int = 3
) -> bool:
    """A notice that carried the whole order. An older or the same body changes nothing. A newer one
    replaces the payload of a queued record (:func:`replace_queued`), queues a record in error or open
    again without a fetch, and for a handled record is a reason to look for refunds. A body whose place
    is unknown (:class:`Change`) is treated as a notice without the order: the order is fetched."""
    change = compared(record, payload, modified_at)
    if change in (Change.SAME, Change.OLDER):
        return False
    newer = payload if change == Change.NEWER else None
    if record.state == State.QUEUED:
        replaced = replace_queued(record, via, newer)
        if replaced is not None:
            return replaced
        record.refresh_from_db()  # a worker moved it meanwhile: decide again on what it is now
        if tries > 1:
            return noted_with_body(record, via, payload, modified_at, tries - 1)
        return False
    if record.state in REQUEUE_ON_CHANGE:
        if newer is None:
            queue.enqueue(queue.RECHECK_RECORD, record.pk, via)
            return False
        return requeue(record, trigger=via, payload=newer)
    if record.state == State.HANDLED:
        refunds_may_be_why(record, payload, via)
    return False


def replace_queued(record: Record, via: str, payload: dict[str, Any] | None) -> bool | None:
    """A queued record and a newer order (``payload``; ``None``: the order changed, fetch it).

    Not leased: the payload is replaced in place and the record keeps its task (or its planned retry).
    Leased by a worker: the newer order is stored and the lease taken back, and the record gets a new task;
    the worker that held it books nothing (``pipeline.create_once`` finds its lease gone) and its outcome
    is not written (``pipeline.finish``: lease lost). Had the worker no fresh payload, it may have fetched
    an order newer than this body: the next attempt fetches again. An invoice already sent
    (``in_doubt_since``: the create is under way, or its answer never came) was made from the order as it
    was then: the change is treated as one to a handled order.

    Returns whether a task was queued, or ``None`` when the record changed meanwhile (the conditional update
    found it moved on)."""
    now = timezone.now()
    if record.in_doubt_since is not None:
        refunds_may_be_why(record, payload, via)
        return False
    leased = bool(record.lease_owner) and record.lease_until is not None and record.lease_until > now
    values: dict[str, Any] = {"payload_fetched_at": now, "updated_at": now}
    if payload is not None:
        values["payload"] = payload
    if payload is None or (leased and not has_fresh_payload(record, now)):
        values["payload_fetched_at"] = None
    if leased:
        values.update(lease_owner="", lease_until=None)
    moved = Record.objects.filter(
        pk=record.pk,
        state=State.QUEUED,
        lease_owner=record.lease_owner,
        lease_until=record.lease_until,
        payload_fetched_at=record.payload_fetched_at,
        in_doubt_since__isnull=True,
    ).update(**values)
    if not moved:
        return None
    if leased:
        enqueue_process(record.pk, trigger=via)
    for name, value in values.items():
        setattr(record, name, value)
    return leased


def refunds_may_be_why(record: Record, payload: dict[str, Any] | None, via: str) -> None:
    """A booked order reported again: a refund may be why (its credit note is a record of its own)."""
    if record.connection.source_class.supports_refunds:
        queue.enqueue(queue.DISCOVER_REFUNDS, record.pk, payload, via)


def recheck_if_changed(record_id: int, trigger: str) -> bool:
    """A notice named an order whose record waits in error or open: fetch the order, and try again only if
    it changed. A replayed or repeated notice (KMO Shops' carry no delivery id) so changes nothing."""
    record = Record.objects.select_related("connection").filter(pk=record_id).first()
    if record is None or record.state not in REQUEUE_ON_CHANGE:
        return False
    source = record.connection.source()
    try:
        payload = source.fetch_order(record.source_order_id)
    finally:
        source.close()
    if payload == record.payload:
        return False
    return requeue(record, trigger=trigger, payload=payload)


def requeue(
    record: Record, *, trigger: str, payload: dict[str, Any] | None = None, message: str = ""
) -> bool:
    """Put an open or failed record back in the queue (only if nobody changed it meanwhile)."""
    values: dict[str, Any] = {
        "state": State.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "updated_at": timezone.now(),
    }
    if message:
        values.update(message=message, message_text=stored(message), error_code="")
    if payload is not None:
        values.update(payload=payload, payload_fetched_at=timezone.now())
    else:
        values["payload_fetched_at"] = None  # the stored order is stale: the worker fetches it again
    with transaction.atomic():
        moved = Record.objects.filter(pk=record.pk, state=record.state).update(**values)
        if moved:
            enqueue_process(record.pk, trigger=trigger)
    if moved:
        record.refresh_from_db()
    return bool(moved)


def reprocess(record: Record) -> Record:
    """The Process button: book an open, failed or skipped order now."""
    if record.state == State.HANDLED:
        raise AlreadyHandled(
            f"Order {record.order_number or record.source_order_id} is booked already "
            f"(invoice {record.target_invoice_number or record.target_invoice_id})"
        )
    if record.state == State.QUEUED:
        # A record waiting for a retry is brought forward; one already due has its task queued already
        # (and the housekeeper re-queues a record whose task went missing), so pressing again adds nothing.
        with transaction.atomic():
            waiting = Record.objects.filter(pk=record.pk, state=State.QUEUED, next_attempt_at__isnull=False)
            if waiting.update(next_attempt_at=None):
                enqueue_process(record.pk, trigger="manual")
        record.refresh_from_db()
        return record
    requeue(record, trigger="manual", message=_("Queued by hand"))
    return record
