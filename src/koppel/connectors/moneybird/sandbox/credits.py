"""Credit invoices and changes to a sales invoice:

- ``PATCH sales_invoices/{id}/duplicate_creditinvoice`` (no body needed) makes Moneybird's credit invoice of
  a final invoice: a new draft with the invoice's contact, currency, prices incl./excl. VAT, style and
  reference, every detail copied with its amount negated (so its totals are exactly minus the invoice's),
  linked by ``original_sales_invoice_id``; 201 with the draft. A draft cannot be credited (422), nor can a
  credit invoice be credited again this way (422; a choice, Moneybird does not document it).
- ``PATCH sales_invoices/{id}`` ``{"sales_invoice": {...}}`` changes the attributes given (``reference``,
  ``invoice_date``, ``payment_conditions`` ...); ``details_attributes`` replace the details, and only on a
  draft (422 on a sent invoice: a choice).

A sales invoice with a negative total is a credit invoice whichever way it was made (its PDF is titled
"Creditfactuur")."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

from koppel.sandbox.http import Response

from .body import day, resource, text
from .errors import Invalid, unprocessable
from .gate import Call
from .sales import FIELDS, find
from .state import money, now, stamp
from .totals import build_details, totals

#: What ``PATCH sales_invoices/{id}`` may change (the contact and currency stay).
CHANGEABLE = tuple(name for name in FIELDS if name not in ("contact_id", "currency"))


def _negated(detail: dict[str, Any], new_id: str) -> dict[str, Any]:
    copied = {**detail, "id": new_id}
    amount = str(detail["amount"]).strip()
    copied["amount"] = amount[1:] if amount.startswith("-") else f"-{amount}"
    for key in ("total_price_excl_tax_with_discount", "total_price_incl_tax_with_discount", "tax"):
        copied[key] = money(-Decimal(detail[key]))
    return copied


def _credit_of(call: Call, original: dict[str, Any]) -> dict[str, Any]:
    administration = call.administration
    administration.drafts += 1
    invoice_id, moment, today = call.ids.new(), stamp(), now().date()
    details = [_negated(detail, call.ids.new()) for detail in original["details"]]
    sums = totals(details)
    credit = copy.deepcopy(original)
    credit.update(
        id=invoice_id,
        invoice_id=None,
        draft_id=administration.drafts,
        state="draft",
        invoice_date=today.isoformat(),
        due_date=(today + timedelta(days=14)).isoformat(),
        details=details,
        payments=[],
        original_sales_invoice_id=original["id"],
        total_paid="0.0",
        total_unpaid=sums["total_price_incl_tax"],
        sent_at=None,
        paid_at=None,
        created_at=moment,
        updated_at=moment,
        version=1,
        url=f"https://moneybird.com/{administration.id}/sales_invoices/{invoice_id}",
        **sums,
    )
    return credit


async def duplicate_credit(call: Call, invoice_id: str) -> Response:
    original = find(call, invoice_id)
    if original["state"] == "draft":
        raise unprocessable("A draft invoice cannot be credited; send the invoice first")
    if original.get("original_sales_invoice_id"):
        raise unprocessable("A credit invoice cannot be credited")
    credit = _credit_of(call, original)
    call.administration.sales_invoices[credit["id"]] = credit
    return Response.json(credit, 201)


async def update(call: Call, invoice_id: str) -> Response:
    invoice = find(call, invoice_id)
    data = resource(call.request, "sales_invoice", CHANGEABLE)
    errors = Invalid()
    changes: dict[str, Any] = {}
    if "reference" in data:
        changes["reference"] = text(data, "reference", errors)
    if "invoice_date" in data:
        changed = day(data.get("invoice_date"), "invoice_date", errors)
        if changed is not None:
            changes["invoice_date"] = changed.isoformat()
    if "details_attributes" in data:
        if invoice["state"] != "draft":
            raise unprocessable("The details of a sent invoice cannot be changed")
        incl = bool(invoice["prices_are_incl_tax"])
        details = build_details(
            call.administration, call.ids, data["details_attributes"], "sales_invoice", incl, errors
        )
        changes.update(details=details, **totals(details))
        changes["total_unpaid"] = changes["total_price_incl_tax"]
    for name in ("payment_conditions", "language", "first_due_interval", "discount", "workflow_id"):
        if name in data:
            changes[name] = data[name]
    errors.check()
    invoice.update(changes, updated_at=stamp(), version=invoice["version"] + 1)
    return Response.json(invoice)
