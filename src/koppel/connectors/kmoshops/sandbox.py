"""A simulated KMO Shops, faithful to the interface in ``specs/kmoshops/README.md``.

Several shops live in one process, each under ``/kmoshops/{shop}``: the shop URL Koppel is configured
with is ``{sandbox url}/kmoshops/{shop}``. The shop API (``GET api/v1/orders[/{id}]``) checks the
``X-Api-Key`` header, applies a sliding 60-second rate limit per shop and the fault knobs, and answers
JSON errors ``{"error": ..., "message": ...}``. Orders are created and changed through the control API
(mounted at ``/_sandbox/kmoshops``), which also sends the signed webhooks the real shop would send. For
people, ``/_sandbox/kmoshops/page`` lists the shops and ``.../shops/{shop}/page`` shows a shop's orders and
a "Place order" form (:mod:`koppel.sandbox.pages`).

Assumptions where the README is silent (documented so tests can rely on them):

- ``updated_at`` (ISO 8601 with the Europe/Amsterdam offset, whole seconds) is added to every order; the
  list is ordered by it, then by id. ``updated_since`` without an offset means Amsterdam local time; a
  ``+`` in an offset must be URL-encoded (``%2B``), as any real server would demand.
- ``rate_limit_per_minute = 0`` switches the rate limit off (for benchmarks).
- Requests answered 429 do not count towards the window; every other API request does.
- A webhook goes to the shop's ``webhook_url`` once per event, plus ``duplicate_webhooks`` copies sent
  concurrently; a delivery is retried on connection errors and 5xx answers. ``DELETE`` sends no event.

All state is touched from the server's event loop only; reading it from another thread (tests reaching
``SandboxServer.app``) is fine while no requests are in flight.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import random
import re
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import HTTPException, Request, Response, Router, reason
from koppel.sandbox.webhooks import Attempt, DeliveryLog, WebhookSender, log_attempt

logger = logging.getLogger("koppel.sandbox.kmoshops")

PAGE_SIZE = 50
PAGES = pages.Pages("KMO Shops", "kmoshops", "shops")
ORDER_FORM = (
    ("first_name", "First name", "Sanne"),
    ("last_name", "Last name", "Jansen"),
    ("email", "E-mail", "sanne@example.nl"),
    ("country", "Country", "NL"),
    ("product", "Product", "Mok Delfts blauw"),
    ("quantity", "Quantity", "1"),
    ("price", "Unit price incl. VAT", "12.95"),
    ("vat_rate", "VAT rate", "21"),
    ("status", "Status", "paid"),
)
FIRST_ORDER_ID = 100001
WINDOW_SECONDS = 60.0
LOG_LIMIT = 10_000
EVENTS = ("order.created", "order.updated")
WEBHOOK_TRIES = 3
WEBHOOK_BACKOFF = (0.2, 1.0)
"""Seconds to wait before the second and the third try."""

_CENT = Decimal("0.01")
_SHOP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_CUSTOMER_FIELDS = (
    "firstname",
    "lastname",
    "company",
    "address1",
    "address2",
    "house_number",
    "zipcode",
    "city",
    "country",
    "telnr",
    "mobile",
    "email",
    "vatnumber",
)
_PAID_STATUSES = frozenset({"paid", "processing", "shipped", "completed"})


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


def now_local() -> datetime:
    return datetime.now(AMSTERDAM).replace(microsecond=0)


def error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A KMO Shops style JSON error."""
    return Response.json(
        {"error": _ERROR_CODES.get(status, "error"), "message": message or reason(status)}, status, headers
    )


