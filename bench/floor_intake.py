"""The floor's webhook intake: a bare ASGI app (run by uvicorn, as Koppel's web process is) that checks a
webhook's HMAC-SHA256 over the raw body as Koppel's connectors verify it (KMO Shops ``X-KMO-Signature`` in
hex, WooCommerce ``X-WC-Webhook-Signature`` and Shopify ``X-Shopify-Hmac-Sha256`` in base64, keyed with the
shop's secret) and inserts the raw body into a plain table of the same database Koppel uses, before it
answers 202. WooCommerce's unsigned ping is answered 200, as Koppel answers it. A shop that chooses its own
key (Shopify) has it registered first with ``POST /secret/<shop>``. ``bench/e2e.py`` points the floor's
sandbox shop at it and its floor loop takes the stored deliveries from that table.

    FLOOR_DB=<sqlite file or postgres:// URL> FLOOR_SECRET=<secret> \
        .venv/bin/python -m uvicorn --app-dir bench floor_intake:app --port 8001
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

TABLE = "bench_floor_delivery"
DATABASE = os.environ.get("FLOOR_DB", "")
SECRET = os.environ.get("FLOOR_SECRET", "").encode()
POSTGRES = DATABASE.startswith(("postgres://", "postgresql://"))


def connect() -> Any:
    """A connection in autocommit (each insert its own transaction), the table created if missing."""
    if POSTGRES:
        import psycopg

        db = psycopg.connect(DATABASE, autocommit=True)
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, shop text NOT NULL, "
            "body text NOT NULL, received_at double precision NOT NULL)"
        )
        return db
    import sqlite3

    db = sqlite3.connect(DATABASE, isolation_level=None, timeout=30.0, check_same_thread=False)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY AUTOINCREMENT, shop text NOT NULL, "
        "body text NOT NULL, received_at real NOT NULL)"
    )
    return db


_db: Any = None
#: Keys of shops that chose their own (``POST /secret/<shop>``); the others sign with FLOOR_SECRET.
SHOP_SECRETS: dict[str, bytes] = {}
#: Signature headers, and whether the digest is sent in hex (else base64).
SIGNATURES = {b"x-kmo-signature": True, b"x-wc-webhook-signature": False, b"x-shopify-hmac-sha256": False}
INSERT = f"INSERT INTO {TABLE} (shop, body, received_at) VALUES ({'%s, %s, %s' if POSTGRES else '?, ?, ?'})"


async def answer(send: Any, status: int, body: bytes = b"") -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _db
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _db = connect()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _db.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path == "/health":
        return await answer(send, 200, b"ok")
    if scope["method"] != "POST" or not path.startswith(("/hook/", "/secret/")):
        return await answer(send, 404)
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    if path.startswith("/secret/"):
        SHOP_SECRETS[path.removeprefix("/secret/")] = body
        return await answer(send, 204)
    shop = path.removeprefix("/hook/")
    headers = dict(scope["headers"])
    signed = next(((name, hexed) for name, hexed in SIGNATURES.items() if name in headers), None)
    if signed is None and body.startswith(b"webhook_id="):  # WooCommerce's ping when a webhook is made
        return await answer(send, 200)
    secret = SHOP_SECRETS.get(shop, SECRET)
    if signed is None or not secret:
        return await answer(send, 401)
    digest = hmac.new(secret, body, hashlib.sha256)
    expected = digest.hexdigest().encode() if signed[1] else base64.b64encode(digest.digest())
    given = headers[signed[0]].strip()
    if not hmac.compare_digest(expected, given.lower() if signed[1] else given):
        return await answer(send, 401)
    _db.execute(INSERT, (shop, body.decode("utf-8", errors="replace"), time.time()))
    await answer(send, 202)
