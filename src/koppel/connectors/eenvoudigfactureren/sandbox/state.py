"""The EenvoudigFactureren sandbox's in-memory state: an account with its clients, invoices, sent e-mails,
Peppol deliveries, request log, rate limit and fault knobs; an invoice's fields checked against it."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from koppel.sandbox.faults import FaultKnobs

from .common import (
    ACCOUNT_NUMBER_BASE,
    DEFAULT_LAYOUTS,
    DEFAULT_TAXES,
    FIRST_CLIENT_NUMBER,
    LANGUAGES,
    LOG_LIMIT,
    SCOPES,
    WINDOW_SECONDS,
    _today,
)
from .invoices import (
    INVOICE_FIELDS,
    INVOICE_READ_ONLY,
    INVOICE_SETTABLE,
    _check_type,
    _expiry,
    _status,
    _sum,
    build_item,
    build_payments,
)
from .listing import _plain
from .render import ApiError, _bad, _object
from .values import _assign_ids, _choice, _date, _flag, _integer, _reject_unknown, _text, _yes, money


@dataclass(slots=True)
class AccountKnobs(FaultKnobs):
    """An account's knobs: the fault knobs (a fault is an error in the format asked for; ``error_rate``
    answers a random 500, 502 or 503), then the invoices' and the rate limit's."""

    fail_after_commit_next: int = 0
    """The next N successful ``POST invoices`` store the invoice but answer 502."""
    fail_before_commit_next: int = 0
    """The next N ``POST invoices`` answer 502 without storing anything."""
    save_late_next: int = 0
    """The next N ``POST invoices`` wait ``save_late_seconds``, then save the invoice and answer."""
    save_late_seconds: float = 40.0
    rate_limit_per_minute: int = 0
    """API calls allowed in any sliding minute (0: no limit)."""
    rate_limit_burst: int = 0
    """The next N calls answer 429 (``Retry-After: rate_limit_burst_retry_after``), whatever the limit."""
    rate_limit_burst_retry_after: int = 1


@dataclass(eq=False)
class Account:
    name: str
    api_key: str
    account_id: int
    email: str = ""
    password: str = ""
    display_name: str = ""
    taxes: list[Decimal] = field(default_factory=lambda: [Decimal(rate) for rate in DEFAULT_TAXES])
    layouts: list[dict[str, Any]] = field(
        default_factory=lambda: [dict(layout) for layout in DEFAULT_LAYOUTS]
    )
    scopes: frozenset[str] = frozenset(SCOPES)
    auto_client_number: bool = True
    payment_term_days: int = 30
    knobs: AccountKnobs = field(default_factory=AccountKnobs)
    clients: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    emails: list[dict[str, Any]] = field(default_factory=list)
    #: Documents sent through Peppol (``POST invoices/{id}/send`` with ``methods.peppol``).
    peppol_deliveries: list[dict[str, Any]] = field(default_factory=list)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    counters: dict[str, int] = field(default_factory=dict)
    sequences: dict[int, int] = field(default_factory=dict)
    """Last automatic invoice number per year."""
    numbers: dict[str, int] = field(default_factory=dict)
    """Folded invoice number -> invoice id."""
    window: deque[float] = field(default_factory=deque)
    """Monotonic times of the calls in the rate-limit window."""

    def reset(self) -> None:
        """Forget clients, invoices, e-mails, the request log and all counters; knobs back to defaults."""
        self.clients.clear()
        self.invoices.clear()
        self.emails.clear()
        self.peppol_deliveries.clear()
        self.requests.clear()
        self.counters.clear()
        self.sequences.clear()
        self.numbers.clear()
        self.window.clear()
        self.knobs = AccountKnobs()

    @property
    def number(self) -> str:
        return str(ACCOUNT_NUMBER_BASE + self.account_id)

    @property
    def default_layout_id(self) -> int:
        return next((lay["layout_id"] for lay in self.layouts if lay["default"] == "yes"), 0)

    def new_id(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    def _client_number(self, n: int) -> str:
        return str(FIRST_CLIENT_NUMBER + n)

    def next_client_number(self, claim: bool = True) -> str:
        """The next automatic client number not in use (``claim=False``: only look)."""
        taken = {client["number"] for client in self.clients.values()}
        n = self.counters.get("client_number", 0)
        while self._client_number(n) in taken:
            n += 1
        if claim:
            self.counters["client_number"] = n + 1
        return self._client_number(n)

    def next_invoice_number(self, year: int, claim: bool = True) -> str:
        """The next automatic ``YYYY-NNNN`` of ``year`` not in use (``claim=False``: only look)."""
        sequence = self.sequences.get(year, 0) + 1
        while f"{year}-{sequence:04d}".casefold() in self.numbers:
            sequence += 1
        if claim:
            self.sequences[year] = sequence
        return f"{year}-{sequence:04d}"

    def claim_invoice_number(self, wanted: str, year: int, invoice_id: int | None) -> str:
        if not wanted:
            return self.next_invoice_number(year)
        holder = self.numbers.get(wanted.casefold())
        if holder is not None and holder != invoice_id:
            raise _bad(f"Invoice number {wanted} already exists")
        return wanted

    def put_invoice(self, invoice: dict[str, Any]) -> None:
        old = self.invoices.get(invoice["invoice_id"])
        if old is not None:
            self.numbers.pop(old["number"].casefold(), None)
        self.invoices[invoice["invoice_id"]] = invoice
        self.numbers[invoice["number"].casefold()] = invoice["invoice_id"]

    def remove_invoice(self, invoice_id: int) -> None:
        invoice = self.invoices.pop(invoice_id)
        self.numbers.pop(invoice["number"].casefold(), None)

    def rate_wait(self) -> int | None:
        """Count a call in the sliding minute; when the window is full, the seconds until a slot frees."""
        limit = self.knobs.rate_limit_per_minute
        if not limit:
            return None
        now = time.monotonic()
        self._expire(now)
        if len(self.window) >= limit:
            oldest_blocking = self.window[len(self.window) - limit]
            return max(1, math.ceil(oldest_blocking + WINDOW_SECONDS - now))
        self.window.append(now)
        return None

    def rate_remaining(self) -> int:
        self._expire(time.monotonic())
        return max(0, self.knobs.rate_limit_per_minute - len(self.window))

    def _expire(self, now: float) -> None:
        while self.window and self.window[0] <= now - WINDOW_SECONDS:
            self.window.popleft()


def _copied(data: dict[str, Any], current: dict[str, Any] | None, key: str, fallback: str, limit: int) -> str:
    """A client field copied onto the invoice: as given, else as stored (same client), else the client's."""
    if data.get(key) not in (None, ""):
        return _text(data[key], key, limit)
    if current is not None and key not in data:
        return current[key]
    return fallback


