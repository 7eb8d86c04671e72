"""Refunds and returns as credit notes: records of kind ``refund``, one per refund id, booked only after
their order's invoice, as a credit note that names it.

Refunds are found three ways: when an order that is booked is reported again (a webhook, the poll: Shopify's
``refunds/create``, WooCommerce's order update) :func:`discover` asks the source for the order's refunds; a
source whose refunds are their own resource (bol.com's returns) is polled with :func:`poll_refunds`; and
when an order gets booked, the refunds that waited for it are queued (:func:`order_booked`).

The record handler :func:`attempt_refund` waits (state open, with a code) while the order has no booked
invoice, then credits exactly the refunded lines at their rates; the target is searched for the credit
note's reference before any create, under the booking marks of ``koppel.sync.pipeline``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.base import Debtor
from koppel.connectors.errors import ConnectorError
from koppel.connectors.http import CallLog
from koppel.documents.checks import invoice_for
from koppel.documents.codes import Code
from koppel.documents.i18n import Text as _
from koppel.documents.money import ZERO, fmt
from koppel.documents.refunds import (
    Refund,
    build_credit_note,
    less_what_was_left_out,
    refund_from_json,
    refund_to_json,
    refunded_total,
)

from . import kinds
from .models import Kind, Record, State
from .pipeline import Outcome, create_once, found_booked, still_in_doubt
from .queue import enqueue_process

logger = logging.getLogger("koppel.sync")

#: Codes of refund records that wait for their order: queued again when the order is booked.
WAITING = (Code.REFUND_WAITS_FOR_INVOICE, Code.REFUND_ORDER_NOT_BOOKED)
TOLERANCE = ZERO


def credits_refunds(connection: Connection) -> bool:
    return connection.source_class.supports_refunds and getattr(connection, "credit_notes", True)


# -- finding refunds ---------------------------------------------------------------------------------------


def note_refund(connection: Connection, refund: Refund, *, via: str) -> tuple[Record, bool]:
    """A refund reached the connection: its record (made once per refund id) and whether work was queued. A
    refund seen again changes nothing unless it changed while its record waits or failed."""
    payload = refund_to_json(refund)
    with transaction.atomic():
        record, created = Record.objects.get_or_create(
            connection=connection,
            kind=Kind.REFUND,
            source_order_id=refund.refund_id[:100],
            defaults={
                "state": State.QUEUED,
                "received_via": via,
                "payload": payload,
                "payload_fetched_at": timezone.now(),
                "order_created_at": refund.created_at,
                "total": refund.total,
                "currency": refund.currency,
                "order_status": "refund",
            },
        )
        if created:
            transaction.on_commit(lambda: enqueue_process(record.pk, trigger=via))
            return record, True
        if record.state in (State.OPEN, State.ERROR) and record.payload != payload:
            Record.objects.filter(pk=record.pk).update(payload=payload, payload_fetched_at=timezone.now())
            return record, queue_again(record, via)
    return record, False


def queue_again(record: Record, trigger: str) -> bool:
    from .services import requeue

    record.refresh_from_db()
    payload = record.payload
    moved = requeue(record, trigger=trigger)
    if moved and payload is not None:  # a refund's payload is the refund itself, never fetched again
        Record.objects.filter(pk=record.pk).update(payload=payload, payload_fetched_at=timezone.now())
    return moved


def discover(record_id: int, payload: dict[str, Any] | None = None, trigger: str = "") -> int:
    """The order of a booked record was reported again: note its refunds. Answers how many are new."""
    record = Record.objects.select_related("connection").filter(pk=record_id, kind=Kind.ORDER).first()
    if record is None or not credits_refunds(record.connection):
        return 0
    source = record.connection.source()
    try:
        if payload is None or source.refund_hint(payload):
            refunds = source.fetch_refunds(record.source_order_id)
        else:
            refunds = []
    finally:
        source.close()
    return sum(note_refund(record.connection, refund, via=trigger or "notice")[1] for refund in refunds)


def poll_refunds(connection: Connection, since: Any) -> int:
    """Refunds that are their own resource (bol.com's returns) since ``since``."""
    if not credits_refunds(connection):
        return 0
    source = connection.source()
    try:
        return sum(note_refund(connection, r, via="poll")[1] for r in source.iter_refunds(since))
    finally:
        source.close()


def order_booked(record: Record) -> int:
    """An order got its invoice: the refunds that waited for it are queued."""
    if record.kind != Kind.ORDER or not credits_refunds(record.connection):
        return 0
    waiting = Record.objects.payloads_of(record.connection_id, Kind.REFUND, State.OPEN, WAITING)
    moved = 0
    for pk, payload in waiting:
        if (payload or {}).get("order_id") == record.source_order_id:
            refund_record = Record.objects.filter(pk=pk).first()
            if refund_record is not None:  # queue_again reads it afresh
                moved += queue_again(refund_record, "order-booked")
    return moved


# -- booking a credit note ---------------------------------------------------------------------------------


def attempt_refund(record: Record, log: CallLog, owner: str, probing: Any = None) -> Outcome:
    connection = record.connection
    refund = refund_from_json(record.payload or {})
    if not getattr(connection, "credit_notes", True):
        return Outcome(State.SKIPPED, Code.CREDIT_NOTES_OFF, _("Credit notes are off for this connection"))
    order_record = Record.objects.filter(
        connection=connection, kind=Kind.ORDER, source_order_id=refund.order_id
    ).first()
    if waiting := waits_for_order(order_record, refund):
        return waiting
    assert order_record is not None
    order = connection.parse_order(order_record.payload)
    refund = less_what_was_left_out(refund, earlier_version(connection, order_record, refund))
    record.order_number = f"{order.number} (refund {refund.refund_id})"[:100]
    record.customer_name = (order.customer.company or order.customer.full_name)[:200]
    record.customer_email = order.customer.email[:254]
    record.total = refund.total
    if not refund.lines:
        return Outcome(
            State.SKIPPED, Code.REFUND_NOT_INVOICED, _("Nothing of this refund was on the booked invoice")
        )
    if abs(refunded_total(refund) - refund.total) > TOLERANCE:
        return Outcome(
            State.ERROR,
            Code.TOTAL_MISMATCH,
            _(
                "The refunded lines add up to %(lines)s, the refund to %(total)s",
                lines=fmt(refunded_total(refund)),
                total=fmt(refund.total),
            ),
        )
    credit = credit_note_of(connection, refund, order, order_record)
    record.document = credit.as_dict()
    target = connection.target(log)
    try:
        existing = target.find_credit_note(credit)
        if existing is not None:
            return found_credit(record, existing, target.label, credit.order_number)
        if waiting := still_in_doubt(record, target.label, timezone.now()):
            return waiting
        debtor = Debtor(
            id=order_record.target_debtor_id, email=order.customer.email, name=order.customer.full_name
        )
        record.target_debtor_id = debtor.id
        booked = create_once(record, owner, lambda: target.create_credit_note(credit, debtor))
    finally:
        target.close()
    message = _(
        "Booked as %(target)s credit note %(credit)s for invoice %(invoice)s: %(amount)s",
        target=target.label,
        credit=booked.number or booked.id,
        invoice=order_record.target_invoice_number or order_record.target_invoice_id,
        amount=fmt(credit.gross),
    )
    if booked.note:
        message = _("%(message)s; %(note)s", message=message, note=booked.note)
    return Outcome(
        State.HANDLED,
        message=message,
        fields={"target_invoice_id": booked.id, "target_invoice_number": booked.number},
    )


def credit_note_of(connection: Connection, refund: Refund, order: Any, order_record: Record) -> Any:
    """The credit note of ``refund`` for the order's invoice, with the VAT treatment the invoice had."""
    return build_credit_note(
        refund,
        invoice_for(order, connection.check_context(vat_rates=None)),
        invoice_number=order_record.target_invoice_number,
        invoice_id=order_record.target_invoice_id,
    )


def booked_credit_note(record: Record) -> Any:
    """The credit note a handled refund record booked, made again from what the record keeps."""
    connection = record.connection
    refund = refund_from_json(record.payload or {})
    order_record = Record.objects.get(connection=connection, kind=Kind.ORDER, source_order_id=refund.order_id)
    order = connection.parse_order(order_record.payload)
    refund = less_what_was_left_out(refund, earlier_version(connection, order_record, refund))
    return credit_note_of(connection, refund, order, order_record)


def waits_for_order(order_record: Record | None, refund: Refund) -> Outcome | None:
    """A credit note needs its order's invoice: while the order is on its way the refund waits for it; an
    order Koppel has not booked (or never received) is explained."""
    booked = order_record is not None and order_record.state == State.HANDLED
    if booked and (order_record.target_invoice_id or order_record.target_invoice_number):
        return None
    if order_record is not None and order_record.state == State.QUEUED:
        return Outcome(
            State.OPEN,
            Code.REFUND_WAITS_FOR_INVOICE,
            _(
                "Waits for the invoice of order %(order)s, which is being booked",
                order=order_label(order_record),
            ),
        )
    if order_record is None:
        text = _(
            "Koppel has no order %(order)s: the refund waits until the order is booked", order=refund.order_id
        )
    else:
        text = _(
            "Order %(order)s is not booked (%(state)s %(code)s): the refund waits until it is",
            order=order_label(order_record),
            state=str(order_record.state),
            code=order_record.error_code,
        )
    return Outcome(State.OPEN, Code.REFUND_ORDER_NOT_BOOKED, text)


def order_label(record: Record) -> str:
    return record.order_number or record.source_order_id


def earlier_version(connection: Connection, order_record: Record, refund: Refund) -> Refund | None:
    """The same refund as the order's booked payload already showed it (for ``reduces_invoice``)."""
    if not refund.reduces_invoice or not order_record.payload:
        return None
    source = connection.source()
    try:
        earlier = source.refunds_of(order_record.payload)
    except ConnectorError:
        return None
    finally:
        source.close()
    return next((r for r in earlier if r.refund_id == refund.refund_id), None)


def found_credit(record: Record, existing: Any, target_label: str, reference: str) -> Outcome:
    return found_booked(
        record,
        existing,
        recovered=_("Booked (found credit note %(credit)s after an interrupted attempt)", credit=existing.id),
        again=_(
            "%(target)s already has credit note %(credit)s (%(reference)s); not booked again",
            target=target_label,
            credit=existing.number or existing.id,
            reference=reference,
        ),
    )


kinds.register(Kind.REFUND, attempt_refund)
kinds.on_booked(order_booked)
