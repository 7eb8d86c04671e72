"""The control API, mounted at ``/_sandbox/factuursturen``: accounts, their request log, data and knobs."""

from __future__ import annotations

from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.control import Handler, TenantControl, json_object
from koppel.sandbox.http import HTTPException, Request, Response, Router

from .lines import rate_text
from .pdf import invoice_pdf
from .state import Account


class Control(TenantControl):
    """The control API's router (:meth:`control_router`) and handlers."""

    tenant_kind = "accounts"
    tenant_param = "username"
    tenants_attribute = "accounts"

    def tenant_missing(self, name: str) -> Response:
        return Response.json({"error": "not_found", "message": f"Account {name} not found"}, 404)

    def bad_request(self, message: str) -> Response:
        return Response.json({"error": "bad_request", "message": message}, 400)

    async def run_handler(
        self, handler: Handler, account: Account, request: Request, params: dict[str, str]
    ) -> Response:
        try:
            return await handler(account, request, **params)
        except HTTPException as exc:  # validation errors in JSON, like the rest of the control API
            return self.bad_request(exc.response.body.decode())
        except ValueError as exc:
            return self.bad_request(str(exc))

    def knob_changes(self, request: Request) -> Any:
        return self._control_body(request)

    def control_router(self) -> Router:
        r = Router()
        r.post("/accounts", self._c_put_account)
        r.get("/accounts/{username}", self._control(self._c_get_account))
        r.post("/accounts/{username}/reset", self._control(self._c_reset))
        r.post("/accounts/{username}/clients", self._control(self._c_seed_client))
        self.add_log_routes(r, clear_requests=False)
        r.get("/accounts/{username}/invoices/{key}/pdf", self._control(self._c_invoice_pdf))
        r.post("/accounts/{username}/saved/{key}/send", self._control(self._c_send_saved))
        r.get("/page", self._p_index)
        r.get("/accounts/{username}/page", self._control(self._p_account))
        r.post("/accounts/{username}/page/taxes", self._control(self._p_add_tax))
        return r

    @staticmethod
    def _control_body(request: Request) -> dict[str, Any]:
        return json_object(request)

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

    async def _c_reset(self, account: Account, request: Request) -> Response:
        account.reset()
        return Response.json({"ok": True})

    async def _c_seed_client(self, account: Account, request: Request) -> Response:
        return Response.json({"client": self.add_client(account, self._control_body(request))}, 201)

    async def _c_send_saved(self, account: Account, request: Request, key: str) -> Response:
        return Response.json({"invoice": self.send_saved(account, key)}, 201)

    async def _c_invoice_pdf(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return pages.pdf(invoice_pdf(invoice), invoice["invoicenr"])
