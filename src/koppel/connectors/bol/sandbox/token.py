"""``POST /bol/token``, standing in for ``https://login.bol.com/token``: the client credentials grant with
HTTP Basic auth and ``grant_type=client_credentials`` in a form body (parameters in the URL are refused,
as bol has done since 2025)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import time
from urllib.parse import parse_qsl

from koppel.sandbox.http import Request, Response

from . import problems
from .core import Core
from .gate import log_token_request
from .state import Shop

BAD_CREDENTIALS = "Bad client credentials"
URL_PARAMETERS = ("grant_type", "client_id", "client_secret")


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


def _too_often(shop: Shop) -> int | None:
    """Seconds to wait when the client asked for more tokens this minute than the knob allows."""
    moment = time.monotonic()
    recent = shop.token_requests
    while recent and moment - recent[0] >= 60:
        recent.popleft()
    if len(recent) >= shop.knobs.token_requests_per_minute:
        return max(1, math.ceil(60 - (moment - recent[0])))
    recent.append(moment)
    return None


async def token(core: Core, request: Request) -> Response:
    if any(name in request.query for name in URL_PARAMETERS):
        return problems.token_error(400, "invalid_request", "Token parameters in the URL are not allowed.")
    credentials = _basic(request)
    shop = core.shop_for_client(credentials[0]) if credentials else None
    if shop is None or credentials is None:
        return problems.token_error(401, "invalid_client", BAD_CREDENTIALS)
    await shop.knobs.delay()
    response = _grant(core, shop, credentials[1], request)
    log_token_request(shop, request, response.status)
    return response


def _grant(core: Core, shop: Shop, secret: str, request: Request) -> Response:
    if not hmac.compare_digest(secret.encode(), shop.client_secret.encode()):
        return problems.token_error(401, "invalid_client", BAD_CREDENTIALS)
    wait = _too_often(shop)
    if wait is not None:
        detail = f"Too many token requests, retry in {wait} seconds."
        raw = json.dumps({"title": "Too Many Requests", "status": 429, "detail": detail}).encode()
        return Response(429, raw, {"Retry-After": str(wait)}, problems.TOKEN_CONTENT_TYPE)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form = (
        dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if content_type.endswith("urlencoded")
        else {}
    )
    grant_type = form.get("grant_type")
    if not grant_type:
        return problems.token_error(400, "invalid_request", "Missing grant type")
    if grant_type != "client_credentials":
        return problems.token_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    raw = json.dumps(core.issue_token(shop)).encode()
    return Response(200, raw, {"Cache-Control": "no-store"}, problems.TOKEN_CONTENT_TYPE)
