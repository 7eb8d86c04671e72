"""Fetching a marketplace's invoices: the list walked in the source's windows, each new invoice kept once
(its list item first, as it arrived), then its files; every invoice gets a record of kind
``marketplace_invoice`` that the pipeline books as a purchase invoice.

Daily, each connection whose source supplies invoices reads the last :data:`DAILY_LOOKBACK` days; a backfill
(command, API, dashboard) reads any range of past months through the same code."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors import registry
from koppel.connectors.base import SourceConnector
from koppel.documents.marketplace import InvoiceFiles, InvoiceSummary
from koppel.documents.purchases import Supplier
from koppel.sync import queue
from koppel.sync.models import Kind, Record, State
from koppel.sync.queue import enqueue_process

from .models import MarketplaceInvoice, line_to_json

logger = logging.getLogger("koppel.marketplace")

#: The daily run reads invoices of periods this far back (an invoice is issued after its period ends).
DAILY_LOOKBACK = timedelta(days=40)
#: How often each connection's list is read.
FETCH_EVERY = timedelta(hours=24)
SCHEDULE_PREFIX = "marketplace-invoices-"
#: How far back a backfill may reach.
BACKFILL_LIMIT = timedelta(days=3 * 366)


@dataclass
class FetchSummary:
    seen: int = 0
    new: int = 0
    files: int = 0


def supplying_kinds() -> list[str]:
    return [kind for kind, cls in registry.sources().items() if cls.supplies_invoices]


def supplies_invoices(connection: Connection) -> bool:
    return connection.source_class.supplies_invoices


def schedule_fetches() -> int:
    """Enqueue the daily invoice fetch of every active connection whose source supplies invoices."""
    from koppel.sync.housekeeping import claim_due

    ids = list(
        Connection.objects.filter(active=True, source_kind__in=supplying_kinds()).values_list("pk", flat=True)
    )
    started = claim_due(SCHEDULE_PREFIX, ids, FETCH_EVERY)
    for pk, _last in started:
        queue.enqueue(queue.FETCH_MARKETPLACE_INVOICES, pk)
    return len(started)


def fetch(connection: Connection, since: date, until: date, *, via: str = "poll") -> FetchSummary:
    """Read the invoices of periods in ``[since, until]``: keep each new one and queue its booking."""
    summary = FetchSummary()
    source = connection.source()
    try:
        for item in source.marketplace_invoices(since, until):
            summary.seen += 1
            invoice, created = keep(connection, item, via)
            summary.new += int(created)
            if invoice.files_fetched_at is None:
                fetch_files(source, invoice, item)
                summary.files += int(invoice.files_fetched_at is not None)
    finally:
        source.close()
    return summary


def keep(connection: Connection, item: InvoiceSummary, via: str) -> tuple[MarketplaceInvoice, bool]:
    """The invoice's row and its record (made once: an invoice seen again changes nothing)."""
    defaults = {
        "invoice_type": item.invoice_type,
        "issue_date": item.issue_date,
        "period_start": item.period_start,
        "period_end": item.period_end,
        "currency": item.currency or "EUR",
        "total_excl": item.total_excl,
        "total_incl": item.total_incl,
        "payable": item.payable,
        "summary": item.raw,
    }
    try:
        with transaction.atomic():
            invoice, created = MarketplaceInvoice.objects.get_or_create(
                connection=connection, invoice_id=item.invoice_id, defaults=defaults
            )
            if invoice.record_id is None:
                invoice.record = record_for(connection, invoice, via)
                invoice.save(update_fields=["record"])
                transaction.on_commit(lambda: enqueue_process(invoice.record_id, trigger=via))
    except IntegrityError:  # another worker kept it at the same moment
        return MarketplaceInvoice.objects.get(connection=connection, invoice_id=item.invoice_id), False
    return invoice, created


def record_for(connection: Connection, invoice: MarketplaceInvoice, via: str) -> Record:
    record, _ = Record.objects.get_or_create(
        connection=connection,
        kind=Kind.MARKETPLACE_INVOICE,
        source_order_id=invoice.invoice_id,
        defaults={
            "state": State.QUEUED,
            "received_via": via,
            "order_number": invoice.invoice_id,
            "total": invoice.payable,
            "currency": invoice.currency,
            "customer_name": connection.source_class.label,
            "order_status": invoice.invoice_type,
            "order_created_at": timezone.make_aware(
                datetime.combine(invoice.issue_date or timezone.localdate(), time())
            ),
        },
    )
    return record


def fetch_files(
    source: SourceConnector, invoice: MarketplaceInvoice, item: InvoiceSummary | None = None
) -> None:
    """The invoice's PDF, UBL and specification, kept with it. A failure is noted on the invoice and raised:
    the record's booking fetches them again, with its retries."""
    from koppel.connectors.errors import ConnectorError

    try:
        files = source.marketplace_invoice_files(item or summary_of(invoice))
    except ConnectorError as exc:
        MarketplaceInvoice.objects.filter(pk=invoice.pk).update(
            fetch_error=f"{exc.code}: {exc.message}"[:500]
        )
        invoice.fetch_error = exc.message
        raise
    store_files(source, invoice, files)


def store_files(source: SourceConnector, invoice: MarketplaceInvoice, files: InvoiceFiles) -> None:
    codes = {line.code for line in files.specification} | {line.code for line in files.lines}
    invoice.pdf = files.pdf
    invoice.ubl = files.ubl
    invoice.specification_xlsx = files.specification_xlsx
    invoice.specification = [line_to_json(line) for line in files.specification]
    invoice.invoice_lines = [
        {
            "code": line.code,
            "description": line.description,
            "net": str(line.net),
            "vat": str(line.vat),
            "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
        }
        for line in files.lines
    ]
    invoice.supplier = supplier_to_json(files.supplier)
    invoice.unknown_types = sorted(code for code in codes if not source.line_type(code).known)
    invoice.files_fetched_at = timezone.now()
    invoice.fetch_error = ""
    invoice.save()


def summary_of(invoice: MarketplaceInvoice) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=invoice.invoice_id,
        invoice_type=invoice.invoice_type,
        issue_date=invoice.issue_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=invoice.currency,
        total_excl=invoice.total_excl,
        total_incl=invoice.total_incl,
        payable=invoice.payable,
        raw=invoice.summary,
    )


def supplier_to_json(supplier: Supplier) -> dict[str, str]:
    return {name: getattr(supplier, name) for name in Supplier.__dataclass_fields__}


def supplier_from_json(data: dict[str, str], default_name: str) -> Supplier:
    known = {k: str(v) for k, v in (data or {}).items() if k in Supplier.__dataclass_fields__}
    known.setdefault("name", default_name)
    return Supplier(**known)


def daily_range(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return today - DAILY_LOOKBACK, today
