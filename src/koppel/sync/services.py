"""State changes of records that come from outside the pipeline: an order arrives, a merchant presses
Process, the nightly job looks again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.documents.i18n import Text as _
from koppel.documents.i18n import stored

from .models import Kind, Record, State
from .tasks import discover_refunds, enqueue_process, recheck_record

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

    Returns the record and whether this call queued work. A repeated, late or out-of-order notification
    queues nothing new: the worker always fetches the current order, and a handled record stays handled.
    """
    now = timezone.now()
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
        if record.state in REQUEUE_ON_CHANGE:
            if payload is None:  # a notice without the order: the worker looks whether it changed
                recheck_record.enqueue(record.pk, via)
                return record, False
            if payload != record.payload:
                return record, requeue(record, trigger=via, payload=payload)
        if (
            record.state == State.HANDLED
            and payload != record.payload
            and connection.source_class.supports_refunds
        ):
            # A booked order reported again: a refund may be why (its credit note is a record of its own).
            discover_refunds.enqueue(record.pk, payload, via)
    return record, False


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
