"""What the KMO Shops sandbox's parts share: constants, its JSON errors, its clock and order totals."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Response, reason

logger = logging.getLogger("koppel.sandbox.kmoshops")

PAGE_SIZE = 50
PAGES = pages.Pages("KMO Shops", "kmoshops", "shops")
ORDER_FORM = (
    ("first_name", "First name", "Sanne"),
    ("last_name", "Last name", "Jansen"),
    ("email", "E-mail", "sanne@example.nl"),
    ("country", "Country", "NL"),
    ("product", "Product", "Mok Delfts blauw"),
    ("quantity", "Quantity", "1"),
    ("price", "Unit price incl. VAT", "12.95"),
    ("vat_rate", "VAT rate", "21"),
    ("status", "Status", "paid"),
)
FIRST_ORDER_ID = 100001
WINDOW_SECONDS = 60.0
LOG_LIMIT = 10_000
EVENTS = ("order.created", "order.updated")
WEBHOOK_TRIES = 3
WEBHOOK_BACKOFF = (0.2, 1.0)
"""Seconds to wait before the second and the third try."""

_CENT = Decimal("0.01")
_SHOP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_CUSTOMER_FIELDS = (
    "firstname",
    "lastname",
    "company",
    "address1",
    "address2",
    "house_number",
    "zipcode",
    "city",
    "country",
    "telnr",
    "mobile",
    "email",
    "vatnumber",
)
_PAID_STATUSES = frozenset({"paid", "processing", "shipped", "completed"})


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


def now_local() -> datetime:
    return datetime.now(AMSTERDAM).replace(microsecond=0)


def error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A KMO Shops style JSON error."""
    return Response.json(
        {"error": _ERROR_CODES.get(status, "error"), "message": message or reason(status)}, status, headers
    )


def _bad_request(message: str) -> HTTPException:
    return HTTPException(error(400, message))


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise _bad_request(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad_request(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise _bad_request(f"{what}: {value!r} is not a number")
    return result


def order_total(order: dict[str, Any]) -> str:
    """What the customer pays, VAT included: per line ``amount × price`` (plus VAT when the prices
    exclude it) rounded half-up to the cent, summed, plus the shipping cost rounded the same way."""
    incl = bool(order.get("priceincltax", True))
    items = [
        (line.get("amount", 1), line.get("price", "0"), line.get("tax_rate", "0")) for line in order["lines"]
    ]
    shipping = order.get("shipping")
    if isinstance(shipping, dict):
        items.append((1, shipping.get("price", "0"), shipping.get("tax_rate", "0")))
    total = Decimal(0)
    for n, (amount, price, rate) in enumerate(items, 1):
        gross = _decimal(amount, f"line {n} amount") * _decimal(price, f"line {n} price")
        if not incl:
            gross *= 1 + _decimal(rate, f"line {n} tax_rate") / 100
        total += gross.quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{total:.2f}"


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise _bad_request(f"{what}: expected an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_request(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=AMSTERDAM)
