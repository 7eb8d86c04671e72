"""One HTTP client shape for every adapter: httpx underneath, errors classified, calls logged without
secrets, rate-limit headers read."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from .errors import AuthFailed, NotFound, RateLimited, Rejected, Side, Unavailable

#: Connect within 5 s; an answer within ``KOPPEL_HTTP_TIMEOUT`` seconds (20 by default).
CONNECT_TIMEOUT = 5.0
#: One TLS context for every client: building one loads the CA bundle (about 20 ms), per client that
#: dominated the time an order takes.
SSL_CONTEXT = httpx.create_ssl_context()
USER_AGENT = "Koppel/0.1 (+https://github.com/koppel-hub/koppel)"


#: An idle kept-alive connection is dropped after this many seconds, before the usual server-side timeouts
#: (uvicorn's and many proxies' 5 s): a request sent on a connection the server is just closing would leave
#: a create's outcome unknown.
KEEPALIVE_EXPIRY = 3.0
_transports = threading.local()


class SharedTransport(httpx.BaseTransport):
    """A thread's connection pool to one host, shared by every client of that thread: an order's clients
    come and go, their TCP connections stay (a worker books the next order on the same connections).
    Closing a client leaves the pool open."""

    def __init__(self) -> None:
        self._pool = httpx.HTTPTransport(
            verify=SSL_CONTEXT,
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=8, keepalive_expiry=KEEPALIVE_EXPIRY
            ),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool.handle_request(request)

    def close(self) -> None:
        """Kept open for the thread's next client; :func:`close_shared_transports` really closes."""


def shared_transport(base_url: str) -> SharedTransport:
    """This thread's pool for the scheme, host and port of ``base_url``."""
    by_url: dict[str, SharedTransport] = _transports.__dict__.setdefault("by_url", {})
    transport = by_url.get(base_url)
    if transport is None:
        url = httpx.URL(base_url)
        key = (url.scheme, url.host, url.port)
        pools: dict[tuple[str, str, int | None], SharedTransport] = _transports.__dict__.setdefault(
            "pools", {}
        )
        transport = by_url[base_url] = pools.setdefault(key, SharedTransport())
    return transport


class NoCookies(httpx.Cookies):
    """A jar that keeps nothing: the APIs Koppel calls authenticate every request by header or basic auth,
    and httpx's reading of each answer's cookies into the client's jar (it builds a ``urllib`` request for
    every response) cost about a tenth of a worker's CPU."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class Client(httpx.Client):
    """``httpx.Client`` without a cookie jar (see :class:`NoCookies`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._no_cookies = NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("Koppel's API clients keep no cookies")


#: Clients a thread keeps for reuse (one per base URL, identity and timeout), the least recently used
#: dropped first.
MAX_SHARED_CLIENTS = 256
ClientKey = tuple[str, tuple[str, str] | None, tuple[tuple[str, str], ...], tuple[float | None, ...]]


def shared_client(
    base_url: str, *, auth: tuple[str, str] | None, headers: dict[str, str], timeout: httpx.Timeout
) -> Client:
    """This thread's client for one base URL, identity (basic auth, headers) and timeout. Building an
    ``httpx.Client`` (parsing URLs and headers) cost a worker more than its own work on some orders, and an
    order builds two. They keep no cookies (:class:`NoCookies`), so nothing carries from one use to the next.
    """
    key: ClientKey = (
        base_url,
        auth,
        tuple(headers.items()),
        (timeout.connect, timeout.read, timeout.write, timeout.pool),
    )
    clients: OrderedDict[ClientKey, Client] = _transports.__dict__.setdefault("clients", OrderedDict())
    client = clients.get(key)
    if client is not None:
        clients.move_to_end(key)
        return client
    client = clients[key] = Client(
        base_url=base_url, auth=auth, headers=headers, timeout=timeout, transport=shared_transport(base_url)
    )
    if len(clients) > MAX_SHARED_CLIENTS:
        clients.popitem(last=False)  # its transport is the thread's pool, which stays open
    return client


def close_shared_transports() -> None:
    """Close this thread's pools (a worker stopping, a test cleaning up)."""
    _transports.__dict__.pop("clients", None)
    _transports.__dict__.pop("by_url", None)
    pools = _transports.__dict__.pop("pools", {})
    for pool in pools.values():
        pool._pool.close()


@dataclass(slots=True)
class CallLog:
    """The calls one piece of work made: method, path, status and duration. Never headers or bodies."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Where each side's calls begin (``"target"``: the index of its first call), for the breaker to tell
    #: whether the side that failed answered any of them.
    starts: dict[str, int] = field(default_factory=dict)

    def begin(self, side: str) -> None:
        """The calls logged from now on are ``side``'s (until another side begins)."""
        self.starts[side] = len(self.calls)

    def answered(self, side: str) -> bool:
        """Did ``side`` answer any call so far (a status below 500 other than 429)?"""
        start = self.starts.get(side)
        if start is None:
            return False
        ends = [index for index in self.starts.values() if index > start]
        calls = self.calls[start : min(ends, default=len(self.calls))]
        return any(
            call["status"] is not None and call["status"] < 500 and call["status"] != 429 for call in calls
        )

    def add(self, method: str, path: str, status: int | None, started: float, error: str = "") -> None:
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if error:
            entry["error"] = error
        self.calls.append(entry)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), or ``X-RateLimit-Reset``."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        # Either an epoch timestamp or seconds from now.
        return max(0.0, number - time.time()) if number > 10**9 else number
    return None


