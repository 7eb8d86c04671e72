"""Clients (debtors): their defaults, the checks of their fields and :func:`build_client`; the invoice
list's filters."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .common import NETHERLANDS_ID, _bad, _bool_text, _int_text, _text, _today
from .countries import country_id

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
