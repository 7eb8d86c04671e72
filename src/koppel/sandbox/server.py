"""One process serving every simulated external API, for the demo, the tests and the benchmarks.

- ``/<connector>/...``: each connector's simulated API, found by the registry (``koppel.connectors.<name>.
  sandbox.SANDBOX``): ``/kmoshops/{shop}/api/v1/...``, ``/factuursturen/api/v1/...``,
  ``/eenvoudigfactureren/api/v1/...``
- ``/_sandbox/...``: the control API (``GET /_sandbox/health``; each sandbox adds its own routes under
  ``/_sandbox/<connector>``), and ``GET /_sandbox/`` a page for people linking each sandbox's pages
  (:mod:`koppel.sandbox.pages`)
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from koppel.connectors import registry
from koppel.sandbox import pages
from koppel.sandbox.http import App, Request, Response, Router

__all__ = ["SandboxApp", "SandboxServer", "build_app", "serve"]


class SandboxApp(App):
    """The ASGI app, with each sandbox's in-memory state reachable as an attribute named after its
    connector (``app.kmoshops.shops``)."""

    def __init__(self, public_url: str | None = None) -> None:
        super().__init__()
        self.public_url = public_url
        self.sandboxes = {name: cls(public_url) for name, cls in registry.sandboxes().items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["sandboxes"][name]
        except KeyError:
            raise AttributeError(name) from None


async def _health(request: Request) -> Response:
    return Response.json({"ok": True})


def build_app(public_url: str | None = None) -> SandboxApp:
    """Build the app; ``public_url`` (e.g. ``"http://127.0.0.1:8100"``) is where clients reach it,
    used in URLs the control API hands out (otherwise they are derived from the ``Host`` header)."""
    app = SandboxApp(public_url)
    control = Router()
    control.get("/health", _health)

    async def index(request: Request) -> Response:
        return pages.overview(
            request, [s.page_links() for s in app.sandboxes.values() if hasattr(s, "page_links")]
        )

    control.get("/", index)
    for name, simulation in app.sandboxes.items():
        app.mount(f"/{name}", simulation.api_router())
    app.mount("/_sandbox", control)
    for name, simulation in app.sandboxes.items():
        app.mount(f"/_sandbox/{name}", simulation.control_router())
        if hasattr(simulation, "aclose"):
            app.on_shutdown.append(simulation.aclose)
    return app


def _config(app: App, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")


def serve(host: str, port: int) -> None:
    """Serve the sandboxes in the foreground until interrupted."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - comparing, not binding
    uvicorn.Server(_config(build_app(f"http://{shown}:{port}"), host, port)).run()


class SandboxServer:
    """Run the sandboxes in a background thread, for tests and benchmarks.

    ::

        with SandboxServer() as sandbox:
            httpx.get(f"{sandbox.url}/_sandbox/health")
            sandbox.app.kmoshops.shops  # the in-memory state

    Binds 127.0.0.1 on a free port (or ``port``) before starting, so there is no race for the port. Any
    ASGI ``app`` can be served this way (the tests serve Koppel itself with ``health_path="/health"``).
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        app: App | None = None,
        health_path: str = "/_sandbox/health",
    ) -> None:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets that say so, and
        # without it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self.app = app if app is not None else build_app(self.url)
        self._server = uvicorn.Server(_config(self.app, host, self._sock.getsockname()[1]))
        self._health_path = health_path
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread = threading.Thread(target=self._run, name=f"sandbox {self.url}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox server did not start on {self.url}") from self._failure
            time.sleep(0.005)
        response = httpx.get(f"{self.url}{self._health_path}", timeout=timeout)
        response.raise_for_status()
        return self

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()
            self._failure = exc

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
