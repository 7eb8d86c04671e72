"""The HTTP client every adapter shares: one client per thread, base URL and identity; no cookies kept."""

from __future__ import annotations

import threading

import httpx
import pytest

from koppel.connectors.http import ApiClient, close_shared_transports


@pytest.fixture
def server():
    """A loopback HTTP server that sets a cookie on every answer and remembers the Cookie headers it got."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            body = b"{}"
            self.send_response(200)
            self.send_header("Set-Cookie", "session=abc; Path=/")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    close_shared_transports()


def test_an_answers_cookie_is_never_sent_back(server):
    url, seen = server
    with ApiClient(url, headers={"X-Api-Key": "one"}) as client:
        client.request("GET", "orders/1")
        client.request("GET", "orders/2")
    with ApiClient(url, headers={"X-Api-Key": "one"}) as client:  # the same shared client, reused
        client.request("GET", "orders/3")
    assert seen == [None, None, None]


def test_clients_of_one_identity_share_one_httpx_client_and_others_get_their_own(server):
    url, _seen = server
    first, again = ApiClient(url, auth=("user", "key")), ApiClient(url, auth=("user", "key"))
    other = ApiClient(url, auth=("user", "other key"))
    assert first._http is again._http
    assert other._http is not first._http
    first.close()  # closing one leaves the shared client usable for the next order
    assert again.request("GET", "x").status_code == 200


def test_a_client_with_its_own_transport_gets_its_own_httpx_client():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    client = ApiClient("http://example.test", transport=transport)
    assert client.request("GET", "ping").status_code == 200
    client.close()
    with pytest.raises(RuntimeError):
        client.request("GET", "ping")
