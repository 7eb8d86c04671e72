"""Constants and small helpers every part of the simulated Shopify uses."""

from __future__ import annotations

import itertools
import logging
import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.http import HTTPException, Response

logger = logging.getLogger("koppel.sandbox.shopify")

SUPPORTED_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
_VERSION = re.compile(r"^\d{4}-(?:01|04|07|10)$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
PAGE_INFO_ALLOWED = frozenset({"page_info", "limit", "fields"})
VISIBLE_DAYS = 60
LOG_LIMIT = 10_000
PAGES = pages.Pages("Shopify", "shopify", "shops")
DEFAULT_TOPICS = ("orders/create", "orders/updated", "orders/paid")
TOPICS = (*DEFAULT_TOPICS, "orders/cancelled", "orders/delete", "refunds/create")
WEBHOOK_BACKOFF = (0.2, 0.5, 1.0)
"""Seconds before the second, third and later tries."""
WEBHOOK_TIMEOUT = 5.0
"""Shopify waits five seconds for an answer."""
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "expired",
)
UNPAID = frozenset({"pending", "authorized", "partially_paid"})
SORT_FIELDS = ("id", "created_at", "updated_at", "processed_at")
RATE_LIMIT_MESSAGE = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
AUTH_MESSAGE = "[API] Invalid API key or access token (unrecognized login or wrong password)"
TOKEN_PATH = "/admin/oauth/access_token"
GRANT_FIELDS = ("grant_type", "client_id", "client_secret")
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method."
)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_order_ids = itertools.count(5_980_000_000_001, 17)
_line_ids = itertools.count(14_100_000_000_001, 13)


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


def now_local() -> datetime:
    return datetime.now(AMSTERDAM).replace(microsecond=0)


def errors(status: int, message: Any, headers: dict[str, str] | None = None) -> Response:
    """A Shopify style error: ``{"errors": "..."}`` or ``{"errors": {"field": [...]}}``."""
    return Response.json({"errors": message}, status, headers)


def _bad_request(message: Any) -> HTTPException:
    return HTTPException(errors(400, message))
