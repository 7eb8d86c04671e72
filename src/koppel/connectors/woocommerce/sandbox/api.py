"""The simulated REST API v3: orders and webhooks."""

from __future__ import annotations

import base64
import hmac
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from koppel.sandbox.http import HTTPException, Request, Response, Router

from .common import (
    _PROXY_PAGE,
    _REASONS,
    _THEME_404,
    API,
    WINDOW_SECONDS,
    _invalid_param,
    now_gmt,
    wc_error,
    wc_response,
)
from .query import OrderQuery
from .state import Store, Webhook


class RestApi:
    """The shop's REST API (orders, webhooks), mixed into the sandbox."""

    # ------------------------------------------------------------------ the shop's REST API

    def api_router(self) -> Router:
        r = Router()
        r.get("/{store}" + API + "/orders", self._api(self._list_orders))
        r.get("/{store}" + API + "/orders/{order_id}", self._api(self._get_order))
        r.get("/{store}" + API + "/orders/{order_id}/refunds", self._api(self._list_refunds))
        r.post("/{store}" + API + "/orders/{order_id}/refunds", self._api(self._create_refund))
        r.get("/{store}" + API + "/orders/{order_id}/refunds/{refund_id}", self._api(self._get_refund))
        r.get("/{store}" + API + "/webhooks", self._api(self._list_webhooks))
        r.get("/{store}" + API + "/webhooks/{webhook_id}", self._api(self._get_webhook))
        r.put("/{store}" + API + "/webhooks/{webhook_id}", self._api(self._put_webhook))
        r.route("/{store}/wp-json/{path:path}", None, self._no_route)
        r.route("/{store}/{path:path}", None, self._theme_page)
        return r

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: store lookup, latency, auth, rate limit, faults and the request log."""

        async def endpoint(request: Request, store: str, **params: str) -> Response:
            found = self.stores.get(store)
            if found is None:
                return Response.text(_THEME_404, 404, content_type="text/html; charset=UTF-8")
            try:
                response = await self._gate(found, request) or await handler(found, request, **params)
            except HTTPException as exc:
                response = exc.response
            found.requests.append(
                {
                    "time": now_gmt().isoformat(),
                    "method": request.method,
                    "path": request.path[len(store) + 1 :],
                    "query": {k: v for k, v in request.query.items() if k != "consumer_secret"},
                    "status": response.status,
                }
            )
            return response

        return endpoint

    async def _gate(self, store: Store, request: Request) -> Response | None:
        knobs = store.knobs
        await knobs.delay(self._random)
        problem = self._auth_problem(store, request)
        if problem is not None:
            return problem
        if knobs.rate_limit_per_minute:
            now, window = time.monotonic(), store.hits
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= knobs.rate_limit_per_minute:
                wait = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
                response = wc_error(
                    429, "rest_too_many_requests", "Too many requests. Please try again later."
                )
                response.headers["Retry-After"] = str(wait)
                return response
            window.append(now)
        status = knobs.fault(self._random, (500, 502, 503))
        return self._fault(status) if status is not None else None

    @staticmethod
    def _fault(status: int) -> Response:
        if status in _REASONS:
            page = _PROXY_PAGE.format(status=status, reason=_REASONS[status])
            return Response.text(page, status, content_type="text/html")
        if status == 500:
            return wc_error(
                500, "internal_server_error", "<p>There has been a critical error on this website.</p>"
            )
        response = wc_error(status, "woocommerce_sandbox_fault", f"Fault injected: {status}")
        if status == 429:
            response.headers["Retry-After"] = "1"
        return response

    @staticmethod
    def _auth_problem(store: Store, request: Request) -> Response | None:
        """WooCommerce's key check: Basic auth, or the key and secret as query parameters."""
        key, secret = request.query.get("consumer_key", ""), request.query.get("consumer_secret", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                key = secret = ""
        if not key:
            what = (
                "list resources"
                if request.path.rstrip("/").endswith(("orders", "webhooks"))
                else "view this resource"
            )
            return wc_error(401, "woocommerce_rest_cannot_view", f"Sorry, you cannot {what}.")
        if not hmac.compare_digest(key.encode(), store.consumer_key.encode()):
            return wc_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if not hmac.compare_digest(secret.encode(), store.consumer_secret.encode()):
            return wc_error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return None

    async def _no_route(self, request: Request, store: str, path: str) -> Response:
        return wc_error(404, "rest_no_route", "No route was found matching the URL and request method.")

    async def _theme_page(self, request: Request, store: str, path: str) -> Response:
        return Response.text(_THEME_404, 404, content_type="text/html; charset=UTF-8")

    async def _get_order(self, store: Store, request: Request, order_id: str) -> Response:
        if not order_id.isdigit():
            return wc_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        record = store.orders.get(int(order_id))
        if record is None:
            return wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return wc_response(record.doc)

    async def _list_orders(self, store: Store, request: Request) -> Response:
        query = OrderQuery.read(request.query, store)
        records, total = query.run(store)
        pages = math.ceil(total / query.per_page) if total else 0
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        link = self._links(store, request, query.page, pages)
        if link:
            headers["Link"] = link
        return wc_response([record.doc for record in records], 200, headers)

    @staticmethod
    def _links(store: Store, request: Request, page: int, pages: int) -> str:
        params = {k: v for k, v in request.query.items() if k not in ("consumer_key", "consumer_secret")}
        links = []
        if page > 1:
            links.append(
                f'<{store.api_url}/orders?{urlencode({**params, "page": min(page - 1, pages)})}>; rel="prev"'
            )
        if pages > page:
            links.append(f'<{store.api_url}/orders?{urlencode({**params, "page": page + 1})}>; rel="next"')
        return ", ".join(links)

    async def _list_webhooks(self, store: Store, request: Request) -> Response:
        hooks = [hook.as_api(store) for hook in store.webhooks.values()]
        return wc_response(hooks, 200, {"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": "1"})

    def _webhook(self, store: Store, webhook_id: str) -> Webhook:
        hook = store.webhooks.get(int(webhook_id)) if webhook_id.isdigit() else None
        if hook is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID."))
        return hook

    async def _get_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        return wc_response(self._webhook(store, webhook_id).as_api(store))

    async def _put_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        hook = self._webhook(store, webhook_id)
        changes = self._body(request)
        if not isinstance(changes, dict):
            return wc_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        self._change_webhook(hook, changes)
        return wc_response(hook.as_api(store))

    @staticmethod
    def _change_webhook(hook: Webhook, changes: dict[str, Any]) -> None:
        status = changes.get("status")
        if status is not None and status not in ("active", "paused", "disabled"):
            raise _invalid_param("status", "status is not one of active, paused, and disabled.")
        for name in ("name", "delivery_url", "secret"):
            if isinstance(changes.get(name), str):
                setattr(hook, name, changes[name])
        if status is not None:
            hook.status = status
        hook.modified = now_gmt()
