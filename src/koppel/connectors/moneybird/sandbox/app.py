"""The Moneybird sandbox as the sandbox server mounts it: :meth:`MoneybirdSandbox.api_router` at
``/moneybird`` (the API under ``/api/v2``, the PDF files under ``/files``) and
:meth:`MoneybirdSandbox.control_router` at ``/_sandbox/moneybird``."""

from __future__ import annotations

import time
from typing import Any

from koppel.sandbox.http import Request, Response, Router

from . import catalog, contacts, credits, purchases, sales
from .control import Control
from .errors import error
from .gate import Gate, _token
from .pages import PAGES
from .pdf import invoice_pdf
from .state import Administration, Ids

API = "/api/v2"


class MoneybirdSandbox:
    """Administrations (``administrations``, by name), their API and the control API."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.administrations: dict[str, Administration] = {}
        self.ids = Ids(seed)
        self.files = sales.Files()
        self._gate = Gate(self.administrations, self.ids, self.base)
        self._control = Control(self.administrations, self.ids, self.base)

    def base(self, request: Request) -> str:
        root = self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        return f"{root}/moneybird{API}"

    def add_administration(self, name: str, **options: Any) -> Administration:
        return self._control.add(name, **options)[0]

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.administrations)

    def control_router(self) -> Router:
        return self._control.router()

    def api_router(self) -> Router:
        r, wrap = Router(), self._gate.wrap
        r.get(f"{API}/administrations.json", self._gate.wrap_root(catalog.administrations))
        routes: list[tuple[str, dict[str, Any]]] = [
            ("tax_rates.json", {"GET": catalog.tax_rates}),
            ("ledger_accounts.json", {"GET": catalog.ledger_accounts}),
            ("document_styles.json", {"GET": catalog.document_styles}),
            ("contacts.json", {"GET": contacts.listing, "POST": contacts.create}),
            ("contacts/{contact_id}.json", {"GET": contacts.get}),
            ("sales_invoices.json", {"GET": sales.listing, "POST": sales.create}),
            ("sales_invoices/{invoice_id}.json", {"GET": sales.get, "PATCH": credits.update}),
            ("sales_invoices/{invoice_id}/duplicate_creditinvoice.json", {"PATCH": credits.duplicate_credit}),
            ("sales_invoices/{invoice_id}/send_invoice.json", {"PATCH": sales.send}),
            ("sales_invoices/{invoice_id}/payments.json", {"POST": sales.pay}),
            ("sales_invoices/{invoice_id}/download_pdf.json", {"GET": self._download}),
            ("documents/purchase_invoices.json", {"GET": purchases.listing, "POST": purchases.create}),
            ("documents/purchase_invoices/{document_id}.json", {"GET": purchases.get}),
            ("documents/purchase_invoices/{document_id}/attachments.json", {"POST": purchases.attach}),
        ]
        for path, handlers in routes:
            for method, handler in handlers.items():
                r.route(f"{API}/{{administration_id}}/{path}", (method,), wrap(handler))
        r.get("/files/{token}/{filename}", self._file)
        r.route(f"{API}/{{path:path}}", None, self._unknown)
        return r

    async def _download(self, call, invoice_id: str) -> Response:
        return self.files.redirect(call, invoice_id)

    async def _file(self, request: Request, token: str, filename: str) -> Response:
        """The stored PDF: no token needed (and an ``Authorization`` header is refused, as S3 refuses a
        second kind of authentication), gone after a minute."""
        issued = self.files.issued.get(token)
        if issued is None or issued[2] < time.monotonic():
            return Response.text("Request has expired", 403, content_type="application/xml")
        if request.headers.get("authorization"):
            return Response.text("Only one auth mechanism allowed", 400, content_type="application/xml")
        administration = self.administrations.get(issued[0])
        invoice = administration.sales_invoices.get(issued[1]) if administration else None
        if invoice is None:
            return Response.text("NoSuchKey", 404, content_type="application/xml")
        return Response(200, invoice_pdf(invoice), {}, "application/pdf")

    async def _unknown(self, request: Request, path: str) -> Response:
        if not self._gate.by_token(_token(request)):
            return error(401, "Token is invalid or expired")
        return error(404, "record not found")
