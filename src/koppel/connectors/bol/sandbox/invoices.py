"""Customers' invoice requests: ``GET /retailer/shipments/invoices/requests`` and the retailer's upload,
``POST /retailer/shipments/invoices/{shipment-id}`` (``multipart/form-data``, field ``invoice``)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from koppel.sandbox.http import HTTPException, Response

from . import problems, render
from .core import Core
from .gate import Call
from .orders import accepted, listing
from .state import InvoiceRequest, Shop, Upload, now

STATES = ("OPEN", "UPLOAD_ERROR", "ALL")
OPEN = frozenset({"INVOICE_REQUESTED"})
UPLOAD_ERROR = frozenset({"INVOICE_INCORRECT", "INVOICE_VIRUS_DETECTED"})
DAMAGED = "The invoice could not be processed: the PDF file is damaged."


def invoice_part(content_type: str, body: bytes) -> tuple[str, str, bytes] | None:
    """The ``invoice`` part of a multipart body: its file name, content type and bytes."""
    parsed: Message = message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not parsed.is_multipart():
        return None
    for part in parsed.get_payload():
        if isinstance(part, Message) and part.get_param("name", header="content-disposition") == "invoice":
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            return part.get_filename() or "invoice.pdf", part.get_content_type(), raw
    return None


class Invoices:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def requests(self, call: Call) -> Response:
        page = call.page()
        state = call.choice("state", STATES, "OPEN")
        shipment_id = call.request.query.get("shipment-id")
        if shipment_id is not None and shipment_id not in call.data.shipments:
            raise problems.not_found(call.instance, f"Shipment for shipment id {shipment_id} not found.")
        wanted = {"OPEN": OPEN, "UPLOAD_ERROR": UPLOAD_ERROR}.get(state or "ALL")
        rows = [
            render.invoice_request(r)
            for r in call.data.invoice_requests.values()
            if (shipment_id is None or r.shipment.shipment_id == shipment_id)
            and (wanted is None or r.status in wanted)
        ]
        return listing("invoiceRequests", rows, page)

    async def upload(self, call: Call, shipment_id: str) -> Response:
        content_type = call.request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "multipart/form-data":
            detail = "Content-Type header contains invalid value, allowed value is multipart/form-data."
            raise HTTPException(problems.problem(415, detail, call.instance))
        if shipment_id not in call.data.shipments:
            raise problems.not_found(call.instance, f"Shipment for shipment id {shipment_id} not found.")
        part = invoice_part(content_type, call.request.body)
        if part is None:
            raise problems.invalid(
                call.instance, "invoice", "Required request part 'invoice' is not present."
            )
        filename, part_type, raw = part
        if not raw.startswith(b"%PDF-"):
            raise problems.invalid(call.instance, "invoice", "The invoice must be a PDF file.")
        limit = call.shop.knobs.invoice_max_bytes
        if len(raw) > limit:
            raise problems.invalid(call.instance, "invoice", f"The invoice may be at most {limit} bytes.")
        if call.demo:
            return accepted(self.core, call, shipment_id, "UPLOAD_INVOICE", "")
        shop = call.shop
        upload = Upload(shipment_id, filename, part_type, raw, now(), "")
        shop.uploads.append(upload)

        def effect() -> str | None:
            return self._processed(shop, upload)

        response = accepted(
            self.core,
            call,
            shipment_id,
            "UPLOAD_INVOICE",
            f"Upload invoice for shipment {shipment_id}.",
            effect,
        )
        upload.process_id = next(reversed(shop.processes))
        return response

    @staticmethod
    def _processed(shop: Shop, upload: Upload) -> str | None:
        request: InvoiceRequest | None = shop.invoice_requests.get(upload.shipment_id)
        failed = shop.knobs.fail_invoice_uploads or b"%%EOF" not in upload.body[-1024:]
        upload.status = "FAILURE" if failed else "SUCCESS"
        if request is not None:
            request.transitions.append(("INVOICE_INCORRECT" if failed else "INVOICE_UPLOADED", now()))
        return DAMAGED if failed else None
