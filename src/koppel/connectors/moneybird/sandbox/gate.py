"""What every API call goes through: the bearer token (it must belong to the administration in the path),
latency, the rate limit, the fault knobs, the handler, then the request log.

The rate limit is Moneybird's 150 requests per 5 minutes, counted per token in a window that starts at its
first call. Every answer past authentication carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` (seconds until the window ends); a call past the limit is answered 429 with
``Retry-After`` (the same seconds) and ``{"error": "Too many requests"}``, and is not counted."""

from __future__ import annotations

import hmac
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from koppel.sandbox.http import HTTPException, Request, Response

from .body import logged
from .errors import error
from .state import Administration, Ids, stamp

AUTH_HEADER = 'Bearer realm="Moneybird", error="invalid_token"'
TOO_MANY = "Too many requests"


@dataclass(slots=True)
class Call:
    administration: Administration
    request: Request
    base: str
    """The API's address: ``http://127.0.0.1:8100/moneybird/api/v2``."""
    ids: Ids

    def url(self, *parts: str) -> str:
        return "/".join((self.base, self.administration.id, *parts))


Handler = Callable[..., Awaitable[Response]]


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _rate(administration: Administration) -> tuple[Response | None, dict[str, str]]:
    knobs = administration.knobs
    if knobs.rate_limit_burst:
        knobs.rate_limit_burst -= 1
        wait = str(knobs.rate_limit_burst_retry_after)
        return error(429, TOO_MANY, {"Retry-After": wait}), {"RateLimit-Reset": wait}
    if not knobs.rate_limit:
        return None, {}
    moment = time.monotonic()
    started, used = administration.window
    if moment - started >= knobs.rate_limit_window:
        started, used = moment, 0
    reset = str(max(1, math.ceil(started + knobs.rate_limit_window - moment)))
    headers = {"RateLimit-Limit": str(knobs.rate_limit), "RateLimit-Reset": reset}
    if used >= knobs.rate_limit:
        administration.window = (started, used)
        return error(429, TOO_MANY, {"Retry-After": reset}), {**headers, "RateLimit-Remaining": "0"}
    administration.window = (started, used + 1)
    return None, {**headers, "RateLimit-Remaining": str(knobs.rate_limit - used - 1)}


class Gate:
    def __init__(self, administrations: dict[str, Administration], ids: Ids, base: Callable[[Request], str]):
        self.administrations = administrations
        self.ids = ids
        self.base = base
        self.random = random.Random(0)

    def by_id(self, administration_id: str) -> Administration | None:
        return next((a for a in self.administrations.values() if a.id == administration_id), None)

    def by_token(self, token: str) -> list[Administration]:
        return [a for a in self.administrations.values() if token and hmac.compare_digest(a.token, token)]

    def wrap(self, handler: Handler) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request, administration_id: str, **params: str) -> Response:
            administration = self.by_id(administration_id)
            token = _token(request)
            if administration is None or not hmac.compare_digest(administration.token, token):
                known = bool(self.by_token(token))
                response = error(404, "record not found") if known else _unauthorized()
            else:
                response = await self._checked(administration, request, handler, params)
            if administration is not None:
                log(administration, request, response.status)
            return response

        return endpoint

    def wrap_root(self, handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        """``/administrations.json``: every administration the token may use."""

        async def endpoint(request: Request) -> Response:
            found = self.by_token(_token(request))
            if not found:
                return _unauthorized()
            response = await self._checked(found[0], request, lambda call: handler(call, found), {})
            for administration in found:
                log(administration, request, response.status)
            return response

        return endpoint

    async def _checked(
        self, administration: Administration, request: Request, handler: Any, params: dict[str, str]
    ) -> Response:
        await administration.knobs.delay()
        refused, headers = _rate(administration)
        response = refused or await self._answer(administration, request, handler, params)
        response.headers.update(headers)
        return response

    async def _answer(
        self, administration: Administration, request: Request, handler: Any, params: dict[str, str]
    ) -> Response:
        status = administration.knobs.fault(self.random, (500, 502, 503))
        if status is not None:
            return _fault(status)
        call = Call(administration, request, self.base(request), self.ids)
        try:
            return await handler(call, **params)
        except HTTPException as exc:
            return exc.response


def _unauthorized() -> Response:
    return error(401, "Token is invalid or expired", {"WWW-Authenticate": AUTH_HEADER})


def _fault(status: int) -> Response:
    if status == 429:
        return error(429, TOO_MANY, {"Retry-After": "1"})
    if status == 401:
        return _unauthorized()
    messages = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}
    return error(status, messages.get(status, "Error"))


def log(administration: Administration, request: Request, status: int) -> None:
    """Time, method, path, query, the JSON body (or the names of a multipart upload's parts) and the status;
    never headers, so no token."""
    entry: dict[str, Any] = {
        "time": stamp(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "json": logged(request),
        "status": status,
    }
    administration.requests.append(entry)