def invoice_fields(account: Account, data: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate invoice input (a new invoice, or changes to ``current``) into the stored fields with their
    totals; the number is still the one asked for (``""``: automatic)."""
    data = _object(data)
    _reject_unknown(data, (*INVOICE_SETTABLE, *INVOICE_READ_ONLY))
    merged = {**({key: current[key] for key in INVOICE_SETTABLE} if current else {}), **data}
    client = _invoice_client(account, merged.get("client_id"))
    same = current if current is not None and current["client_id"] == client["client_id"] else None
    tax_included = _flag(merged.get("tax_included") or False, "tax_included")
    invoice_date = _date(merged["date"], "date") if merged.get("date") else _today()
    raw_items = merged.get("items")
    if raw_items in (None, "", []):
        raise _bad("At least one item is required")
    if not isinstance(raw_items, list):
        raise _bad("Invalid value for field items: expected a list")
    items = [build_item(raw, n, tax_included, account.taxes) for n, raw in enumerate(raw_items, 1)]
    known_items = {item["item_id"] for item in current["items"]} if current else set()
    _assign_ids(items, "item_id", known_items, lambda: account.new_id("item"))
    total = _sum(items, "total_with_tax")
    kind = "creditnote" if total < 0 else "invoice"
    _check_type(data.get("type"), kind)
    if "payments" in data:
        payments = build_payments(data["payments"], total, fixed=False)
    else:
        payments = build_payments(current["payments"] if current else [], total, fixed=True)
    known_payments = {p["payment_id"] for p in current["payments"]} if current else set()
    _assign_ids(payments, "payment_id", known_payments, lambda: account.new_id("payment"))
    paid = _sum(payments, "amount")
    return {
        "external_invoice_id": _text(merged.get("external_invoice_id"), "external_invoice_id", 50),
        "client_id": client["client_id"],
        "client_name": _copied(data, same, "client_name", client["name"], 75),
        "client_attention": _copied(data, same, "client_attention", client["attention"], 100),
        "type": kind,
        "number": _text(merged.get("number"), "number").strip(),
        "layout_id": _layout_id(account, merged.get("layout_id")),
        "reference": _text(merged.get("reference"), "reference", 255),
        "date": invoice_date.isoformat(),
        "expiry_date": _expiry(
            merged.get("expiry_date"), invoice_date, account.payment_term_days
        ).isoformat(),
        "language": _choice(merged.get("language") or client["language"], "language", LANGUAGES),
        "tax_included": _yes(tax_included),
        "status": _status(total, total - paid),
        "items": items,
        "payments": payments,
        "remarks": _text(merged.get("remarks"), "remarks"),
        "total_without_tax": money(_sum(items, "total_without_tax")),
        "total_tax": money(_sum(items, "total_tax")),
        "total_with_tax": money(total),
        "paid_amount": money(paid),
        "open_amount": money(total - paid),
    }


def _invoice_client(account: Account, value: Any) -> dict[str, Any]:
    if value in (None, ""):
        raise _bad("Field client_id is required")
    try:
        client = account.clients.get(_integer(value, "client_id"))
    except ApiError:
        client = None
    if client is None:
        raise _bad(f"Client {_plain(value)} does not exist")
    return client


def _layout_id(account: Account, value: Any) -> int:
    if value in (None, ""):
        return account.default_layout_id
    try:
        layout_id = _integer(value, "layout_id")
    except ApiError:
        layout_id = None
    if layout_id is None or all(layout["layout_id"] != layout_id for layout in account.layouts):
        raise _bad(f"Layout {_plain(value)} does not exist")
    return layout_id


def invoice_out(values: dict[str, Any]) -> dict[str, Any]:
    return {key: values[key] for key in INVOICE_FIELDS}
