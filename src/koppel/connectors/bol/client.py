"""HTTP client for bol.com's Retailer API v10: the client-credentials token, the v10 media type, the
per-endpoint rate limits and list paging.

**Token.** ``POST https://login.bol.com/token`` with HTTP Basic auth (client id and secret) and the form
body ``grant_type=client_credentials`` (bol refuses the parameters in the URL) answers a JWT that lives
299 seconds. bol blocks clients that ask for a token per request, so the token is kept in the
connector's token store (for a saved connection: its database row, shared by every worker process) and
reused until :data:`RENEW_MARGIN` seconds before it expires. A cached token answered 401 ("JWT expired",
or revoked) is renewed once and the call made again; a fresh token refused is ``AuthFailed``. Any other
base URL than production's (the sandbox's ``{sandbox}/bol``) has its token endpoint at ``{url}/token``.

**Media type.** Every call sends ``Accept: application/vnd.retailer.v10+json``; a JSON body goes as the
same type.

**Rate limits.** bol limits each endpoint on its own (the order list 25 a minute, one order 25 a second,
one shipment 50 a minute, ...) and reports the bucket in ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` (seconds until the window ends; read case-insensitively). The process keeps the last answer of
each bucket (per API, client id and ``METHOD /api/resource[/*]``); a call into a bucket reported empty
waits for its reset when that is at most :data:`PACE_WAIT_MAX` seconds away, and otherwise raises
``RateLimited`` without calling, so steady traffic meets no 429. A 429 raises ``RateLimited`` with its
``Retry-After`` and empties the bucket until then; the pipeline waits it out without using up a try.

**Paging.** Lists hold 50 a page from ``page=1``; an empty page is ``{ }`` (no list at all).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from koppel.connectors.base import MemoryTokenStore, StoredToken, TokenStore
from koppel.connectors.errors import AuthFailed, RateLimited, Rejected, TokenRefused, Unavailable
from koppel.connectors.http import ApiClient, CallLog, retry_after_seconds

MEDIA_TYPE = "application/vnd.retailer.v10+json"
PRODUCTION_URL = "https://api.bol.com"
PRODUCTION_TOKEN_URL = "https://login.bol.com/token"
PAGE_SIZE = 50
#: A list is never read beyond this many pages (a safety net against a server that never ends a list).
MAX_PAGES = 400
#: Renew a token this many seconds before it expires (or at a tenth of its lifetime when that is less).
RENEW_MARGIN = 30.0
#: bol's token lifetime, assumed when an answer does not say.
DEFAULT_EXPIRES_IN = 299
#: Wait for an empty bucket's reset inside the call when it is at most this far; further: RateLimited.
PACE_WAIT_MAX = 5.0
#: bol's wait after a 429 that names none.
DEFAULT_RETRY_AFTER = 2.0


def is_production(url: str) -> bool:
    return urlsplit(url).hostname in ("api.bol.com", None) and urlsplit(url).scheme in ("https", "")


def token_url(url: str) -> str:
    """``https://login.bol.com/token`` for the production API, ``{url}/token`` for any other base."""
    return PRODUCTION_TOKEN_URL if is_production(url) else f"{url.rstrip('/')}/token"


