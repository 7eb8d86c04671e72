"""The control API, under ``/_sandbox/moneybird``:

- ``POST /administrations`` ``{"name", "token"?, "id"?, "display_name"?, "tax_rates"?: [[name, percentage,
  type], ...], "knobs"?}`` → 201 the administration's summary (its id, token and API address); again with
  the same name: 200, the settings given changed;
- under ``/accounts/{name}`` (an administration by its name): ``GET ""`` (everything it holds: contacts,
  sales_invoices, purchase_invoices (attachments without their bytes), emails, tax_rates, ledger_accounts,
  document_styles, knobs), ``GET requests``, ``POST reset``, ``GET|POST knobs``, ``GET
  invoices/{id}/pdf`` (a sales invoice) and ``GET purchase_invoices/{id}/attachments/{attachment_id}``
  (the bytes); for people ``GET /page``, ``GET /accounts/{name}/page`` and its form ``POST
  /accounts/{name}/page/taxes`` (:mod:`.pages`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Request, Response, Router

from . import pages as sandbox_pages
from .pdf import invoice_pdf
from .purchases import _shown
from .state import Administration, Ids, Knobs, seed

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def _body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except ValueError:
        raise ValueError("Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("Body must be a JSON object")
    return data


def _knobs(current: Knobs, changes: Any) -> Knobs:
    updated = Knobs(**asdict(current))
    updated.update(changes)
    return updated


class Control:
    def __init__(self, administrations: dict[str, Administration], ids: Ids, base: Callable[[Request], str]):
        self.administrations = administrations
        self.ids = ids
        self.base = base

    def add(self, name: str, **options: Any) -> tuple[Administration, bool]:
        """Create an administration, or change an existing one's options; ``ValueError`` on bad input."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"Invalid name: {name!r}")
        unknown = set(options) - {"token", "id", "display_name", "tax_rates", "knobs"}
        if unknown:
            raise ValueError(f"Unknown option: {sorted(unknown)[0]}")
        existing = self.administrations.get(name)
        token = str(options.get("token") or (existing.token if existing else "") or self.ids.new())
        if any(a.token == token and a is not existing for a in self.administrations.values()):
            raise ValueError("token is already used by another administration")
        knobs = _knobs(existing.knobs if existing else Knobs(), options.get("knobs") or {})
        if existing is None:
            existing = Administration(name, str(options.get("id") or self.ids.new()), token)
            seed(existing, self.ids, options.get("tax_rates"))
            self.administrations[name] = existing
            created = True
        else:
            created = False
            if "tax_rates" in options:
                seed(existing, self.ids, options["tax_rates"])
        existing.token, existing.knobs = token, knobs
        existing.display_name = str(options.get("display_name") or existing.display_name or name)
        return existing, created

    def router(self) -> Router:
        r = Router()
        r.post("/administrations", self._put)
        r.get("/accounts/{name}", self._on(self._state))
        r.get("/accounts/{name}/requests", self._on(self._requests))
        r.post("/accounts/{name}/reset", self._on(self._reset))
        r.get("/accounts/{name}/knobs", self._on(self._get_knobs))
        r.post("/accounts/{name}/knobs", self._on(self._set_knobs))
        r.get("/accounts/{name}/invoices/{invoice_id}/pdf", self._on(self._pdf))
        r.get(
            "/accounts/{name}/purchase_invoices/{document_id}/attachments/{attachment_id}",
            self._on(self._attachment),
        )
        r.get("/page", self._index)
        r.get("/accounts/{name}/page", self._on(self._page))
        r.post("/accounts/{name}/page/taxes", self._on(self._add_tax))
        return r

    async def _index(self, request: Request) -> Response:
        return sandbox_pages.index(request, self.administrations)

    async def _page(self, administration: Administration, request: Request) -> Response:
        return sandbox_pages.administration_page(administration, request)

    async def _add_tax(self, administration: Administration, request: Request) -> Response:
        return sandbox_pages.add_tax_rate(administration, request, self.ids)

    def _on(self, handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request, name: str, **params: str) -> Response:
            administration = self.administrations.get(name)
            if administration is None:
                return Response.json({"error": f"Administration {name} not found"}, 404)
            try:
                return await handler(administration, request, **params)
            except ValueError as exc:
                return Response.json({"error": str(exc)}, 400)
            except HTTPException as exc:
                return exc.response

        return endpoint

    def summary(self, administration: Administration, request: Request) -> dict[str, Any]:
        return {
            "name": administration.name,
            "id": administration.id,
            "token": administration.token,
            "api_url": self.base(request),
            "knobs": asdict(administration.knobs),
        }

    async def _put(self, request: Request) -> Response:
        try:
            data = _body(request)
            administration, created = self.add(data.pop("name", None), **data)
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json(self.summary(administration, request), 201 if created else 200)

    async def _state(self, administration: Administration, request: Request) -> Response:
        return Response.json(
            {
                **self.summary(administration, request),
                "contacts": list(administration.contacts.values()),
                "sales_invoices": list(administration.sales_invoices.values()),
                "purchase_invoices": [_shown(d) for d in administration.purchase_invoices.values()],
                "emails": administration.emails,
                "tax_rates": administration.tax_rates,
                "ledger_accounts": administration.ledger_accounts,
                "document_styles": administration.document_styles,
            }
        )

    async def _requests(self, administration: Administration, request: Request) -> Response:
        return Response.json({"requests": list(administration.requests)})

    async def _reset(self, administration: Administration, request: Request) -> Response:
        administration.reset()
        return Response.json({"ok": True})

    async def _get_knobs(self, administration: Administration, request: Request) -> Response:
        return Response.json(asdict(administration.knobs))

    async def _set_knobs(self, administration: Administration, request: Request) -> Response:
        administration.knobs = _knobs(administration.knobs, _body(request))
        return Response.json(asdict(administration.knobs))

    async def _pdf(self, administration: Administration, request: Request, invoice_id: str) -> Response:
        invoice = administration.sales_invoices.get(invoice_id)
        if invoice is None:
            return Response.json({"error": "record not found"}, 404)
        return pages.pdf(invoice_pdf(invoice), f"invoice-{invoice['invoice_id'] or invoice['draft_id']}")

    async def _attachment(
        self, administration: Administration, request: Request, document_id: str, attachment_id: str
    ) -> Response:
        document = administration.purchase_invoices.get(document_id) or {"attachments": []}
        found = next((a for a in document["attachments"] if a["id"] == attachment_id), None)
        if found is None:
            return Response.json({"error": "record not found"}, 404)
        return Response(200, found["data"], {}, found["content_type"])
