"""``sales_invoices``: created as drafts (``draft_id`` only), numbered (``invoice_id`` ``YYYY-NNNN``) and made
final (state ``open``) by ``PATCH send_invoice``; payments (``POST payments``, only on a final invoice; the
invoice is ``paid`` once nothing is open); lists with ``filter`` (state, period, reference, contact_id);
``download_pdf`` answers 302 to a short-lived file address that needs no token."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from koppel.sandbox.http import Response

from .body import day, decimal, flag, resource, text
from .errors import Invalid, fail, not_found, unprocessable
from .gate import Call
from .listing import page, parse_filter, period
from .state import cents, money, now, stamp
from .totals import build_details, totals

FIELDS = (
    "contact_id",
    "contact_person_id",
    "document_style_id",
    "workflow_id",
    "reference",
    "invoice_date",
    "first_due_interval",
    "currency",
    "prices_are_incl_tax",
    "payment_conditions",
    "discount",
    "language",
    "details_attributes",
)
FILTERS = ("state", "period", "reference", "contact_id", "created_after", "updated_after", "workflow_id")
STATES = ("all", "draft", "open", "scheduled", "pending_payment", "late", "reminded", "paid", "uncollectible")
SENDING_FIELDS = ("delivery_method", "sending_scheduled", "deliver_ubl", "mergeable", "email_address")
SENDING_FIELDS += ("email_message", "invoice_date")
PAYMENT_FIELDS = ("payment_date", "price", "price_base", "financial_account_id", "financial_mutation_id")
PAYMENT_FIELDS += ("manual_payment_action", "transaction_identifier", "ledger_account_id", "invoice_id")
PAYMENT_ACTIONS = ("private_payment", "payment_without_proof", "cash_payment", "rounding_error")
PAYMENT_ACTIONS += ("bank_transfer", "balance_settlement", "invoices_settlement")
FILE_SECONDS = 60.0


def find(call: Call, raw: str) -> dict[str, Any]:
    """The administration's sales invoice ``raw`` (404 when it has none)."""
    return _invoice(call, raw)


def _invoice(call: Call, raw: str) -> dict[str, Any]:
    found = call.administration.sales_invoices.get(raw)
    if found is None:
        raise not_found()
    return found