def _bad_request(message: str) -> HTTPException:
    return HTTPException(error(400, message))


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise _bad_request(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad_request(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise _bad_request(f"{what}: {value!r} is not a number")
    return result


def order_total(order: dict[str, Any]) -> str:
    """What the customer pays, VAT included: per line ``amount × price`` (plus VAT when the prices
    exclude it) rounded half-up to the cent, summed, plus the shipping cost rounded the same way."""
    incl = bool(order.get("priceincltax", True))
    items = [
        (line.get("amount", 1), line.get("price", "0"), line.get("tax_rate", "0")) for line in order["lines"]
    ]
    shipping = order.get("shipping")
    if isinstance(shipping, dict):
        items.append((1, shipping.get("price", "0"), shipping.get("tax_rate", "0")))
    total = Decimal(0)
    for n, (amount, price, rate) in enumerate(items, 1):
        gross = _decimal(amount, f"line {n} amount") * _decimal(price, f"line {n} price")
        if not incl:
            gross *= 1 + _decimal(rate, f"line {n} tax_rate") / 100
        total += gross.quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{total:.2f}"


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise _bad_request(f"{what}: expected an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_request(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=AMSTERDAM)


@dataclass(slots=True)
class ShopKnobs(FaultKnobs):
    """The fault knobs for the shop API (``error_rate`` answers a random 500 or 503), and the shop's own."""

    rate_limit_per_minute: int = 60
    """Requests allowed per sliding 60 s window; 0 switches the limit off."""
    duplicate_webhooks: int = 0
    """Extra copies of every webhook (to test de-duplication)."""
    webhooks_enabled: bool = True


@dataclass(eq=False)
class Shop:
    name: str
    api_key: str
    webhook_url: str | None = None
    webhook_secret: str = ""
    knobs: ShopKnobs = field(default_factory=ShopKnobs)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_keys: list[tuple[int, int]] = field(default_factory=list)
    """``(updated_at as epoch seconds, id)`` of every order, kept sorted for the paged list."""
    next_id: int = FIRST_ORDER_ID
    hits: deque[float] = field(default_factory=deque)
    """Monotonic times of the API requests inside the current rate-limit window."""
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Delivery attempts: the newest ones, and how many were logged so far."""

    def summary(self, base_url: str) -> dict[str, Any]:
        return {
            "shop": self.name,
            "shop_url": f"{base_url}/kmoshops/{self.name}",
            "webhook_url": self.webhook_url,
            "orders": len(self.orders),
            "knobs": asdict(self.knobs),
        }

    def _index(self, order: dict[str, Any]) -> tuple[int, int]:
        return int(datetime.fromisoformat(order["updated_at"]).timestamp()), order["id"]

    def put(self, order: dict[str, Any]) -> None:
        """Store (or replace) ``order``, keeping the ``updated_at`` index sorted."""
        old = self.orders.get(order["id"])
        if old is not None:
            self._unindex(old)
        self.orders[order["id"]] = order
        insort(self.order_keys, self._index(order))
        self.next_id = max(self.next_id, order["id"] + 1)

    def remove(self, order_id: int) -> dict[str, Any] | None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self._unindex(order)
        return order

    def _unindex(self, order: dict[str, Any]) -> None:
        key = self._index(order)
        i = bisect_left(self.order_keys, key)
        if i < len(self.order_keys) and self.order_keys[i] == key:
            del self.order_keys[i]

    def page(self, since: datetime | None, page: int) -> tuple[list[dict[str, Any]], int]:
        """Orders changed at or after ``since``, oldest change first: one page and the page count."""
        start = 0 if since is None else bisect_left(self.order_keys, (math.ceil(since.timestamp()), -1))
        pages = max(1, math.ceil((len(self.order_keys) - start) / PAGE_SIZE))
        lo = start + (page - 1) * PAGE_SIZE
        return [self.orders[order_id] for _, order_id in self.order_keys[lo : lo + PAGE_SIZE]], pages


class KmoShopsSandbox:
    """The shops, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.shops: dict[str, Shop] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(timeout=10.0)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_shop(
        self,
        name: str,
        api_key: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        knobs: dict[str, Any] | None = None,
    ) -> Shop:
        """Create a shop, or update the settings given for an existing one (its orders stay)."""
        if not _SHOP_NAME.match(name):
            raise ValueError(f"Invalid shop name: {name!r}")
        shop = self.shops.get(name)
        if shop is None:
            if not api_key:
                raise ValueError("api_key is required for a new shop")
            shop = Shop(name, api_key)
        if api_key:
            shop.api_key = api_key
        if webhook_url is not None:
            shop.webhook_url = webhook_url or None
        if webhook_secret is not None:
            shop.webhook_secret = webhook_secret
        if knobs:
            shop.knobs.update(knobs)
        self.shops[name] = shop
        return shop

    def add_order(self, shop: Shop, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Store a new order (or replace one with the same id); returns it and its webhook event."""
        order = self._build_order(shop, data)
        event = "order.updated" if order["id"] in shop.orders else "order.created"
        shop.put(order)
        return order, event

    def update_order(self, shop: Shop, order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply changed fields the way a shop back office would; ``updated_at`` becomes now."""
        current = shop.orders.get(order_id)
        if current is None:
            raise HTTPException(error(404, f"Order {order_id} not found"))
        merged = dict(current)
        for key, value in changes.items():
            if key == "id":
                continue
            if (
                key in ("customer", "shipping")
                and isinstance(value, dict)
                and isinstance(merged.get(key), dict)
            ):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        if "status" in changes and "paid" not in changes:
            if changes["status"] in _PAID_STATUSES:
                merged["paid"] = True
            elif changes["status"] == "pending":
                merged["paid"] = False
        if "total" not in changes and {"lines", "shipping", "priceincltax"} & changes.keys():
            del merged["total"]  # recomputed
        merged["updated_at"] = changes.get("updated_at") or now_local().isoformat()
        order = self._build_order(shop, merged)
        shop.put(order)
        return order

    async def aclose(self) -> None:
        """Cancel pending webhook deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()

    # ------------------------------------------------------------------ orders

    def _build_order(self, shop: Shop, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _bad_request("An order must be a JSON object")
        raw_id = data.get("id", shop.next_id)
        try:
            if isinstance(raw_id, bool):
                raise ValueError
            order_id = int(raw_id)
        except (TypeError, ValueError):
            raise _bad_request(f"id: {raw_id!r} is not an integer") from None
        now = now_local().isoformat()
        status = data.get("status", "paid")
        customer = data.get("customer") or {}
        lines = data.get("lines", [])
        shipping = data.get(
            "shipping", {"description": "Verzendkosten", "price": "0.00", "tax_rate": "21.00"}
        )
        if not isinstance(customer, dict):
            raise _bad_request("customer must be an object")
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise _bad_request("lines must be a list of objects")
        if shipping is not None and not isinstance(shipping, dict):
            raise _bad_request("shipping must be an object or null")
        order: dict[str, Any] = {
            "id": order_id,
            "number": data.get("number", str(order_id)),
            "created_at": data.get("created_at", now),
            "status": status,
            "currency": data.get("currency", "EUR"),
            "priceincltax": data.get("priceincltax", True),
            "payment_method": data.get("payment_method", "iDEAL"),
            "paid": data.get("paid", status != "pending"),
            "customer": {**dict.fromkeys(_CUSTOMER_FIELDS, ""), **customer},
            "lines": [
                {"sku": "", "description": "", "amount": 1, "price": "0.00", "tax_rate": "21.00", **line}
                for line in lines
            ],
            "shipping": shipping,
        }
        order["total"] = data["total"] if "total" in data else order_total(order)
        for key, value in data.items():  # extra fields pass through untouched
            order.setdefault(key, value)
        _parse_time(order["created_at"], "created_at")
        order["updated_at"] = _parse_time(data.get("updated_at", now), "updated_at").isoformat()
        return order

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

    # ------------------------------------------------------------------ webhooks

    def _webhooks(
        self, shop: Shop, events: list[tuple[str, int]], *, resend: bool = False
    ) -> Callable[[], None]:
        """A callback that starts the deliveries; run it after the control call has answered."""
        url, secret = shop.webhook_url, shop.webhook_secret
        copies = 1 if resend else 1 + shop.knobs.duplicate_webhooks
        if not url or not events or not (resend or shop.knobs.webhooks_enabled):
            return lambda: None

        def start() -> None:
            for event, order_id in events:
                for _ in range(copies):
                    self._webhook_sender.spawn(self._deliver(shop, url, secret, event, order_id))

        return start

    async def _deliver(self, shop: Shop, url: str, secret: str, event: str, order_id: int) -> None:
        body = json.dumps(
            {"event": event, "order_id": str(order_id), "shop": shop.name}, separators=(",", ":")
        )
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-KMO-Signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
            "User-Agent": "KMO-Shops-Webhooks/1.0 (Koppel sandbox)",
        }

        def logged(attempt: Attempt) -> None:
            entry = {"time": now_local().isoformat(), "event": event, "order_id": str(order_id)}
            shop.deliveries.append({**entry, **attempt.log_fields()})
            log_attempt(logger, event, order_id, attempt)

        await self._webhook_sender.deliver(
            url,
            raw,
            headers,
            tries=WEBHOOK_TRIES,
            backoff=WEBHOOK_BACKOFF,
            accepted=lambda status: status < 500,  # a 5xx is tried again
            on_attempt=logged,
        )

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/shops", self._c_put_shop)
        r.get("/shops/{shop}", self._control(self._c_get_shop))
        r.post("/shops/{shop}/orders", self._control(self._c_create_order))
        r.post("/shops/{shop}/orders/bulk", self._control(self._c_bulk_orders))
        r.patch("/shops/{shop}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/shops/{shop}/orders/{order_id}", self._control(self._c_delete_order))
        r.get("/shops/{shop}/knobs", self._control(self._c_get_knobs))
        r.post("/shops/{shop}/knobs", self._control(self._c_set_knobs))
        r.get("/shops/{shop}/webhooks", self._control(self._c_webhooks))
        r.delete("/shops/{shop}/webhooks", self._control(self._c_clear_webhooks))
        r.post("/shops/{shop}/webhooks/resend", self._control(self._c_resend))
        r.get("/shops/{shop}/requests", self._control(self._c_requests))
        r.delete("/shops/{shop}/requests", self._control(self._c_clear_requests))
        r.get("/page", self._p_index)
        r.get("/shops/{shop}/page", self._control(self._p_shop))
        r.post("/shops/{shop}/page/orders", self._control(self._p_place_order))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, shop: str, **params: str) -> Response:
            found = self.shops.get(shop)
            if found is None:
                return error(404, f"Shop {shop} not found")
            return await handler(found, request, **params)

        return endpoint

    def _base_url(self, request: Request) -> str:
        return self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json() if request.body else {}
        except ValueError:
            raise _bad_request("Body is not valid JSON") from None

    async def _c_put_shop(self, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("shop"), str):
            return error(400, "shop is required")
        try:
            shop = self.add_shop(
                data["shop"],
                api_key=data.get("api_key"),
                webhook_url=(data["webhook_url"] or "") if "webhook_url" in data else None,
                webhook_secret=data.get("webhook_secret"),
                knobs=data.get("knobs"),
            )
        except ValueError as exc:
            return error(400, str(exc))
        return Response.json(shop.summary(self._base_url(request)), 201)

    async def _c_get_shop(self, shop: Shop, request: Request) -> Response:
        return Response.json(shop.summary(self._base_url(request)))

    async def _c_create_order(self, shop: Shop, request: Request) -> Response:
        order, event = self.add_order(shop, self._body(request))
        response = Response.json(order, 201)
        if request.query.get("notify", "true").lower() not in ("false", "0", "no"):
            response.after = self._webhooks(shop, [(event, order["id"])])
        return response

    async def _c_bulk_orders(self, shop: Shop, request: Request) -> Response:
        """Fast seeding: ``{"orders": [...], "notify": false}``; notify defaults to false here."""
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
            return error(400, "orders must be a list")
        events = [self.add_order(shop, item) for item in data["orders"]]
        response = Response.json({"created": len(events), "ids": [order["id"] for order, _ in events]}, 201)
        if data.get("notify") is True:
            response.after = self._webhooks(shop, [(event, order["id"]) for order, event in events])
        return response

    async def _c_patch_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        changes = self._body(request)
        if not isinstance(changes, dict):
            return error(400, "Body must be a JSON object")
        if not order_id.isdigit():
            return error(404, f"Order {order_id} not found")
        order = self.update_order(shop, int(order_id), changes)
        response = Response.json(order)
        if request.query.get("notify", "true").lower() not in ("false", "0", "no"):
            response.after = self._webhooks(shop, [("order.updated", order["id"])])
        return response

    async def _c_delete_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit() or shop.remove(int(order_id)) is None:
            return error(404, f"Order {order_id} not found")
        return Response.empty()

    async def _c_get_knobs(self, shop: Shop, request: Request) -> Response:
        return Response.json(asdict(shop.knobs))

    async def _c_set_knobs(self, shop: Shop, request: Request) -> Response:
        try:
            shop.knobs.update(self._body(request))
        except ValueError as exc:
            return error(400, str(exc))
        return Response.json(asdict(shop.knobs))

    async def _c_webhooks(self, shop: Shop, request: Request) -> Response:
        """The delivery log; ``?wait_for=N&timeout=5`` first waits until N attempts have been logged."""
        try:
            await shop.deliveries.wait_as_asked(request.query)
        except ValueError:
            return error(400, "wait_for and timeout must be numbers")
        return Response.json(list(shop.deliveries))

    async def _c_clear_webhooks(self, shop: Shop, request: Request) -> Response:
        shop.deliveries.clear()
        return Response.empty()

    async def _c_resend(self, shop: Shop, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict):
            return error(400, "Body must be a JSON object")
        event = data.get("event", "order.updated")
        order_id = str(data.get("order_id", ""))
        if event not in EVENTS:
            return error(400, f"event must be one of {', '.join(EVENTS)}")
        if not order_id.isdigit():
            return error(400, "order_id must be an order id")
        if not shop.webhook_url:
            return error(409, f"Shop {shop.name} has no webhook_url")
        response = Response.json({"queued": 1}, 202)
        response.after = self._webhooks(shop, [(event, int(order_id))], resend=True)
        return response

    async def _c_requests(self, shop: Shop, request: Request) -> Response:
        return Response.json(list(shop.requests))

    async def _c_clear_requests(self, shop: Shop, request: Request) -> Response:
        shop.requests.clear()
        return Response.empty()

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.shops)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(shop.orders), shop.webhook_url) for name, shop in self.shops.items()]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_shop(self, shop: Shop, request: Request) -> Response:
        orders = [_order_row(order) for order in pages.newest(shop.orders.values())]
        action = PAGES.path(shop.name, "page", "orders")
        return PAGES.page(
            request,
            shop.name,
            pages.orders(orders, len(shop.orders)),
            pages.section("Place an order", pages.form(action, ORDER_FORM, "Place order")),
        )

    async def _p_place_order(self, shop: Shop, request: Request) -> Response:
        """The "Place order" form: an order of one line and no shipping, placed as ``POST orders`` places
        it, its webhook included."""
        back = PAGES.of(shop.name)
        given = pages.form_data(request)
        quantity = given.get("quantity", "")
        try:
            if not quantity.isdigit() or int(quantity) < 1:
                raise ValueError(f"Quantity: {quantity!r} is not a whole number from 1 up")
            price = pages.number(given.get("price", ""), "Unit price")
            rate = f"{pages.number(given.get('vat_rate', ''), 'VAT rate', below=100):.2f}"
        except ValueError as exc:
            return pages.error(request, str(exc), back)
        customer = {
            "firstname": given.get("first_name", ""),
            "lastname": given.get("last_name", ""),
            "email": given.get("email", ""),
            "country": given.get("country", "").upper(),
        }
        line = {"description": given.get("product", ""), "amount": int(quantity), "price": f"{price:.2f}"}
        order, event = self.add_order(
            shop,
            {
                "status": given.get("status") or "paid",
                "customer": customer,
                "lines": [{**line, "tax_rate": rate}],
                "shipping": None,
            },
        )
        response = pages.redirect(back)
        response.after = self._webhooks(shop, [(event, order["id"])])
        return response


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    customer = order["customer"]
    name = " ".join(str(part) for key in ("firstname", "lastname", "company") if (part := customer[key]))
    return (
        order["id"],
        order["number"],
        order["created_at"],
        name,
        customer["email"],
        order["status"],
        order["total"],
    )


SANDBOX = KmoShopsSandbox
