"""Constants and small helpers every part of the simulated WooCommerce uses."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Response

if TYPE_CHECKING:
    from .state import OrderRecord

logger = logging.getLogger("koppel.sandbox.woocommerce")

API = "/wp-json/wc/v3"
FIRST_ORDER_ID = 1001
LOG_LIMIT = 10_000
PAGES = pages.Pages("WooCommerce", "woocommerce", "stores")
WINDOW_SECONDS = 60.0
MAX_FAILURES = 5
ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
DEFAULT_TOPICS = ("order.created", "order.updated")
#: The WordPress actions each topic listens to (``WC_Webhook::get_default_topic_hooks``).
TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
HIDDEN_FROM_ANY = frozenset({"trash", "checkout-draft"})
PAID_STATUSES = frozenset({"processing", "completed"})
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
WC_VERSION = "9.4.2"
WP_VERSION = "6.7.1"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

CENT = Decimal("0.01")
RAW = Decimal("1e-10")
ZERO = Decimal(0)
_STORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REST_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_PROXY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
    "</center><hr><center>nginx</center></body></html>"
)
_THEME_404 = (
    "<!DOCTYPE html><html><head><title>Pagina niet gevonden</title></head><body><h1>Oeps! Die pagina "
    "kan niet worden gevonden.</h1></body></html>"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


# --- small helpers ---------------------------------------------------------------------------------------


def php_json(obj: Any) -> bytes:
    """JSON as WordPress writes it (``wp_json_encode``): compact, non-ASCII as ``\\uXXXX``, ``/`` as
    ``\\/``. A receiver must verify the signature over these exact bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def payload(topic: str, record: OrderRecord) -> bytes:
    """A webhook body: the order as the REST API returns it; for a deleted order only its id."""
    return php_json({"id": record.id} if topic.endswith(".deleted") else record.doc)


def wc_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, php_json(obj), dict(headers or {}), "application/json; charset=UTF-8")


def wc_error(status: int, code: str, message: str, **data: Any) -> Response:
    """A WordPress REST error."""
    return wc_response({"code": code, "message": message, "data": {"status": status, **data}}, status)


def _invalid(message: str) -> HTTPException:
    return HTTPException(wc_error(400, "woocommerce_sandbox_invalid", message))


def _invalid_param(name: str, why: str) -> HTTPException:
    return HTTPException(
        wc_error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})
    )


def rnd(value: Decimal) -> Decimal:
    """PHP's ``round($x, 2)``: half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt2(value: Decimal) -> str:
    """``wc_format_decimal($x, 2)``."""
    text = f"{rnd(value):.2f}"
    return "0.00" if text == "-0.00" else text


def fmt_raw(value: Decimal) -> str:
    """An unrounded tax as WooCommerce stores it: trailing zeros dropped (``0.9``, ``1.7355371901``)."""
    text = format(value.quantize(RAW, rounding=ROUND_HALF_UP).normalize(), "f")
    return "0" if text in ("-0", "0E-10") else text


def to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _invalid(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise _invalid(f"{what}: {value!r} is not a number")
    return result


def to_int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _invalid(f"{what}: {value!r} is not an integer")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise _invalid(f"{what}: {value!r} is not an integer") from None
    if number < minimum:
        raise _invalid(f"{what}: must be at least {minimum}")
    return number


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=1)) if name == "Europe/Amsterdam" else UTC


def now_gmt() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_gmt(value: Any, what: str) -> datetime:
    """A control-API date: ISO 8601; without an offset it is UTC (like WooCommerce's ``*_gmt`` fields)."""
    if not isinstance(value, str):
        raise _invalid(f"{what}: expected an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)
