"""The API's handlers, one per method and resource."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from koppel.sandbox.http import Request, Response, reason

from .common import _today
from .invoices import invoice_pdf
from .listing import CLIENT_LIST, INVOICE_LIST, _wanted_fields, project, query_list
from .render import ApiError, Reply, _bad, _not_found, _object, parse_body
from .sending import _find, _mail, _peppol
from .state import Account
from .values import _reject_unknown, _yes, money


class Handlers:
    """The API's handlers."""

    async def _account_current(self, account: Account, request: Request) -> Reply:
        data = {
            "account_id": account.account_id,
            "number": account.number,
            "name": account.display_name,
            "email_address": account.email,
        }
        return Reply(data, "account")

    async def _settings(self, account: Account, request: Request) -> Reply:
        settings = {
            "taxes": {f"tax{n}": {"rate": money(rate)} for n, rate in enumerate(account.taxes, 1)},
            "invoice_numbering": {"next_number": account.next_invoice_number(_today().year, claim=False)},
            "client_numbering": {
                "automatic": _yes(account.auto_client_number),
                "next_number": account.next_client_number(claim=False) if account.auto_client_number else "",
            },
            "payment_term_days": str(account.payment_term_days),
        }
        names = [name.strip() for name in request.query.get("fields", "").split(",") if name.strip()]
        for name in names:
            if name not in settings:
                raise _bad(f"Unknown settings field: {name}")
        return Reply({name: settings[name] for name in names} if names else settings, "settings")

    async def _list_layouts(self, account: Account, request: Request) -> Reply:
        return Reply(account.layouts, "layouts")

    async def _get_layout(self, account: Account, request: Request, layout_id: str) -> Reply:
        layout = next((lay for lay in account.layouts if str(lay["layout_id"]) == layout_id), None)
        if layout is None:
            raise _not_found()
        return Reply(layout, "layout")

    async def _list_clients(self, account: Account, request: Request) -> Reply:
        page, total = query_list(account.clients.values(), request, CLIENT_LIST)
        return Reply(page, "clients", headers={"X-Total-Count": str(total)})

    async def _get_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        return Reply(project(client, _wanted_fields(request, CLIENT_LIST)), "client")

    async def _create_client(self, account: Account, request: Request) -> Reply:
        return Reply(self.add_client(account, parse_body(request), self._base(request)), "client", 201)

    async def _update_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        changed = self.update_client(account, client["client_id"], parse_body(request), replace_all=False)
        return Reply(changed, "client")

    async def _replace_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        changed = self.update_client(account, client["client_id"], parse_body(request), replace_all=True)
        return Reply(changed, "client")

    async def _delete_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        del account.clients[client["client_id"]]
        return Reply({"client_id": client["client_id"], "deleted": "yes"}, "client")

    async def _client_contacts(self, account: Account, request: Request, client_id: str) -> Reply:
        return Reply(_find(account.clients, client_id)["contacts"], "contacts")

    async def _list_invoices(self, account: Account, request: Request) -> Reply:
        page, total = query_list(account.invoices.values(), request, INVOICE_LIST)
        return Reply(page, "invoices", headers={"X-Total-Count": str(total)})

    async def _get_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply | Response:
        invoice = _find(account.invoices, invoice_id)
        if request.query.get("format", "").strip().lower() == "pdf":
            filename = re.sub(r"[^A-Za-z0-9._-]", "_", invoice["number"])
            headers = {"Content-Disposition": f'attachment; filename="invoice-{filename}.pdf"'}
            return Response(200, invoice_pdf(invoice), headers, "application/pdf")
        return Reply(project(invoice, _wanted_fields(request, INVOICE_LIST)), "invoice")

    async def _create_invoice(self, account: Account, request: Request) -> Reply:
        if account.knobs.save_late_next:  # a slow backend: the client has given up long before the save
            account.knobs.save_late_next -= 1
            await asyncio.sleep(account.knobs.save_late_seconds)
        if account.knobs.fail_before_commit_next:
            account.knobs.fail_before_commit_next -= 1
            raise ApiError(reason(502), 502)
        invoice = self.add_invoice(account, parse_body(request), self._base(request))
        if account.knobs.fail_after_commit_next:
            account.knobs.fail_after_commit_next -= 1
            raise ApiError(reason(502), 502)
        return Reply(invoice, "invoice", 201)

    async def _update_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        return Reply(self.update_invoice(account, invoice["invoice_id"], parse_body(request)), "invoice")

    async def _delete_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        account.remove_invoice(invoice["invoice_id"])
        return Reply({"invoice_id": invoice["invoice_id"], "deleted": "yes"}, "invoice")

    async def _invoice_items(self, account: Account, request: Request, invoice_id: str) -> Reply:
        return Reply(_find(account.invoices, invoice_id)["items"], "items")

    async def _invoice_payments(self, account: Account, request: Request, invoice_id: str) -> Reply:
        return Reply(_find(account.invoices, invoice_id)["payments"], "payments")

    async def _sendemail(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        data = _object(parse_body(request))
        _reject_unknown(data, ("recipient",))
        return Reply(_mail(account, invoice, data.get("recipient")), "invoice")

    async def _send(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        data = _object(parse_body(request))
        _reject_unknown(data, ("methods",))
        methods = data.get("methods")
        if not isinstance(methods, dict) or not methods:
            raise _bad("Field methods is required")
        unknown = [name for name in methods if name not in ("email", "peppol")]
        if unknown:
            raise _bad(f"Unknown send method: {unknown[0]}")
        answer: dict[str, Any] = {"invoice_id": invoice["invoice_id"], "sent": "yes"}
        if "peppol" in methods:
            answer["peppol"] = _peppol(account, invoice, methods["peppol"])
        if "email" in methods:
            options = methods["email"] or {}
            if not isinstance(options, dict):
                raise _bad("Invalid value for field methods.email: expected an object")
            _reject_unknown(options, ("recipient",), "methods.email.")
            answer.update(_mail(account, invoice, options.get("recipient")))
        return Reply(answer, "invoice")
