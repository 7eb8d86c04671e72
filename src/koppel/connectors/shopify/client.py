"""HTTP client for Shopify's REST Admin API (legacy since 2024-10, still served): orders, their refunds,
their count, cursor pagination through the ``Link`` header, and the REST leaky bucket.

Shopify lets an app fill a bucket of 40 calls (80 on Advanced, 400 on Plus) that leaks 2 a second (4, 20):
the bucket holds twenty seconds of calls on every plan. Each answer reports the level as
``X-Shopify-Shop-Api-Call-Limit: 32/40``; a call into a full bucket is answered 429 with ``Retry-After``.
The bucket is shared by every process that uses the app's token, so the client reads the level from each
answer and, when fewer than a fifth of the calls are left, waits until enough have leaked away, instead
of learning about the limit from a 429.

Two ways in: a legacy custom app's permanent Admin API access token, or a Dev Dashboard app's client ID
and secret, traded for a 24-hour token with the client credentials grant (:class:`TokenSource`, the
cache in :mod:`.auth`). Either way the token goes in ``X-Shopify-Access-Token``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from koppel.connectors.errors import AuthFailed, RateLimited, Rejected, TokenRefused, Unavailable
from koppel.connectors.http import ApiClient, CallLog, retry_after_seconds

from .auth import TOKENS, AppCredentials, Grant, TokenCache

#: The Admin API version the client asks for. Shopify supports a version for at least twelve months and
#: then silently answers with the oldest supported one; bump this once a year.
API_VERSION = "2026-07"
PAGE_LIMIT = 250
CALL_LIMIT_HEADER = "x-shopify-shop-api-call-limit"
#: Shopify's own wait after a 429 when its answer does not say.
DEFAULT_RETRY_AFTER = 2.0
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
#: The token endpoint, under ``{shop}/admin/``.
TOKEN_PATH = "oauth/access_token"


@dataclass(slots=True)
class CallBucket:
    """Shopify's leaky bucket as the last answer reported it, leaking since.

    ``leak_rate`` is calls a second; ``None`` derives it from the bucket size (size / 20, true for every
    Shopify plan).
    """

    leak_rate: float | None = None
    max_wait: float = 20.0
    used: float = 0.0
    size: int = 40
    seen_at: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def observe(self, header: str | None) -> None:
        used, _, size = (header or "").partition("/")
        try:
            self.used, self.size = float(used), int(size)
        except ValueError:
            return
        self.seen_at = time.monotonic()

    @property
    def rate(self) -> float:
        return self.leak_rate or max(self.size / 20, 0.1)

    def delay(self) -> float:
        """Seconds to wait before the next call so that a fifth of the bucket stays free."""
        level = max(0.0, self.used - (time.monotonic() - self.seen_at) * self.rate)
        ceiling = self.size - max(1, self.size // 5)
        return 0.0 if level + 1 <= ceiling else (level + 1 - ceiling) / self.rate

    def wait(self) -> None:
        delay = min(self.delay(), self.max_wait)
        if delay > 0:
            self.sleep(delay)


_BUCKETS: dict[str, CallBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(shop_url: str) -> CallBucket:
    """The process's view of a shop's bucket. The worker makes a new client for every order, so a bucket
    per client would start empty each time and never wait; one per shop remembers the last level seen."""
    key = shop_url.rstrip("/").lower()
    with _BUCKETS_LOCK:
        return _BUCKETS.setdefault(key, CallBucket())


def error_text(response: httpx.Response, limit: int = 500) -> str:
    """Shopify's ``{"errors": "..."}`` or ``{"errors": {"field": ["..."]}}`` as one line; an OAuth error
    ``{"error": "...", "error_description": "..."}`` as ``error: description``."""
    try:
        data = response.json()
    except ValueError:
        data = None
    errors = data.get("errors", data.get("error")) if isinstance(data, dict) else None
    if isinstance(errors, dict):
        parts = []
        for name, value in errors.items():
            text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{name}: {text}" if name != "base" else text)
        message = "; ".join(parts)
    elif isinstance(errors, list):
        message = "; ".join(map(str, errors))
    elif errors:
        message = str(errors)
    else:
        message = response.text.strip()
    description = data.get("error_description") if isinstance(data, dict) else None
    if errors and isinstance(description, str) and description:
        message = f"{message}: {description}"
    return message[:limit] or response.reason_phrase


def shopify_time(moment: datetime) -> str:
    """ISO 8601 with an offset, whole seconds (Shopify's timestamps have no fractions)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def whole_second_at_or_after(moment: datetime) -> datetime:
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + timedelta(seconds=1)


def last_second_before(moment: datetime) -> datetime:
    """The last whole second before ``moment``: Shopify's ``*_max`` filters include their bound."""
    return moment.replace(microsecond=0) if moment.microsecond else moment - timedelta(seconds=1)


class TokenClient(ApiClient):
    """The shop's token endpoint, ``POST {shop}/admin/oauth/access_token`` with the client credentials
    grant. The call is logged like any other (method, path, status): the form holding the secret and the
    answer holding the token never are."""

    side = "source"
    system = "Shopify"

    def __init__(
        self,
        shop_url: str,
        app: AppCredentials,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(f"{shop_url.rstrip('/')}/admin/", log=log, transport=transport)
        self.app = app

    def obtain(self) -> Grant:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
        }
        response = self.request("POST", TOKEN_PATH, data=form)
        try:
            data = response.json()
        except ValueError:
            data = None
        grant = Grant.from_answer(data) if isinstance(data, dict) else None
        if grant is None:
            raise Unavailable("Shopify answered the access token request without a token", side=self.side)
        return grant

    def classify(self, response: httpx.Response) -> None:
        """A refused grant (400 or 401: a wrong client ID or secret, an app not installed on the shop; 403,
        404: no such shop) is ``AuthFailed`` with Shopify's message; overload and outages are transient."""
        status = response.status_code
        if status < 400:
            return
        text = error_text(response)
        if self.app.client_secret:  # Shopify does not echo it; should an answer ever do, it stays out
            text = text.replace(self.app.client_secret, "***")
        message = f"Shopify answered {status} to the access token request: {text}"
        retry_after = retry_after_seconds(response)
        if status == 429:
            raise RateLimited(message, side=self.side, retry_after=retry_after or DEFAULT_RETRY_AFTER)
        if status in (402, 408, 423) or status >= 500:
            raise Unavailable(message, side=self.side, retry_after=retry_after)
        raise AuthFailed(message, side=self.side)


class TokenSource:
    """A Dev Dashboard app's tokens for one shop: from the process's cache, or, when there is none or it is
    due for renewal, from the token endpoint (its HTTP client opened on first need)."""

    def __init__(
        self,
        shop_url: str,
        app: AppCredentials,
        *,
        log: CallLog,
        transport: httpx.BaseTransport | None = None,
        cache: TokenCache = TOKENS,
    ) -> None:
        self.key = app.cache_key(shop_url)
        self.cache = cache
        self._shop_url, self._app, self._log, self._transport = shop_url, app, log, transport
        self._client: TokenClient | None = None

    def token(self) -> tuple[str, bool]:
        """A token and whether it was obtained just now."""
        return self.cache.get(self.key, self._obtain)

    def forget(self, access_token: str) -> None:
        self.cache.forget(self.key, access_token)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _obtain(self) -> Grant:
        if self._client is None:
            self._client = TokenClient(self._shop_url, self._app, log=self._log, transport=self._transport)
        return self._client.obtain()


class ShopifyClient(ApiClient):
    side = "source"
    system = "Shopify"
    unauthorized = TokenRefused
    transient_statuses = frozenset({402, 423})  # the shop is frozen (unpaid) or locked: it comes back
    default_retry_after = DEFAULT_RETRY_AFTER

    def __init__(
        self,
        shop_url: str,
        access_token: str = "",
        *,
        app: AppCredentials | None = None,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
        bucket: CallBucket | None = None,
        tokens: TokenCache = TOKENS,
    ) -> None:
        """With ``access_token`` (a legacy custom app's) every call sends it; with ``app`` instead every
        call sends the app's current token from the client credentials grant."""
        base = f"{shop_url.rstrip('/')}/admin/api/{API_VERSION}/"
        headers = {ACCESS_TOKEN_HEADER: access_token} if app is None else None
        super().__init__(base, headers=headers, log=log, transport=transport)
        self.bucket = bucket if bucket is not None else shared_bucket(shop_url)
        self.tokens = (
            TokenSource(shop_url, app, log=self.log, transport=transport, cache=tokens) if app else None
        )

    def close(self) -> None:
        super().close()
        if self.tokens is not None:
            self.tokens.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.bucket.wait()
        if self.tokens is None:
            return super().request(method, path, **kwargs)
        return self._with_app_token(self.tokens, method, path, **kwargs)

    def _with_app_token(self, tokens: TokenSource, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The call with the app's token; a cached token answered 401 (revoked, or expired early) is
        renewed once and the call made again. A token obtained just now and refused is not retried."""
        access_token, fresh = tokens.token()
        try:
            return self._send(method, path, access_token, **kwargs)
        except TokenRefused:
            if fresh:
                raise
            tokens.forget(access_token)
        access_token, _ = tokens.token()
        return self._send(method, path, access_token, **kwargs)

    def _send(self, method: str, path: str, access_token: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), ACCESS_TOKEN_HEADER: access_token}
        return super().request(method, path, headers=headers, **kwargs)

    def classify(self, response: httpx.Response) -> None:
        self.bucket.observe(response.headers.get(CALL_LIMIT_HEADER))
        super().classify(response)

    def error_text(self, response: httpx.Response) -> str:
        return error_text(response)

    # -- orders ------------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> dict[str, Any]:
        data = self._json(self.request("GET", f"orders/{quote(str(order_id), safe='')}.json"))
        order = data.get("order")
        if not isinstance(order, dict):
            raise Rejected("Shopify answered without an order", side=self.side)
        return order

    def get_transactions(self, order_id: str) -> list[dict[str, Any]]:
        """``GET orders/{id}/transactions.json``: the order's payments (a gift card's among them)."""
        path = f"orders/{quote(str(order_id), safe='')}/transactions.json"
        data = self._json(self.request("GET", path))
        return [t for t in data.get("transactions", []) if isinstance(t, dict)]

    def get_refunds(self, order_id: str) -> list[dict[str, Any]]:
        """``GET orders/{id}/refunds.json``: every refund of the order (Shopify lists them all at once, up
        to 250, more than an order has)."""
        path = f"orders/{quote(str(order_id), safe='')}/refunds.json"
        data = self._json(self.request("GET", path, params={"limit": PAGE_LIMIT}))
        return [refund for refund in data.get("refunds", []) if isinstance(refund, dict)]

    def orders_page(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``orders.json`` and the ``page_info`` of the next page (``None`` after the last)."""
        response = self.request("GET", "orders.json", params=params)
        data = self._json(response)
        orders = [order for order in data.get("orders", []) if isinstance(order, dict)]
        return orders, next_page_info(response)

    def iter_pages(self, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page for ``params``. Shopify takes the filters only on the first request; the following
        ones name just ``page_info`` and ``limit`` (anything else is answered 400)."""
        orders, page_info = self.orders_page(params)
        yield orders
        while page_info:
            orders, page_info = self.orders_page(
                {"limit": params.get("limit", PAGE_LIMIT), "page_info": page_info}
            )
            yield orders

    def iter_updated(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        """Orders changed since ``updated_since``, every status (the default lists open orders only), oldest
        change first: ``order`` is not in the REST reference but Shopify honours it; were it ignored, the
        same orders would still all come, only in another order."""
        params = {
            "status": "any",
            "updated_at_min": shopify_time(updated_since),
            "limit": PAGE_LIMIT,
            "order": "updated_at asc",
        }
        for page in self.iter_pages(params):
            yield from page

    def orders_after(
        self, since_id: int, created_min: datetime, created_before: datetime | None, limit: int = PAGE_LIMIT
    ) -> list[dict[str, Any]]:
        """Orders with an id above ``since_id`` placed in ``[created_min, created_before)``, by id (Shopify
        sorts by id whenever ``since_id`` is given)."""
        params: dict[str, Any] = {
            "status": "any",
            "since_id": since_id,
            "created_at_min": shopify_time(whole_second_at_or_after(created_min)),
            "limit": limit,
        }
        if created_before is not None:
            params["created_at_max"] = shopify_time(last_second_before(created_before))
        orders, _ = self.orders_page(params)
        return orders

    def count_orders(self, created_min: datetime, created_before: datetime | None) -> int | None:
        params: dict[str, Any] = {
            "status": "any",
            "created_at_min": shopify_time(whole_second_at_or_after(created_min)),
        }
        if created_before is not None:
            params["created_at_max"] = shopify_time(last_second_before(created_before))
        count = self._json(self.request("GET", "orders/count.json", params=params)).get("count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise Rejected("Shopify answered with something that is not JSON", side=self.side) from None
        if not isinstance(data, dict):
            raise Rejected("Shopify answered with unexpected JSON", side=self.side)
        return data


def next_page_info(response: httpx.Response) -> str | None:
    """The ``page_info`` of the ``rel="next"`` link, if any."""
    link = response.links.get("next")
    if not link or not link.get("url"):
        return None
    values = parse_qs(urlsplit(link["url"]).query).get("page_info")
    return values[0] if values else None
