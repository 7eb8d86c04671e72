"""The EenvoudigFactureren sandbox's constants and its clock."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages

API = "/api/v1"
LOG_LIMIT = 10_000
PAGES = pages.Pages("EenvoudigFactureren", "eenvoudigfactureren", "accounts")
INVOICE_HEADERS = ("Number", "Date", "Client", "Reference", "Total incl. VAT", "Status", "Sent", "PDF")
DEBTOR_HEADERS = ("Id", "Number", "Name", "Attention", "E-mail", "Country", "VAT number")
CLIENT_SHOWN = ("client_id", "number", "name", "attention", "email_address", "country_code", "tax_code")
DEFAULT_TAXES = ("21", "12", "6")
MAX_TAXES = 5
DEFAULT_LAYOUTS = (
    {"layout_id": 1, "name": "Standaard", "default": "yes"},
    {"layout_id": 2, "name": "Webshop", "default": "no"},
)
SCOPES = ("invoices", "clients", "layouts", "settings", "accounts")
LANGUAGES = ("nl", "fr", "en", "de")
SPECIAL_STATUSES = ("ICL", "ICD", "EXP", "MC")
XML_TYPE = "application/xml; charset=utf-8"
AUTH_FAILED = "Authentication failed"
REALM = 'Basic realm="EenvoudigFactureren API"'
TOO_MANY = "Too many requests"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
WINDOW_SECONDS = 60.0
FIRST_CLIENT_NUMBER = 1001
ACCOUNT_NUMBER_BASE = 100_122

_CENT = Decimal("0.01")
_PRICE = Decimal("0.0001")
_HUNDRED = Decimal(100)
_LARGEST = Decimal(10) ** 12
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIGITS = re.compile(r"^\d+$", re.ASCII)
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_LEDGER = re.compile(r"^\d{6,8}$", re.ASCII)
_SECRET_PARAM = re.compile(r"key|pass|secret|token|auth", re.IGNORECASE)
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FLAGS = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}
try:
    _BRUSSELS: tzinfo = ZoneInfo("Europe/Brussels")
except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
    _BRUSSELS = timezone(timedelta(hours=1))


def _now() -> datetime:
    return datetime.now(_BRUSSELS)


def _stamp() -> str:
    return _now().isoformat(timespec="seconds")


def _today() -> date:
    return _now().date()
