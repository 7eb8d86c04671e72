"""A simulated EenvoudigFactureren REST API v1 (the platform also sold as SimplyBooks), after research A2
and the behaviour of the vendor's WooCommerce plugin.

Koppel's base URL for it is ``{sandbox url}/eenvoudigfactureren/api/v1`` (real:
https://eenvoudigfactureren.be/api/v1). Several accounts live side by side, each with its clients,
invoices, sent e-mails, request log and fault knobs; the control API is mounted at
``/_sandbox/eenvoudigfactureren``. For people, ``/_sandbox/eenvoudigfactureren/page`` lists the accounts
and ``.../accounts/{name}/page`` shows an account's invoices (with their PDFs), clients, e-mails, VAT rates
(with an "Add VAT rate" form) and layouts (:mod:`koppel.sandbox.pages`).

Faithful to the real API where it is known:

- ``X-API-Key: <key>`` selects the account; HTTP Basic ``email:password`` (legacy) works for accounts
  that have both. A key can be limited to some domains (scopes); a call to another domain answers 403.
- XML unless JSON is asked for: ``format=json``, or ``Accept``/``Content-Type`` naming
  ``application/json``; ``format=xml`` forces XML. Every error is an object with an ``error`` property
  (``<error>...</error>`` in XML). Lists are ``<clients><client>...``, nested lists ``<items><item>``.
- ``POST`` on a collection creates (201 with the whole object); ``POST`` on an object changes only the
  fields given, ``PUT`` replaces it (fields not given go back to their defaults); ``DELETE`` removes.
- Lists take ``search``, ``filter`` (``field=value`` operators ``= != <= >= < > =~`` and the vendor's own
  ``field__eq__value`` form; conditions separated by commas must all hold; top-level fields only),
  ``fields`` and ``sort`` (``status+-date``). Text equality ignores case, as MySQL's collation does.
- The client and invoice fields and maximum lengths of research A2; ``payments`` with
  ``remaining_amount: yes`` pay what is still open, which is how the vendor's plugin marks an order paid;
  ``GET settings?fields=taxes`` gives ``taxes.tax1.rate`` ...; ``sendemail`` and ``send`` (e-mail).

Choices where nothing is known (documented so tests can rely on them):

- Ids are integers counted per account from 1. In JSON and XML alike, money and rates are strings with
  two decimals, unit prices up to four (``"19.99"``, ``"8.2562"``), quantities plain decimal strings and
  flags ``"yes"``/``"no"``. Requests may send numbers or numeric strings, and true/false, yes/no, 1/0.
- Unknown fields answer 400 ``Unknown field: x`` (strict on purpose: it catches a typo in a mapping).
  Read-only fields (ids, ``uri``, totals, ``status``, ``sent``, ``created``, ``modified``) are accepted
  and ignored, so an object that was read can be sent back; ``type`` only as the total's sign makes it.
- Item totals are rounded half-up to the cent per item: with ``tax_included`` the gross is quantity x
  ``amount_with_tax`` and the net is derived from it, otherwise the net is quantity x ``amount`` and the
  VAT is derived; the invoice totals are the sums. The unit price that does not count is derived from
  the one that does and rounded to 4 decimals. An item without ``tax_rate`` gets the account's first
  rate; an item with neither price costs nothing (a text line).
- Invoice numbers ``YYYY-NNNN`` count per year of the invoice date, skipping numbers given by hand; a
  given number must be unique in the account (ignoring case). Client numbers count from ``1001`` when the
  account's ``auto_client_number`` is on; a client keeps its number when an update leaves it empty.
- Paging: ``limit`` (default 100, at most 500) and ``offset``; ``X-Total-Count`` is the count before paging.
- Request bodies: JSON, form-encoded (flat fields) and XML (any root element, ``items/item``,
  ``contacts/contact`` and ``payments/payment`` as lists), XML read without entities, DTDs or network.
- Formats other than json, xml and pdf (csv, html, ubl ...) answer 400; pdf only for one invoice.
- Rate limits are not documented. ``rate_limit_per_minute`` turns on a sliding one-minute window per
  account (429 with ``Retry-After`` and ``{"error": "Too many requests"}`` when full, and
  ``X-RateLimit-Limit``/``-Remaining`` on every answer); 401 and 403 answers do not count against it.
- The request log keeps the parsed body of any accepted format under ``json``, and masks query
  parameters whose name suggests a secret; it never sees headers, so no API key or password is in it.
- ``send`` with a ``peppol`` method answers 400: there is no Peppol network in the sandbox.
- No draft (concept) invoices: research A2 and the vendor's plugin know none, so every invoice is final
  and numbered when it is created, ``sent`` "no" until it is e-mailed; a ``draft`` or ``concept`` field is
  an unknown field (400) like any other.

All state is touched from the server's event loop only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hmac
import itertools
import json
import math
import operator
import random
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

from koppel.documents.countries import country_by_code, resolve_country
from koppel.sandbox import pages
from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import Request, Response, Router, reason, update_settings
from koppel.sandbox.pdf import text_pdf

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


# ---------------------------------------------------------------------------- errors and rendering


class ApiError(Exception):
    """Raised anywhere below an API handler; answered as ``{"error": message}`` (``<error>`` in XML) in the
    format the request negotiated."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def _bad(message: str) -> ApiError:
    return ApiError(message, 400)


def _not_found() -> ApiError:
    return ApiError("Not found", 404)


@dataclass(slots=True)
class Reply:
    """A handler's answer before it is rendered as JSON or XML; ``root`` names the XML root element."""

    data: Any
    root: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def negotiate(request: Request) -> str:
    """``"json"`` or ``"xml"``: the format of the answer (and of its errors, for a pdf request too)."""
    wanted = request.query.get("format", "").strip().lower()
    if wanted in ("json", "xml"):
        return wanted
    accept = request.headers.get("accept", "").lower()
    content_type = request.headers.get("content-type", "").lower()
    if "application/json" in accept or content_type.startswith("application/json"):
        return "json"
    return "xml"


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else "item"


def _xml_element(tag: str, value: Any) -> etree._Element:
    element = etree.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_xml_element(key, item))
    elif isinstance(value, list):
        child = _singular(tag)
        for item in value:
            element.append(_xml_element(child, item))
    elif isinstance(value, bool):
        element.text = "yes" if value else "no"
    elif value is not None:
        element.text = _XML_INVALID.sub("", str(value))
    return element


def to_xml(root: str, data: Any) -> bytes:
    """``data`` as an XML document: objects as elements per field, lists as the singular element each."""
    return etree.tostring(_xml_element(root, data), xml_declaration=True, encoding="UTF-8")


