"""The simulated EenvoudigFactureren API's routes and gate: authentication (API key or Basic), scopes,
latency, the rate limit, faults, the method's handler and the request log."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from lxml import etree

from koppel.sandbox.http import Request, Response, Router, reason

from .common import _SECRET_PARAM, API, AUTH_FAILED, REALM, TOO_MANY, _stamp
from .render import ApiError, Reply, _bad, _decode, _not_found, error_response, negotiate, render
from .state import Account


class Api:
    """The API's router (:meth:`api_router`) and what every call goes through."""

    def api_router(self) -> Router:
        r = Router()
        routes: list[tuple[str, str, dict[str, Handler]]] = [
            ("/accounts/current", "accounts", {"GET": self._account_current}),
            ("/settings", "settings", {"GET": self._settings}),
            ("/layouts", "layouts", {"GET": self._list_layouts}),
            ("/layouts/{layout_id}", "layouts", {"GET": self._get_layout}),
            ("/clients", "clients", {"GET": self._list_clients, "POST": self._create_client}),
            (
                "/clients/{client_id}",
                "clients",
                {
                    "GET": self._get_client,
                    "POST": self._update_client,
                    "PUT": self._replace_client,
                    "DELETE": self._delete_client,
                },
            ),
            ("/clients/{client_id}/contacts", "clients", {"GET": self._client_contacts}),
            ("/invoices", "invoices", {"GET": self._list_invoices, "POST": self._create_invoice}),
            (
                "/invoices/{invoice_id}",
                "invoices",
                {"GET": self._get_invoice, "POST": self._update_invoice, "DELETE": self._delete_invoice},
            ),
            ("/invoices/{invoice_id}/items", "invoices", {"GET": self._invoice_items}),
            ("/invoices/{invoice_id}/payments", "invoices", {"GET": self._invoice_payments}),
            ("/invoices/{invoice_id}/sendemail", "invoices", {"POST": self._sendemail}),
            ("/invoices/{invoice_id}/send", "invoices", {"POST": self._send}),
        ]
        for path, scope, handlers in routes:
            endpoint = self._api(scope, handlers)
            r.route(f"{API}{path}", None, endpoint)
            r.route(f"{API}{path}/", None, endpoint)
        unknown = self._api(None, {})
        for path in (API, f"{API}/", f"{API}/{{path:path}}"):
            r.route(path, None, unknown)
        return r

    def _api(self, scope: str | None, handlers: dict[str, Handler]) -> Callable[..., Any]:
        """An endpoint for one path: auth (and scope) -> gate (latency, rate limit, faults) -> the handler
        for the method (405 for another, 404 for a path without any) -> rate-limit headers -> request log."""

        async def endpoint(request: Request, **params: str) -> Response:
            fmt = negotiate(request)
            named, ok = self._authenticate(request)
            account = named if ok else None
            if account is None:
                response = error_response(AUTH_FAILED, 401, fmt, {"WWW-Authenticate": REALM})
            elif scope is not None and scope not in account.scopes:
                response = error_response("Access denied", 403, fmt)
            else:
                response = await self._gate(account, fmt)
                if response is None:
                    response = await self._dispatch(account, request, handlers, params, fmt)
                if account.knobs.rate_limit_per_minute:
                    response.headers["X-RateLimit-Limit"] = str(account.knobs.rate_limit_per_minute)
                    response.headers["X-RateLimit-Remaining"] = str(account.rate_remaining())
            if named is not None:  # a wrong password for a known e-mail address is logged too
                self._log(named, request, response.status)
            return response

        return endpoint

    async def _dispatch(
        self,
        account: Account,
        request: Request,
        handlers: dict[str, Handler],
        params: dict[str, str],
        fmt: str,
    ) -> Response:
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        try:
            if handler is None and handlers:
                allowed = ", ".join(handlers)
                raise ApiError(f"Method {request.method} is not allowed", 405, {"Allow": allowed})
            if handler is None:
                raise _not_found()
            self._check_format(request, handler)
            result = await handler(account, request, **params)
        except ApiError as exc:
            return error_response(exc.message, exc.status, fmt, exc.headers)
        if isinstance(result, Response):
            return result
        return render(result.data, result.root, fmt, result.status, result.headers)

    def _check_format(self, request: Request, handler: Handler) -> None:
        wanted = request.query.get("format", "").strip().lower()
        if wanted in ("", "json", "xml"):
            return
        if wanted != "pdf":
            raise _bad(f"Unsupported format: {wanted}")
        if handler != self._get_invoice:
            raise _bad("Format pdf is only available for one invoice")

    def _authenticate(self, request: Request) -> tuple[Account | None, bool]:
        """The account the credentials name (if any), and whether they are right."""
        key = request.headers.get("x-api-key", "").strip()
        if key:
            account = self._by_key.get(key)
            if account is None:
                return None, False
            return account, hmac.compare_digest(key.encode(), account.api_key.encode())
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            email, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        account = self._by_email.get(email.strip().casefold())
        if account is None or not account.password:
            return account, False
        return account, hmac.compare_digest(password.encode(), account.password.encode())

    async def _gate(self, account: Account, fmt: str) -> Response | None:
        knobs = account.knobs
        await knobs.delay(self._random)
        if knobs.rate_limit_burst:
            knobs.rate_limit_burst -= 1
            return error_response(
                TOO_MANY, 429, fmt, {"Retry-After": str(knobs.rate_limit_burst_retry_after)}
            )
        if (wait := account.rate_wait()) is not None:
            return error_response(TOO_MANY, 429, fmt, {"Retry-After": str(wait)})
        status = knobs.fault(self._random, (500, 502, 503))
        if status is not None:
            return error_response(reason(status), status, fmt, _fault_headers(status))
        return None

    @staticmethod
    def _log(account: Account, request: Request, status: int) -> None:
        account.requests.append(
            {
                "time": _stamp(),
                "method": request.method,
                "path": request.path,
                "query": {
                    key: "***" if _SECRET_PARAM.search(key) else value for key, value in request.query.items()
                },
                "json": _logged_body(request),
                "status": status,
            }
        )


Handler = Callable[..., Coroutine[Any, Any, "Reply | Response"]]


def _fault_headers(status: int) -> dict[str, str]:
    if status == 429:
        return {"Retry-After": "1"}
    if status == 401:
        return {"WWW-Authenticate": REALM}
    return {}


def _logged_body(request: Request) -> Any:
    """The body as the request log shows it: parsed (JSON numbers as numbers), or None."""
    if not request.body.strip():
        return None
    try:
        return _decode(request.body, request.headers.get("content-type", ""), decimals=False)
    except (ValueError, etree.XMLSyntaxError):
        return None
