"""The Factuursturen sandbox as the sandbox server mounts it: :meth:`FactuursturenSandbox.api_router` at
``/factuursturen`` and :meth:`FactuursturenSandbox.control_router` at ``/_sandbox/factuursturen``."""

from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.sandbox.http import update_settings

from .api import Api
from .booking import Booking
from .clients import build_client
from .common import _USERNAME
from .control import Control
from .pages import AccountPages
from .state import Account


class FactuursturenSandbox(Booking, Api, Control, AccountPages):
    """The accounts, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.accounts: dict[str, Account] = {}
        self._random = random.Random(seed)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_account(
        self,
        username: str,
        api_key: str | None = None,
        taxes: list[Any] | None = None,
        profiles: list[Any] | None = None,
        hourly_limit: int | None = None,
    ) -> Account:
        """Create an account, or update the settings given for an existing one (its data stays)."""
        if not _USERNAME.match(username):
            raise ValueError(f"Invalid username: {username!r}")
        account = self.accounts.get(username)
        if account is None:
            if not api_key:
                raise ValueError("api_key is required for a new account")
            account = Account(username, api_key)
        if api_key:
            account.api_key = api_key
        if taxes is not None:
            try:
                account.taxes = [Decimal(str(rate)) for rate in taxes]
            except InvalidOperation:
                raise ValueError("taxes must be a list of percentages") from None
            if not account.taxes:
                raise ValueError("taxes must not be empty")
        if profiles is not None:
            account.profiles = _profiles(profiles)
        if hourly_limit is not None:
            update_settings(account.knobs, {"hourly_limit": hourly_limit})
        self.accounts[username] = account
        return account

    def add_client(self, account: Account, data: Any) -> dict[str, Any]:
        client = build_client(data)
        client["clientnr"] = str(account.next_clientnr)
        account.next_clientnr += 1
        account.put_client(client)
        return client


def _profiles(raw: list[Any]) -> list[dict[str, str]]:
    """Profiles given as names (ids 1, 2, ...) or as ``{"id", "name", "default"?}`` objects."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("profiles must be a non-empty list")
    profiles: list[dict[str, str]] = []
    for n, item in enumerate(raw, 1):
        if isinstance(item, str):
            profiles.append({"id": str(n), "name": item})
        elif isinstance(item, dict) and "name" in item:
            profile = {"id": str(item.get("id", n)), "name": str(item["name"])}
            if item.get("default") in (True, "true"):
                profile["default"] = "true"
            profiles.append(profile)
        else:
            raise ValueError("each profile must be a name or an object with id and name")
    return profiles
