"""The shop API (``GET api/v1/orders[/{id}]``): auth, the sliding rate limit, the fault knobs and the log."""

from __future__ import annotations

import hmac
import math
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from koppel.sandbox.http import HTTPException, Request, Response, Router

from .common import (
    WINDOW_SECONDS,
    _parse_time,
    error,
    now_local,
)
from .state import Shop


class ShopApi:
    """The shop API, mixed into the sandbox."""

    shops: dict[str, Shop]
    _random: random.Random

    # ------------------------------------------------------------------ shop API

    def api_router(self) -> Router:
        router = Router()
        router.get("/{shop}/api/v1/orders", self._api(self._list_orders))
        router.get("/{shop}/api/v1/orders/{order_id}", self._api(self._get_order))
        router.route("/{shop}/{path:path}", None, self._api(self._unknown_endpoint))
        return router

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap a shop API handler: shop lookup, latency, auth, rate limit, faults and the request log."""

        async def endpoint(request: Request, shop: str, **params: str) -> Response:
            found = self.shops.get(shop)
            if found is None:
                return error(404, f"Shop {shop} not found")
            try:
                response = await self._gate(found, request) or await handler(found, request, **params)
            except HTTPException as exc:
                response = exc.response
            found.requests.append(
                {
                    "time": now_local().isoformat(),
                    "method": request.method,
                    "path": request.path[len(shop) + 1 :],
                    "query": request.query,
                    "status": response.status,
                }
            )
            return response

        return endpoint

    async def _gate(self, shop: Shop, request: Request) -> Response | None:
        knobs = shop.knobs
        await knobs.delay(self._random)
        if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), shop.api_key.encode()):
            return error(401, "Invalid API key")
        if knobs.rate_limit_per_minute:
            now, window = time.monotonic(), shop.hits
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= knobs.rate_limit_per_minute:
                retry_after = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
                return error(
                    429,
                    f"Rate limit of {knobs.rate_limit_per_minute} requests per minute exceeded",
                    {"Retry-After": str(retry_after)},
                )
            window.append(now)
        status = knobs.fault(self._random, (500, 503))
        if status is not None:
            return error(status, headers={"Retry-After": "1"} if status == 429 else None)
        return None

    async def _list_orders(self, shop: Shop, request: Request) -> Response:
        since_raw = request.query.get("updated_since")
        since = _parse_time(since_raw, "updated_since") if since_raw is not None else None
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            return error(400, f"page: {request.query.get('page')!r} is not a positive integer")
        orders, pages = shop.page(since, page)
        return Response.json({"orders": orders, "page": page, "pages": pages})

    async def _get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        order = shop.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is None:
            return error(404, f"Order {order_id} not found")
        return Response.json(order)

    async def _unknown_endpoint(self, shop: Shop, request: Request, path: str) -> Response:
        return error(404, f"No endpoint {request.method} /{path}")
