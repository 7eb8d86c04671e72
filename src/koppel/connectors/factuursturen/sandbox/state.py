"""The Factuursturen sandbox's in-memory state: an account with its clients, invoices, saved invoices,
search indexes, request log, hourly budget and fault knobs."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from koppel.sandbox.faults import FaultKnobs

from .clients import CLIENT_DEFAULTS
from .common import DEFAULT_PROFILES, DEFAULT_TAXES, LOG_LIMIT, _bad
from .search import TextIndex, _searchable


@dataclass(slots=True)
class AccountKnobs(FaultKnobs):
    """An account's knobs: the fault knobs (a fault is a plain-text error; ``error_rate`` answers a random
    500, 502 or 503), then the call budget's and the invoices'."""

    hourly_limit: int = 1000
    """API calls allowed per clock hour."""
    rate_limit_burst: int = 0
    """The next N calls answer the 403 of an exhausted budget, whatever the budget."""
    fail_after_commit_next: int = 0
    """The next N successful ``POST invoices`` store the invoice but answer 502."""
    fail_before_commit_next: int = 0
    """The next N ``POST invoices`` answer 502 without storing anything."""
    save_late_next: int = 0
    """The next N ``POST invoices`` wait ``save_late_seconds``, then save the invoice and answer."""
    save_late_seconds: float = 40.0


@dataclass(eq=False)
class Account:
    username: str
    api_key: str
    taxes: list[Decimal] = field(default_factory=lambda: [Decimal(rate) for rate in DEFAULT_TAXES])
    profiles: list[dict[str, str]] = field(default_factory=lambda: [dict(p) for p in DEFAULT_PROFILES])
    knobs: AccountKnobs = field(default_factory=AccountKnobs)
    used: int = 0
    hour: int = 0
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    saved_invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The request body each saved invoice was made from, to send it later as it was saved.
    saved_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_saved_id: int = 1
    repeated_invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_invoicenr: dict[str, str] = field(default_factory=dict)
    next_clientnr: int = 1
    next_number: dict[int, int] = field(default_factory=dict)
    client_index: TextIndex = field(default_factory=TextIndex)
    invoice_index: TextIndex = field(default_factory=TextIndex)
    saved_index: TextIndex = field(default_factory=TextIndex)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget clients, invoices, the request log and the hour's usage (settings and knobs stay)."""
        self.used, self.hour = 0, int(time.time() // 3600)
        self.clients.clear()
        self.invoices.clear()
        self.saved_invoices.clear()
        self.saved_requests.clear()
        self.next_saved_id = 1
        self.repeated_invoices.clear()
        self.by_invoicenr.clear()
        self.next_clientnr = 1
        self.next_number.clear()
        self.client_index, self.invoice_index, self.saved_index = TextIndex(), TextIndex(), TextIndex()
        self.requests.clear()

    @property
    def remaining(self) -> int:
        """Calls left this clock hour."""
        hour = int(time.time() // 3600)
        if hour != self.hour:
            self.used, self.hour = 0, hour
        return max(0, self.knobs.hourly_limit - self.used)

    @property
    def default_profile(self) -> str:
        return next((p["id"] for p in self.profiles if p.get("default") == "true"), self.profiles[0]["id"])

    def put_client(self, client: dict[str, Any]) -> None:
        key = client["clientnr"]
        self.clients[key] = client
        self.client_index.set(key, _searchable(client))

    def remove_client(self, key: str) -> None:
        del self.clients[key]
        self.client_index.discard(key)

    def put_invoice(self, invoice: dict[str, Any]) -> None:
        key = invoice["id"]
        self.invoices[key] = invoice
        self.by_invoicenr[invoice["invoicenr"].casefold()] = key
        self.invoice_index.set(key, _searchable(invoice))

    def find_invoice(self, key: str) -> dict[str, Any] | None:
        found = self.invoices.get(key)
        if found is None and (by_number := self.by_invoicenr.get(key.casefold())) is not None:
            found = self.invoices.get(by_number)
        return found

    def remove_invoice(self, key: str) -> None:
        invoice = self.invoices.pop(key)
        self.by_invoicenr.pop(invoice["invoicenr"].casefold(), None)
        self.invoice_index.discard(key)

    def put_saved(self, saved: dict[str, Any], request: dict[str, Any]) -> None:
        key = saved["id"]
        self.saved_invoices[key] = saved
        self.saved_requests[key] = request
        self.saved_index.set(key, _searchable(saved))

    def remove_saved(self, key: str) -> dict[str, Any]:
        self.saved_index.discard(key)
        del self.saved_invoices[key]
        return self.saved_requests.pop(key)

    def search(self, area: str, field_name: str, query: str) -> list[dict[str, Any]]:
        """``search/{area}/{field}/{query}``: the "all" index finds every candidate (a field's match is a
        match on "all" too); a field search then keeps the candidates whose field contains the query."""
        objects, index = {
            "clients": (self.clients, self.client_index),
            "invoices": (self.invoices, self.invoice_index),
            "invoices_saved": (self.saved_invoices, self.saved_index),
        }[area]
        sample = CLIENT_DEFAULTS if area == "clients" else next(iter(objects.values()), None)
        if (
            field_name not in ("all", "reference")
            and sample is not None
            and not isinstance(sample.get(field_name), str)
        ):
            raise _bad(f"Unknown search field: {field_name}")
        found = [objects[key] for key in index.search(query)]
        if field_name == "all":
            return found
        needle = query.casefold()
        return [
            obj for obj in found if any(needle in value.casefold() for value in _searchable(obj, field_name))
        ]
