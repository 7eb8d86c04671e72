"""A simulated Factuursturen REST API v1, after research A1 and the recorded responses in
``specs/factuursturen/``.

Koppel's base URL for it is ``{sandbox url}/factuursturen/api/v1`` (real: https://www.factuursturen.nl/api/v1).
Several accounts live side by side, each with its clients, invoices, hourly call budget and fault knobs;
the control API is mounted at ``/_sandbox/factuursturen``. For people, ``/_sandbox/factuursturen/page``
lists the accounts and ``.../accounts/{username}/page`` shows an account's invoices (with their PDFs),
debtors, VAT rates (with an "Add VAT rate" form) and profiles (:mod:`koppel.sandbox.pages`).

Faithful to the real API where it is known:

- HTTP Basic ``username:api_key``; errors are plain-text bodies; ``POST`` answers 201 with the new id as
  plain text; single objects come wrapped (``{"client": {...}}``), lists as bare arrays.
- Top-level scalars are strings (``"clientnr":"1"``, ``"showcontact":"true"``, ``"tax":"0.00"``). Inside
  ``lines`` and ``taxes`` the recorded invoice has JSON *numbers* (``"amount":1``, ``"tax_rate":21``,
  ``"rate":21``) next to string sums (``"sum":"0.00"``); the sandbox copies that mix exactly, so clients
  must read both.
- ``X-RateLimit-Remaining`` on every authenticated response; an exhausted hourly budget answers 403 with
  ``X-RateLimit-Remaining: 0``.

Choices where nothing is known (documented so tests can rely on them):

- Only JSON is spoken. ``Accept`` naming XML but not JSON answers 406; request bodies must be JSON (the
  real API also takes form-encoded bodies, which Koppel does not send).
- ``GET taxes`` follows the shape the public client libraries deserialize (``percentage``, ``type``
  H/L/N, ``default``, ``country``), stringified like every other scalar; ``GET profiles`` gives
  ``id``/``name``/``default``; ``GET countrylist[/nl|/en]`` gives ``id``/``name`` sorted by name, with ids
  assigned in alpha-2 order except the Netherlands, fixed at "146" as in the recorded client.
- Invoice totals: line total = amount × price × (1 − discount_pct/100), rounded half-up to the cent. For an
  ``extax`` client, per VAT rate ``sum_of`` is the sum of the line totals and ``sum`` the VAT over it; for
  an ``intax`` client the line totals include VAT and ``sum`` = gross × rate / (100 + rate), ``sum_of`` =
  gross − sum. ``tax_shifted`` is copied onto the invoice but does not change the computation; an
  invoice-level ``discount`` is not simulated.
- Search is a case-insensitive "contains" on the string value; unknown fields answer 400.
- ``action`` save makes a saved invoice (a draft: research A1, "``GET invoices_saved/``,
  ``GET|DELETE invoices_saved/{id}`` ... drafts (``action=save``)", saved-invoices-api.html): it has no
  invoice number, is listed by ``GET invoices_saved`` (a bare array), read by ``GET invoices_saved/{id}``
  (wrapped as ``{"invoice": {...}}``, like an invoice), found by ``search/invoices_saved/{field}/{query}``
  (its reference lines and ``savename`` included), and never by ``GET invoices`` or
  ``search/invoices/...``. Its ids count from 1, apart from the invoices'. ``savename`` need not be unique;
  with ``overwrite_if_exist`` true a save replaces the saved invoice of the same name (keeping its id).
  The control API's ``POST .../saved/{id}/send`` is the merchant sending it from Factuursturen's screens:
  it becomes a numbered invoice with the data it was saved with and leaves the saved list. ``repeat``
  invoices are validated and kept apart; searching ``invoices_repeated`` or ``products`` gives ``[]``.
- An invoice records its ``sendmethod`` and, in its history, how it went out: "Factuur verstuurd" for
  ``mail`` (the merchant sends it), "Factuur per e-mail verstuurd naar {email}" for ``email``. A client
  with sendmethod ``email`` must have an address (400 otherwise); an invoice with sendmethod ``email`` for
  a client without one is booked all the same, its history saying it was not e-mailed.

All state is touched from the server's event loop only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import random
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.documents.countries import COUNTRIES, Country, country_by_code, resolve_country
from koppel.sandbox import pages
from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import HTTPException, Request, Response, Router, reason, update_settings
from koppel.sandbox.pdf import text_pdf

LOG_LIMIT = 10_000
PAGES = pages.Pages("Factuursturen", "factuursturen", "accounts")
INVOICE_HEADERS = ("Number", "Date", "Debtor", "Reference", "Total incl. VAT", "Status", "Sent", "PDF")
SAVED_HEADERS = ("Id", "Name", "Date", "Debtor", "Reference", "Total incl. VAT", "Send method")
DEBTOR_HEADERS = ("Number", "Contact", "Company", "E-mail", "Country", "VAT number")
NETHERLANDS_ID = "146"
DEFAULT_TAXES = ("21", "9", "0")
DEFAULT_PROFILES = ({"id": "1", "name": "Standaard"}, {"id": "2", "name": "Webshop"})
PAYMENT_CONDITION = "Gelieve binnen %PAYMENT_PERIOD% dagen te betalen onder vermelding van het factuurnummer"
NOT_EMAILED = "Factuur niet per e-mail verstuurd: de klant heeft geen e-mailadres"
UNAUTHORIZED = "Unauthorized: invalid username or API key"
RATE_LIMITED = "Too many requests: API limit reached for this hour"

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_USERNAME = re.compile(r"^[^\s:/]{1,100}$")
try:
    _AMSTERDAM: tzinfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
    _AMSTERDAM = timezone(timedelta(hours=1))

# ---------------------------------------------------------------------------- countries


def _country_ids() -> dict[str, Country]:
    """Ids by alpha-2 order, skipping "146", which is the Netherlands' (as in the recorded responses)."""
    by_id: dict[str, Country] = {}
    next_id = 1
    for country in sorted(COUNTRIES, key=lambda c: c.alpha2):
        if country.alpha2 == "NL":
            by_id[NETHERLANDS_ID] = country
            continue
        if str(next_id) == NETHERLANDS_ID:
            next_id += 1
        by_id[str(next_id)] = country
        next_id += 1
    return by_id