def build(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    administration, errors = call.administration, Invalid()
    contact = administration.contacts.get(str(data.get("contact_id") or ""))
    if contact is None:
        errors.add("contact_id", "is required" if not data.get("contact_id") else "does not exist")
    style = str(data.get("document_style_id") or administration.default_style_id())
    if not any(s["id"] == style for s in administration.document_styles):
        errors.add("document_style_id", "does not exist")
    currency = text(data, "currency", errors) or administration.currency
    if len(currency) != 3 or not currency.isupper():
        errors.add("currency", "is invalid")
    invoice_date = day(data.get("invoice_date"), "invoice_date", errors, now().date())
    incl = flag(data.get("prices_are_incl_tax"), "prices_are_incl_tax", errors, False)
    details = build_details(
        administration, call.ids, data.get("details_attributes"), "sales_invoice", incl, errors
    )
    errors.check()
    administration.drafts += 1
    invoice_id, moment = call.ids.new(), stamp()
    sums = totals(details)
    return {
        "id": invoice_id,
        "administration_id": administration.id,
        "contact_id": contact["id"],
        "contact": dict(contact),
        "invoice_id": None,
        "draft_id": administration.drafts,
        "state": "draft",
        "invoice_date": invoice_date.isoformat(),
        "due_date": (invoice_date + timedelta(days=int(data.get("first_due_interval") or 14))).isoformat(),
        "reference": text(data, "reference", errors),
        "language": str(data.get("language") or "nl"),
        "currency": currency,
        "prices_are_incl_tax": incl,
        "document_style_id": style,
        "details": details,
        "payments": [],
        "original_sales_invoice_id": None,
        **sums,
        "total_paid": "0.0",
        "total_unpaid": sums["total_price_incl_tax"],
        "sent_at": None,
        "paid_at": None,
        "created_at": moment,
        "updated_at": moment,
        "version": 1,
        "url": f"https://moneybird.com/{administration.id}/sales_invoices/{invoice_id}",
    }


async def create(call: Call) -> Response:
    knobs = call.administration.knobs
    data = resource(call.request, "sales_invoice", FIELDS)
    if knobs.save_late_next:  # a slow backend: the client has given up long before the save
        knobs.save_late_next -= 1
        await asyncio.sleep(knobs.save_late_seconds)
    if knobs.fail_before_commit_next:
        knobs.fail_before_commit_next -= 1
        raise fail(502, "Bad gateway")
    invoice = build(call, data)
    call.administration.sales_invoices[invoice["id"]] = invoice
    if knobs.fail_after_commit_next:
        knobs.fail_after_commit_next -= 1
        raise fail(502, "Bad gateway")
    return Response.json(invoice, 201)


def _matches(invoice: dict[str, Any], conditions: dict[str, list[str]]) -> bool:
    states = conditions.get("state", ["all"])
    if "all" not in states and invoice["state"] not in states:
        return False
    if "reference" in conditions and invoice["reference"] not in conditions["reference"]:
        return False
    if "contact_id" in conditions and invoice["contact_id"] not in conditions["contact_id"]:
        return False
    if "period" in conditions:
        start, end = period(conditions["period"][0])
        return start.isoformat() <= invoice["invoice_date"] <= end.isoformat()
    return True


async def listing(call: Call) -> Response:
    conditions = parse_filter(call.request, FILTERS)
    if any(state not in STATES for state in conditions.get("state", [])):
        raise fail(400, f"Unknown state: {'|'.join(conditions['state'])}")
    found = [i for i in call.administration.sales_invoices.values() if _matches(i, conditions)]
    return page(call.request, found, call.url("sales_invoices.json"))


async def get(call: Call, invoice_id: str) -> Response:
    return Response.json(_invoice(call, invoice_id))


def _address(call: Call, invoice: dict[str, Any], sending: dict[str, Any], method: str) -> str:
    contact = call.administration.contacts.get(invoice["contact_id"], invoice["contact"])
    address = str(sending.get("email_address") or contact.get("send_invoices_to_email") or "").strip()
    errors = Invalid()
    if method == "Email" and not address:
        errors.add("delivery_method", "Email needs an e-mail address: the contact has none")
    if method in ("Simplerinvoicing", "Peppol"):
        errors.add("delivery_method", "is not available in the sandbox")
    errors.check()
    return address


async def send(call: Call, invoice_id: str) -> Response:
    invoice = _invoice(call, invoice_id)
    sending = (
        resource(call.request, "sales_invoice_sending", SENDING_FIELDS) if call.request.body.strip() else {}
    )
    contact = call.administration.contacts.get(invoice["contact_id"], invoice["contact"])
    method = str(sending.get("delivery_method") or contact.get("delivery_method") or "Email")
    if method not in ("Email", "Simplerinvoicing", "Peppol", "Manual", "Post"):
        raise unprocessable(f"Unknown delivery method: {method}")
    address = _address(call, invoice, sending, method)
    if call.administration.knobs.fail_send_next:
        call.administration.knobs.fail_send_next -= 1
        raise fail(500, "Internal server error")
    moment = stamp()
    if invoice["state"] == "draft":
        if sending.get("invoice_date"):
            invoice["invoice_date"] = str(sending["invoice_date"])
        year = int(invoice["invoice_date"][:4])
        invoice.update(invoice_id=call.administration.next_number(year), state="open")
    invoice.update(sent_at=moment, updated_at=moment, version=invoice["version"] + 1)
    if method == "Email":
        mail = {"sales_invoice_id": invoice["id"], "invoice_id": invoice["invoice_id"], "to": address}
        call.administration.emails.append({**mail, "time": moment})
    return Response.json(invoice)


def _payment(call: Call, invoice: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    errors = Invalid()
    payment_date = day(data.get("payment_date"), "payment_date", errors)
    price = decimal(data.get("price"), "price", errors)
    if payment_date is None and "payment_date" not in errors.messages:
        errors.add("payment_date", "is required")
    if price is None and "price" not in errors.messages:
        errors.add("price", "is required")
    elif price is not None and not Decimal(0) < cents(price) <= Decimal(invoice["total_unpaid"]):
        errors.add("price", "is invalid")
    action = data.get("manual_payment_action")
    if action is not None and action not in PAYMENT_ACTIONS:
        errors.add("manual_payment_action", "is invalid")
    errors.check()
    return {
        "id": call.ids.new(),
        "administration_id": call.administration.id,
        "invoice_type": "SalesInvoice",
        "invoice_id": invoice["id"],
        "payment_date": payment_date.isoformat() if payment_date else None,
        "price": money(price or Decimal(0)),
        "manual_payment_action": action,
        "created_at": stamp(),
    }


async def pay(call: Call, invoice_id: str) -> Response:
    invoice = _invoice(call, invoice_id)
    data = resource(call.request, "payment", PAYMENT_FIELDS)
    if invoice["state"] == "draft":
        raise unprocessable("A payment cannot be registered on a draft invoice; send the invoice first")
    payment = _payment(call, invoice, data)
    if call.administration.knobs.fail_payments_next:
        call.administration.knobs.fail_payments_next -= 1
        raise fail(500, "Internal server error")
    invoice["payments"].append(payment)
    paid = sum((Decimal(p["price"]) for p in invoice["payments"]), Decimal(0))
    unpaid = Decimal(invoice["total_price_incl_tax"]) - paid
    invoice.update(total_paid=money(paid), total_unpaid=money(unpaid), updated_at=stamp())
    if unpaid == 0:
        invoice.update(state="paid", paid_at=stamp())
    return Response.json(payment, 201)


class Files:
    """Short-lived addresses of invoice PDFs, as Moneybird's storage hands them out (no token needed)."""

    def __init__(self) -> None:
        self.issued: dict[str, tuple[str, str, float]] = {}

    def issue(self, administration_name: str, invoice_id: str) -> str:
        token = secrets.token_urlsafe(16)
        self.issued[token] = (administration_name, invoice_id, time.monotonic() + FILE_SECONDS)
        return token

    def redirect(self, call: Call, invoice_id: str) -> Response:
        invoice = _invoice(call, invoice_id)
        token = self.issue(call.administration.name, invoice["id"])
        name = invoice["invoice_id"] or f"concept-{invoice['draft_id']}"
        location = f"{call.base.removesuffix('/api/v2')}/files/{token}/{name}.pdf"
        return Response.empty(302, {"Location": location})
