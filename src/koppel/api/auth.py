"""Bearer tokens for the REST API (``Authorization: Bearer kp_...``); the account scopes every query.

Staff tokens
------------
An integrator who runs Koppel for many merchants makes their accounts and API tokens through the API too.
Those calls need a *staff token*: a token of an **operator account**, an account whose members are all
active staff users of this Koppel (at least one). The operator makes that account once in the admin, adds
their staff login to it and issues a token there. Nothing is stored for this: adding a merchant's login to
an account never makes its tokens staff tokens, because the account then has a member who is not staff.
A staff token is still scoped to its own account for connections and records; it acts for a merchant
through a token it creates for the merchant's account.
"""

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


def is_operator_account(account: Account) -> bool:
    """Whether ``account``'s tokens are staff tokens: it has members, and every one is active staff."""
    members = account.members.all()
    return members.exists() and not members.exclude(is_staff=True, is_active=True).exists()


def is_staff_request(request: HttpRequest) -> bool:
    account = getattr(request, "auth", None)
    return isinstance(account, Account) and is_operator_account(account)
