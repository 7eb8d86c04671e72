"""The Factuursturen sandbox's constants and small helpers: answers, the Amsterdam clock and the checks of
plain field values."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Response

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