def _sort_key(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


COUNTRY_BY_ID: dict[str, Country] = _country_ids()
COUNTRY_ID: dict[str, str] = {country.alpha2: country_id for country_id, country in COUNTRY_BY_ID.items()}
_COUNTRY_LISTS: dict[str, bytes] = {
    lang: json.dumps(
        sorted(
            ({"id": cid, "name": getattr(c, f"name_{lang}")} for cid, c in COUNTRY_BY_ID.items()),
            key=lambda item: _sort_key(item["name"]),
        )
    ).encode()
    for lang in ("nl", "en")
}

# ---------------------------------------------------------------------------- clients

CLIENT_DEFAULTS: dict[str, Any] = {
    "clientnr": "",
    "contact": "",
    "showcontact": "true",
    "company": "",
    "address": "",
    "zipcode": "",
    "city": "",
    "country": NETHERLANDS_ID,
    "phone": "",
    "mobile": "",
    "email": "",
    "bankcode": "",
    "biccode": "",
    "taxnumber": "",
    "tax_shifted": "false",
    "lastinvoice": "",
    "sendmethod": "mail",
    "paymentmethod": "bank",
    "top": "30",
    "stddiscount": "0",
    "mailintro": "Beste klant,",
    "reference": {"line1": "", "line2": "", "line3": ""},
    "notes": "",
    "notes_on_invoice": "false",
    "active": "true",
    "default_doclang": "",
    "default_email": "0",
    "currency": "EUR",
    "mandate_id": "",
    "mandate_date": "",
    "collecttype": "FRST",
    "tax_type": "extax",
    "default_category": "0",
}
_CLIENT_READ_ONLY = frozenset({"clientnr", "lastinvoice"})
_CLIENT_BOOLS = frozenset({"showcontact", "tax_shifted", "notes_on_invoice", "active"})
_CLIENT_INTS = frozenset({"top", "stddiscount", "default_email", "default_category"})
_CLIENT_MAX_LENGTHS = {
    "contact": 50,
    "company": 50,
    "address": 50,
    "zipcode": 7,
    "city": 50,
    "phone": 13,
    "mobile": 13,
    "email": 255,
    "bankcode": 32,
    "biccode": 32,
    "taxnumber": 18,
    "mailintro": 128,
}
SEND_METHODS = ("mail", "email", "printcenter")
_CLIENT_ENUMS = {
    "sendmethod": SEND_METHODS,
    "paymentmethod": ("bank", "autocollect"),
    "tax_type": ("intax", "extax"),
}
_INVOICE_FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "open": lambda inv: Decimal(inv["open"]) > 0,
    "overdue": lambda inv: Decimal(inv["open"]) > 0 and inv["duedate"] < _today().isoformat(),
    "sent": lambda inv: True,
    "partly": lambda inv: 0 < Decimal(inv["open"]) < Decimal(inv["totalintax"]),
    "toomuch": lambda inv: Decimal(inv["open"]) < 0,
    "paid": lambda inv: Decimal(inv["open"]) <= 0,
    "uncollectible": lambda inv: inv["uncollectible"] != "",
}


def _today() -> date:
    return datetime.now(_AMSTERDAM).date()


def _bad(message: str) -> HTTPException:
    return HTTPException(Response.text(message, 400))


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _bad(f"Invalid value for field {name}")


