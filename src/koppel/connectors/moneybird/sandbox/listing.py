"""Lists as Moneybird serves them: ``filter=key:value,key:value`` (alternatives of one key with ``|``; an
unknown key or a bad value answers 400), ``page`` and ``per_page`` (default 50, at most 100), newest first,
and a ``Link`` header to the next page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from koppel.sandbox.http import Request, Response

from .errors import bad_request
from .state import now

DEFAULT_PER_PAGE, MAX_PER_PAGE = 50, 100
_RANGE = re.compile(r"^(\d{8})\.\.(\d{8})$")


def parse_filter(request: Request, allowed: Iterable[str]) -> dict[str, list[str]]:
    """``state:draft|open,reference:K1`` → ``{"state": ["draft", "open"], "reference": ["K1"]}``."""
    conditions: dict[str, list[str]] = {}
    text = request.query.get("filter", "").strip()
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition(":")
        if not sep or key not in allowed:
            raise bad_request(f"Unknown filter: {part}")
        conditions[key] = value.split("|")
    return conditions


def period(value: str) -> tuple[date, date]:
    """``this_year``, ``prev_year``, ``this_month``, ``prev_month`` or ``YYYYMMDD..YYYYMMDD``."""
    today = now().date()
    first_of_month = today.replace(day=1)
    named = {
        "this_year": (today.replace(month=1, day=1), today.replace(month=12, day=31)),
        "prev_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "this_month": (
            first_of_month,
            (first_of_month + timedelta(days=32)).replace(day=1) - timedelta(days=1),
        ),
        "prev_month": (
            (first_of_month - timedelta(days=1)).replace(day=1),
            first_of_month - timedelta(days=1),
        ),
    }
    if value in named:
        return named[value]
    match = _RANGE.match(value)
    if match is None:
        raise bad_request(f"Unknown period: {value}")
    start, end = (date(int(s[:4]), int(s[4:6]), int(s[6:])) for s in match.groups())
    return start, end


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(f"{name} must be a positive number")
    return int(raw)


def page(request: Request, items: list[dict[str, Any]], url: str) -> Response:
    """One page of ``items`` (already filtered), newest first."""
    number = _positive(request, "page", 1)
    size = min(MAX_PER_PAGE, _positive(request, "per_page", DEFAULT_PER_PAGE))
    ordered = sorted(items, key=lambda item: item["created_at"] + item["id"], reverse=True)
    shown = ordered[(number - 1) * size : number * size]
    headers = {}
    if number * size < len(ordered):
        headers["Link"] = f'<{url}?page={number + 1}&per_page={size}>; rel="next"'
    return Response.json(shown, headers=headers)