def render(
    data: Any, root: str, fmt: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if fmt == "json":
        return Response.json(data, status, headers)
    return Response(status, to_xml(root, data), dict(headers or {}), XML_TYPE)


def error_response(message: str, status: int, fmt: str, headers: dict[str, str] | None = None) -> Response:
    if fmt == "json":
        return Response.json({"error": message}, status, headers)
    return render(message, "error", fmt, status, headers)


# ---------------------------------------------------------------------------- request bodies

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_XML_LISTS = frozenset({"items", "contacts", "payments"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _xml_value(element: etree._Element) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]  # no comments or PIs
    if element.tag in _XML_LISTS:
        return [_xml_value(child) for child in children]
    if children:
        return {child.tag: _xml_value(child) for child in children}
    return element.text or ""


def _form(body: bytes) -> dict[str, str]:
    data: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True):
        data.setdefault(key, value)
    return data


def _decode(body: bytes, content_type: str, decimals: bool) -> Any:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _form(body)
    if kind.endswith("/xml") or kind.endswith("+xml"):
        return _xml_value(etree.fromstring(body, _XML_PARSER))
    if decimals:  # money stays exact: JSON numbers with a fraction become Decimal, never float
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    return json.loads(body, parse_constant=_reject_constant)


def parse_body(request: Request) -> Any:
    """The request body (JSON unless the content type says form or XML); ``{}`` when there is none."""
    if not request.body.strip():
        return {}
    try:
        return _decode(request.body, request.headers.get("content-type", ""), decimals=True)
    except (ValueError, etree.XMLSyntaxError):
        raise _bad("Invalid request body") from None


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _bad("Invalid request body: expected an object")
    return data


# ---------------------------------------------------------------------------- values


def _reject_unknown(data: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    known = set(allowed)
    for key in data:
        if key not in known:
            raise _bad(f"Unknown field: {prefix}{key}")


def _text(value: Any, name: str, limit: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _bad(f"Invalid value for field {name}")
    text = f"{value:f}" if isinstance(value, Decimal) else str(value)
    if limit is not None and len(text) > limit:
        raise _bad(f"Field {name} is too long (max {limit} characters)")
    return text


def _choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    text = _text(value, name).strip()
    if text not in allowed:
        raise _bad(f"Invalid value for field {name}: {text} (allowed: {', '.join(allowed)})")
    return text


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise _bad(f"Invalid value for field {name}: expected yes or no")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _decimal(value: Any, name: str, places: int | None = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _bad(f"Invalid value for field {name}: expected a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(f"Invalid value for field {name}: expected a number") from None
    if not result.is_finite() or abs(result) >= _LARGEST:
        raise _bad(f"Invalid value for field {name}: expected a number")
    if places is not None and _places(result) > places:
        raise _bad(f"Field {name} has too many decimals (max {places})")
    return result


def _integer(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise _bad(f"Invalid value for field {name}: expected a whole number")


def _date(value: Any, name: str) -> date:
    text = _text(value, name).strip()
    try:
        parsed = date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _bad(f"Invalid date for field {name}: {text} (expected YYYY-MM-DD)")
    return parsed


def _email(value: Any, name: str) -> str:
    text = _text(value, name).strip()
    if text and not _EMAIL.match(text):
        raise _bad(f"Field {name} is not a valid e-mail address: {text}")
    return text


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _round4(value: Decimal) -> Decimal:
    return value.quantize(_PRICE, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """Two decimals, rounded half-up: ``"19.99"``, ``"21.00"`` (never ``"-0.00"``)."""
    rounded = _cents(value)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"


def price_text(value: Decimal) -> str:
    """A unit price: rounded to 4 decimals, trailing zeros trimmed down to 2 (``"8.2562"``, ``"10.00"``)."""
    rounded = _round4(value)
    whole, _, fraction = f"{abs(rounded) if rounded == 0 else rounded:f}".partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def quantity_text(value: Decimal) -> str:
    """``Decimal("2.000")`` -> ``"2"``, ``Decimal("1.50")`` -> ``"1.5"``."""
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def rate_text(rate: Decimal) -> str:
    """``Decimal("21.00")`` -> ``"21"``, ``Decimal("5.50")`` -> ``"5.5"``: how messages name a rate."""
    return quantity_text(rate)


def _country_code(value: Any, name: str = "country_code") -> str:
    code = _text(value, name).strip()
    if not code:
        return "BE"
    country = country_by_code(code) if re.fullmatch("[A-Z]{2}", code) else None
    if country is None or country.alpha2 != code:
        raise _bad(f"Invalid value for field {name}: {code} (expected an ISO 3166 code such as BE)")
    return code


def _country_from_name(value: Any) -> str:
    name = _text(value, "country", 25).strip()
    if not name:
        return "BE"
    country = resolve_country(name)
    if country is None:
        raise _bad(f"Unknown country: {name}")
    return country.alpha2


def country_name(code: str) -> str:
    country = country_by_code(code)
    return country.name_nl if country is not None else ""


def _known_id(value: Any, known: set[int]) -> int | None:
    """``value`` as an existing sub-object id, or None (a new one is then given)."""
    try:
        number = _integer(value, "id")
    except ApiError:
        return None
    return number if number in known else None


def _assign_ids(objects: list[dict[str, Any]], key: str, known: set[int], new_id: Callable[[], int]) -> None:
    """Keep the ids of existing sub-objects (once each) and give new ones the next ids."""
    used: set[int] = set()
    for obj in objects:
        kept = _known_id(obj.get(key), known - used)
        obj[key] = kept if kept is not None else new_id()
        used.add(obj[key])


# ---------------------------------------------------------------------------- clients

CLIENT_DEFAULTS: dict[str, Any] = {
    "external_client_id": "",
    "name": "",
    "attention": "",
    "number": "",
    "street": "",
    "street2": "",
    "postal_code": "",
    "city": "",
    "country_code": "BE",
    "delivery_address": None,
    "email_address": "",
    "phone_number": "",
    "mobile_number": "",
    "tax_code": "",
    "language": "nl",
    "contacts": [],
}
CLIENT_FIELDS = (
    "client_id",
    "uri",
    "external_client_id",
    "name",
    "attention",
    "number",
    "street",
    "street2",
    "postal_code",
    "city",
    "country_code",
    "country",
    "delivery_address",
    "email_address",
    "phone_number",
    "mobile_number",
    "tax_code",
    "language",
    "contacts",
    "created",
    "modified",
)
CLIENT_READ_ONLY = frozenset({"client_id", "uri", "created", "modified"})
CLIENT_LIMITS = {
    "external_client_id": 50,
    "name": 75,
    "attention": 100,
    "number": 55,
    "street": 150,
    "street2": 150,
    "city": 50,
    "postal_code": 10,
}
ADDRESS_FIELDS = ("street", "street2", "postal_code", "city", "country_code")
CONTACT_FIELDS = ("name", "email_address", "phone_number", "function")


def _delivery_address(value: Any) -> dict[str, str] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise _bad("Invalid value for field delivery_address: expected an object")
    _reject_unknown(value, ADDRESS_FIELDS, "delivery_address.")
    address = {
        key: _text(value.get(key), f"delivery_address.{key}", CLIENT_LIMITS.get(key))
        for key in ADDRESS_FIELDS[:-1]
    }
    address["country_code"] = _country_code(value.get("country_code"), "delivery_address.country_code")
    return address


def _contacts(value: Any, existing: list[dict[str, Any]], new_id: Callable[[], int]) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _bad("Invalid value for field contacts: expected a list")
    contacts: list[dict[str, Any]] = []
    for n, raw in enumerate(value, 1):
        where = f"contacts[{n}]"
        if not isinstance(raw, dict):
            raise _bad(f"Invalid value for field {where}: expected an object")
        _reject_unknown(raw, ("contact_id", *CONTACT_FIELDS), f"{where}.")
        contact = {"contact_id": raw.get("contact_id")}
        contact.update({key: _text(raw.get(key), f"{where}.{key}") for key in CONTACT_FIELDS})
        contact["email_address"] = _email(contact["email_address"], f"{where}.email_address")
        contacts.append(contact)
    _assign_ids(contacts, "contact_id", {c["contact_id"] for c in existing}, new_id)
    return contacts


def _client_value(key: str, value: Any) -> Any:
    if key == "country_code":
        return _country_code(value)
    if key == "delivery_address":
        return _delivery_address(value)
    if key == "language":
        return _choice(value, key, LANGUAGES)
    if key == "email_address":
        return _email(value, key)
    return _text(value, key, CLIENT_LIMITS.get(key))


def client_fields(
    data: Any, base: dict[str, Any], contacts: list[dict[str, Any]], new_contact_id: Callable[[], int]
) -> dict[str, Any]:
    """Validate client input over ``base`` (the defaults, or the stored client for a partial update) into
    the settable fields; ``contacts`` are the client's current ones, whose ids are kept when sent back."""
    data = _object(data)
    _reject_unknown(data, (*CLIENT_DEFAULTS, "country", *CLIENT_READ_ONLY))
    fields = {key: copy.deepcopy(base[key]) for key in CLIENT_DEFAULTS}
    for key, value in data.items():
        if key == "contacts":
            fields[key] = _contacts(value, contacts, new_contact_id)
        elif key in CLIENT_DEFAULTS:
            fields[key] = _client_value(key, value)
    if "country" in data and "country_code" not in data:
        fields["country_code"] = _country_from_name(data["country"])
    if not fields["name"].strip():
        raise _bad("Field name is required")
    return fields


def client_out(fields: dict[str, Any], **generated: Any) -> dict[str, Any]:
    """The client as the API shows it: ``generated`` gives client_id, uri, created and modified."""
    values = {**fields, **generated, "country": country_name(fields["country_code"])}
    return {key: values[key] for key in CLIENT_FIELDS}


# ---------------------------------------------------------------------------- invoices

INVOICE_SETTABLE = (
    "external_invoice_id",
    "client_id",
    "client_name",
    "client_attention",
    "type",
    "number",
    "layout_id",
    "reference",
    "date",
    "expiry_date",
    "language",
    "tax_included",
    "items",
    "payments",
    "remarks",
)
INVOICE_READ_ONLY = frozenset(
    {
        "invoice_id",
        "uri",
        "status",
        "sent",
        "total_without_tax",
        "total_tax",
        "total_with_tax",
        "paid_amount",
        "open_amount",
        "created",
        "modified",
    }
)
INVOICE_FIELDS = (
    "invoice_id",
    "uri",
    "external_invoice_id",
    "client_id",
    "client_name",
    "client_attention",
    "type",
    "number",
    "layout_id",
    "reference",
    "date",
    "expiry_date",
    "language",
    "tax_included",
    "status",
    "sent",
    "items",
    "payments",
    "remarks",
    "total_without_tax",
    "total_tax",
    "total_with_tax",
    "paid_amount",
    "open_amount",
    "created",
    "modified",
)
ITEM_FIELDS = (
    "description",
    "quantity",
    "amount",
    "amount_with_tax",
    "tax_rate",
    "tax_rate_special_status",
    "stockitem_code",
    "general_ledger_account",
)
ITEM_READ_ONLY = ("item_id", "total_without_tax", "total_tax", "total_with_tax")
PAYMENT_FIELDS = ("payment_id", "date", "amount", "description", "remaining_amount")


def _tax_rate(value: Any, rates: list[Decimal], name: str) -> Decimal:
    if value in (None, ""):
        return rates[0] if rates else Decimal(0)
    rate = _decimal(value, name, 2)
    if rate != 0 and rate not in rates:
        available = ", ".join(dict.fromkeys(rate_text(r) for r in [*rates, Decimal(0)]))
        raise _bad(f"Tax rate {rate_text(rate)} is not available in this account (available: {available})")
    return rate


def _special_status(value: Any, rate: Decimal, where: str) -> str:
    status = _text(value, f"{where}.tax_rate_special_status").strip().upper()
    if not status:
        return ""
    if status not in SPECIAL_STATUSES:
        allowed = ", ".join(SPECIAL_STATUSES)
        raise _bad(f"Invalid value for field {where}.tax_rate_special_status: {status} (allowed: {allowed})")
    if rate != 0:
        raise _bad(f"Field {where}.tax_rate_special_status {status} requires tax_rate 0")
    return status


def _ledger(value: Any, where: str) -> str:
    text = _text(value, f"{where}.general_ledger_account").strip()
    if text and not _LEDGER.match(text):
        raise _bad(f"Field {where}.general_ledger_account must be 6 to 8 digits")
    return text


def _price(value: Any, name: str) -> Decimal | None:
    return None if value in (None, "") else _decimal(value, name, 4)


def unit_prices(
    amount: Decimal | None, with_tax: Decimal | None, rate: Decimal, tax_included: bool
) -> tuple[Decimal, Decimal]:
    """``(amount, amount_with_tax)``: the price that counts (``amount_with_tax`` when ``tax_included``) as
    given or, when only the other was given, derived from it; the other derived from the one that counts."""
    factor = 1 + rate / _HUNDRED
    if tax_included:
        if with_tax is None:
            return amount or Decimal(0), _round4((amount or Decimal(0)) * factor)
        return _round4(with_tax / factor), with_tax
    if amount is None:
        return _round4((with_tax or Decimal(0)) / factor), with_tax or Decimal(0)
    return amount, _round4(amount * factor)


def item_totals(
    quantity: Decimal, amount: Decimal, with_tax: Decimal, rate: Decimal, tax_included: bool
) -> tuple[Decimal, Decimal, Decimal]:
    """``(without tax, tax, with tax)`` of one item, each rounded half-up to the cent."""
    if tax_included:
        gross = _cents(quantity * with_tax)
        net = _cents(gross / (1 + rate / _HUNDRED))
        return net, gross - net, gross
    net = _cents(quantity * amount)
    tax = _cents(net * rate / _HUNDRED)
    return net, tax, net + tax


def build_item(raw: Any, n: int, tax_included: bool, rates: list[Decimal]) -> dict[str, Any]:
    """One validated item with its totals; its ``item_id`` is still the one sent (if any)."""
    where = f"items[{n}]"
    if not isinstance(raw, dict):
        raise _bad(f"Invalid value for field {where}: expected an object")
    _reject_unknown(raw, (*ITEM_FIELDS, *ITEM_READ_ONLY), f"{where}.")
    description = _text(raw.get("description"), f"{where}.description", 2000)
    if not description.strip():
        raise _bad(f"Field {where}.description is required")
    raw_quantity = raw.get("quantity")
    quantity = Decimal(1) if raw_quantity in (None, "") else _decimal(raw_quantity, f"{where}.quantity", 4)
    rate = _tax_rate(raw.get("tax_rate"), rates, f"{where}.tax_rate")
    special = _special_status(raw.get("tax_rate_special_status"), rate, where)
    amount, with_tax = unit_prices(
        _price(raw.get("amount"), f"{where}.amount"),
        _price(raw.get("amount_with_tax"), f"{where}.amount_with_tax"),
        rate,
        tax_included,
    )
    net, tax, gross = item_totals(quantity, amount, with_tax, rate, tax_included)
    return {
        "item_id": raw.get("item_id"),
        "description": description,
        "quantity": quantity_text(quantity),
        "amount": price_text(amount),
        "amount_with_tax": price_text(with_tax),
        "tax_rate": money(rate),
        "tax_rate_special_status": special,
        "stockitem_code": _text(raw.get("stockitem_code"), f"{where}.stockitem_code", 20),
        "general_ledger_account": _ledger(raw.get("general_ledger_account"), where),
        "total_without_tax": money(net),
        "total_tax": money(tax),
        "total_with_tax": money(gross),
    }


def _payment(raw: Any, n: int, open_amount: Decimal, fixed: bool) -> dict[str, Any]:
    where = f"payments[{n}]"
    if not isinstance(raw, dict):
        raise _bad(f"Invalid value for field {where}: expected an object")
    _reject_unknown(raw, PAYMENT_FIELDS, f"{where}.")
    remaining = _flag(raw.get("remaining_amount") or "no", f"{where}.remaining_amount")
    if remaining and not fixed:
        amount = open_amount
    elif raw.get("amount") in (None, ""):
        raise _bad(f"Field {where}.amount is required")
    else:
        amount = _decimal(raw["amount"], f"{where}.amount", 2)
    return {
        "payment_id": raw.get("payment_id"),
        "date": _date(raw.get("date") or _today().isoformat(), f"{where}.date").isoformat(),
        "amount": money(amount),
        "description": _text(raw.get("description"), f"{where}.description", 255),
        "remaining_amount": _yes(remaining),
    }


def build_payments(raw: Any, total: Decimal, fixed: bool) -> list[dict[str, Any]]:
    """Validated payments; ``remaining_amount: yes`` pays what the earlier ones left open. ``fixed``: the
    stored payments of an invoice being changed, whose amounts stay as they were."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise _bad("Invalid value for field payments: expected a list")
    payments: list[dict[str, Any]] = []
    open_amount = total
    for n, item in enumerate(raw, 1):
        payment = _payment(item, n, open_amount, fixed)
        open_amount -= Decimal(payment["amount"])
        payments.append(payment)
    return payments


def _status(total: Decimal, open_amount: Decimal) -> str:
    """``paid`` once nothing is open (or more than all was paid, for an invoice or a credit note)."""
    settled = open_amount == 0 or open_amount < 0 < total or total < 0 < open_amount
    return "paid" if settled else "open"


def _check_type(value: Any, kind: str) -> None:
    if value in (None, ""):
        return
    given = _choice(value, "type", ("invoice", "creditnote"))
    if given != kind:
        raise _bad(f"Field type cannot be {given}: the total makes this document a {kind}")


def _expiry(value: Any, invoice_date: date, term_days: int) -> date:
    if value in (None, ""):
        return invoice_date + timedelta(days=term_days)
    expiry = _date(value, "expiry_date")
    if expiry < invoice_date:
        raise _bad("Field expiry_date must not be before date")
    return expiry


def _sum(objects: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(obj[key]) for obj in objects), Decimal(0))


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """A small, valid PDF (A4, Helvetica): number, dates, client, one line per item and the totals."""
    kind = "Creditnota" if invoice["type"] == "creditnote" else "Factuur"
    price, total = (
        ("amount_with_tax", "total_with_tax")
        if invoice["tax_included"] == "yes"
        else ("amount", "total_without_tax")
    )
    texts = [
        (18, f"{kind} {invoice['number']}"),
        (11, f"Factuurdatum: {invoice['date']}    Vervaldatum: {invoice['expiry_date']}"),
        (11, invoice["client_name"]),
        (11, invoice["client_attention"]),
        (11, f"Referentie: {invoice['reference']}"),
        *((11, line) for line in invoice["remarks"].splitlines() if line.strip()),
        (11, ""),
    ]
    for item in invoice["items"]:
        description = " ".join(item["description"].split())[:60]
        unit, rate, line_total = item[price], item["tax_rate"], item[total]
        texts.append((10, f"{item['quantity']} x {description}  EUR {unit}  btw {rate}%  EUR {line_total}"))
    texts += [
        (11, ""),
        (11, f"Totaal excl. btw: EUR {invoice['total_without_tax']}"),
        (11, f"Btw: EUR {invoice['total_tax']}"),
        (12, f"Totaal incl. btw: EUR {invoice['total_with_tax']}"),
        (11, f"Openstaand: EUR {invoice['open_amount']}"),
    ]
    return text_pdf(texts, leading=16)


# ---------------------------------------------------------------------------- list queries


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What ``search``, ``filter``, ``sort`` and ``fields`` may use in a domain's list."""

    fields: tuple[str, ...]
    numeric: frozenset[str]
    search: tuple[str, ...]
    nested: frozenset[str]
    """Not top-level scalars: neither filterable nor sortable."""

    def check_scalar(self, name: str, what: str) -> None:
        if name not in self.fields or name in self.nested:
            raise _bad(f"Invalid {what}: unknown field {name}")


CLIENT_LIST = ListSpec(
    CLIENT_FIELDS,
    frozenset({"client_id"}),
    ("name", "attention", "number", "email_address", "city", "tax_code"),
    frozenset({"delivery_address", "contacts"}),
)
INVOICE_LIST = ListSpec(
    INVOICE_FIELDS,
    frozenset(
        {
            "invoice_id",
            "client_id",
            "layout_id",
            "total_without_tax",
            "total_tax",
            "total_with_tax",
            "paid_amount",
            "open_amount",
        }
    ),
    ("number", "reference", "external_invoice_id", "client_name"),
    frozenset({"items", "payments"}),
)

_SYMBOLIC = re.compile(r"^(\w+)(!=|<=|>=|=~|=|<|>)(.*)$", re.DOTALL)
_VENDOR = re.compile(r"^(\w+?)__([a-z]+)__(.*)$", re.DOTALL)
_VENDOR_OPERATORS = {"eq": "=", "ne": "!=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _split_condition(text: str) -> tuple[str, str, str]:
    """``(field, operator, value)`` of ``field=value`` ... or ``field__eq__value`` ..."""
    if match := _VENDOR.match(text):
        name, op_name, value = match.groups()
        op = _VENDOR_OPERATORS.get(op_name)
        if op is None:
            raise _bad(f"Invalid filter: unknown operator {op_name}")
        return name, op, value
    if match := _SYMBOLIC.match(text):
        name, op, value = match.groups()
        return name, op, value
    raise _bad(f"Invalid filter: {text}")


def _condition(text: str, spec: ListSpec) -> Callable[[dict[str, Any]], bool]:
    name, op, value = _split_condition(text)
    spec.check_scalar(name, "filter")
    if op == "=~":
        needle = value.casefold()
        return lambda obj: needle in _plain(obj[name]).casefold()
    compare = _COMPARE[op]
    if name in spec.numeric:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _bad(f"Invalid filter: {name} needs a number, not {value}") from None
        return lambda obj: compare(Decimal(obj[name]), number)
    folded = value.casefold()  # text equality ignores case (MySQL collation); dates compare as ISO text
    return lambda obj: compare(_plain(obj[name]).casefold(), folded)


def _sort_key(name: str, spec: ListSpec) -> Callable[[dict[str, Any]], Any]:
    if name in spec.numeric:
        return lambda obj: Decimal(obj[name])
    return lambda obj: _plain(obj[name]).casefold()


def _sorted(objects: list[dict[str, Any]], text: str, spec: ListSpec) -> list[dict[str, Any]]:
    """``status+-date``: keys separated by ``+`` (or a space, which is what an unencoded ``+`` becomes),
    ``-`` for descending; Python's stable sort applied from the last key to the first."""
    result = list(objects)
    for key in reversed([key for key in re.split(r"[+ ,]", text) if key]):
        name = key.lstrip("-")
        spec.check_scalar(name, "sort")
        result.sort(key=_sort_key(name, spec), reverse=key.startswith("-"))
    return result


def _query_int(request: Request, name: str, default: int) -> int:
    text = request.query.get(name, "").strip()
    if not text:
        return default
    if not _DIGITS.match(text):
        raise _bad(f"Invalid value for {name}: {text}")
    return int(text)


def _wanted_fields(request: Request, spec: ListSpec) -> tuple[str, ...] | None:
    names = [name.strip() for name in request.query.get("fields", "").split(",") if name.strip()]
    for name in names:
        if name not in spec.fields:
            raise _bad(f"Unknown field: {name}")
    return tuple(names) or None


def project(obj: dict[str, Any], names: tuple[str, ...] | None) -> dict[str, Any]:
    return obj if names is None else {name: obj[name] for name in names}


def query_list(
    objects: Iterable[dict[str, Any]], request: Request, spec: ListSpec
) -> tuple[list[dict[str, Any]], int]:
    """Apply ``search``, ``filter``, ``sort``, paging and ``fields``; returns the page and the total
    number of matches before paging."""
    found = list(objects)
    if needle := request.query.get("search", "").strip().casefold():
        found = [obj for obj in found if any(needle in _plain(obj[key]).casefold() for key in spec.search)]
    conditions = [_condition(text, spec) for text in request.query.get("filter", "").split(",") if text]
    if conditions:
        found = [obj for obj in found if all(check(obj) for check in conditions)]
    if sort := request.query.get("sort", "").strip():
        found = _sorted(found, sort, spec)
    limit = min(_query_int(request, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    offset = _query_int(request, "offset", 0)
    names = _wanted_fields(request, spec)
    return [project(obj, names) for obj in found[offset : offset + limit]], len(found)


# ---------------------------------------------------------------------------- accounts


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


# ---------------------------------------------------------------------------- account settings


def _taxes_setting(raw: Any) -> list[Decimal]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TAXES:
        raise ValueError(f"taxes must be a list of 1 to {MAX_TAXES} percentages")
    rates: list[Decimal] = []
    for value in raw:
        try:
            rate = _decimal(value, "taxes", 2)
        except ApiError:
            raise ValueError(f"taxes must be percentages, not {value!r}") from None
        if not 0 <= rate < 100:
            raise ValueError(f"taxes must be percentages, not {value!r}")
        rates.append(rate)
    return rates


def _layouts_setting(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("layouts must be a non-empty list")
    layouts: list[dict[str, Any]] = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError("each layout must be an object with layout_id and name")
        layout_id = item.get("layout_id", n)
        if not isinstance(layout_id, int) or isinstance(layout_id, bool) or layout_id < 1:
            raise ValueError(f"invalid layout_id: {layout_id!r}")
        default = item.get("default", "no")
        layouts.append(
            {"layout_id": layout_id, "name": item["name"], "default": _yes(default in (True, "yes"))}
        )
    if len({layout["layout_id"] for layout in layouts}) != len(layouts):
        raise ValueError("layout ids must be unique")
    defaults = sum(layout["default"] == "yes" for layout in layouts)
    if defaults > 1:
        raise ValueError("only one layout can be the default")
    if not defaults:
        layouts[0]["default"] = "yes"
    return layouts


def _scopes_setting(raw: Any) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(scope, str) for scope in raw):
        raise ValueError(f"scopes must be a list among {', '.join(SCOPES)}")
    unknown = sorted(set(raw) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope: {unknown[0]} (known: {', '.join(SCOPES)})")
    return frozenset(raw)


def _knobs_setting(current: AccountKnobs, changes: Any) -> AccountKnobs:
    """A copy of ``current`` with ``changes`` applied; raises ``ValueError`` naming a bad knob."""
    if not isinstance(changes, dict):
        raise ValueError("knobs must be an object")
    knobs = replace(current, fail_next=list(current.fail_next))
    update_settings(knobs, changes)
    if knobs.error_rate > 1:
        raise ValueError("error_rate must be between 0 and 1")
    if any(not 400 <= status <= 599 for status in knobs.fail_next):
        raise ValueError("fail_next takes status codes from 400 to 599")
    return knobs


def _string_setting(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


ACCOUNT_SETTINGS = (
    "name",
    "api_key",
    "email",
    "password",
    "display_name",
    "taxes",
    "layouts",
    "scopes",
    "auto_client_number",
    "payment_term_days",
    "knobs",
)


def account_settings(data: dict[str, Any], knobs: AccountKnobs) -> dict[str, Any]:
    """The validated settings given in a control ``POST /accounts`` body (``knobs`` applied to a copy of
    the account's current ones)."""
    unknown = [key for key in data if key not in ACCOUNT_SETTINGS]
    if unknown:
        raise ValueError(f"unknown setting: {unknown[0]}")
    settings: dict[str, Any] = {}
    for key in ("api_key", "email", "password", "display_name"):
        if (value := _string_setting(data, key)) is not None:
            settings[key] = value.strip() if key == "email" else value
    if settings.get("email") and not _EMAIL.match(settings["email"]):
        raise ValueError(f"invalid email: {settings['email']}")
    parsers: dict[str, Callable[[Any], Any]] = {
        "taxes": _taxes_setting,
        "layouts": _layouts_setting,
        "scopes": _scopes_setting,
        "knobs": lambda raw: _knobs_setting(knobs, raw),
    }
    for key, parse in parsers.items():
        if data.get(key) is not None:
            settings[key] = parse(data[key])
    if (auto := data.get("auto_client_number")) is not None:
        if not isinstance(auto, bool):
            raise ValueError("auto_client_number must be true or false")
        settings["auto_client_number"] = auto
    if (term := data.get("payment_term_days")) is not None:
        if not isinstance(term, int) or isinstance(term, bool) or not 0 <= term <= 365:
            raise ValueError("payment_term_days must be a whole number from 0 to 365")
        settings["payment_term_days"] = term
    return settings


# ---------------------------------------------------------------------------- the sandbox

Handler = Callable[..., Coroutine[Any, Any, "Reply | Response"]]


class EenvoudigFacturerenSandbox:
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

    def api_router(self) -> Router:
        r = Router()
        routes: list[tuple[str, str, dict[str, Handler]]] = [
            ("/accounts/current", "accounts", {"GET": self._account_current}),
            ("/settings", "settings", {"GET": self._settings}),
            ("/layouts", "layouts", {"GET": self._list_layouts}),
            ("/layouts/{layout_id}", "layouts", {"GET": self._get_layout}),
            ("/clients", "clients", {"GET": self._list_clients, "POST": self._create_client}),
            (
                "/clients/{client_id}",
                "clients",
                {
                    "GET": self._get_client,
                    "POST": self._update_client,
                    "PUT": self._replace_client,
                    "DELETE": self._delete_client,
                },
            ),
            ("/clients/{client_id}/contacts", "clients", {"GET": self._client_contacts}),
            ("/invoices", "invoices", {"GET": self._list_invoices, "POST": self._create_invoice}),
            (
                "/invoices/{invoice_id}",
                "invoices",
                {"GET": self._get_invoice, "POST": self._update_invoice, "DELETE": self._delete_invoice},
            ),
            ("/invoices/{invoice_id}/items", "invoices", {"GET": self._invoice_items}),
            ("/invoices/{invoice_id}/payments", "invoices", {"GET": self._invoice_payments}),
            ("/invoices/{invoice_id}/sendemail", "invoices", {"POST": self._sendemail}),
            ("/invoices/{invoice_id}/send", "invoices", {"POST": self._send}),
        ]
        for path, scope, handlers in routes:
            endpoint = self._api(scope, handlers)
            r.route(f"{API}{path}", None, endpoint)
            r.route(f"{API}{path}/", None, endpoint)
        unknown = self._api(None, {})
        for path in (API, f"{API}/", f"{API}/{{path:path}}"):
            r.route(path, None, unknown)
        return r

    def _api(self, scope: str | None, handlers: dict[str, Handler]) -> Callable[..., Any]:
        """An endpoint for one path: auth (and scope) -> gate (latency, rate limit, faults) -> the handler
        for the method (405 for another, 404 for a path without any) -> rate-limit headers -> request log."""

        async def endpoint(request: Request, **params: str) -> Response:
            fmt = negotiate(request)
            named, ok = self._authenticate(request)
            account = named if ok else None
            if account is None:
                response = error_response(AUTH_FAILED, 401, fmt, {"WWW-Authenticate": REALM})
            elif scope is not None and scope not in account.scopes:
                response = error_response("Access denied", 403, fmt)
            else:
                response = await self._gate(account, fmt)
                if response is None:
                    response = await self._dispatch(account, request, handlers, params, fmt)
                if account.knobs.rate_limit_per_minute:
                    response.headers["X-RateLimit-Limit"] = str(account.knobs.rate_limit_per_minute)
                    response.headers["X-RateLimit-Remaining"] = str(account.rate_remaining())
            if named is not None:  # a wrong password for a known e-mail address is logged too
                self._log(named, request, response.status)
            return response

        return endpoint

    async def _dispatch(
        self,
        account: Account,
        request: Request,
        handlers: dict[str, Handler],
        params: dict[str, str],
        fmt: str,
    ) -> Response:
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        try:
            if handler is None and handlers:
                allowed = ", ".join(handlers)
                raise ApiError(f"Method {request.method} is not allowed", 405, {"Allow": allowed})
            if handler is None:
                raise _not_found()
            self._check_format(request, handler)
            result = await handler(account, request, **params)
        except ApiError as exc:
            return error_response(exc.message, exc.status, fmt, exc.headers)
        if isinstance(result, Response):
            return result
        return render(result.data, result.root, fmt, result.status, result.headers)

    def _check_format(self, request: Request, handler: Handler) -> None:
        wanted = request.query.get("format", "").strip().lower()
        if wanted in ("", "json", "xml"):
            return
        if wanted != "pdf":
            raise _bad(f"Unsupported format: {wanted}")
        if handler != self._get_invoice:
            raise _bad("Format pdf is only available for one invoice")

    def _authenticate(self, request: Request) -> tuple[Account | None, bool]:
        """The account the credentials name (if any), and whether they are right."""
        key = request.headers.get("x-api-key", "").strip()
        if key:
            account = self._by_key.get(key)
            if account is None:
                return None, False
            return account, hmac.compare_digest(key.encode(), account.api_key.encode())
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            email, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        account = self._by_email.get(email.strip().casefold())
        if account is None or not account.password:
            return account, False
        return account, hmac.compare_digest(password.encode(), account.password.encode())

    async def _gate(self, account: Account, fmt: str) -> Response | None:
        knobs = account.knobs
        await knobs.delay()
        if knobs.rate_limit_burst:
            knobs.rate_limit_burst -= 1
            return error_response(
                TOO_MANY, 429, fmt, {"Retry-After": str(knobs.rate_limit_burst_retry_after)}
            )
        if (wait := account.rate_wait()) is not None:
            return error_response(TOO_MANY, 429, fmt, {"Retry-After": str(wait)})
        status = knobs.fault(self._random, (500, 502, 503))
        if status is not None:
            return error_response(reason(status), status, fmt, _fault_headers(status))
        return None

    @staticmethod
    def _log(account: Account, request: Request, status: int) -> None:
        account.requests.append(
            {
                "time": _stamp(),
                "method": request.method,
                "path": request.path,
                "query": {
                    key: "***" if _SECRET_PARAM.search(key) else value for key, value in request.query.items()
                },
                "json": _logged_body(request),
                "status": status,
            }
        )

    def _base(self, request: Request) -> str:
        root = self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        return f"{root}/eenvoudigfactureren{API}"

    # ------------------------------------------------------------------ handlers

    async def _account_current(self, account: Account, request: Request) -> Reply:
        data = {
            "account_id": account.account_id,
            "number": account.number,
            "name": account.display_name,
            "email_address": account.email,
        }
        return Reply(data, "account")

    async def _settings(self, account: Account, request: Request) -> Reply:
        settings = {
            "taxes": {f"tax{n}": {"rate": money(rate)} for n, rate in enumerate(account.taxes, 1)},
            "invoice_numbering": {"next_number": account.next_invoice_number(_today().year, claim=False)},
            "client_numbering": {
                "automatic": _yes(account.auto_client_number),
                "next_number": account.next_client_number(claim=False) if account.auto_client_number else "",
            },
            "payment_term_days": str(account.payment_term_days),
        }
        names = [name.strip() for name in request.query.get("fields", "").split(",") if name.strip()]
        for name in names:
            if name not in settings:
                raise _bad(f"Unknown settings field: {name}")
        return Reply({name: settings[name] for name in names} if names else settings, "settings")

    async def _list_layouts(self, account: Account, request: Request) -> Reply:
        return Reply(account.layouts, "layouts")

    async def _get_layout(self, account: Account, request: Request, layout_id: str) -> Reply:
        layout = next((lay for lay in account.layouts if str(lay["layout_id"]) == layout_id), None)
        if layout is None:
            raise _not_found()
        return Reply(layout, "layout")

    async def _list_clients(self, account: Account, request: Request) -> Reply:
        page, total = query_list(account.clients.values(), request, CLIENT_LIST)
        return Reply(page, "clients", headers={"X-Total-Count": str(total)})

    async def _get_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        return Reply(project(client, _wanted_fields(request, CLIENT_LIST)), "client")

    async def _create_client(self, account: Account, request: Request) -> Reply:
        return Reply(self.add_client(account, parse_body(request), self._base(request)), "client", 201)

    async def _update_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        changed = self.update_client(account, client["client_id"], parse_body(request), replace_all=False)
        return Reply(changed, "client")

    async def _replace_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        changed = self.update_client(account, client["client_id"], parse_body(request), replace_all=True)
        return Reply(changed, "client")

    async def _delete_client(self, account: Account, request: Request, client_id: str) -> Reply:
        client = _find(account.clients, client_id)
        del account.clients[client["client_id"]]
        return Reply({"client_id": client["client_id"], "deleted": "yes"}, "client")

    async def _client_contacts(self, account: Account, request: Request, client_id: str) -> Reply:
        return Reply(_find(account.clients, client_id)["contacts"], "contacts")

    async def _list_invoices(self, account: Account, request: Request) -> Reply:
        page, total = query_list(account.invoices.values(), request, INVOICE_LIST)
        return Reply(page, "invoices", headers={"X-Total-Count": str(total)})

    async def _get_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply | Response:
        invoice = _find(account.invoices, invoice_id)
        if request.query.get("format", "").strip().lower() == "pdf":
            filename = re.sub(r"[^A-Za-z0-9._-]", "_", invoice["number"])
            headers = {"Content-Disposition": f'attachment; filename="invoice-{filename}.pdf"'}
            return Response(200, invoice_pdf(invoice), headers, "application/pdf")
        return Reply(project(invoice, _wanted_fields(request, INVOICE_LIST)), "invoice")

    async def _create_invoice(self, account: Account, request: Request) -> Reply:
        if account.knobs.save_late_next:  # a slow backend: the client has given up long before the save
            account.knobs.save_late_next -= 1
            await asyncio.sleep(account.knobs.save_late_seconds)
        if account.knobs.fail_before_commit_next:
            account.knobs.fail_before_commit_next -= 1
            raise ApiError(reason(502), 502)
        invoice = self.add_invoice(account, parse_body(request), self._base(request))
        if account.knobs.fail_after_commit_next:
            account.knobs.fail_after_commit_next -= 1
            raise ApiError(reason(502), 502)
        return Reply(invoice, "invoice", 201)

    async def _update_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        return Reply(self.update_invoice(account, invoice["invoice_id"], parse_body(request)), "invoice")

    async def _delete_invoice(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        account.remove_invoice(invoice["invoice_id"])
        return Reply({"invoice_id": invoice["invoice_id"], "deleted": "yes"}, "invoice")

    async def _invoice_items(self, account: Account, request: Request, invoice_id: str) -> Reply:
        return Reply(_find(account.invoices, invoice_id)["items"], "items")

    async def _invoice_payments(self, account: Account, request: Request, invoice_id: str) -> Reply:
        return Reply(_find(account.invoices, invoice_id)["payments"], "payments")

    async def _sendemail(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        data = _object(parse_body(request))
        _reject_unknown(data, ("recipient",))
        return Reply(_mail(account, invoice, data.get("recipient")), "invoice")

    async def _send(self, account: Account, request: Request, invoice_id: str) -> Reply:
        invoice = _find(account.invoices, invoice_id)
        data = _object(parse_body(request))
        _reject_unknown(data, ("methods",))
        methods = data.get("methods")
        if not isinstance(methods, dict) or not methods:
            raise _bad("Field methods is required")
        unknown = [name for name in methods if name not in ("email", "peppol")]
        if unknown:
            raise _bad(f"Unknown send method: {unknown[0]}")
        answer: dict[str, Any] = {"invoice_id": invoice["invoice_id"], "sent": "yes"}
        if "peppol" in methods:
            answer["peppol"] = _peppol(account, invoice, methods["peppol"])
        if "email" in methods:
            options = methods["email"] or {}
            if not isinstance(options, dict):
                raise _bad("Invalid value for field methods.email: expected an object")
            _reject_unknown(options, ("recipient",), "methods.email.")
            answer.update(_mail(account, invoice, options.get("recipient")))
        return Reply(answer, "invoice")

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/accounts", self._c_put_account)
        r.get("/accounts/{name}", self._control(self._c_get_account))
        r.get("/accounts/{name}/requests", self._control(self._c_requests))
        r.post("/accounts/{name}/reset", self._control(self._c_reset))
        r.post("/accounts/{name}/clients", self._control(self._c_seed_client))
        r.get("/accounts/{name}/knobs", self._control(self._c_get_knobs))
        r.post("/accounts/{name}/knobs", self._control(self._c_set_knobs))
        r.get("/accounts/{name}/invoices/{invoice_id}/pdf", self._control(self._c_invoice_pdf))
        r.get("/page", self._p_index)
        r.get("/accounts/{name}/page", self._control(self._p_account))
        r.post("/accounts/{name}/page/taxes", self._control(self._p_add_tax))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, name: str, **params: str) -> Response:
            account = self.accounts.get(name)
            if account is None:
                return Response.json({"error": f"Account {name} not found"}, 404)
            try:
                return await handler(account, request, **params)
            except ApiError as exc:
                return Response.json({"error": exc.message}, exc.status)
            except ValueError as exc:
                return Response.json({"error": str(exc)}, 400)

        return endpoint

    @staticmethod
    def _control_body(request: Request, decimals: bool = False) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            data = _decode(request.body, "application/json", decimals)
        except ValueError:
            raise ValueError("Body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("Body must be a JSON object")
        return data

    def _summary(self, account: Account, request: Request) -> dict[str, Any]:
        return {
            "name": account.name,
            "api_url": self._base(request),
            "account_id": account.account_id,
            "number": account.number,
            "display_name": account.display_name,
            "email": account.email,
            "taxes": [money(rate) for rate in account.taxes],
            "layouts": account.layouts,
            "scopes": [scope for scope in SCOPES if scope in account.scopes],
            "auto_client_number": account.auto_client_number,
            "payment_term_days": account.payment_term_days,
            "knobs": asdict(account.knobs),
        }

    async def _c_put_account(self, request: Request) -> Response:
        try:
            data = self._control_body(request)
            name = data.pop("name", None)
            if not isinstance(name, str):
                raise ValueError("name is required")
            account, created = self.add_account(name, **data)
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json(self._summary(account, request), 201 if created else 200)

    async def _c_get_account(self, account: Account, request: Request) -> Response:
        return Response.json(
            {
                "name": account.name,
                "clients": list(account.clients.values()),
                "invoices": list(account.invoices.values()),
                "emails": account.emails,
                "peppol_deliveries": account.peppol_deliveries,
                "knobs": asdict(account.knobs),
                "taxes": [money(rate) for rate in account.taxes],
                "layouts": account.layouts,
            }
        )

    async def _c_requests(self, account: Account, request: Request) -> Response:
        return Response.json({"requests": list(account.requests)})

    async def _c_reset(self, account: Account, request: Request) -> Response:
        account.reset()
        return Response.json({"ok": True})

    async def _c_seed_client(self, account: Account, request: Request) -> Response:
        client = self.add_client(account, self._control_body(request, decimals=True), self._base(request))
        return Response.json(client, 201)

    async def _c_get_knobs(self, account: Account, request: Request) -> Response:
        return Response.json(asdict(account.knobs))

    async def _c_set_knobs(self, account: Account, request: Request) -> Response:
        account.knobs = _knobs_setting(account.knobs, self._control_body(request))
        return Response.json(asdict(account.knobs))

    async def _c_invoice_pdf(self, account: Account, request: Request, invoice_id: str) -> Response:
        invoice = _find(account.invoices, invoice_id)
        return pages.pdf(invoice_pdf(invoice), f"invoice-{invoice['number']}")

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.accounts)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(a.clients), len(a.invoices)) for name, a in self.accounts.items()]
        return PAGES.index(request, ("Account", "Clients", "Invoices"), rows)

    async def _p_account(self, account: Account, request: Request) -> Response:
        here = PAGES.of(account.name)
        invoices = [
            (
                inv["number"],
                inv["date"],
                f"{inv['client_name']} ({inv['client_id']})",
                inv["reference"],
                inv["total_with_tax"],
                inv["status"],
                inv["sent"],
                pages.link(PAGES.path(account.name, "invoices", inv["invoice_id"], "pdf"), "PDF"),
            )
            for inv in pages.newest(account.invoices.values())
        ]
        clients = [tuple(c[key] for key in CLIENT_SHOWN) for c in pages.newest(account.clients.values())]
        emails = [(mail["number"], mail["to"], mail["time"]) for mail in pages.newest(account.emails)]
        layouts = [(lay["layout_id"], lay["name"], lay["default"]) for lay in account.layouts]
        return PAGES.page(
            request,
            account.name,
            pages.section("Invoices", pages.table(INVOICE_HEADERS, invoices, len(account.invoices))),
            pages.section("Clients", pages.table(DEBTOR_HEADERS, clients, len(account.clients))),
            pages.section(
                "E-mails sent", pages.table(("Invoice", "To", "Time"), emails, len(account.emails))
            ),
            pages.vat_rates(map(money, account.taxes), f"{here}/taxes"),
            pages.section("Layouts", pages.table(("Id", "Name", "Default"), layouts)),
        )

    async def _p_add_tax(self, account: Account, request: Request) -> Response:
        return pages.add_vat_rate(request, account.taxes, PAGES.of(account.name), most=MAX_TAXES)


def _find(objects: dict[int, dict[str, Any]], raw_id: str) -> dict[str, Any]:
    found = objects.get(int(raw_id)) if _DIGITS.match(raw_id) else None
    if found is None:
        raise _not_found()
    return found


def _fault_headers(status: int) -> dict[str, str]:
    if status == 429:
        return {"Retry-After": "1"}
    if status == 401:
        return {"WWW-Authenticate": REALM}
    return {}


def _peppol(account: Account, invoice: dict[str, Any], options: Any) -> dict[str, Any]:
    """Record a delivery of ``invoice`` through Peppol (as Peppol BIS 3.0): the client needs a VAT number,
    its Peppol identifier (0208/9925 for Belgium, 9944 for the Netherlands, ...)."""
    if options not in (None, {}):
        raise _bad("Invalid value for field methods.peppol: expected an empty object")
    client = account.clients.get(invoice["client_id"]) or {}
    vat_number = str(client.get("tax_code") or "").replace(" ", "").replace(".", "").upper()
    if not vat_number:
        raise _bad("The client has no VAT number: it cannot be reached through Peppol")
    delivery = {
        "invoice_id": invoice["invoice_id"],
        "number": invoice["number"],
        "to": vat_number,
        "format": "peppolbis3",
        "time": _stamp(),
    }
    account.peppol_deliveries.append(delivery)
    invoice["sent"] = "yes"
    invoice["modified"] = delivery["time"]
    return {"recipient": vat_number, "format": "peppolbis3"}


def _mail(account: Account, invoice: dict[str, Any], recipient: Any) -> dict[str, Any]:
    """Record an e-mail of ``invoice`` to ``recipient`` (``main_contact``: the client's address)."""
    wanted = _text(recipient, "recipient").strip() or "main_contact"
    if wanted == "main_contact":
        client = account.clients.get(invoice["client_id"])
        address = client["email_address"] if client is not None else ""
        if not address:
            raise _bad("The client has no e-mail address")
    else:
        address = _email(wanted, "recipient")
    stamp = _stamp()
    account.emails.append(
        {"invoice_id": invoice["invoice_id"], "number": invoice["number"], "to": address, "time": stamp}
    )
    invoice["sent"] = "yes"
    invoice["modified"] = stamp
    return {"invoice_id": invoice["invoice_id"], "sent": "yes", "recipient": address}


def _logged_body(request: Request) -> Any:
    """The body as the request log shows it: parsed (JSON numbers as numbers), or None."""
    if not request.body.strip():
        return None
    try:
        return _decode(request.body, request.headers.get("content-type", ""), decimals=False)
    except (ValueError, etree.XMLSyntaxError):
        return None


SANDBOX = EenvoudigFacturerenSandbox
