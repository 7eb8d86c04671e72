"""The Moneybird sandbox's in-memory state: administrations with their API token, tax rates, ledger
accounts, document styles, contacts, sales and purchase invoices, sent e-mails, the request log, the rate
limit's window and the fault knobs; ids and the clock."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from koppel.sandbox.faults import FaultKnobs

LOG_LIMIT = 10_000
CENT = Decimal("0.01")
#: Moneybird's platform-wide limit: 150 requests per 5 minutes.
RATE_LIMIT, RATE_WINDOW_SECONDS = 150, 300.0

#: ``(name, percentage, tax_rate_type)``: the rates of a Dutch administration, both kinds.
DEFAULT_TAX_RATES = (
    ("21% btw", "21.0", "sales_invoice"),
    ("9% btw", "9.0", "sales_invoice"),
    ("0% btw", "0.0", "sales_invoice"),
    ("Geen btw", "0.0", "sales_invoice"),
    ("Btw verlegd (EU)", "0.0", "sales_invoice"),
    ("21% btw", "21.0", "purchase_invoice"),
    ("9% btw", "9.0", "purchase_invoice"),
    ("0% btw", "0.0", "purchase_invoice"),
    ("Geen btw (vrijgesteld)", "0.0", "purchase_invoice"),
    ("Btw verlegd", "0.0", "purchase_invoice"),
)
#: ``(code, name, account_type)``: a small Dutch chart of accounts.
DEFAULT_LEDGER_ACCOUNTS = (
    ("8000", "Omzet", "revenue"),
    ("8010", "Omzet webshop", "revenue"),
    ("8100", "Omzet buitenland", "revenue"),
    ("4600", "Kosten verkoopprovisie", "expenses"),
    ("4610", "Verzendkosten", "expenses"),
    ("4620", "Advertentiekosten", "expenses"),
    ("4700", "Bankkosten", "expenses"),
    ("1300", "Debiteuren", "current_assets"),
    ("1600", "Crediteuren", "current_liabilities"),
    ("2000", "Te rubriceren", "temporary"),
)
DEFAULT_STYLES = ("Standaard", "Webshop")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime | None = None) -> str:
    """``2024-05-01T10:11:12.000Z``, as Moneybird writes its times."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"{cents(value):f}"


class Ids:
    """18-digit ids like Moneybird's, unique within the sandbox, from its seeded generator."""

    def __init__(self, seed: int | None) -> None:
        self.random = random.Random(seed)
        self._used: set[str] = set()

    def new(self) -> str:
        while True:
            value = str(self.random.randrange(4 * 10**17, 5 * 10**17))
            if value not in self._used:
                self._used.add(value)
                return value


@dataclass(slots=True)
class Knobs(FaultKnobs):
    """The fault knobs (a fault answers ``{"error": ...}`` with its status; ``error_rate`` draws 500, 502
    or 503), then Moneybird's own."""

    rate_limit: int = RATE_LIMIT
    """Requests a token may make per window (0: no limit)."""
    rate_limit_window: float = RATE_WINDOW_SECONDS
    rate_limit_burst: int = 0
    """The next N calls answer 429 (``Retry-After: rate_limit_burst_retry_after``), whatever the limit."""
    rate_limit_burst_retry_after: int = 1
    fail_after_commit_next: int = 0
    """The next N ``POST sales_invoices`` store the invoice but answer 502."""
    fail_before_commit_next: int = 0
    """The next N ``POST sales_invoices`` answer 502 without storing anything."""
    save_late_next: int = 0
    """The next N ``POST sales_invoices`` wait ``save_late_seconds``, then save and answer."""
    save_late_seconds: float = 40.0
    fail_send_next: int = 0
    """The next N ``send_invoice`` answer 500 and send nothing."""
    fail_payments_next: int = 0
    """The next N ``POST payments`` answer 500 and register nothing."""
    fail_attachments_next: int = 0
    """The next N attachment uploads answer 500 and store nothing."""


@dataclass(eq=False)
class Administration:
    name: str
    id: str
    token: str
    display_name: str = ""
    currency: str = "EUR"
    country: str = "NL"
    knobs: Knobs = field(default_factory=Knobs)
    tax_rates: list[dict[str, Any]] = field(default_factory=list)
    ledger_accounts: list[dict[str, Any]] = field(default_factory=list)
    document_styles: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sales_invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    purchase_invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    emails: list[dict[str, Any]] = field(default_factory=list)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    sequences: dict[int, int] = field(default_factory=dict)
    """Last invoice number per year (``2024-0001``)."""
    drafts: int = 0
    window: tuple[float, int] = (0.0, 0)
    """The rate limit's window: when it started (monotonic) and the calls counted in it."""

    def tax_rate(self, rate_id: Any, kind: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in self.tax_rates
                if r["id"] == str(rate_id) and r["tax_rate_type"] == kind and r["active"]
            ),
            None,
        )

    def ledger_account(self, account_id: Any) -> dict[str, Any] | None:
        return next((a for a in self.ledger_accounts if a["id"] == str(account_id)), None)

    def default_style_id(self) -> str:
        return next((s["id"] for s in self.document_styles if s["default"]), "")

    def next_number(self, year: int) -> str:
        self.sequences[year] = self.sequences.get(year, 0) + 1
        return f"{year}-{self.sequences[year]:04d}"

    def reset(self) -> None:
        for items in (self.contacts, self.sales_invoices, self.purchase_invoices, self.sequences):
            items.clear()
        self.emails.clear()
        self.requests.clear()
        self.drafts, self.window, self.knobs = 0, (0.0, 0), Knobs()


def seed(administration: Administration, ids: Ids, tax_rates: Any = None) -> None:
    """The default tax rates (or ``tax_rates``: ``[[name, percentage, type], ...]``), ledger accounts and
    document styles of a new administration."""
    created = stamp()
    rates = tax_rates if tax_rates is not None else DEFAULT_TAX_RATES
    administration.tax_rates = [
        {
            "id": ids.new(),
            "administration_id": administration.id,
            "name": str(name),
            "percentage": str(percentage),
            "tax_rate_type": str(kind),
            "show_tax": True,
            "active": True,
            "country": None,
            "created_at": created,
            "updated_at": created,
        }
        for name, percentage, kind in rates
    ]
    administration.ledger_accounts = [
        {
            "id": ids.new(),
            "administration_id": administration.id,
            "name": name,
            "account_type": kind,
            "account_id": code,
            "parent_id": None,
            "created_at": created,
            "updated_at": created,
        }
        for code, name, kind in DEFAULT_LEDGER_ACCOUNTS
    ]
    administration.document_styles = [
        {"id": ids.new(), "administration_id": administration.id, "name": name, "default": n == 0}
        for n, name in enumerate(DEFAULT_STYLES)
    ]
