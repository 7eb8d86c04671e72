"""The control API, mounted at ``/_sandbox/eenvoudigfactureren``: accounts, their request log, data and
knobs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.control import Handler, TenantControl
from koppel.sandbox.http import Request, Response, Router

from .common import SCOPES
from .invoices import invoice_pdf
from .render import ApiError, _decode
from .sending import _find
from .settings import _knobs_setting
from .state import Account
from .values import money


class Control(TenantControl):
    """The control API's router (:meth:`control_router`) and handlers."""

    tenant_kind = "accounts"
    tenant_param = "name"
    tenants_attribute = "accounts"

    def tenant_missing(self, name: str) -> Response:
        return Response.json({"error": f"Account {name} not found"}, 404)

    def bad_request(self, message: str) -> Response:
        return Response.json({"error": message}, 400)

    async def run_handler(
        self, handler: Handler, account: Account, request: Request, params: dict[str, str]
    ) -> Response:
        try:
            return await handler(account, request, **params)
        except ApiError as exc:
            return Response.json({"error": exc.message}, exc.status)
        except ValueError as exc:
            return self.bad_request(str(exc))

    def knob_changes(self, request: Request) -> Any:
        return self._control_body(request)

    def update_knobs(self, account: Account, changes: Any) -> None:
        account.knobs = _knobs_setting(account.knobs, changes)

    def requests_view(self, account: Account) -> Any:
        return {"requests": list(account.requests)}

    def control_router(self) -> Router:
        r = Router()
        r.post("/accounts", self._c_put_account)
        r.get("/accounts/{name}", self._control(self._c_get_account))
        r.post("/accounts/{name}/reset", self._control(self._c_reset))
        r.post("/accounts/{name}/clients", self._control(self._c_seed_client))
        self.add_log_routes(r, clear_requests=False)
        r.get("/accounts/{name}/invoices/{invoice_id}/pdf", self._control(self._c_invoice_pdf))
        r.get("/page", self._p_index)
        r.get("/accounts/{name}/page", self._control(self._p_account))
        r.post("/accounts/{name}/page/taxes", self._control(self._p_add_tax))
        return r

    @staticmethod
    def _control_body(request: Request, decimals: bool = False) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            data = _decode(request.body, "application/json", decimals)
        except ValueError:
            raise ValueError("Body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("Body must be a JSON object")
        return data

    def _summary(self, account: Account, request: Request) -> dict[str, Any]:
        return {
            "name": account.name,
            "api_url": self._base(request),
            "account_id": account.account_id,
            "number": account.number,
            "display_name": account.display_name,
            "email": account.email,
            "taxes": [money(rate) for rate in account.taxes],
            "layouts": account.layouts,
            "scopes": [scope for scope in SCOPES if scope in account.scopes],
            "auto_client_number": account.auto_client_number,
            "payment_term_days": account.payment_term_days,
            "knobs": asdict(account.knobs),
        }

    async def _c_put_account(self, request: Request) -> Response:
        try:
            data = self._control_body(request)
            name = data.pop("name", None)
            if not isinstance(name, str):
                raise ValueError("name is required")
            account, created = self.add_account(name, **data)
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json(self._summary(account, request), 201 if created else 200)

    async def _c_get_account(self, account: Account, request: Request) -> Response:
        return Response.json(
            {
                "name": account.name,
                "clients": list(account.clients.values()),
                "invoices": list(account.invoices.values()),
                "emails": account.emails,
                "peppol_deliveries": account.peppol_deliveries,
                "knobs": asdict(account.knobs),
                "taxes": [money(rate) for rate in account.taxes],
                "layouts": account.layouts,
            }
        )

    async def _c_reset(self, account: Account, request: Request) -> Response:
        account.reset()
        return Response.json({"ok": True})

    async def _c_seed_client(self, account: Account, request: Request) -> Response:
        client = self.add_client(account, self._control_body(request, decimals=True), self._base(request))
        return Response.json(client, 201)

    async def _c_invoice_pdf(self, account: Account, request: Request, invoice_id: str) -> Response:
        invoice = _find(account.invoices, invoice_id)
        return pages.pdf(invoice_pdf(invoice), f"invoice-{invoice['number']}")
