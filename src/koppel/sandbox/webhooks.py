"""Sending signed webhooks from a sandbox, and the per-shop log a test reads them back from.

The source sandboxes (KMO Shops, WooCommerce, Shopify) each send webhooks their own way: their own
headers and signature, body, retry policy, pings and bookkeeping. What they share is here:

- :class:`WebhookSender`: one lazily created ``httpx.AsyncClient``, the background tasks that deliver (kept
  so that :meth:`WebhookSender.aclose` can cancel them at shutdown), one timed POST
  (:meth:`~WebhookSender.post`) and a POST tried again while it fails (:meth:`~WebhookSender.deliver`).
- :class:`DeliveryLog`: one shop's delivery attempts (the newest ones kept), how many were logged in all,
  and waiting until a number of them have been (:meth:`~DeliveryLog.wait_for`), which the control APIs
  offer as ``?wait_for=N&timeout=S`` (:meth:`~DeliveryLog.wait_as_asked`).

All of it is used from the server's event loop only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Attempt", "DeliveryLog", "WebhookSender", "log_attempt"]

LOG_LIMIT = 10_000
#: POSTs one sandbox has in flight at once; the rest wait their turn before they reach the HTTP client. A
#: real platform also sends a burst a few at a time, and httpcore's pool costs time quadratic in the
#: requests queued inside it (a burst of a thousand used to time out in the pool).
IN_FLIGHT = 32
MAX_WAIT = 60.0
"""The longest a control call may wait for deliveries, in seconds."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of a webhook and how it went."""

    url: str
    number: int
    """1 for the first try, 2 for the second ..."""
    status: int | None
    """The answer's status; ``None`` when no answer came."""
    error: str | None
    """Why no answer came (``"ConnectError: ..."``); ``None`` when one did."""
    duration_ms: float

    @property
    def outcome(self) -> int | str | None:
        """The status, or else the error: what a log line reports."""
        return self.status if self.status is not None else self.error

    def log_fields(self) -> dict[str, Any]:
        """``url``, ``attempt``, ``status``, ``error`` and ``duration_ms``, in that order, for a log entry."""
        return {
            "url": self.url,
            "attempt": self.number,
            "status": self.status,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def log_attempt(logger: logging.Logger, event: str, order_id: object, attempt: Attempt) -> None:
    """Log one try the way the KMO Shops and Shopify sandboxes do:
    ``webhook <event> order <id> to <url>: <status or error> (<ms> ms, try <n>)``."""
    logger.info(
        "webhook %s order %s to %s: %s (%.1f ms, try %d)",
        event,
        order_id,
        attempt.url,
        attempt.outcome,
        attempt.duration_ms,
        attempt.number,
    )


class WebhookSender:
    """Sends one sandbox's webhooks over one HTTP client, in background tasks.

    ``client_options`` go to ``httpx.AsyncClient`` (e.g. ``timeout=10.0``), which is created on the first
    POST, inside the server's event loop. Start deliveries with :meth:`spawn` from a response's ``after``
    callback, so that they run once the control call has answered.
    """

    def __init__(self, *, in_flight: int = IN_FLIGHT, **client_options: Any) -> None:
        self._client_options = client_options
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = in_flight
        self._turns: asyncio.Semaphore | None = None

    @property
    def turns(self) -> asyncio.Semaphore:
        """At most ``in_flight`` POSTs at once (made on first use, inside the server's event loop)."""
        if self._turns is None:
            self._turns = asyncio.Semaphore(self._in_flight)
        return self._turns

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client, created on first use."""
        if self._client is None:
            self._client = httpx.AsyncClient(**self._client_options)
        return self._client

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background on the running loop, until it ends or :meth:`aclose`."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float | None = None,
        number: int = 1,
    ) -> Attempt:
        """POST ``body`` once and time it. ``timeout`` (seconds) overrides the client's for this request; an
        ``httpx.HTTPError`` (connection refused, timeout ...) becomes the attempt's ``error``."""
        client = self.client
        status: int | None = None
        problem: str | None = None
        async with self.turns:
            started = time.perf_counter()
            try:
                if timeout is None:
                    response = await client.post(url, content=body, headers=headers)
                else:
                    response = await client.post(url, content=body, headers=headers, timeout=timeout)
                status = response.status_code
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return Attempt(url, number, status, problem, duration_ms)

    async def deliver(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        tries: int,
        backoff: Sequence[float],
        accepted: Callable[[int], bool],
        on_attempt: Callable[[Attempt], None],
    ) -> Attempt:
        """POST ``body`` up to ``tries`` times (at least once) until an answer's status is ``accepted``; no
        answer at all is always tried again. ``on_attempt`` hears of every try (to log it); before try n + 1
        it waits ``backoff[n - 1]`` seconds, the last wait repeating when there are fewer waits than tries.
        Returns the last attempt."""
        number = 1
        while True:
            attempt = await self.post(url, body, headers, number=number)
            on_attempt(attempt)
            if (attempt.status is not None and accepted(attempt.status)) or number >= tries:
                return attempt
            await asyncio.sleep(backoff[min(number, len(backoff)) - 1])
            number += 1

    async def aclose(self) -> None:
        """Cancel pending deliveries and close the HTTP client (lifespan shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class DeliveryLog:
    """One shop's webhook log: the newest ``limit`` entries, the number logged since the last
    :meth:`clear` (the entries themselves are capped), and waiters woken at each new entry."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self.count = 0
        self._changed: asyncio.Event | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        return reversed(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def append(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.count += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def clear(self) -> None:
        self.entries.clear()
        self.count = 0

    async def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` entries have been logged; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.count < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    async def wait_as_asked(self, query: Mapping[str, str]) -> None:
        """A control call's ``?wait_for=N&timeout=S``: wait until N entries have been logged, for at most S
        seconds (default 5, capped at :data:`MAX_WAIT`); at once without ``wait_for``. Raises ``ValueError``,
        before any waiting, when N or S is not a number."""
        if "wait_for" not in query:
            return
        count = int(query["wait_for"])
        timeout = float(query.get("timeout", "5"))
        await self.wait_for(count, min(timeout, MAX_WAIT))