def _bool_text(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise _bad(f"Invalid value for field {name}: expected true or false")


def _int_text(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return str(int(value))
    raise _bad(f"Invalid value for field {name}: expected a whole number")


def country_id(value: Any) -> str:
    """The countrylist id for an id or a Dutch/English country name; codes such as "NL" are refused."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None:
        raise _bad("Invalid value for field country")
    if not text:
        return NETHERLANDS_ID
    if text.isdigit():
        if text.lstrip("0") in COUNTRY_BY_ID:
            return text.lstrip("0")
    elif country_by_code(text) is None:
        country = resolve_country(text)
        if country is not None:
            return COUNTRY_ID[country.alpha2]
    raise _bad(f"Unknown country: {text}")


def _reference(value: Any, current: dict[str, str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad("Invalid value for field reference: expected line1, line2 and line3")
    merged = dict(current)
    for line in ("line1", "line2", "line3"):
        if line in value:
            merged[line] = _text(value[line], f"reference {line}")
    return merged


def build_client(data: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate client input (a new client, or changes to ``current``) into the stored, stringified form.

    Unknown and read-only fields are ignored. Raises :class:`HTTPException` (400, text) on bad input.
    """
    if not isinstance(data, dict):
        raise _bad("Invalid request body: expected a JSON object")
    base = current or CLIENT_DEFAULTS
    client = {**base, "reference": dict(base["reference"])}
    for key, value in data.items():
        if key not in CLIENT_DEFAULTS or key in _CLIENT_READ_ONLY:
            continue
        if key == "reference":
            client[key] = _reference(value, client["reference"])
        elif key in _CLIENT_BOOLS:
            client[key] = _bool_text(value, key)
        elif key in _CLIENT_INTS:
            client[key] = _int_text(value, key)
        elif key == "country":
            client[key] = country_id(value)
        elif key in _CLIENT_ENUMS:
            client[key] = _text(value, key).strip().lower()
        else:
            client[key] = _text(value, key)
    for key, allowed in _CLIENT_ENUMS.items():
        if client[key] not in allowed:
            raise _bad(f"Invalid value for field {key}: {client[key]} (allowed: {', '.join(allowed)})")
    for key, limit in _CLIENT_MAX_LENGTHS.items():
        if len(client[key]) > limit:
            raise _bad(f"Field {key} is too long (max {limit} characters)")
    if not client["contact"].strip() and not client["company"].strip():
        raise _bad("Field contact or company is required")
    if client["sendmethod"] == "email" and not client["email"].strip():
        raise _bad("Field email is required when sendmethod is email")
    return client


# ---------------------------------------------------------------------------- invoices


def _decimal(value: Any, message: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(message)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(message) from None
    if not result.is_finite():
        raise _bad(message)
    return result


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _number(value: Decimal) -> int | float:
    """A JSON number the way the recorded invoice lines show them: 21, 1, 19.99."""
    return int(value) if value == value.to_integral_value() else float(value)


def rate_text(rate: Decimal) -> str:
    """``Decimal("21.00")`` → ``"21"``, ``Decimal("5.50")`` → ``"5.5"``."""
    text = f"{rate.normalize():f}"
    return text if text != "-0" else "0"


@dataclass(slots=True)
class _Line:
    amount: Decimal
    amount_desc: str
    description: str
    tax_rate: Decimal
    price: Decimal
    discount_pct: Decimal
    text_only: bool

    @property
    def total(self) -> Decimal:
        if self.text_only:
            return Decimal(0)
        return _cents(self.amount * self.price * (1 - self.discount_pct / _HUNDRED))

    def out(self) -> dict[str, Any]:
        return {
            "amount": _number(self.amount),
            "amount_desc": self.amount_desc,
            "description": self.description,
            "tax_rate": _number(self.tax_rate),
            "price": _number(self.price),
            "discount_pct": _number(self.discount_pct),
            "linetotal": _number(self.total),
        }


def _parse_lines(raw: Any, rates: frozenset[Decimal]) -> list[_Line]:
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list) or not raw:
        raise _bad("Field lines is required: at least one line")
    lines: list[_Line] = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise _bad(f"Invalid line {n}")
        description = _text(item.get("description"), f"description on line {n}")
        if not {"amount", "price", "tax_rate"} & item.keys():  # a text line
            zero = Decimal(0)
            lines.append(
                _Line(
                    zero, _text(item.get("amount_desc"), "amount_desc"), description, zero, zero, zero, True
                )
            )
            continue
        for name in ("amount", "price", "tax_rate"):
            if item.get(name) in (None, ""):
                raise _bad(f"Field {name} is required on line {n}")
        rate = _decimal(item["tax_rate"], f"Invalid tax rate {item['tax_rate']} on line {n}")
        if rate not in rates:
            raise _bad(f"Invalid tax rate {item['tax_rate']} on line {n}")
        lines.append(
            _Line(
                amount=_decimal(item["amount"], f"Invalid amount on line {n}"),
                amount_desc=_text(item.get("amount_desc"), f"amount_desc on line {n}"),
                description=description,
                tax_rate=rate,
                price=_decimal(item["price"], f"Invalid price on line {n}"),
                discount_pct=_decimal(item.get("discount_pct") or 0, f"Invalid discount_pct on line {n}"),
                text_only=False,
            )
        )
    return lines


def invoice_totals(lines: list[_Line], intax: bool) -> tuple[dict[str, dict[str, Any]], Decimal, Decimal]:
    """Per-rate taxes (``tax1``..., highest rate first), total VAT and total including VAT."""
    per_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        if not line.text_only:
            per_rate[line.tax_rate] = per_rate.get(line.tax_rate, Decimal(0)) + line.total
    taxes: dict[str, dict[str, Any]] = {}
    tax = total = Decimal(0)
    for n, rate in enumerate(sorted(per_rate, reverse=True), 1):
        amount = per_rate[rate]
        if intax:
            vat = _cents(amount * rate / (_HUNDRED + rate))
            base, gross = amount - vat, amount
        else:
            vat = _cents(amount * rate / _HUNDRED)
            base, gross = amount, amount + vat
        taxes[f"tax{n}"] = {"rate": _number(rate), "sum": f"{vat:.2f}", "sum_of": f"{base:.2f}"}
        tax += vat
        total += gross
    return taxes, tax, total


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """A small, valid one-page PDF (A4, Helvetica) showing the invoice number, date, client, reference and
    total; an invoice with a negative total (a credit note) is titled "Creditfactuur"."""
    kind = "Creditfactuur" if Decimal(invoice["totalintax"]) < 0 else "Factuur"
    texts = [
        (18, f"{kind} {invoice['invoicenr']}"),
        (12, f"Factuurdatum: {invoice['sent']}    Vervaldatum: {invoice['duedate']}"),
        (12, invoice["company"] or invoice["contact"]),
        *((11, line) for line in invoice["reference"].values() if line),
        (12, f"Totaal incl. btw: EUR {invoice['totalintax']}"),
        (12, f"Openstaand: EUR {invoice['open']}"),
    ]
    return text_pdf(texts)


# ---------------------------------------------------------------------------- search


class TextIndex:
    """Case-insensitive "contains" search over the string values of many objects, fast enough to run on
    every order with tens of thousands of clients and invoices.

    A "contains" match cannot use a plain dict, and a Python loop over 20,000 objects costs milliseconds.
    So each *distinct* folded value is kept once (most values repeat: "true", "EUR", "146", dates) with
    the keys of the objects holding it, and every value is filed under each of its 4-character
    substrings. A query then only checks the values filed under its rarest 4-gram; queries shorter than
    that scan the distinct values.
    """

    GRAM = 4

    def __init__(self) -> None:
        self._keys: dict[str, list[str]] = {}  # folded value -> keys of the objects holding it
        self._values: dict[str, tuple[str, ...]] = {}  # key -> its folded values
        self._grams: dict[str, list[str]] = {}  # 4-gram -> the distinct values containing it
        self._order: dict[str, int] = {}  # key -> insertion number, to answer in insertion order
        self._added = 0

    def set(self, key: str, values: Iterable[str]) -> None:
        folded = tuple(dict.fromkeys(value.casefold() for value in values if value))
        old = self._values.get(key)
        if old == folded:
            return
        if old is None:
            self._order[key] = self._added
            self._added += 1
        else:
            for value in old:
                self._keys[value].remove(key)
        self._values[key] = folded
        for value in folded:
            keys = self._keys.get(value)
            if keys is not None:
                keys.append(key)
                continue
            self._keys[value] = [key]
            for gram in {value[i : i + self.GRAM] for i in range(len(value) - self.GRAM + 1)}:
                self._grams.setdefault(gram, []).append(value)

    def discard(self, key: str) -> None:
        for value in self._values.pop(key, ()):
            self._keys[value].remove(key)
        self._order.pop(key, None)

    def search(self, query: str) -> list[str]:
        """Keys of the objects with a value containing ``query`` (case-insensitive), in insertion order."""
        needle = query.casefold()
        if not needle:
            return []
        if len(needle) < self.GRAM:
            candidates: Iterable[str] = self._keys
        else:
            grams = (
                self._grams.get(needle[i : i + self.GRAM], []) for i in range(len(needle) - self.GRAM + 1)
            )
            candidates = min(grams, key=len)
        hits: set[str] = set()
        for value in candidates:
            if needle in value:
                hits.update(self._keys[value])
        return sorted(hits, key=self._order.__getitem__)


def _searchable(obj: dict[str, Any], field_name: str = "all") -> list[str]:
    """The values a search on ``field_name`` looks at: every scalar plus the reference lines for "all"."""
    if field_name == "reference":
        return list(obj["reference"].values())
    if field_name != "all":
        return [obj[field_name]]
    return [value for value in obj.values() if isinstance(value, str)] + list(obj["reference"].values())


# ---------------------------------------------------------------------------- accounts


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


# ---------------------------------------------------------------------------- the sandbox


class FactuursturenSandbox:
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

    def add_invoice(self, account: Account, data: Any) -> dict[str, Any]:
        """Validate and book an invoice (``action`` send) or keep a saved/repeating one; returns it."""
        if not isinstance(data, dict):
            raise _bad("Invalid request body: expected a JSON object")
        if data.get("clientnr") in (None, ""):
            raise _bad("Field clientnr is required")
        client = account.clients.get(str(data["clientnr"]).strip())
        if client is None:
            raise _bad(f"Client {data['clientnr']} not found")
        action = data.get("action")
        if action in (None, ""):
            raise _bad("Field action is required")
        if action not in ("send", "save", "repeat"):
            raise _bad(f"Invalid value for field action: {action} (allowed: send, save, repeat)")
        if action in ("save", "repeat"):
            savename = _text(data.get("savename"), "savename")
            if not savename:
                raise _bad(f"Field savename is required for action {action}")
            if len(savename) > 20:
                raise _bad("Field savename is too long (max 20 characters)")
        sendmethod = data.get("sendmethod")
        if action == "send" and sendmethod in (None, ""):
            raise _bad("Field sendmethod is required for action send")
        if sendmethod not in (None, "") and sendmethod not in SEND_METHODS:
            raise _bad(
                f"Invalid value for field sendmethod: {sendmethod} (allowed: {', '.join(SEND_METHODS)})"
            )
        profile = _text(data.get("profile"), "profile") or account.default_profile
        if profile not in {p["id"] for p in account.profiles}:
            raise _bad(f"Invalid profile: {profile}")
        reference = _reference(data.get("reference") or {}, {"line1": "", "line2": "", "line3": ""})
        lines = _parse_lines(data.get("lines"), frozenset(account.taxes))
        sent = _text(data.get("sent"), "sent") or _today().isoformat()
        try:
            sent_date = date.fromisoformat(sent) if _DATE.match(sent) else None
        except ValueError:
            sent_date = None
        if sent_date is None:
            raise _bad(f"Invalid date for field sent: {sent} (expected YYYY-MM-DD)")
        period = int(_int_text(data.get("paymentperiod") or client["top"] or "30", "paymentperiod"))
        method = _text(data.get("alreadypaidmethod"), "alreadypaidmethod")
        if len(method) > 32:
            raise _bad("Field alreadypaidmethod is too long (max 32 characters)")

        taxes, tax, total = invoice_totals(lines, client["tax_type"] == "intax")
        paid = Decimal(0)
        if data.get("alreadypaid") not in (None, ""):
            if data["alreadypaid"] == "full":
                paid = total
            else:
                paid = _cents(_decimal(data["alreadypaid"], "Invalid value for field alreadypaid"))
                if paid < 0:
                    raise _bad("Invalid value for field alreadypaid")
        now = datetime.now(_AMSTERDAM)
        history = [
            {
                "date": now.date().isoformat(),
                "time": now.strftime("%H:%M"),
                "description": "Factuur aangemaakt",
            }
        ]
        if action == "send" and sendmethod == "email":
            to = client["email"].strip()
            sent_by = f"Factuur per e-mail verstuurd naar {to}" if to else NOT_EMAILED
            history.append({**history[0], "description": sent_by})
        elif action == "send":
            history.append({**history[0], "description": "Factuur verstuurd"})
        if paid:
            amount = f"{paid:.2f}".replace(".", ",")
            note = f"Betaling van € {amount} geregistreerd" + (f" ({method})" if method else "")
            history.append({**history[0], "description": note})

        if action == "save":
            return self._save_invoice(
                account, data, client, profile, reference, lines, sent, taxes, tax, total
            )
        if action == "repeat":
            key = str(len(account.repeated_invoices) + 1)
            account.repeated_invoices[key] = {**data, "id": key}
            return account.repeated_invoices[key]

        number = account.next_number.get(sent_date.year, 1)
        account.next_number[sent_date.year] = number + 1
        invoice_id = f"{sent_date.year}{number:04d}"
        open_amount = total - paid
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "invoicenr_full": f"F{invoice_id}",
            "invoicenr": f"F{invoice_id}",
            "reference": reference,
            "lines": {f"line{n}": line.out() for n, line in enumerate(lines, 1)},
            "profile": profile,
            "discounttype": "percentage",
            "discount": "0",
            "paymentcondition": PAYMENT_CONDITION,
            "paymentperiod": str(period),
            "collection": "0",
            "tax": f"{tax:.2f}",
            "totalintax": f"{total:.2f}",
            "clientnr": client["clientnr"],
            **{key: client[key] for key in ("company", "contact", "address", "zipcode", "city", "country")},
            **{key: client[key] for key in ("phone", "mobile", "email", "taxnumber")},
            "invoicenote": _text(data.get("invoicenote"), "invoicenote"),
            "sent": sent,
            "uncollectible": "",
            "lastreminder": "",
            "open": f"{open_amount:.2f}",
            "paiddate": sent if paid and open_amount <= 0 else "",
            "taxes": taxes,
            "payment_url": f"https://www.factuursturen.nl/pay?i={invoice_id}",
            "duedate": (sent_date + timedelta(days=period)).isoformat(),
            "history": {f"item{n}": item for n, item in enumerate(history, 1)},
            "tax_type": client["tax_type"],
            "language": client["default_doclang"] or "nl",
            "tax_shifted": client["tax_shifted"],
            "sendmethod": sendmethod,
        }
        account.put_invoice(invoice)
        account.put_client({**client, "lastinvoice": max(client["lastinvoice"], sent)})
        return invoice

    @staticmethod
    def _save_invoice(
        account: Account,
        data: dict[str, Any],
        client: dict[str, Any],
        profile: str,
        reference: dict[str, str],
        lines: list[_Line],
        sent: str,
        taxes: dict[str, dict[str, Any]],
        tax: Decimal,
        total: Decimal,
    ) -> dict[str, Any]:
        """A saved invoice (a draft): no number, nothing sent; a later send numbers it."""
        name = _text(data.get("savename"), "savename")
        overwrite = data.get("overwrite_if_exist") in (True, "true", "1", 1)
        same = next((k for k, v in account.saved_invoices.items() if v["savename"] == name), None)
        if overwrite and same is not None:
            key = same
        else:
            key = str(account.next_saved_id)
            account.next_saved_id += 1
        saved: dict[str, Any] = {
            "id": key,
            "savename": name,
            "clientnr": client["clientnr"],
            **{k: client[k] for k in ("company", "contact", "email")},
            "reference": reference,
            "lines": {f"line{n}": line.out() for n, line in enumerate(lines, 1)},
            "profile": profile,
            "sendmethod": _text(data.get("sendmethod"), "sendmethod") or client["sendmethod"],
            "sent": sent,
            "tax": f"{tax:.2f}",
            "totalintax": f"{total:.2f}",
            "taxes": taxes,
            "alreadypaid": _text(data.get("alreadypaid"), "alreadypaid"),
            "alreadypaidmethod": _text(data.get("alreadypaidmethod"), "alreadypaidmethod"),
        }
        account.put_saved(
            saved, {k: v for k, v in data.items() if k not in ("savename", "overwrite_if_exist")}
        )
        return saved

    def send_saved(self, account: Account, key: str) -> dict[str, Any]:
        """The merchant sends a saved invoice from Factuursturen's screens: it is numbered and sent as it
        was saved, and leaves the saved invoices."""
        if key not in account.saved_invoices:
            raise _bad(f"Saved invoice {key} not found")
        saved = account.saved_invoices[key]
        request = {**account.saved_requests[key], "action": "send", "sendmethod": saved["sendmethod"]}
        invoice = self.add_invoice(account, request)  # validated again: the client may have changed
        account.remove_saved(key)
        return invoice

    # ------------------------------------------------------------------ API

    def api_router(self) -> Router:
        r = Router()
        api = "/api/v1"
        for slash in ("", "/"):
            r.get(f"{api}/clients{slash}", self._api(self._list_clients))
            r.post(f"{api}/clients{slash}", self._api(self._create_client))
            r.get(f"{api}/invoices{slash}", self._api(self._list_invoices))
            r.post(f"{api}/invoices{slash}", self._api(self._create_invoice))
        r.get(f"{api}/clients/{{clientnr}}", self._api(self._get_client))
        r.put(f"{api}/clients/{{clientnr}}", self._api(self._update_client))
        r.delete(f"{api}/clients/{{clientnr}}", self._api(self._delete_client))
        r.get(f"{api}/invoices/{{key}}", self._api(self._get_invoice))
        r.delete(f"{api}/invoices/{{key}}", self._api(self._delete_invoice))
        r.get(f"{api}/invoices_pdf/{{key}}", self._api(self._invoice_pdf))
        for slash in ("", "/"):
            r.get(f"{api}/invoices_saved{slash}", self._api(self._list_saved))
        r.get(f"{api}/invoices_saved/{{key}}", self._api(self._get_saved))
        r.delete(f"{api}/invoices_saved/{{key}}", self._api(self._delete_saved))
        r.get(f"{api}/search/{{area}}/{{field_name}}/{{query:path}}", self._api(self._search))
        r.get(f"{api}/taxes", self._api(self._taxes))
        r.get(f"{api}/profiles", self._api(self._profiles))
        r.get(f"{api}/countrylist", self._api(self._countrylist))
        r.get(f"{api}/countrylist/{{lang}}", self._api(self._countrylist))
        r.get(f"{api}/balance", self._api(self._balance))
        r.route(f"{api}/{{path:path}}", None, self._api(self._unknown))
        return r

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: auth, budget, latency, faults, the rate-limit header and the request log."""

        async def endpoint(request: Request, **params: str) -> Response:
            named, ok = self._authenticate(request)
            account = named if ok else None
            if account is None:
                response = Response.text(
                    UNAUTHORIZED, 401, {"WWW-Authenticate": 'Basic realm="FactuurSturen API"'}
                )
            else:
                response = await self._gate(account, request)
                if response is None:
                    try:
                        response = await handler(account, request, **params)
                    except HTTPException as exc:
                        response = exc.response
                response.headers.setdefault("X-RateLimit-Remaining", str(account.remaining))
            if named is not None:  # a wrong key for a known username is logged too
                self._log(named, request, response.status)
            return response

        return endpoint

    def _authenticate(self, request: Request) -> tuple[Account | None, bool]:
        """The account named by the Basic credentials (if any), and whether the key is right."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            username, _, key = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        account = self.accounts.get(username)
        if account is None:
            return None, False
        return account, hmac.compare_digest(key.encode(), account.api_key.encode())

    async def _gate(self, account: Account, request: Request) -> Response | None:
        knobs = account.knobs
        await knobs.delay()
        accept = request.headers.get("accept", "").lower()
        if "xml" in accept and "json" not in accept:
            return Response.text("Not Acceptable: this API sandbox only answers application/json", 406)
        if knobs.rate_limit_burst:
            knobs.rate_limit_burst -= 1
            return Response.text(RATE_LIMITED, 403, {"X-RateLimit-Remaining": "0"})
        if account.remaining <= 0:
            return Response.text(RATE_LIMITED, 403, {"X-RateLimit-Remaining": "0"})
        account.used += 1
        status = knobs.fault(self._random, (500, 502, 503))
        return Response.text(reason(status), status) if status is not None else None

    @staticmethod
    def _log(account: Account, request: Request, status: int) -> None:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        account.requests.append(
            {
                "time": datetime.now(_AMSTERDAM).isoformat(timespec="seconds"),
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "json": body,
                "status": status,
            }
        )

    @staticmethod
    def _json(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise _bad("Invalid request body: expected JSON") from None

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        """Apply the ``start`` and ``count`` query parameters."""
        try:
            start = max(0, int(request.query.get("start", "0") or 0))
            count = int(request.query["count"]) if request.query.get("count") else None
        except ValueError:
            raise _bad("Invalid value for start or count") from None
        return items[start : None if count is None else start + max(0, count)]

    async def _list_clients(self, account: Account, request: Request) -> Response:
        return Response.json(self._page(list(account.clients.values()), request))

    async def _get_client(self, account: Account, request: Request, clientnr: str) -> Response:
        client = account.clients.get(clientnr)
        if client is None:
            return Response.text("Client not found", 404)
        return Response.json({"client": client})

    async def _create_client(self, account: Account, request: Request) -> Response:
        client = self.add_client(account, self._json(request))
        return Response.text(client["clientnr"], 201)

    async def _update_client(self, account: Account, request: Request, clientnr: str) -> Response:
        current = account.clients.get(clientnr)
        if current is None:
            return Response.text("Client not found", 404)
        account.put_client(build_client(self._json(request), current))
        return Response.text("", 200)

    async def _delete_client(self, account: Account, request: Request, clientnr: str) -> Response:
        if clientnr not in account.clients:
            return Response.text("Client not found", 404)
        account.remove_client(clientnr)
        return Response.text("", 200)

    async def _list_invoices(self, account: Account, request: Request) -> Response:
        invoices = list(account.invoices.values())
        if wanted := request.query.get("filter"):
            check = _INVOICE_FILTERS.get(wanted)
            if check is None:
                return Response.text(f"Invalid filter: {wanted}", 400)
            invoices = [inv for inv in invoices if check(inv)]
        if clientnr := request.query.get("clientnr"):
            invoices = [inv for inv in invoices if inv["clientnr"] == clientnr]
        return Response.json(self._page(invoices, request))

    async def _get_invoice(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return Response.json({"invoice": invoice})

    async def _create_invoice(self, account: Account, request: Request) -> Response:
        if account.knobs.save_late_next:  # a slow backend: the client has given up long before the save
            account.knobs.save_late_next -= 1
            await asyncio.sleep(account.knobs.save_late_seconds)
        if account.knobs.fail_before_commit_next:
            account.knobs.fail_before_commit_next -= 1
            return Response.text(reason(502), 502)
        invoice = self.add_invoice(account, self._json(request))
        if account.knobs.fail_after_commit_next:  # a sent or a saved invoice alike
            account.knobs.fail_after_commit_next -= 1
            return Response.text(reason(502), 502)
        return Response.text(invoice["id"], 201)

    async def _list_saved(self, account: Account, request: Request) -> Response:
        return Response.json(self._page(list(account.saved_invoices.values()), request))

    async def _get_saved(self, account: Account, request: Request, key: str) -> Response:
        saved = account.saved_invoices.get(key)
        if saved is None:
            return Response.text("Saved invoice not found", 404)
        return Response.json({"invoice": saved})

    async def _delete_saved(self, account: Account, request: Request, key: str) -> Response:
        if key not in account.saved_invoices:
            return Response.text("Saved invoice not found", 404)
        account.remove_saved(key)
        return Response.text("", 200)

    async def _delete_invoice(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        account.remove_invoice(invoice["id"])
        return Response.text("", 200)

    async def _invoice_pdf(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return Response(
            200,
            invoice_pdf(invoice),
            {"Content-Disposition": f'attachment; filename="{invoice["invoicenr"]}.pdf"'},
            "application/pdf",
        )

    async def _search(
        self, account: Account, request: Request, area: str, field_name: str, query: str
    ) -> Response:
        if area in ("invoices_repeated", "products"):
            return Response.json([])
        if area not in ("clients", "invoices", "invoices_saved"):
            return Response.text(f"Invalid search area: {area}", 400)
        return Response.json(account.search(area, field_name, query))

    async def _taxes(self, account: Account, request: Request) -> Response:
        highest = max(account.taxes)
        return Response.json(
            [
                {
                    "percentage": rate_text(rate),
                    "type": "N" if rate == 0 else "H" if rate == highest else "L",
                    "default": "true" if rate == highest else "false",
                    "country": "NL",
                }
                for rate in account.taxes
            ]
        )

    async def _profiles(self, account: Account, request: Request) -> Response:
        default = account.default_profile
        return Response.json(
            [
                {"id": p["id"], "name": p["name"], "default": "true" if p["id"] == default else "false"}
                for p in account.profiles
            ]
        )

    async def _countrylist(self, account: Account, request: Request, lang: str = "nl") -> Response:
        body = _COUNTRY_LISTS.get(lang.lower())
        if body is None:
            return Response.text(f"Unknown language: {lang}", 404)
        return Response(200, body)

    async def _balance(self, account: Account, request: Request) -> Response:
        return Response.json({"balance": "0.00"})

    async def _unknown(self, account: Account, request: Request, path: str) -> Response:
        return Response.text("Not found", 404)

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/accounts", self._c_put_account)
        r.get("/accounts/{username}", self._control(self._c_get_account))
        r.get("/accounts/{username}/requests", self._control(self._c_requests))
        r.post("/accounts/{username}/reset", self._control(self._c_reset))
        r.post("/accounts/{username}/clients", self._control(self._c_seed_client))
        r.get("/accounts/{username}/knobs", self._control(self._c_get_knobs))
        r.post("/accounts/{username}/knobs", self._control(self._c_set_knobs))
        r.get("/accounts/{username}/invoices/{key}/pdf", self._control(self._c_invoice_pdf))
        r.post("/accounts/{username}/saved/{key}/send", self._control(self._c_send_saved))
        r.get("/page", self._p_index)
        r.get("/accounts/{username}/page", self._control(self._p_account))
        r.post("/accounts/{username}/page/taxes", self._control(self._p_add_tax))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, username: str, **params: str) -> Response:
            account = self.accounts.get(username)
            if account is None:
                return Response.json({"error": "not_found", "message": f"Account {username} not found"}, 404)
            try:
                return await handler(account, request, **params)
            except HTTPException as exc:  # validation errors in JSON, like the rest of the control API
                return Response.json({"error": "bad_request", "message": exc.response.body.decode()}, 400)
            except ValueError as exc:
                return Response.json({"error": "bad_request", "message": str(exc)}, 400)

        return endpoint

    @staticmethod
    def _control_body(request: Request) -> dict[str, Any]:
        try:
            data = request.json() if request.body else {}
        except ValueError:
            raise ValueError("Body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("Body must be a JSON object")
        return data

    def _summary(self, account: Account, request: Request) -> dict[str, Any]:
        base = self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        return {
            "username": account.username,
            "api_url": f"{base}/factuursturen/api/v1",
            "taxes": [rate_text(rate) for rate in account.taxes],
            "profiles": account.profiles,
            "hourly_limit": account.knobs.hourly_limit,
            "rate_limit_remaining": account.remaining,
        }

    async def _c_put_account(self, request: Request) -> Response:
        try:
            data = self._control_body(request)
            if not isinstance(data.get("username"), str):
                raise ValueError("username is required")
            account = self.add_account(
                data["username"],
                api_key=data.get("api_key"),
                taxes=data.get("taxes"),
                profiles=data.get("profiles"),
                hourly_limit=data.get("hourly_limit"),
            )
        except ValueError as exc:
            return Response.json({"error": "bad_request", "message": str(exc)}, 400)
        return Response.json(self._summary(account, request), 201)

    async def _c_get_account(self, account: Account, request: Request) -> Response:
        return Response.json(
            {
                "clients": list(account.clients.values()),
                "invoices": list(account.invoices.values()),
                "saved_invoices": list(account.saved_invoices.values()),
                "repeated_invoices": list(account.repeated_invoices.values()),
                "rate_limit_remaining": account.remaining,
            }
        )

    async def _c_requests(self, account: Account, request: Request) -> Response:
        return Response.json(list(account.requests))

    async def _c_reset(self, account: Account, request: Request) -> Response:
        account.reset()
        return Response.json({"ok": True})

    async def _c_seed_client(self, account: Account, request: Request) -> Response:
        return Response.json({"client": self.add_client(account, self._control_body(request))}, 201)

    async def _c_get_knobs(self, account: Account, request: Request) -> Response:
        return Response.json(asdict(account.knobs))

    async def _c_set_knobs(self, account: Account, request: Request) -> Response:
        account.knobs.update(self._control_body(request))
        return Response.json(asdict(account.knobs))

    async def _c_send_saved(self, account: Account, request: Request, key: str) -> Response:
        return Response.json({"invoice": self.send_saved(account, key)}, 201)

    async def _c_invoice_pdf(self, account: Account, request: Request, key: str) -> Response:
        invoice = account.find_invoice(key)
        if invoice is None:
            return Response.text("Invoice not found", 404)
        return pages.pdf(invoice_pdf(invoice), invoice["invoicenr"])

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.accounts)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(a.clients), len(a.invoices)) for name, a in self.accounts.items()]
        return PAGES.index(request, ("Administration", "Debtors", "Invoices"), rows)

    async def _p_account(self, account: Account, request: Request) -> Response:
        here = PAGES.of(account.username)
        invoices = [
            (
                inv["invoicenr"],
                inv["sent"],
                f"{inv['company'] or inv['contact']} ({inv['clientnr']})",
                " ".join(line for line in inv["reference"].values() if line),
                inv["totalintax"],
                "uncollectible" if inv["uncollectible"] else "open" if Decimal(inv["open"]) > 0 else "paid",
                _sent_by(inv),
                pages.link(PAGES.path(account.username, "invoices", inv["id"], "pdf"), "PDF"),
            )
            for inv in pages.newest(account.invoices.values())
        ]
        saved = [
            (
                inv["id"],
                inv["savename"],
                inv["sent"],
                f"{inv['company'] or inv['contact']} ({inv['clientnr']})",
                " ".join(line for line in inv["reference"].values() if line),
                inv["totalintax"],
                inv["sendmethod"],
            )
            for inv in pages.newest(account.saved_invoices.values())
        ]
        debtors = [
            (c["clientnr"], c["contact"], c["company"], c["email"], _alpha2(c["country"]), c["taxnumber"])
            for c in pages.newest(account.clients.values())
        ]
        default = account.default_profile
        profiles = [(p["id"], p["name"], "yes" if p["id"] == default else "") for p in account.profiles]
        return PAGES.page(
            request,
            account.username,
            pages.section("Invoices", pages.table(INVOICE_HEADERS, invoices, len(account.invoices))),
            pages.section(
                "Saved invoices (drafts)", pages.table(SAVED_HEADERS, saved, len(account.saved_invoices))
            ),
            pages.section("Debtors", pages.table(DEBTOR_HEADERS, debtors, len(account.clients))),
            pages.vat_rates(map(rate_text, account.taxes), f"{here}/taxes"),
            pages.section("Profiles", pages.table(("Id", "Name", "Default"), profiles)),
        )

    async def _p_add_tax(self, account: Account, request: Request) -> Response:
        return pages.add_vat_rate(request, account.taxes, PAGES.of(account.username))


def _sent_by(invoice: dict[str, Any]) -> str:
    if invoice.get("sendmethod") != "email":
        return "by you (mail)"
    return f"e-mailed to {invoice['email']}" if invoice["email"].strip() else "not e-mailed: no address"


def _alpha2(country: str) -> str:
    found = COUNTRY_BY_ID.get(country)
    return found.alpha2 if found is not None else country


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


SANDBOX = FactuursturenSandbox
