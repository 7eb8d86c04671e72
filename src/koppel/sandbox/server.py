"""One process serving every simulated external API, for the demo, the tests and the benchmarks.

- ``/kmoshops/{shop}/api/v1/...``: KMO Shops (see :mod:`koppel.connectors.kmoshops.sandbox`)
- ``/factuursturen/api/v1/...``: Factuursturen (see :mod:`koppel.connectors.factuursturen.sandbox`)
- ``/_sandbox/...``: the control API (``GET /_sandbox/health``; each sandbox adds its own routes)
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from koppel.connectors.factuursturen.sandbox import FactuursturenSandbox
from koppel.connectors.kmoshops.sandbox import KmoShopsSandbox
from koppel.sandbox.http import App, Request, Response, Router

__all__ = ["SandboxApp", "SandboxServer", "build_app", "serve"]


class SandboxApp(App):
    """The ASGI app, with the sandboxes' in-memory state reachable as attributes."""

    def __init__(self, public_url: str | None = None) -> None:
        super().__init__()
        self.public_url = public_url
        self.kmoshops = KmoShopsSandbox(public_url)
        self.factuursturen = FactuursturenSandbox(public_url)


async def _health(request: Request) -> Response:
    return Response.json({"ok": True})


def build_app(public_url: str | None = None) -> SandboxApp:
    """Build the app; ``public_url`` (e.g. ``"http://127.0.0.1:8100"``) is where clients reach it,
    used in URLs the control API hands out (otherwise they are derived from the ``Host`` header)."""
    app = SandboxApp(public_url)
    control = Router()
    control.get("/health", _health)
    app.mount("/kmoshops", app.kmoshops.api_router())
    app.mount("/factuursturen", app.factuursturen.api_router())
    app.mount("/_sandbox", control)
    app.mount("/_sandbox/kmoshops", app.kmoshops.control_router())
    app.mount("/_sandbox/factuursturen", app.factuursturen.control_router())
    app.on_shutdown.append(app.kmoshops.aclose)
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

    Binds 127.0.0.1 on a free port (or ``port``) before starting, so there is no race for the port.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", app: App | None = None) -> None:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets that say so, and
        # without it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self.app = app if app is not None else build_app(self.url)
        self._server = uvicorn.Server(_config(self.app, host, self._sock.getsockname()[1]))
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
        response = httpx.get(f"{self.url}/_sandbox/health", timeout=timeout)
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
