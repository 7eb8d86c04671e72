"""A tiny ASGI toolkit for the sandboxes: requests, responses, a router and an app.

Only what the simulated APIs need, with no framework dependency. Routing works on the *raw* (still
percent-encoded) path and decodes each parameter afterwards, so an encoded ``/`` (``%2F``) inside a
search query stays inside its path segment, the way real web servers treat it.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

logger = logging.getLogger("koppel.sandbox")

Handler = Callable[..., Awaitable["Response"]]
Hook = Callable[[], Awaitable[None]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_PARAM = re.compile(r"\{(\w+)(?::(path))?\}")

REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason(status: int) -> str:
    return REASONS.get(status, "Error")


@dataclass(slots=True)
class Request:
    method: str
    path: str
    """Percent-decoded path, relative to the mount prefix once routed."""
    query: dict[str, str]
    """Query parameters; the first value wins when a name repeats."""
    headers: dict[str, str]
    """Header names lower-cased; repeated headers are joined with ``", "``."""
    body: bytes = b""
    raw_path: str = ""
    """The path as sent (percent-encoded), relative to the mount prefix once routed."""

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` on an empty or malformed body."""
        return jsonlib.loads(self.body)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    after: Callable[[], None] | None = None
    """Called once the response has been sent: the place to start background work such as webhooks."""

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        body = jsonlib.dumps(obj, separators=(",", ":")).encode()
        return cls(status, body, dict(headers or {}), "application/json")

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        return cls(status, text.encode(), dict(headers or {}), content_type)

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}), None)


class HTTPException(Exception):
    """Raise from a handler (or anything it calls) to answer with ``response`` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(slots=True)
class _Route:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method
    handler: Handler


class Router:
    """Path patterns such as ``/api/v1/orders/{order_id}`` or ``/files/{path:path}``, tried in order."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def route(self, path: str, methods: Iterable[str] | None, handler: Handler) -> None:
        regex, pos = "", 0
        for m in _PARAM.finditer(path):
            regex += re.escape(path[pos : m.start()])
            regex += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        regex += re.escape(path[pos:])
        allowed = frozenset(m.upper() for m in methods) if methods is not None else None
        self._routes.append(_Route(re.compile(f"^{regex}$"), allowed, handler))

    def get(self, path: str, handler: Handler) -> None:
        self.route(path, ("GET", "HEAD"), handler)

    def post(self, path: str, handler: Handler) -> None:
        self.route(path, ("POST",), handler)

    def put(self, path: str, handler: Handler) -> None:
        self.route(path, ("PUT",), handler)

    def patch(self, path: str, handler: Handler) -> None:
        self.route(path, ("PATCH",), handler)

    def delete(self, path: str, handler: Handler) -> None:
        self.route(path, ("DELETE",), handler)

    async def dispatch(self, request: Request) -> Response | None:
        """The handler's response; ``None`` when no pattern matches; 405 when only the method is wrong."""
        allowed: set[str] = set()
        for route in self._routes:
            match = route.pattern.match(request.raw_path)
            if match is None:
                continue
            if route.methods is not None and request.method not in route.methods:
                allowed |= route.methods
                continue
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            try:
                return await route.handler(request, **params)
            except HTTPException as exc:
                return exc.response
        if allowed:
            return Response.json(
                {"error": "method_not_allowed", "message": f"Method {request.method} not allowed"},
                405,
                {"Allow": ", ".join(sorted(allowed))},
            )
        return None


class App:
    """ASGI application: routers mounted under path prefixes, plus lifespan hooks."""

    def __init__(self) -> None:
        self._mounts: list[tuple[str, Router]] = []
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []

    def mount(self, prefix: str, router: Router) -> None:
        self._mounts.append((prefix.rstrip("/"), router))
        # Longest prefix first, so /_sandbox/kmoshops wins over /_sandbox.
        self._mounts.sort(key=lambda item: len(item[0]), reverse=True)

    async def handle(self, request: Request) -> Response:
        """Route ``request`` (paths absolute) to the router mounted on the longest matching prefix."""
        raw_path, path = request.raw_path, request.path
        for prefix, router in self._mounts:
            if raw_path != prefix and not raw_path.startswith(prefix + "/"):
                continue
            request.raw_path = raw_path[len(prefix) :] or "/"
            request.path = path[len(prefix) :] or "/"
            response = await router.dispatch(request)
            if response is not None:
                return response
        request.raw_path, request.path = raw_path, path
        return Response.json({"error": "not_found", "message": f"No route for {path}"}, 404)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query: dict[str, str] = {}
        if scope["query_string"]:
            for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                query.setdefault(key, value)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        request = Request(scope["method"], scope["path"], query, headers, b"".join(chunks), raw_path)
        try:
            response = await self.handle(request)
        except Exception:
            logger.exception("sandbox handler failed: %s %s", request.method, scope["path"])
            response = Response.json({"error": "internal_error", "message": "Sandbox handler failed"}, 500)
        await self._send(response, send, head=scope["method"] == "HEAD")
        if response.after is not None:
            response.after()

    @staticmethod
    async def _send(response: Response, send: Send, head: bool) -> None:
        headers = [(b"content-length", str(len(response.body)).encode())]
        if response.content_type is not None:
            headers.append((b"content-type", response.content_type.encode()))
        headers.extend(
            (name.lower().encode(), value.encode("latin-1")) for name, value in response.headers.items()
        )
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:
                    logger.exception("sandbox startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.on_shutdown:
                    try:
                        await hook()
                    except Exception:
                        logger.exception("sandbox shutdown hook failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def update_settings(target: Any, changes: dict[str, Any]) -> None:
    """Apply a partial update to a settings dataclass (the sandboxes' knobs), checking each value's type.

    The type is taken from the current value: ``bool`` knobs take booleans, ``int`` knobs non-negative
    integers, ``float`` knobs non-negative numbers and ``list`` knobs lists of integers. Only data
    attributes are knobs: a method of the dataclass (such as ``FaultKnobs.delay``) is an unknown knob too.
    Raises ``ValueError`` naming the first bad knob; nothing is changed then.
    """
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name.startswith("_") or not hasattr(target, name) or callable(getattr(target, name)):
            raise ValueError(f"Unknown knob: {name}")
        current = getattr(target, name)
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif isinstance(current, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            value = float(value)
        elif isinstance(current, list):
            ok = isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            )
            value = list(value)
        else:
            ok = True
        if not ok:
            raise ValueError(f"Invalid value for knob {name}: {value!r}")
        checked[name] = value
    for name, value in checked.items():
        setattr(target, name, value)
