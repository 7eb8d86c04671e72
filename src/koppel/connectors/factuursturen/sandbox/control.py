"""The control API, mounted at ``/_sandbox/factuursturen``: accounts, their request log, data and knobs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Request, Response, Router

from .lines import rate_text
from .pdf import invoice_pdf
from .state import Account


class Control:
    """The control API's router (:meth:`control_router`) and handlers."""

    def control_router(self) -> Router:
        r = Router()
        r.post("/accounts", self._c_put_account)
        r.get("/accounts/{username}", self._control(self._c_get_account))
        r.get("/accounts/{username}/requests", self._control(self._c_requests))
        r.post("/accounts/{username}/reset", self._control(self._c_reset))
        r.post("/accounts/{username}/clients", self._control(self._c_seed_client))
        r.get("/accounts/{username}/knobs", self._control(self._c_get_knobs))
        r.post("/accounts/{username}/knobs", self._control(self._c_set_knobs))
        r.get("/accounts/{username}/invoices/{key}/pdf", self._control(self._c_invoice_pdf))
        r.post("/accounts/{username}/saved/{key}/send", self._control(self._c_send_saved))
        r.get("/page", self._p_index)
        r.get("/accounts/{username}/page", self._control(self._p_account))
        r.post("/accounts/{username}/page/taxes", self._control(self._p_add_tax))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, username: str, **params: str) -> Response:
            account = self.accounts.get(username)
            if account is None:
                return Response.json({"error": "not_found", "message": f"Account {username} not found"}, 404)
            try:
                return await handler(account, request, **params)
            except HTTPException as exc:  # validation errors in JSON, like the rest of the control API
                return Response.json({"error": "bad_request", "message": exc.response.body.decode()}, 400)
            except ValueError as exc:
                return Response.json({"error": "bad_request", "message": str(exc)}, 400)

        return endpoint

    @staticmethod
    def _control_body(request: Request) -> dict[str, Any]:
        try:
            data = request.json() if request.body else {}
        except ValueError:
            raise ValueError("Body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("Body must be a JSON object")
        return data

    def _summary(self, account: Account, request: Request) -> dict[str, Any]:
        base = self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        return {
            "username": account.username,
            "api_url": f"{base}/factuursturen/api/v1",
            "taxes": [rate_text(rate) for rate in account.taxes],
            "profiles": account.profiles,
            "hourly_limit": account.knobs.hourly_limit,
            "rate_limit_remaining": account.remaining,
        }

    async def _c_put_account(self, request: Request) -> Response:
        try:
            data = self._control_body(request)
            if not isinstance(data.get("username"), str):
                raise ValueError("username is required")
            account = self.add_account(
                data["username"],
                api_key=data.get("api_key"),
                taxes=data.get("taxes"),
                profiles=data.get("profiles"),
                hourly_limit=data.get("hourly_limit"),
            )
        except ValueError as exc:
            return Response.json({"error": "bad_request", "message": str(exc)}, 400)
        return Response.json(self._summary(account, request), 201)

    async def _c_get_account(self, account: Account, request: Request) -> Response:
        return Response.json(
            {
                "clients": list(account.clients.values()),
                "invoices": list(account.invoices.values()),
                "saved_invoices": list(account.saved_invoices.values()),
                "repeated_invoices": list(account.repeated_invoices.values()),
                "rate_limit_remaining": account.remaining,
            }
        )

    async def _c_requests(self, account: Account, request: Request) -> Response:
        return Response.json(list(account.requests))

    async def _c_reset(self, account: Account, request: Request) -> Response:
        account.reset()
        return Response.json({"ok": True})

    async def _c_seed_client(self, account: Account, request: Request) -> Response:
        return Response.json({"client": self.add_client(account, self._control_body(request))}, 201)

    async def _c_get_knobs(self, account: Account, request: Request) -> Response:
        return Response.json(asdict(account.knobs))

    async def _c_set_knobs(self, account: Account, request: Request) -> Response:
        account.knobs.update(self._control_body(request))
        return Response.json(asdict(account.knobs))

    async def _c_send_saved(self, account: Account, request: Request, key: str) -> Response:
        return Response.json({"invoice": self.send_saved(account, key)}, 201)

    async def _c_invoice_pdf(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return pages.pdf(invoice_pdf(invoice), invoice["invoicenr"])
