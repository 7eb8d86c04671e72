"""The EenvoudigFactureren sandbox as the sandbox server mounts it:
:meth:`EenvoudigFacturerenSandbox.api_router` at ``/eenvoudigfactureren`` and
:meth:`EenvoudigFacturerenSandbox.control_router` at ``/_sandbox/eenvoudigfactureren``."""

from __future__ import annotations

import itertools
import random
from datetime import date
from typing import Any

from koppel.sandbox.http import Request

from .api import Api
from .clients import CLIENT_DEFAULTS, CLIENT_READ_ONLY, client_fields, client_out
from .common import _NAME, API, _stamp
from .control import Control
from .handlers import Handlers
from .pages import AccountPages
from .settings import account_settings
from .state import Account, AccountKnobs, invoice_fields, invoice_out


class EenvoudigFacturerenSandbox(Api, Handlers, Control, AccountPages):
    """The accounts, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.accounts: dict[str, Account] = {}
        self._by_key: dict[str, Account] = {}
        self._by_email: dict[str, Account] = {}
        self._random = random.Random(seed)
        self._account_ids = itertools.count(1)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_account(self, name: str, **settings: Any) -> tuple[Account, bool]:
        """Create an account, or change the settings given for an existing one (its data stays).

        ``settings`` as in the control API's ``POST /accounts``; returns the account and whether it is
        new. Raises ``ValueError`` on bad input, before anything is changed.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"Invalid name: {name!r} (letters, digits, '.', '_' and '-', at most 100)")
        account = self.accounts.get(name)
        checked = account_settings(settings, account.knobs if account else AccountKnobs())
        if account is None and not checked.get("api_key"):
            raise ValueError("api_key is required for a new account")
        self._check_unique(account, checked)
        created = account is None
        if account is None:
            account = Account(name, checked["api_key"], next(self._account_ids))
            self.accounts[name] = account
        self._apply(account, checked)
        return account, created

    def _check_unique(self, account: Account | None, checked: dict[str, Any]) -> None:
        other = self._by_key.get(checked.get("api_key") or "")
        if other is not None and other is not account:
            raise ValueError("api_key is already used by another account")
        other = self._by_email.get((checked.get("email") or "").casefold())
        if other is not None and other is not account:
            raise ValueError("email is already used by another account")

    def _apply(self, account: Account, checked: dict[str, Any]) -> None:
        self._by_key.pop(account.api_key, None)
        self._by_email.pop(account.email.casefold(), None)
        for key, value in checked.items():
            setattr(account, key, value)
        if not account.display_name:
            account.display_name = account.name
        self._by_key[account.api_key] = account
        if account.email:
            self._by_email[account.email.casefold()] = account

    def add_client(self, account: Account, data: Any, base: str) -> dict[str, Any]:
        """Validate and store a new client; ``base`` is the API URL its ``uri`` starts with."""
        fields = client_fields(data, CLIENT_DEFAULTS, [], lambda: account.new_id("contact"))
        if not fields["number"].strip() and account.auto_client_number:
            fields["number"] = account.next_client_number()
        client_id = account.new_id("client")
        stamp = _stamp()
        client = client_out(
            fields, client_id=client_id, uri=f"{base}/clients/{client_id}", created=stamp, modified=stamp
        )
        account.clients[client_id] = client
        return client

    def update_client(self, account: Account, client_id: int, data: Any, replace_all: bool) -> dict[str, Any]:
        """``POST clients/{id}`` (only the fields given) or ``PUT`` (``replace_all``: the rest reset)."""
        current = account.clients[client_id]
        base = CLIENT_DEFAULTS if replace_all else current
        fields = client_fields(data, base, current["contacts"], lambda: account.new_id("contact"))
        if not fields["number"].strip():
            fields["number"] = current["number"]
        client = client_out(fields, **{key: current[key] for key in CLIENT_READ_ONLY}) | {
            "modified": _stamp()
        }
        account.clients[client_id] = client
        return client

    def add_invoice(self, account: Account, data: Any, base: str) -> dict[str, Any]:
        """Validate and store a new invoice; ``base`` is the API URL its ``uri`` starts with."""
        fields = invoice_fields(account, data)
        year = date.fromisoformat(fields["date"]).year
        fields["number"] = account.claim_invoice_number(fields["number"], year, None)
        invoice_id = account.new_id("invoice")
        stamp = _stamp()
        invoice = invoice_out(
            {
                **fields,
                "invoice_id": invoice_id,
                "uri": f"{base}/invoices/{invoice_id}",
                "sent": "no",
                "created": stamp,
                "modified": stamp,
            }
        )
        account.put_invoice(invoice)
        return invoice

    def update_invoice(self, account: Account, invoice_id: int, data: Any) -> dict[str, Any]:
        current = account.invoices[invoice_id]
        fields = invoice_fields(account, data, current)
        year = date.fromisoformat(fields["date"]).year
        fields["number"] = account.claim_invoice_number(
            fields["number"] or current["number"], year, invoice_id
        )
        invoice = invoice_out({**current, **fields, "modified": _stamp()})
        account.put_invoice(invoice)
        return invoice

    # ------------------------------------------------------------------ API

    def _base(self, request: Request) -> str:
        root = self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        return f"{root}/eenvoudigfactureren{API}"
