"""The simulated Factuursturen API: the routes, authentication, the hourly budget and faults, and a
handler per resource."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from koppel.sandbox.http import HTTPException, Request, Response, Router, reason

from .clients import _INVOICE_FILTERS, build_client
from .common import _AMSTERDAM, RATE_LIMITED, UNAUTHORIZED, _bad
from .countries import _COUNTRY_LISTS
from .lines import rate_text
from .pdf import invoice_pdf
from .state import Account


class Api:
    """The API's router (:meth:`api_router`) and handlers."""

    def api_router(self) -> Router:
        r = Router()
        api = "/api/v1"
        for slash in ("", "/"):
            r.get(f"{api}/clients{slash}", self._api(self._list_clients))
            r.post(f"{api}/clients{slash}", self._api(self._create_client))
            r.get(f"{api}/invoices{slash}", self._api(self._list_invoices))
            r.post(f"{api}/invoices{slash}", self._api(self._create_invoice))
        r.get(f"{api}/clients/{{clientnr}}", self._api(self._get_client))
        r.put(f"{api}/clients/{{clientnr}}", self._api(self._update_client))
        r.delete(f"{api}/clients/{{clientnr}}", self._api(self._delete_client))
        r.get(f"{api}/invoices/{{key}}", self._api(self._get_invoice))
        r.delete(f"{api}/invoices/{{key}}", self._api(self._delete_invoice))
        r.get(f"{api}/invoices_pdf/{{key}}", self._api(self._invoice_pdf))
        for slash in ("", "/"):
            r.get(f"{api}/invoices_saved{slash}", self._api(self._list_saved))
        r.get(f"{api}/invoices_saved/{{key}}", self._api(self._get_saved))
        r.delete(f"{api}/invoices_saved/{{key}}", self._api(self._delete_saved))
        r.get(f"{api}/search/{{area}}/{{field_name}}/{{query:path}}", self._api(self._search))
        r.get(f"{api}/taxes", self._api(self._taxes))
        r.get(f"{api}/profiles", self._api(self._profiles))
        r.get(f"{api}/countrylist", self._api(self._countrylist))
        r.get(f"{api}/countrylist/{{lang}}", self._api(self._countrylist))
        r.get(f"{api}/balance", self._api(self._balance))
        r.route(f"{api}/{{path:path}}", None, self._api(self._unknown))
        return r

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: auth, budget, latency, faults, the rate-limit header and the request log."""

        async def endpoint(request: Request, **params: str) -> Response:
            named, ok = self._authenticate(request)
            account = named if ok else None
            if account is None:
                response = Response.text(
                    UNAUTHORIZED, 401, {"WWW-Authenticate": 'Basic realm="FactuurSturen API"'}
                )
            else:
                response = await self._gate(account, request)
                if response is None:
                    try:
                        response = await handler(account, request, **params)
                    except HTTPException as exc:
                        response = exc.response
                response.headers.setdefault("X-RateLimit-Remaining", str(account.remaining))
            if named is not None:  # a wrong key for a known username is logged too
                self._log(named, request, response.status)
            return response

        return endpoint

    def _authenticate(self, request: Request) -> tuple[Account | None, bool]:
        """The account named by the Basic credentials (if any), and whether the key is right."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            username, _, key = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        account = self.accounts.get(username)
        if account is None:
            return None, False
        return account, hmac.compare_digest(key.encode(), account.api_key.encode())

    async def _gate(self, account: Account, request: Request) -> Response | None:
        knobs = account.knobs
        await knobs.delay(self._random)
        accept = request.headers.get("accept", "").lower()
        if "xml" in accept and "json" not in accept:
            return Response.text("Not Acceptable: this API sandbox only answers application/json", 406)
        if knobs.rate_limit_burst:
            knobs.rate_limit_burst -= 1
            return Response.text(RATE_LIMITED, 403, {"X-RateLimit-Remaining": "0"})
        if account.remaining <= 0:
            return Response.text(RATE_LIMITED, 403, {"X-RateLimit-Remaining": "0"})
        account.used += 1
        status = knobs.fault(self._random, (500, 502, 503))
        return Response.text(reason(status), status) if status is not None else None

    @staticmethod
    def _log(account: Account, request: Request, status: int) -> None:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        account.requests.append(
            {
                "time": datetime.now(_AMSTERDAM).isoformat(timespec="seconds"),
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "json": body,
                "status": status,
            }
        )

    @staticmethod
    def _json(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise _bad("Invalid request body: expected JSON") from None

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        """Apply the ``start`` and ``count`` query parameters."""
        try:
            start = max(0, int(request.query.get("start", "0") or 0))
            count = int(request.query["count"]) if request.query.get("count") else None
        except ValueError:
            raise _bad("Invalid value for start or count") from None
        return items[start : None if count is None else start + max(0, count)]

    async def _list_clients(self, account: Account, request: Request) -> Response:
        return Response.json(self._page(list(account.clients.values()), request))

    async def _get_client(self, account: Account, request: Request, clientnr: str) -> Response:
        client = account.clients.get(clientnr)
        if client is None:
            return Response.text("Client not found", 404)
        return Response.json({"client": client})

    async def _create_client(self, account: Account, request: Request) -> Response:
        client = self.add_client(account, self._json(request))
        return Response.text(client["clientnr"], 201)

    async def _update_client(self, account: Account, request: Request, clientnr: str) -> Response:
        current = account.clients.get(clientnr)
        if current is None:
            return Response.text("Client not found", 404)
        account.put_client(build_client(self._json(request), current))
        return Response.text("", 200)

    async def _delete_client(self, account: Account, request: Request, clientnr: str) -> Response:
        if clientnr not in account.clients:
            return Response.text("Client not found", 404)
        account.remove_client(clientnr)
        return Response.text("", 200)

    async def _list_invoices(self, account: Account, request: Request) -> Response:
        invoices = list(account.invoices.values())
        if wanted := request.query.get("filter"):
            check = _INVOICE_FILTERS.get(wanted)
            if check is None:
                return Response.text(f"Invalid filter: {wanted}", 400)
            invoices = [inv for inv in invoices if check(inv)]
        if clientnr := request.query.get("clientnr"):
            invoices = [inv for inv in invoices if inv["clientnr"] == clientnr]
        return Response.json(self._page(invoices, request))

    async def _get_invoice(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return Response.json({"invoice": invoice})

    async def _create_invoice(self, account: Account, request: Request) -> Response:
        if account.knobs.save_late_next:  # a slow backend: the client has given up long before the save
            account.knobs.save_late_next -= 1
            await asyncio.sleep(account.knobs.save_late_seconds)
        if account.knobs.fail_before_commit_next:
            account.knobs.fail_before_commit_next -= 1
            return Response.text(reason(502), 502)
        invoice = self.add_invoice(account, self._json(request))
        if account.knobs.fail_after_commit_next:  # a sent or a saved invoice alike
            account.knobs.fail_after_commit_next -= 1
            return Response.text(reason(502), 502)
        return Response.text(invoice["id"], 201)

    async def _list_saved(self, account: Account, request: Request) -> Response:
        return Response.json(self._page(list(account.saved_invoices.values()), request))

    async def _get_saved(self, account: Account, request: Request, key: str) -> Response:
        saved = account.saved_invoices.get(key)
        if saved is None:
            return Response.text("Saved invoice not found", 404)
        return Response.json({"invoice": saved})

    async def _delete_saved(self, account: Account, request: Request, key: str) -> Response:
        if key not in account.saved_invoices:
            return Response.text("Saved invoice not found", 404)
        account.remove_saved(key)
        return Response.text("", 200)

    async def _delete_invoice(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        account.remove_invoice(invoice["id"])
        return Response.text("", 200)

    async def _invoice_pdf(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return Response(
            200,
            invoice_pdf(invoice),
            {"Content-Disposition": f'attachment; filename="{invoice["invoicenr"]}.pdf"'},
            "application/pdf",
        )

    async def _search(
        self, account: Account, request: Request, area: str, field_name: str, query: str
    ) -> Response:
        if area in ("invoices_repeated", "products"):
            return Response.json([])
        if area not in ("clients", "invoices", "invoices_saved"):
            return Response.text(f"Invalid search area: {area}", 400)
        return Response.json(account.search(area, field_name, query))

    async def _taxes(self, account: Account, request: Request) -> Response:
        highest = max(account.taxes)
        return Response.json(
            [
                {
                    "percentage": rate_text(rate),
                    "type": "N" if rate == 0 else "H" if rate == highest else "L",
                    "default": "true" if rate == highest else "false",
                    "country": "NL",
                }
                for rate in account.taxes
            ]
        )

    async def _profiles(self, account: Account, request: Request) -> Response:
        default = account.default_profile
        return Response.json(
            [
                {"id": p["id"], "name": p["name"], "default": "true" if p["id"] == default else "false"}
                for p in account.profiles
            ]
        )

    async def _countrylist(self, account: Account, request: Request, lang: str = "nl") -> Response:
        body = _COUNTRY_LISTS.get(lang.lower())
        if body is None:
            return Response.text(f"Unknown language: {lang}", 404)
        return Response(200, body)

    async def _balance(self, account: Account, request: Request) -> Response:
        return Response.json({"balance": "0.00"})

    async def _unknown(self, account: Account, request: Request, path: str) -> Response:
        return Response.text("Not found", 404)
