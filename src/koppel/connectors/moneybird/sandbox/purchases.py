"""``documents/purchase_invoices``: create (a reference must be unique per contact: a second one answers 422
"has already been taken"), list with ``filter`` (contact_id, reference, state, period), get one, and
attachments (``POST .../{id}/attachments.json``, ``multipart/form-data`` with the file in part ``file``)."""

from __future__ import annotations

import hashlib
from email import message_from_bytes
from email.message import Message
from typing import Any

from koppel.sandbox.http import Response

from .body import day, flag, resource, text
from .errors import Invalid, bad_request, fail, not_found
from .gate import Call
from .listing import page, parse_filter, period
from .state import stamp
from .totals import build_details, totals

FIELDS = ("contact_id", "reference", "date", "due_date", "entry_number", "currency", "prices_are_incl_tax")
FIELDS += ("details_attributes", "payment_conditions")
FILTERS = ("contact_id", "reference", "state", "period", "created_after", "updated_after")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def _document(call: Call, raw: str) -> dict[str, Any]:
    found = call.administration.purchase_invoices.get(raw)
    if found is None:
        raise not_found()
    return found


def _check(call: Call, data: dict[str, Any], errors: Invalid) -> dict[str, Any] | None:
    contact = call.administration.contacts.get(str(data.get("contact_id") or ""))
    if contact is None:
        errors.add("contact_id", "is required" if not data.get("contact_id") else "does not exist")
    reference = text(data, "reference", errors).strip()
    if not reference:
        errors.add("reference", "can't be blank")
    elif contact is not None and any(
        d["contact_id"] == contact["id"] and d["reference"] == reference
        for d in call.administration.purchase_invoices.values()
    ):
        errors.add("reference", "has already been taken")
    return contact


async def create(call: Call) -> Response:
    data, errors = resource(call.request, "purchase_invoice", FIELDS), Invalid()
    contact = _check(call, data, errors)
    date = day(data.get("date"), "date", errors)
    if date is None and "date" not in errors.messages:
        errors.add("date", "can't be blank")
    due = day(data.get("due_date"), "due_date", errors)
    incl = flag(data.get("prices_are_incl_tax"), "prices_are_incl_tax", errors, False)
    details = build_details(
        call.administration, call.ids, data.get("details_attributes"), "purchase_invoice", incl, errors
    )
    errors.check()
    assert contact is not None and date is not None
    document_id, moment = call.ids.new(), stamp()
    document = {
        "id": document_id,
        "administration_id": call.administration.id,
        "contact_id": contact["id"],
        "contact": dict(contact),
        "reference": str(data["reference"]).strip(),
        "date": date.isoformat(),
        "due_date": due.isoformat() if due else None,
        "entry_number": len(call.administration.purchase_invoices) + 1,
        "state": "open",
        "currency": str(data.get("currency") or call.administration.currency),
        "prices_are_incl_tax": incl,
        "details": details,
        **totals(details),
        "attachments": [],
        "created_at": moment,
        "updated_at": moment,
        "version": 1,
    }
    call.administration.purchase_invoices[document_id] = document
    return Response.json(document, 201)


def _matches(document: dict[str, Any], conditions: dict[str, list[str]]) -> bool:
    for key in ("contact_id", "reference", "state"):
        if key in conditions and "all" not in conditions[key] and document[key] not in conditions[key]:
            return False
    if "period" in conditions:
        start, end = period(conditions["period"][0])
        return start.isoformat() <= document["date"] <= end.isoformat()
    return True


async def listing(call: Call) -> Response:
    conditions = parse_filter(call.request, FILTERS)
    found = [d for d in call.administration.purchase_invoices.values() if _matches(d, conditions)]
    return page(call.request, [_shown(d) for d in found], call.url("documents", "purchase_invoices.json"))


async def get(call: Call, document_id: str) -> Response:
    return Response.json(_shown(_document(call, document_id)))


def _shown(document: dict[str, Any]) -> dict[str, Any]:
    """The document as the API shows it: attachments without their bytes."""
    attachments = [{k: v for k, v in a.items() if k != "data"} for a in document["attachments"]]
    return {**document, "attachments": attachments}


def file_part(content_type: str, body: bytes) -> tuple[str, str, bytes] | None:
    parsed: Message = message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not parsed.is_multipart():
        return None
    for part in parsed.get_payload():
        if isinstance(part, Message) and part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return (
                part.get_filename() or "file",
                part.get_content_type(),
                payload if isinstance(payload, bytes) else b"",
            )
    return None


async def attach(call: Call, document_id: str) -> Response:
    document = _document(call, document_id)
    content_type = call.request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise bad_request("An attachment is sent as multipart/form-data with the file in part 'file'")
    part = file_part(content_type, call.request.body)
    if part is None or not part[2]:
        raise bad_request("param is missing or the value is empty: file")
    filename, part_type, data = part
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise fail(422, {"file": ["is too big"]})
    if call.administration.knobs.fail_attachments_next:
        call.administration.knobs.fail_attachments_next -= 1
        raise fail(500, "Internal server error")
    attachment = {
        "id": call.ids.new(),
        "administration_id": call.administration.id,
        "attachable_id": document["id"],
        "attachable_type": "Document",
        "filename": filename,
        "content_type": part_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created_at": stamp(),
        "data": data,
    }
    document["attachments"].append(attachment)
    return Response.empty(200)
