"""The files of a marketplace invoice, as the dashboard and the API hand them out: bol's PDF, UBL and Excel
specification as they came, the specification as JSON, and Koppel's reconciliation in Excel."""

from __future__ import annotations

import json

from django.http import HttpResponse

from . import export, reconcile
from .models import MarketplaceInvoice

#: Per download: its content type and the extension of its file name.
DOWNLOADS = {
    "pdf": ("application/pdf", "pdf"),
    "ubl": ("application/xml", "xml"),
    "specification": ("application/json", "json"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "reconciliation": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def file_of(invoice: MarketplaceInvoice, what: str) -> bytes:
    """The file's content; empty when Koppel has not fetched it (yet)."""
    if what == "pdf":
        return bytes(invoice.pdf)
    if what == "ubl":
        return bytes(invoice.ubl)
    if what == "xlsx":
        return bytes(invoice.specification_xlsx)
    if what == "specification":
        return json.dumps(invoice.specification, indent=1).encode() if invoice.files_fetched_at else b""
    return export.workbook(reconcile.reconcile(invoice))


def filename(invoice: MarketplaceInvoice, what: str) -> str:
    """``<invoice>.pdf`` for the PDF (as it is attached to the booking), ``<invoice>-<what>.<ext>`` else."""
    if what == "pdf":
        return f"{invoice.invoice_id}.pdf"
    return f"{invoice.invoice_id}-{what}.{DOWNLOADS[what][1]}"


def response(invoice: MarketplaceInvoice, what: str) -> HttpResponse | None:
    """The file ``what`` (one of ``DOWNLOADS``) as an attachment; None when Koppel has not fetched it."""
    body = file_of(invoice, what)
    if not body:
        return None
    response = HttpResponse(body, content_type=DOWNLOADS[what][0])
    response["Content-Disposition"] = f'attachment; filename="{filename(invoice, what)}"'
    return response
