"""The REST API of marketplace invoices (django-ninja router, added to Koppel's API in ``koppel.api``):
list, one invoice with its reconciliation, the files, and a fetch of any past months."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from koppel.connections.models import Connection

from . import downloads, fetching, reconcile

router = Router(tags=["marketplace invoices"])


class Error(Schema):
    error: str
    message: str


class DifferenceOut(Schema):
    kind: str = Field(..., description="unbooked (paid, not booked), amount (they differ), not_in_turnover")
    order_number: str
    paid: str | None = None
    booked: str | None = None
    record_id: int | None = None
    reason: str
    can_fetch: bool


class InvoiceOut(Schema):
    invoice_id: str
    invoice_type: str
    issue_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str
    total_excl: str
    total_incl: str
    payable: str = Field(..., description="Positive: the merchant pays; negative: bol.com pays out.")
    turnover: str
    costs: dict[str, str] = Field(..., description="Costs incl. VAT per group of line types.")
    payout: str
    matched: int
    differences: int
    unknown_types: list[str]
    record_id: int | None
    state: str = Field(..., description="The booking's state as a purchase invoice (the record's).")
    files: list[str] = Field(..., description="The downloads there are: pdf, ubl, specification, xlsx.")


class InvoiceDetailOut(InvoiceOut):
    difference_list: list[DifferenceOut]
    lines: int = Field(..., description="Lines in the specification.")


class FetchIn(Schema):
    since: date
    until: date | None = None


class FetchOut(Schema):
    queued: bool
    since: date
    until: date


def connection_of(request: HttpRequest, connection_id: int) -> Connection:
    connection = Connection.objects.filter(account=request.auth, pk=connection_id).first()
    if connection is None:
        raise HttpError(404, f"There is no connection {connection_id}.")
    if not fetching.supplies_invoices(connection):
        raise HttpError(404, f"{connection.source_class.label} sends no invoices of its own.")
    return connection


def invoice_out(result: reconcile.Reconciliation) -> dict[str, Any]:
    invoice = result.invoice
    files = [name for name in ("pdf", "ubl", "xlsx") if downloads.file_of(invoice, name)]
    if invoice.files_fetched_at:
        files.append("specification")
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_type": invoice.invoice_type,
        "issue_date": invoice.issue_date,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "currency": invoice.currency,
        "total_excl": str(invoice.total_excl),
        "total_incl": str(invoice.total_incl),
        "payable": str(invoice.payable),
        "turnover": str(result.turnover),
        "costs": {group: str(amount) for group, amount in result.costs.items()},
        "payout": str(result.payout),
        "matched": result.matched,
        "differences": len(result.differences),
        "difference_list": [
            {**item.__dict__, "paid": none_or_str(item.paid), "booked": none_or_str(item.booked)}
            for item in result.differences
        ],
        "unknown_types": invoice.unknown_types,
        "record_id": invoice.record_id,
        "state": invoice.record.state if invoice.record else "",
        "files": files,
        "lines": len(invoice.specification),
    }


def none_or_str(value: Any) -> str | None:
    return None if value is None else str(value)


@router.get(
    "/connections/{connection_id}/marketplace-invoices",
    response={200: list[InvoiceOut], 404: Error},
    operation_id="list_marketplace_invoices",
)
def list_invoices(request: HttpRequest, connection_id: int) -> list[dict[str, Any]]:
    """bol.com's own invoices to the merchant, newest period first, each with its reconciliation summary."""
    connection = connection_of(request, connection_id)
    invoices = connection.marketplace_invoices.select_related("record")
    return [invoice_out(result) for result in reconcile.reconcile_all(invoices)]


@router.post(
    "/connections/{connection_id}/marketplace-invoices/fetch",
    response={202: FetchOut, 400: Error, 404: Error},
    operation_id="fetch_marketplace_invoices",
)
def fetch(request: HttpRequest, connection_id: int, body: FetchIn) -> Any:
    """Fetch the invoices of past months (read in windows of at most 31 days) and book them."""
    from .tasks import fetch_marketplace_invoices

    connection = connection_of(request, connection_id)
    today = timezone.localdate()
    until = body.until or today
    if body.since > until or until > today:
        raise HttpError(400, "since must lie before until, and until not in the future")
    if today - body.since > fetching.BACKFILL_LIMIT:
        raise HttpError(400, "Koppel reads at most three years back")
    fetch_marketplace_invoices.enqueue(connection.pk, body.since.isoformat(), until.isoformat())
    return Status(202, {"queued": True, "since": body.since, "until": until})


@router.get(
    "/connections/{connection_id}/marketplace-invoices/{invoice_id}",
    response={200: InvoiceDetailOut, 404: Error},
    operation_id="get_marketplace_invoice",
)
def invoice_detail(request: HttpRequest, connection_id: int, invoice_id: str) -> dict[str, Any]:
    """One invoice: totals, costs per group, payout and every difference of its reconciliation."""
    connection = connection_of(request, connection_id)
    invoice = connection.marketplace_invoices.filter(invoice_id=invoice_id).select_related("record").first()
    if invoice is None:
        raise HttpError(404, f"There is no invoice {invoice_id}.")
    return invoice_out(reconcile.reconcile(invoice))


@router.get(
    "/connections/{connection_id}/marketplace-invoices/{invoice_id}/{what}",
    response={200: None, 404: Error},
    operation_id="download_marketplace_invoice",
)
def download(request: HttpRequest, connection_id: int, invoice_id: str, what: str) -> HttpResponse:
    """A file of the invoice: ``pdf``, ``ubl`` (as bol.com sent it), ``specification`` (JSON), ``xlsx`` (bol's
    Excel specification) or ``reconciliation`` (Excel: the specification with Koppel's match per line)."""
    connection = connection_of(request, connection_id)
    invoice = connection.marketplace_invoices.filter(invoice_id=invoice_id).first()
    if invoice is None or what not in downloads.DOWNLOADS:
        raise HttpError(404, "There is no such file.")
    response = downloads.response(invoice, what)
    if response is None:
        raise HttpError(404, "Koppel has not fetched this file (yet).")
    return response
