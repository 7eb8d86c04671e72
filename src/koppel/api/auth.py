"""Bearer tokens for the REST API (``Authorization: Bearer kp_...``); the account scopes every query."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from koppel.accounts.models import Account, ApiToken


class AccountToken(HttpBearer):
    """Authenticates a request to the token's :class:`Account` (``request.auth``)."""

    def __call__(self, request: HttpRequest) -> Any | None:
        # Parsed here rather than by HttpBearer, which logs a malformed header (token and all) in DEBUG.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Account | None:
        row = ApiToken.authenticate(token)
        if row is None:
            return None
        request.api_token = row  # type: ignore[attr-defined]
        return row.account