def problem_text(response: httpx.Response, limit: int = 500) -> str:
    """bol's ``Problem`` (``title: detail`` and the violations) or OAuth error, as one line."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return response.text.strip()[:limit] or response.reason_phrase
    if data.get("error"):
        text = ": ".join(str(data[k]) for k in ("error", "error_description") if data.get(k))
    else:
        text = ": ".join(dict.fromkeys(str(data[k]) for k in ("title", "detail") if data.get(k)))
    violations = data.get("violations")
    if isinstance(violations, list) and violations:
        text += (
            " ("
            + "; ".join(f"{v.get('name')}: {v.get('reason')}" for v in violations if isinstance(v, dict))
            + ")"
        )
    return text[:limit] or response.reason_phrase


def bucket_name(method: str, path: str) -> str:
    """``GET retailer/orders/123`` → ``GET /retailer/orders/*``: the shape of bol's rate-limit table."""
    segments = [s for s in path.split("?")[0].strip("/").split("/") if s]
    if segments:
        segments[0] = segments[0].removesuffix("-demo")
    head = "/" + "/".join(segments[:2])
    return f"{method.upper()} {head}{'/*' if len(segments) > 2 else ''}"


@dataclass(slots=True)
class Bucket:
    remaining: int | None = None
    reset_at: float = 0.0


class Buckets:
    """The process's view of the rate-limit buckets, by (API, client id, bucket)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def wait_needed(self, key: tuple[str, str, str]) -> float:
        """Seconds until a call may go into the bucket (0: now); takes the call from the bucket."""
        with self._lock:
            bucket = self._buckets.setdefault(key, Bucket())
            now = time.monotonic()
            if bucket.remaining is None or now >= bucket.reset_at:
                return 0.0
            if bucket.remaining > 0:
                bucket.remaining -= 1
                return 0.0
            return bucket.reset_at - now

    def observe(self, key: tuple[str, str, str], response: httpx.Response) -> None:
        headers = response.headers
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        with self._lock:
            bucket = self._buckets.setdefault(key, Bucket())
            if response.status_code == 429:
                wait = retry_after_seconds(response) or DEFAULT_RETRY_AFTER
                bucket.remaining, bucket.reset_at = 0, time.monotonic() + wait
                return
            try:
                left, seconds = int(remaining or ""), float(reset or "")
            except ValueError:
                return
            if seconds > 10**9:  # an epoch second rather than seconds from now
                seconds = max(0.0, seconds - time.time())
            bucket.remaining, bucket.reset_at = left, time.monotonic() + seconds

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


#: Every client of the process paces itself by these (a connector is made per order).
BUCKETS = Buckets()
_TOKEN_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_TOKEN_LOCKS_GUARD = threading.Lock()


def _token_lock(key: tuple[str, str]) -> threading.Lock:
    with _TOKEN_LOCKS_GUARD:
        return _TOKEN_LOCKS.setdefault(key, threading.Lock())


class TokenEndpoint(ApiClient):
    """``POST {token url}`` with the client credentials; logged as any call, never with the form or the
    token."""

    side = "source"
    system = "bol.com"

    def __init__(
        self, url: str, client_id: str, client_secret: str, *, log: CallLog, transport: Any = None
    ) -> None:
        endpoint = token_url(url)
        base, _, self.path = endpoint.rpartition("/")
        super().__init__(base, auth=(client_id, client_secret), log=log, transport=transport)
        self._secret = client_secret

    def obtain(self) -> tuple[str, float]:
        """A new access token and its lifetime in seconds."""
        response = self.request("POST", self.path, data={"grant_type": "client_credentials"})
        try:
            data = response.json()
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise Unavailable("bol.com answered the token request without a token", side=self.side)
        expires_in = data.get("expires_in") if isinstance(data, dict) else None
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        return token, float(expires_in)

    def classify(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        text = problem_text(response).replace(self._secret, "***") if self._secret else problem_text(response)
        message = f"bol.com answered {status} to the token request: {text}"
        if status == 429:
            wait = retry_after_seconds(response) or DEFAULT_RETRY_AFTER
            raise RateLimited(message, side=self.side, retry_after=wait)
        if status == 408 or status >= 500:
            raise Unavailable(message, side=self.side, retry_after=retry_after_seconds(response))
        raise AuthFailed(message, side=self.side)


class BolClient(ApiClient):
    side = "source"
    system = "bol.com"
    unauthorized = TokenRefused
    default_retry_after = DEFAULT_RETRY_AFTER

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        demo: bool = False,
        token_store: TokenStore | None = None,
        log: CallLog | None = None,
        transport: Any = None,
        buckets: Buckets = BUCKETS,
        sleep: Any = time.sleep,
    ) -> None:
        super().__init__(url, headers={"Accept": MEDIA_TYPE}, log=log, transport=transport)
        self.url = url.rstrip("/")
        self.suffix = "-demo" if demo else ""
        self.client_id = client_id
        self.tokens = token_store if token_store is not None else MemoryTokenStore()
        self.buckets, self.sleep = buckets, sleep
        self._endpoint = TokenEndpoint(url, client_id, client_secret, log=self.log, transport=transport)
        self._token: StoredToken | None = None

    def close(self) -> None:
        super().close()
        self._endpoint.close()

    # -- paths -------------------------------------------------------------------------------------------

    def retailer(self, path: str) -> str:
        return f"retailer{self.suffix}/{path.lstrip('/')}"

    def shared(self, path: str) -> str:
        return f"shared{self.suffix}/{path.lstrip('/')}"

    # -- token -------------------------------------------------------------------------------------------

    def token(self) -> tuple[str, bool]:
        """A usable access token and whether it was obtained just now."""
        now = datetime.now(UTC)
        if self._token is not None and self._usable(self._token, now):
            return self._token.value, False
        with _token_lock((token_url(self.url), self.client_id)):
            stored = self.tokens.get()
            if stored is not None and self._usable(stored, now):
                self._token = stored
                return stored.value, False
            value, lifetime = self._endpoint.obtain()
            renew_in = lifetime - min(RENEW_MARGIN, lifetime / 10)
            self._token = StoredToken(value, datetime.now(UTC) + timedelta(seconds=renew_in))
            self.tokens.put(self._token)
            return value, True

    @staticmethod
    def _usable(token: StoredToken, now: datetime) -> bool:
        """The stored ``expires_at`` is when Koppel renews the token: :data:`RENEW_MARGIN` seconds (or a
        tenth of its lifetime) before bol's expiry, so every process renews in time by the same rule."""
        return now < token.expires_at

    def _drop(self, value: str) -> None:
        self._token = None
        stored = self.tokens.get()
        if stored is not None and stored.value == value:
            self.tokens.put(None)

    # -- calls -------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "json" in kwargs:
            kwargs["content"] = httpx.Request(method, "http://x", json=kwargs.pop("json")).content
            kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": MEDIA_TYPE}
        key = (self.url, self.client_id, bucket_name(method, path))
        self._pace(key, method, path)
        access, fresh = self.token()
        try:
            return self._send(key, method, path, access, **kwargs)
        except TokenRefused:
            if fresh:
                raise
            self._drop(access)
        access, _ = self.token()
        self._pace(key, method, path)
        return self._send(key, method, path, access, **kwargs)

    def _pace(self, key: tuple[str, str, str], method: str, path: str) -> None:
        wait = self.buckets.wait_needed(key)
        if wait <= 0:
            return
        if wait > PACE_WAIT_MAX:
            raise RateLimited(
                f"bol.com's rate limit for {key[2]} is used up for {wait:.0f} s more",
                side=self.side,
                retry_after=wait,
            )
        self.sleep(wait)
        self.buckets.wait_needed(key)

    def _send(
        self, key: tuple[str, str, str], method: str, path: str, access: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {access}"}
        self._bucket = key
        return super().request(method, path, headers=headers, **kwargs)

    def classify(self, response: httpx.Response) -> None:
        self.buckets.observe(getattr(self, "_bucket", ("", "", "")), response)
        super().classify(response)

    def error_text(self, response: httpx.Response) -> str:
        return problem_text(response)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.request("GET", path, params=params)
        try:
            data = response.json()
        except ValueError:
            raise Rejected("bol.com answered with something that is not JSON", side=self.side) from None
        if not isinstance(data, dict):
            raise Rejected("bol.com answered with unexpected JSON", side=self.side)
        return data

    def get_bytes(self, path: str, accept: str, params: dict[str, Any] | None = None) -> tuple[bytes, str]:
        """A non-JSON answer (a PDF, XML, a spreadsheet) asked for as ``accept``: its bytes and Content-Type.
        The Accept header is this call's own; the client's default stays the v10 JSON type."""
        response = self.request("GET", path, params=params, headers={"Accept": accept})
        return response.content, response.headers.get("content-type", "")

    def pages(
        self, path: str, key: str, params: dict[str, Any], start: int = 1
    ) -> Iterator[tuple[int, list]]:
        """``(page number, rows)`` of a list until an empty page (``{ }``) or a short one."""
        for page in range(start, start + MAX_PAGES):
            rows = self.get_json(path, {**params, "page": page}).get(key)
            rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
            if rows:
                yield page, rows
            if len(rows) < PAGE_SIZE:
                return

    # -- resources ---------------------------------------------------------------------------------------

    def order(self, order_id: str) -> dict[str, Any]:
        return self.get_json(self.retailer(f"orders/{quote(str(order_id), safe='')}"))

    def shipment(self, shipment_id: str) -> dict[str, Any]:
        return self.get_json(self.retailer(f"shipments/{quote(str(shipment_id), safe='')}"))

    def signature_keys(self) -> list[dict[str, Any]]:
        keys = self.get_json(self.retailer("subscriptions/signature-keys")).get("signatureKeys")
        return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []

    def subscriptions(self) -> list[dict[str, Any]]:
        found = self.get_json(self.retailer("subscriptions")).get("subscriptions")
        return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []

    def write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A write; bol answers 202 with a ``ProcessStatus``."""
        response = self.request(method, path, json=body)
        try:
            data = response.json()
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def process_status(self, process_id: str) -> dict[str, Any]:
        return self.get_json(self.shared(f"process-status/{quote(str(process_id), safe='')}"))

    def invoice_requests(self, state: str) -> Iterator[dict[str, Any]]:
        """``GET /retailer/shipments/invoices/requests?state=OPEN|UPLOAD_ERROR|ALL``, every page."""
        path = self.retailer("shipments/invoices/requests")
        for _page, rows in self.pages(path, "invoiceRequests", {"state": state}):
            yield from rows

    def upload_invoice(self, shipment_id: str, pdf: bytes, filename: str) -> dict[str, Any]:
        """``POST /retailer/shipments/invoices/{shipment-id}``, ``multipart/form-data`` with the PDF in the
        part ``invoice``; bol answers 202 with a ``ProcessStatus``."""
        path = self.retailer(f"shipments/invoices/{quote(str(shipment_id), safe='')}")
        response = self.request("POST", path, files={"invoice": (filename, pdf, "application/pdf")})
        try:
            data = response.json()
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}
