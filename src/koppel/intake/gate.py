"""The webhook gate: ``POST /webhooks/<platform>/<connection>`` taken before Django, stored in group commits.

A burst of webhooks through Django costs a request object, the middleware, a thread hop and a transaction
each; the commit alone bounds a process at a few hundred a second on SQLite. The gate reads the request
in the event loop and hands it to one writer thread, which takes everything that arrived while it wrote the
previous batch and receives it in one transaction (:func:`koppel.intake.receive.receive`); each request is
answered when its batch has committed, so a delivery is never answered before it is stored. A platform
whose signatures are checked with keys behind its API (bol.com) and every other request go on to Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import threading
from collections.abc import Callable

from django.db import close_old_connections, connections

from .limits import App, Receive, Scope, Send, send_json
from .receive import Answer, Arrival, checks_statically, problem, receive

logger = logging.getLogger("koppel.intake")

#: The webhook address as ``intake.urls`` routes it (Django's ``slug`` and ``int`` converters).
WEBHOOK_PATH = re.compile(r"^/webhooks/([-a-zA-Z0-9_]+)/([0-9]+)$")
#: At most this many webhooks in one transaction.
MAX_BATCH = 200
#: A writer idle this long gives back its database connection (and reconnects on the next webhook).
IDLE_SECONDS = 5.0

Waiting = tuple[Arrival, asyncio.AbstractEventLoop, "asyncio.Future[Answer]"]


class Writer:
    """The thread that stores webhooks: one batch at a time, as large as what waited for it."""

    def __init__(self, receive_batch: Callable[[list[Arrival]], list[Answer]] = receive) -> None:
        self.receive_batch = receive_batch
        self.waiting: queue.SimpleQueue[Waiting | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.run, name="koppel-webhook-writer", daemon=True)
        self.thread.start()

    def submit(self, arrival: Arrival) -> asyncio.Future[Answer]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self.waiting.put((arrival, loop, future))
        return future

    def stop(self) -> None:
        self.waiting.put(None)
        self.thread.join(timeout=30)

    def run(self) -> None:
        while True:
            try:
                first = self.waiting.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                connections.close_all()
                continue
            batch = [first] if first is not None else []
            while first is not None and len(batch) < MAX_BATCH:
                try:
                    item = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    first = None
                    break
                batch.append(item)
            if batch:
                self.answer(batch)  # type: ignore[arg-type]
            if first is None:  # stopped
                connections.close_all()
                return

    def answer(self, batch: list[Waiting]) -> None:
        answers = self.answered([arrival for arrival, _, _ in batch])
        for (_, loop, future), answer in zip(batch, answers, strict=True):
            # A closed loop (the server stopped) has nobody waiting for the answer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, future, answer)

    def answered(self, arrivals: list[Arrival]) -> list[Answer]:
        """The batch's answers; a batch that fails for another reason than a collision (which ``receive``
        handles) is received one by one, so one bad webhook does not fail the others."""
        try:
            return self.receive_batch(arrivals)
        except Exception:
            logger.exception("A batch of %s webhooks failed; receiving them one by one", len(arrivals))
            close_old_connections()
        answers = []
        for arrival in arrivals:
            try:
                answers.extend(self.receive_batch([arrival]))
            except Exception:
                logger.exception(
                    "Webhook for %s connection %s failed", arrival.source_kind, arrival.connection_id
                )
                close_old_connections()
                answers.append(
                    problem(500, "INTERNAL_ERROR", "The webhook could not be stored; send it again")
                )
        return answers


def settle(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():  # a client that went away has cancelled it
        future.set_result(answer)


class WebhookGate:
    """ASGI middleware: the webhooks of platforms signing with the connection's secret go to the writer,
    everything else to ``app`` (Django)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.writer: Writer | None = None
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = WEBHOOK_PATH.match(scope["path"])
            if match and checks_statically(match[1]):
                await self.take(scope, receive, send, match[1], int(match[2]))
                return
        await self.app(scope, receive, send)

    async def take(self, scope: Scope, receive: Receive, send: Send, kind: str, connection_id: int) -> None:
        body = await read_body(receive)
        if body is None:  # the client went away before it finished sending
            return
        arrival = Arrival(kind, connection_id, body, header_map(scope))
        answer = await self.started().submit(arrival)
        await send_json(send, answer.status, answer.content)

    def started(self) -> Writer:
        if self.writer is None:
            with self.lock:
                if self.writer is None:
                    self.writer = Writer()
        return self.writer

    def close(self) -> None:
        """Stop the writer (after the webhooks it holds) and give back its database connection."""
        with self.lock:
            writer, self.writer = self.writer, None
        if writer is not None:
            writer.stop()


async def read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def header_map(scope: Scope) -> dict[str, str]:
    """The headers as the Django view sees them: lower-case names, values as Latin-1, repeats joined."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or []:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers
