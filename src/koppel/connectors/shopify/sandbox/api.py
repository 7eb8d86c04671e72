"""The simulated Admin API: orders, their count and the client credentials grant."""

from __future__ import annotations

import bisect
import hmac
import itertools
import json
import uuid
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from koppel.sandbox.http import HTTPException, Request, Response, Router

from .common import (
    _VERSION,
    AUTH_MESSAGE,
    DEFAULT_LIMIT,
    GRANT_FIELDS,
    INVALID_CLIENT,
    MAX_LIMIT,
    PAGE_INFO_ALLOWED,
    RATE_LIMIT_MESSAGE,
    SUPPORTED_VERSIONS,
    TOKEN_PATH,
    VISIBLE_DAYS,
    _bad_request,
    errors,
    now_local,
)
from .query import Query, _int, decode_page_info, encode_page_info
from .state import OrderMeta, Shop
from .transactions import transactions


class AdminApi:
    """The Admin API (REST orders, count, the client credentials grant), mixed into the sandbox."""

    # ------------------------------------------------------------------ Admin API

    def api_router(self) -> Router:
        router = Router()
        router.get("/{shop}/admin/api/{version}/orders.json", self._api(self._list_orders))
        router.get("/{shop}/admin/api/{version}/orders/count.json", self._api(self._count_orders))
        router.get("/{shop}/admin/api/{version}/orders/{order_id}.json", self._api(self._get_order))
        refunds = "/{shop}/admin/api/{version}/orders/{order_id}/refunds"
        router.get(refunds + ".json", self._api(self._list_refunds))
        router.post(refunds + ".json", self._api(self._create_refund))
        router.get(refunds + "/{refund_id}.json", self._api(self._get_refund))
        transactions = "/{shop}/admin/api/{version}/orders/{order_id}/transactions.json"
        router.get(transactions, self._api(self._list_transactions))
        router.post("/{shop}" + TOKEN_PATH, self._access_token)
        router.route("/{shop}/{path:path}", None, self._unknown)
        return router

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: shop, version, latency, auth, the bucket, faults and the request log."""

        async def endpoint(request: Request, shop: str, version: str, **params: str) -> Response:
            found = self.shops.get(shop)
            if found is None:
                return errors(404, "Not Found")
            served = _served_version(version)
            try:
                response = await self._gate(found, request, served) or await handler(found, request, **params)
            except HTTPException as exc:
                response = exc.response
            if served is not None:
                response.headers.setdefault("X-Shopify-API-Version", served)
                if response.status != 401:  # every answer past authentication reports the bucket
                    response.headers["X-Shopify-Shop-Api-Call-Limit"] = found.call_limit
            response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)
            _log_request(found, request, response)
            return response

        return endpoint

    async def _gate(self, shop: Shop, request: Request, served: str | None) -> Response | None:
        knobs = shop.knobs
        await knobs.delay(self._random)
        if served is None:
            return errors(404, "Not Found")
        if not shop.accepts(request.headers.get("x-shopify-access-token", "")):
            return errors(401, AUTH_MESSAGE)
        if not shop.take_call():
            return errors(429, RATE_LIMIT_MESSAGE, {"Retry-After": "2.0"})
        status = knobs.fault(self._random, (500, 503))
        if status is not None:
            return errors(
                status, _REASONS.get(status, "Error"), {"Retry-After": "2.0"} if status == 429 else None
            )
        return None

    async def _get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        raw = shop.raw.get(int(order_id)) if order_id.isdigit() else None
        if raw is None or not self._visible(shop, shop.meta[int(order_id)]):
            return errors(404, "Not Found")
        fields = _fields(request.query)
        if fields is None:
            body = b'{"order":' + raw + b"}"
            return Response(200, body, {}, "application/json; charset=utf-8")
        return Response.json({"order": _pick(json.loads(raw), fields)})

    async def _list_transactions(self, shop: Shop, request: Request, order_id: str) -> Response:
        order = shop.order(int(order_id)) if order_id.isdigit() else None
        if order is None or not self._visible(shop, shop.meta[int(order_id)]):
            return errors(404, "Not Found")
        return Response.json({"transactions": transactions(order, shop.carts.get(order["id"], {}))})

    async def _count_orders(self, shop: Shop, request: Request) -> Response:
        query = Query.parse(request.query)
        count = sum(1 for meta in self._matching(shop, query))
        return Response.json({"count": count})

    async def _list_orders(self, shop: Shop, request: Request) -> Response:
        params = request.query
        limit = _int(params.get("limit", str(DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad_request({"limit": [f"must be between 1 and {MAX_LIMIT}"]})
        token = params.get("page_info")
        if token is not None:
            extra = sorted(set(params) - PAGE_INFO_ALLOWED)
            if extra:
                raise _bad_request(
                    {
                        "page_info": [
                            f"cannot be combined with {', '.join(extra)}; only limit and fields may be given"
                        ]
                    }
                )
            filters, last, direction = decode_page_info(token)
            query = Query.parse(filters)
        else:
            query, last, direction = Query.parse(params), None, "next"
        page, has_more = self._page(shop, query, limit, last, direction)
        return self._orders_response(shop, request, query, page, has_more, limit, last, direction)

    def _page(
        self, shop: Shop, query: Query, limit: int, last: tuple[float, int] | None, direction: str
    ) -> tuple[list[OrderMeta], bool]:
        """One page in the query's order after (or, going back, before) the keyset ``last``."""
        field_name, order = query.sort
        descending = order == "desc"
        if query.since_id is not None and last is None and direction == "next":
            return self._since_id_page(shop, query, limit)
        rows = sorted(self._matching(shop, query), key=lambda m: m.key(field_name), reverse=descending)
        if last is not None:
            forward = (direction == "next") != descending
            rows = [m for m in rows if (m.key(field_name) > last) == forward and m.key(field_name) != last]
        if direction == "prev":
            return rows[-limit:], len(rows) > limit
        return rows[:limit], len(rows) > limit

    def _since_id_page(self, shop: Shop, query: Query, limit: int) -> tuple[list[OrderMeta], bool]:
        """``since_id``: walk the ids upwards from it (fast even with many orders)."""
        start = bisect.bisect_right(shop.ids, query.since_id or 0)
        visible = self._visible_from(shop)
        rows: list[OrderMeta] = []
        for order_id in itertools.islice(shop.ids, start, None):
            meta = shop.meta[order_id]
            if query.matches(meta, visible):
                if len(rows) == limit:
                    return rows, True
                rows.append(meta)
        return rows, False

    def _orders_response(
        self,
        shop: Shop,
        request: Request,
        query: Query,
        page: list[OrderMeta],
        has_more: bool,
        limit: int,
        last: tuple[float, int] | None,
        direction: str,
    ) -> Response:
        fields = _fields(request.query)
        if fields is None:
            body = b'{"orders":[' + b",".join(shop.raw[m.id] for m in page) + b"]}"
        else:
            picked = [_pick(json.loads(shop.raw[m.id]), fields) for m in page]
            body = json.dumps({"orders": picked}, separators=(",", ":")).encode()
        links = []
        field_name = query.sort[0]
        base = f"{self._base_url(request)}/shopify/{shop.name}{request.path[len(shop.name) + 1 :]}"
        extra = f"&fields={request.query['fields']}" if "fields" in request.query else ""
        going_back = direction == "prev"
        if page and (last is not None) and (not going_back or has_more):
            token = encode_page_info(query.params, page[0].key(field_name), "prev")
            links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="previous"')
        if page and (has_more if not going_back else last is not None):
            token = encode_page_info(query.params, page[-1].key(field_name), "next")
            links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="next"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, body, headers, "application/json; charset=utf-8")

    def _matching(self, shop: Shop, query: Query) -> Iterable[OrderMeta]:
        visible = self._visible_from(shop)
        return (meta for meta in shop.meta.values() if query.matches(meta, visible))

    @staticmethod
    def _visible_from(shop: Shop) -> float | None:
        if shop.knobs.all_orders_access:
            return None
        return (datetime.now(UTC) - timedelta(days=VISIBLE_DAYS)).timestamp()

    def _visible(self, shop: Shop, meta: OrderMeta) -> bool:
        visible = self._visible_from(shop)
        return visible is None or meta.created >= visible

    async def _unknown(self, request: Request, shop: str, path: str) -> Response:
        return errors(404, "Not Found")

    # ------------------------------------------------------------------ the client credentials grant

    async def _access_token(self, request: Request, shop: str) -> Response:
        found = self.shops.get(shop)
        if found is None:
            return errors(404, "Not Found")
        await found.knobs.delay()
        response = _answer_grant(found, _grant_form(request))
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        _log_request(found, request, response)
        return response


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    423: "Locked",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _log_request(shop: Shop, request: Request, response: Response) -> None:
    """The request log: method, path below the shop, query and status (never headers or bodies)."""
    shop.requests.append(
        {
            "time": now_local().isoformat(),
            "method": request.method,
            "path": request.path[len(shop.name) + 1 :],
            "query": request.query,
            "status": response.status,
        }
    )


