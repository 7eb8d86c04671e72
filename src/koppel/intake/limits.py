"""A bound on request bodies before Django reads them.

Django's ASGI handler spools every body to a temporary file before any view runs, without limit, and a body
over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` then ends in an HTML 400. This middleware refuses a body over
``KOPPEL_MAX_BODY_BYTES`` (declared, or counted as it streams in) with Koppel's JSON error, so nothing is
spooled beyond that bound; the limit is far above what the platforms send (and Django's own limit is set
to the same value, so a body under it is read and stored whole).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger("koppel.intake")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


async def send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    """A JSON answer sent straight through ASGI (the body limit's refusals, the webhook gate's answers)."""
    body = json.dumps(content).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def refuse(send: Send, status: int, code: str, message: str) -> None:
    await send_json(send, status, {"error": code, "message": message})


class BodyLimit:
    """ASGI middleware: a request body over the limit is answered 413 before it is spooled."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # Django has nothing to start: acknowledge, so any server can run us
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.MAX_BODY_BYTES
        too_large = f"The request body is larger than the {limit} bytes Koppel accepts"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await refuse(send, 400, "CONTENT_LENGTH_INVALID", "The Content-Length header is not a number")
                return
            if int(declared) > limit:
                logger.warning("Refused a body of %s bytes to %s", int(declared), scope.get("path", ""))
                await refuse(send, 413, "BODY_TOO_LARGE", too_large)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            logger.warning(
                "Refused a streamed body of more than %s bytes to %s", limit, scope.get("path", "")
            )
            await refuse(send, 413, "BODY_TOO_LARGE", too_large)
