"""Customers' invoice requests at a marketplace (bol.com): the booked invoice's PDF, taken from the target,
is uploaded for each, and the request's state is kept on the record (``Record.invoice_request``).

A source takes part by having the methods of :class:`RequestSource`; every other source is skipped. One run
per connection (:func:`run`, scheduled every few minutes by the housekeeper) reads the open and refused
requests, uploads what it can and follows the uploads' process statuses:

- a request whose record is not booked yet is ``requested`` and waits for a later run;
- an upload is claimed first (a conditional update to ``uploading``), so two runs never send it twice;
  the process status then makes it ``uploaded`` or ``incorrect``;
- each request is uploaded once; one that ended ``incorrect`` is sent again by later runs, at most
  :data:`MAX_UPLOADS` times in all. A customer asking again (a new request moment) is a new request.
- a transient failure (the target or the marketplace away, a rate limit) uses up no upload: the request
  goes back to where it was and the next run tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.db.models import Q
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.base import BookedInvoice, TargetConnector
from koppel.connectors.errors import ConnectorError

from .models import InvoiceRequest as Status
from .models import Kind, Record, State

logger = logging.getLogger("koppel.sync")

#: Uploads of one request in all, when bol keeps calling them incorrect.
MAX_UPLOADS = 3
#: A claim without a process status this old was left by a run that died mid-upload: claimable again.
STALE_CLAIM = timedelta(minutes=10)


class Request(Protocol):
    shipment_id: str
    record_id: str
    state: str
    requested_at: str


class RequestSource(Protocol):
    def invoice_requests(self) -> Any: ...
    def upload_invoice(self, shipment_id: str, pdf: bytes, filename: str) -> str: ...
    def process_status(self, process_id: str) -> tuple[str, str]: ...


def supported(source_class: type) -> bool:
    """Whether a source's customers ask it for invoices (bol.com): it lists the requests."""
    return callable(getattr(source_class, "invoice_requests", None))


@dataclass(slots=True)
class Summary:
    uploaded: int = 0
    waiting: int = 0
    pending: int = 0
    failed: int = 0


class Run:
    """One look at a connection's invoice requests; the target is opened only when a PDF is needed."""

    def __init__(self, connection: Connection, source: Any) -> None:
        self.connection, self.source = connection, source
        self._target: TargetConnector | None = None
        self.summary = Summary()

    def target(self) -> TargetConnector:
        if self._target is None:
            self._target = self.connection.target()
        return self._target

    def close(self) -> None:
        self.source.close()
        if self._target is not None:
            self._target.close()

    # -- requests ----------------------------------------------------------------------------------------

    def answer(self, request: Request) -> None:
        record = Record.objects.filter(
            connection=self.connection, kind=Kind.ORDER, source_order_id=request.record_id
        ).first()
        if record is None:  # the shipment has not reached Koppel yet
            self.summary.waiting += 1
            return
        info = dict(record.invoice_upload or {})
        if (info.get("shipment"), info.get("requested_at")) != (request.shipment_id, request.requested_at):
            info = {"shipment": request.shipment_id, "requested_at": request.requested_at, "tries": 0}
            self._set(record, Status.REQUESTED, info)
        elif record.invoice_request == Status.UPLOADED and request.state == Status.INCORRECT:
            self._set(record, Status.INCORRECT, {**info, "message": "bol.com calls the invoice incorrect"})
        if self._wanted(record, info):
            self.upload(record, info)

    @staticmethod
    def _wanted(record: Record, info: dict[str, Any]) -> bool:
        tries = int(info.get("tries") or 0)
        if record.invoice_request == Status.REQUESTED:
            return True
        if record.invoice_request == Status.INCORRECT:
            return tries < MAX_UPLOADS
        if record.invoice_request == Status.UPLOADING and not info.get("process_id"):
            claimed = info.get("claimed_at") or ""
            return claimed < (timezone.now() - STALE_CLAIM).isoformat() and tries < MAX_UPLOADS
        return False

    def _set(self, record: Record, state: str, info: dict[str, Any]) -> None:
        Record.objects.filter(pk=record.pk).update(invoice_request=state, invoice_upload=info)
        record.invoice_request, record.invoice_upload = state, info

    def _claim(self, record: Record, info: dict[str, Any]) -> dict[str, Any] | None:
        """``uploading`` if the record is still as this run read it (else another run has it)."""
        claim = {**info, "tries": int(info.get("tries") or 0) + 1, "claimed_at": timezone.now().isoformat()}
        claim.pop("process_id", None)
        still = Q(invoice_request=record.invoice_request)
        if info.get("claimed_at"):
            still &= Q(invoice_upload__claimed_at=info["claimed_at"])
        claimed = Record.objects.filter(still, pk=record.pk).update(
            invoice_request=Status.UPLOADING, invoice_upload=claim
        )
        return claim if claimed else None

    # -- uploads -----------------------------------------------------------------------------------------

    def upload(self, record: Record, info: dict[str, Any]) -> None:
        if record.state != State.HANDLED or not (record.target_invoice_id or record.target_invoice_number):
            self.summary.waiting += 1  # not booked yet: a later run uploads it
            return
        before = record.invoice_request
        claim = self._claim(record, info)
        if claim is None:
            return
        booked = BookedInvoice(record.target_invoice_id, record.target_invoice_number)
        name = f"invoice-{record.target_invoice_number or record.target_invoice_id}.pdf"
        try:
            pdf = self.target().invoice_pdf(booked)
            process_id = self.source.upload_invoice(claim["shipment"], pdf, name)
        except ConnectorError as exc:
            self._failed(record, before, claim, exc)
            return
        done = {**claim, "process_id": process_id, "size": len(pdf), "message": ""}
        self._set(record, Status.UPLOADING if process_id else Status.UPLOADED, done)
        self.summary.uploaded += 1

    def _failed(self, record: Record, before: str, claim: dict[str, Any], exc: ConnectorError) -> None:
        """A transient failure gives the try back and leaves the request as it was; a refusal is
        ``incorrect`` with the system's message."""
        logger.warning("Invoice upload for record %s failed: %s", record.pk, exc.message)
        self.summary.failed += 1
        if exc.transient:
            tries = claim["tries"] - 1
            back = before if before in (Status.REQUESTED, Status.INCORRECT) else Status.REQUESTED
            self._set(record, back, {**claim, "tries": tries, "message": exc.message})
        else:
            self._set(record, Status.INCORRECT, {**claim, "message": exc.message})

    # -- process statuses --------------------------------------------------------------------------------

    def follow(self) -> None:
        """The process status of every upload still awaited: ``uploaded`` or ``incorrect`` once bol knows."""
        waiting = Record.objects.filter(connection=self.connection, invoice_request=Status.UPLOADING)
        for record in waiting.iterator():
            info = dict(record.invoice_upload or {})
            if not info.get("process_id"):
                continue
            try:
                outcome, message = self.source.process_status(str(info["process_id"]))
            except ConnectorError as exc:
                logger.warning("Process status of record %s unread: %s", record.pk, exc.message)
                if exc.transient:
                    self.summary.pending += 1
                    continue
                outcome, message = "failure", exc.message  # e.g. bol no longer knows the process
            if outcome == "pending":
                self.summary.pending += 1
                continue
            state = Status.UPLOADED if outcome == "success" else Status.INCORRECT
            Record.objects.filter(pk=record.pk, invoice_request=Status.UPLOADING).update(
                invoice_request=state, invoice_upload={**info, "message": message}
            )


def run(connection_id: int) -> Summary:
    """One run for a connection: answer its open requests, then follow its uploads. A source without
    invoice requests, or a connection switched off, does nothing."""
    connection = Connection.objects.filter(pk=connection_id, active=True).first()
    if connection is None or not supported(connection.source_class):
        return Summary()
    job = Run(connection, connection.source())
    try:
        for request in job.source.invoice_requests():
            job.answer(request)
        job.follow()
    finally:
        job.close()
    return job.summary