def short_body(response: httpx.Response, limit: int = 500) -> str:
    """The response body as the system's own message, trimmed: JSON ``error``/``message`` when present."""
    text = response.text.strip()
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            parts = [str(data[key]) for key in ("message", "error", "detail") if data.get(key)]
            if parts:
                text = ": ".join(dict.fromkeys(parts))
    return text[:limit] or response.reason_phrase


def default_timeout() -> httpx.Timeout:
    seconds = settings.HTTP_TIMEOUT_SECONDS if settings.configured else 20.0
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds))


#: Failures before the request left: the system never saw it, so nothing can have been created.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class ApiClient:
    """Base for every adapter's client. Subclasses set ``side`` and ``system`` and may override
    :meth:`classify` for a system's own signals (e.g. Factuursturen's 403 at the hourly limit)."""

    side: Side = "target"
    system: str = "the system"
    #: What a 401 raises: a client that obtains its own tokens raises :class:`TokenRefused` to renew once.
    unauthorized: type[AuthFailed] = AuthFailed
    #: Answers besides 408 and 5xx that mean "not now" (e.g. Shopify's frozen shop, 402 and 423).
    transient_statuses: frozenset[int] = frozenset()
    #: The wait a 429 without ``Retry-After`` stands for; ``None``: the pipeline's first backoff step.
    default_retry_after: float | None = None

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        log: CallLog | None = None,
    ) -> None:
        self.log = log if log is not None else CallLog()
        base_url = base_url.rstrip("/") + "/"
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        timeout = timeout or default_timeout()
        #: A client of its own (closed with this one) for a transport or auth flow of the caller's; else
        #: the thread's shared client for this base URL and identity.
        self._owns_http = transport is not None or not (auth is None or isinstance(auth, tuple))
        if self._owns_http:
            self._http = Client(
                base_url=base_url,
                auth=auth,
                headers=headers,
                timeout=timeout,
                transport=transport if transport is not None else shared_transport(base_url),
            )
        else:
            self._http = shared_client(base_url, auth=auth, headers=headers, timeout=timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        path = path.lstrip("/")
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            self.log.add(method, path, None, started, "timeout")
            raise Unavailable(
                f"{self.system} did not answer in time",
                side=self.side,
                outcome_unknown=not isinstance(exc, NOT_SENT),
            ) from exc
        except httpx.TransportError as exc:
            self.log.add(method, path, None, started, type(exc).__name__)
            raise Unavailable(
                f"{self.system} cannot be reached ({type(exc).__name__})",
                side=self.side,
                outcome_unknown=not isinstance(exc, NOT_SENT),
            ) from exc
        self.log.add(method, path, response.status_code, started)
        self.classify(response)
        return response

    def error_text(self, response: httpx.Response) -> str:
        """The system's own words in an error answer (a system with its own error format overrides this)."""
        return short_body(response)

    def classify(self, response: httpx.Response) -> None:
        """Raise the right :class:`ConnectorError` for a non-2xx answer."""
        status = response.status_code
        if status < 400:
            return
        message = f"{self.system} answered {status}: {self.error_text(response)}"
        retry_after = retry_after_seconds(response)
        if status == 429:
            raise RateLimited(message, side=self.side, retry_after=retry_after or self.default_retry_after)
        if status == 401:
            raise self.unauthorized(message, side=self.side)
        if status == 403:
            raise AuthFailed(message, side=self.side)
        if status == 404:
            raise NotFound(message, side=self.side)
        if status == 408 or status >= 500 or status in self.transient_statuses:
            raise Unavailable(message, side=self.side, retry_after=retry_after, outcome_unknown=status >= 500)
        raise Rejected(message, side=self.side)
