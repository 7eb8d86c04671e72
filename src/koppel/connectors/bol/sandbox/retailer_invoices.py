"""bol's own invoices to the retailer: ``GET /retailer/invoices``, ``GET /retailer/invoices/{invoice-id}``
(PDF, UBL XML or the UBL as JSON) and ``GET /retailer/invoices/{invoice-id}/specification`` (JSON or Excel).

Dates in the list are ISO 8601 (``"issueDate": "2026-05-01"``): v10 takes its period parameters in ISO
8601 and writes every other date that way; the v5-era sample wrote epoch seconds and milliseconds, which
Koppel's client reads too. The list holds the invoices issued in the period (both days included).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from koppel.sandbox.http import HTTPException, Response

from . import invoice_documents as documents
from . import problems
from .gate import Call, accepted
from .invoice_state import RetailerInvoice
from .render import _number
from .state import AMSTERDAM, now, stamp

JSON = problems.MEDIA_TYPE
PDF = "application/vnd.retailer.v10+pdf"
XML = "application/vnd.retailer.v10+xml"
XLSX = "application/vnd.retailer.v10+openxmlformats-officedocument.spreadsheetml.sheet"
INVOICE_TYPES = (JSON, PDF, XML)
SPECIFICATION_TYPES = (JSON, XLSX)
INVOICE_MEDIA = ["application/json", "application/xml", "application/pdf"]
SPECIFICATION_MEDIA = [
    "application/json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]
MAX_DAYS = 31
DEFAULT_PERIOD = timedelta(weeks=4)
TOO_LONG = "The period between period-start-date and period-end-date can be no longer than 31 days."


def _amount(value: Decimal, currency: str) -> dict[str, object]:
    return {"amount": _number(value), "currencyID": currency}


def summary(invoice: RetailerInvoice) -> dict[str, object]:
    """An ``invoiceListItems`` entry, in the shape of bol's recorded list."""
    currency = invoice.currency
    return {
        "invoiceId": invoice.invoice_id,
        "invoiceMediaTypes": {"availableMediaTypes": list(INVOICE_MEDIA)},
        "invoiceType": invoice.invoice_type,
        "issueDate": invoice.issued.isoformat(),
        "invoicePeriod": {"startDate": invoice.start.isoformat(), "endDate": invoice.end.isoformat()},
        "legalMonetaryTotal": {
            "lineExtensionAmount": _amount(invoice.amount, currency),
            "payableAmount": _amount(invoice.payable, currency),
            "taxExclusiveAmount": _amount(invoice.amount, currency),
            "taxInclusiveAmount": _amount(invoice.payable, currency),
        },
        "specificationMediaTypes": {
            "availableMediaTypes": list(SPECIFICATION_MEDIA) if invoice.specification else []
        },
    }


def _date(call: Call, name: str) -> date | None:
    raw = call.request.query.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        reason = f"Request contains invalid value(s): '{raw}', must be an ISO 8601 date (YYYY-MM-DD)."
        raise problems.invalid(call.instance, name, reason) from None


def period(call: Call) -> tuple[date, date]:
    """``period-start-date`` and ``period-end-date`` (both or neither; the last 4 weeks by default)."""
    start, end = _date(call, "period-start-date"), _date(call, "period-end-date")
    if start is None and end is None:
        today = now().date()
        return today - DEFAULT_PERIOD, today
    if start is None or end is None:
        missing = "period-start-date" if start is None else "period-end-date"
        reason = "period-start-date and period-end-date must be given together."
        raise problems.invalid(call.instance, missing, reason)
    if end < start:
        raise problems.invalid(call.instance, "period-end-date", "must not be before period-start-date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise problems.invalid(call.instance, "period-end-date", TOO_LONG)
    return start, end


def _period_text(start: date, end: date) -> str:
    """``2018-04-12T00:00:00+02:00/2018-05-09T00:00:00+02:00``: the period as a half-open interval."""
    first = datetime.combine(start, time(), AMSTERDAM)
    after = datetime.combine(end + timedelta(days=1), time(), AMSTERDAM)
    return f"{stamp(first)}/{stamp(after)}"


class RetailerInvoices:
    async def list(self, call: Call) -> Response:
        start, end = period(call)
        found = sorted(call.data.retailer_invoices.values(), key=lambda i: (i.issued, i.invoice_id))
        rows = [summary(i) for i in found if call.demo or start <= i.issued <= end]
        return problems.body({"invoiceListItems": rows, "period": _period_text(start, end)})

    @staticmethod
    def _invoice(call: Call, invoice_id: str) -> RetailerInvoice:
        found = call.data.retailer_invoices.get(invoice_id)
        if found is None:
            raise problems.not_found(call.instance, f"Invoice for invoice id {invoice_id} not found.")
        return found

    async def get(self, call: Call, invoice_id: str) -> Response:
        invoice = self._invoice(call, invoice_id)
        kind = accepted(call.request, INVOICE_TYPES)
        if kind == PDF:
            return Response(200, documents.pdf(invoice), {}, PDF)
        if kind == XML:
            return Response(200, documents.ubl_xml(invoice), {}, f"{XML};charset=UTF-8")
        return problems.body(documents.ubl_json(invoice))

    async def specification(self, call: Call, invoice_id: str) -> Response:
        page = call.page()
        invoice = self._invoice(call, invoice_id)
        if not invoice.specification:
            detail = f"Invoice specification for invoice id {invoice_id} not found."
            raise HTTPException(problems.problem(404, detail, call.instance))
        size = max(1, call.shop.knobs.specification_page_size)
        rows = documents.page_of(invoice, page, size)
        first = (page - 1) * size + 1
        if accepted(call.request, SPECIFICATION_TYPES) == XLSX:
            return Response(200, documents.specification_xlsx(invoice, page, rows, first), {}, XLSX)
        lines = [documents.specification_line(invoice, t, n) for n, t in enumerate(rows, first)]
        return problems.body({"invoiceSpecification": lines} if lines else {})