def oauth_error(error: str, description: str) -> Response:
    """A refused grant the way the token endpoint writes it."""
    return Response.json({"error": error, "error_description": description}, 400)


def _grant_form(request: Request) -> dict[str, str]:
    """The token request's fields: a form (what Shopify documents) or a JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(reversed(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)))
    if content_type == "application/json":
        try:
            data = request.json()
        except ValueError:
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    return {}


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _answer_grant(shop: Shop, form: dict[str, str]) -> Response:
    """The token endpoint's answer to a client credentials grant."""
    missing = [name for name in GRANT_FIELDS if not form.get(name)]
    if missing:
        return oauth_error("invalid_request", f"Missing required parameter: {missing[0]}.")
    if form["grant_type"] != "client_credentials":
        return oauth_error(
            "unsupported_grant_type", "The authorization grant type is not supported by the server."
        )
    if not (_same(form["client_id"], shop.client_id) and _same(form["client_secret"], shop.client_secret)):
        return oauth_error("invalid_client", INVALID_CLIENT)
    if not shop.app_installed:
        return oauth_error("app_not_installed", "The application is not installed on this shop.")
    return Response.json(shop.grant())


def _served_version(version: str) -> str | None:
    """The version that answers: a supported one itself, an older one falls forward to the oldest
    supported, an unknown or future one is not found."""
    if version == "unstable" or version in SUPPORTED_VERSIONS:
        return version
    if _VERSION.match(version) and version < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]
    return None


def _fields(query: dict[str, str]) -> list[str] | None:
    value = query.get("fields")
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _pick(order: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: order[name] for name in fields if name in order}
