"""What every API call goes through: latency, the bearer token, the account, the rate limit, the ``Accept``
header and the fault knobs, then the request log; and the helpers the handlers read requests with."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from koppel.sandbox.http import HTTPException, Request, Response

from . import problems, ratelimit
from .core import CLOCK_SKEW, Core
from .state import Shop, now, stamp

PUBLIC = "https://api.bol.com"


@dataclass(slots=True)
class Call:
    """One authenticated API call: whose it is, which data it reads (the demo's or the shop's own)."""

    shop: Shop
    data: Shop
    request: Request
    demo: bool
    path: str
    """The path as on api.bol.com, without ``-demo``: ``/retailer/orders/1042823870``."""
    base: str
    """The sandbox's bol URL: ``http://127.0.0.1:8100/bol``."""

    @property
    def instance(self) -> str:
        query = f"?{urlencode(self.request.query)}" if self.request.query else ""
        return f"{PUBLIC}{self.path}{query}"

    @property
    def shared(self) -> str:
        return f"{self.base}/shared{'-demo' if self.demo else ''}"

    def page(self) -> int:
        raw = self.request.query.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            raise problems.invalid(
                self.instance, "page", f"Request contains invalid value(s): '{raw}', must be >= 1."
            )
        return int(raw)

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.request.query.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise problems.invalid(self.instance, name, problems.choice_reason(value, allowed))
        return value

    def json_body(self) -> Any:
        """The JSON body of a PUT or POST: ``Content-Type`` must be the v10 type (else 415)."""
        content_type = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != problems.MEDIA_TYPE:
            detail = f"Content-Type header contains invalid value, allowed value is {problems.MEDIA_TYPE}."
            raise HTTPException(problems.problem(415, detail, self.instance))
        try:
            return json.loads(self.request.body)
        except ValueError:
            raise HTTPException(
                problems.problem(400, "Request body is not valid JSON.", self.instance)
            ) from None


Handler = Callable[..., Awaitable[Response]]


def accepted(request: Request, offered: tuple[str, ...] = (problems.MEDIA_TYPE,)) -> str | None:
    """The first type of ``Accept`` that the route offers (bol's own ``application/vnd.retailer.v10+…``
    types only; ``*/*`` or ``application/pdf`` are not enough); ``None``: a 406."""
    wanted = [part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")]
    return next((kind for kind in wanted if kind in offered), None)


def _expired(expires: float) -> Response:
    moment = time.time()
    detail = (
        f"JWT expired at {_utc(expires)}. Current time: {_utc(moment)}, a difference of "
        f"{int((moment - expires) * 1000)} milliseconds.  "
        f"Allowed clock skew: {int(CLOCK_SKEW * 1000)} milliseconds."
    )
    return problems.body({"title": "Expired JWT", "status": 401, "detail": detail}, 401)


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Gate:
    def __init__(self, core: Core, demo_shop: Shop) -> None:
        self.core = core
        self.demo_shop = demo_shop

    def authenticate(self, request: Request, instance: str) -> Shop | Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return problems.problem(401, "Full authentication is required to access this resource.", instance)
        found = self.core.tokens.get(token.strip())
        if found is None:
            return problems.problem(401, "Invalid JWT.", instance)
        shop, expires = found
        if time.time() > expires + CLOCK_SKEW:
            return _expired(expires)
        return shop

    def wrap(
        self, handler: Handler, demo: bool, offered: tuple[str, ...] = (problems.MEDIA_TYPE,)
    ) -> Callable[..., Awaitable[Response]]:
        """``handler`` behind the gate; ``offered``: the media types it answers (``Accept`` must name one)."""

        async def endpoint(request: Request, **params: str) -> Response:
            path = _public_path(request.path)
            instance = f"{PUBLIC}{path}"
            found = self.authenticate(request, instance)
            if isinstance(found, Response):
                return found
            shop = found
            await shop.knobs.delay()
            response = await self._checked(shop, request, path, demo, handler, params, offered)
            response.headers.setdefault("X-Request-ID", str(uuid.uuid4()))
            response.headers["X-RID"] = response.headers["X-Request-ID"]
            _log(shop, request, response)
            return response

        return endpoint

    async def _checked(
        self,
        shop: Shop,
        request: Request,
        path: str,
        demo: bool,
        handler: Handler,
        params: dict[str, str],
        offered: tuple[str, ...],
    ) -> Response:
        instance = f"{PUBLIC}{path}"
        if not shop.active:
            detail = (
                "Account is not active, access denied. Please contact partnerservice if this is unexpected."
            )
            return problems.body(
                {"title": "Forbidden", "status": 403, "detail": detail, "host": problems.HOST}, 403
            )
        verdict = ratelimit.take(shop, ratelimit.rule_for(request.method, path, demo))
        if not verdict.allowed:
            response = problems.too_many(verdict.reset)
        elif accepted(request, offered) is None:
            supported = ", ".join(offered)
            detail = f"The requested media type is not supported. Supported media type: {supported}."
            response = problems.problem(406, detail, instance)
        else:
            response = await self._answer(shop, request, path, demo, handler, params)
        response.headers.update(verdict.headers())
        return response

    async def _answer(
        self, shop: Shop, request: Request, path: str, demo: bool, handler: Handler, params: dict[str, str]
    ) -> Response:
        status = shop.knobs.fault(self.core.ids.random, (500, 503))
        if status is not None:
            if status == 429:
                return problems.too_many(shop.knobs.retry_after or 1)
            if status >= 500:
                return problems.server_error(status)
            return problems.problem(status, problems.TITLES.get(status, "Error"), f"{PUBLIC}{path}")
        data = self.demo_shop if demo else shop
        self.core.settle(data)
        base = f"{self.core.base_url(request.headers.get('host'))}/bol"
        call = Call(shop, data, request, demo, path, base)
        try:
            return await handler(call, **params)
        except HTTPException as exc:
            return exc.response


def _public_path(path: str) -> str:
    """``/retailer-demo/orders`` → ``/retailer/orders`` (the router sees the path below ``/bol``)."""
    head, _, rest = path.lstrip("/").partition("/")
    return f"/{head.removesuffix('-demo')}/{rest}".rstrip("/")


def _log(shop: Shop, request: Request, response: Response) -> None:
    """The request log: time, method, path below ``/bol``, query and status (no headers, no bodies)."""
    shop.requests.append(
        {
            "time": stamp(now()),
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "status": response.status,
        }
    )


def log_token_request(shop: Shop, request: Request, status: int) -> None:
    _log(shop, request, Response(status))
