"""Reading request bodies and values as Moneybird's API does: the resource's attributes under its name
(``{"contact": {...}}``; missing or empty: 400), attributes it does not know refused (400, strict on purpose:
it catches a mapping's typo), numbers given as strings or numbers, dates as ``YYYY-MM-DD``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.sandbox.http import Request

from .errors import Invalid, bad_request

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resource(request: Request, name: str, allowed: Iterable[str]) -> dict[str, Any]:
    try:
        data = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    attributes = data.get(name) if isinstance(data, dict) else None
    if not isinstance(attributes, dict) or not attributes:
        raise bad_request(f"param is missing or the value is empty: {name}")
    unknown = sorted(set(attributes) - set(allowed))
    if unknown:
        raise bad_request(f"found unpermitted parameter: {unknown[0]}")
    return attributes


def text(data: dict[str, Any], key: str, errors: Invalid, limit: int = 255) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.add(key, "is invalid")
        return ""
    value = str(value)
    if len(value) > limit:
        errors.add(key, f"is too long (maximum is {limit} characters)")
    return value


def decimal(value: Any, key: str, errors: Invalid) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.add(key, "is not a number")
        return None
    if not number.is_finite() or isinstance(value, bool):
        errors.add(key, "is not a number")
        return None
    return number


def amount(value: Any, key: str, errors: Invalid) -> Decimal:
    """A detail's ``amount``: a number, optionally followed by a unit (``"3 uur"``); default 1."""
    if value is None or value == "":
        return Decimal(1)
    head = str(value).strip().split(" ", 1)[0].replace(",", ".")
    number = decimal(head, key, errors)
    return number if number is not None else Decimal(1)


def day(value: Any, key: str, errors: Invalid, default: date | None = None) -> date | None:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _DATE.match(value):
        errors.add(key, "is invalid")
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(key, "is invalid")
        return default


def flag(value: Any, key: str, errors: Invalid, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "false", "0"):
        return str(value).lower() in ("true", "1")
    errors.add(key, "is invalid")
    return default


def logged(request: Request) -> Any:
    """The body as the request log shows it: parsed JSON, or ``None`` (a multipart upload is listed by its
    parts' names elsewhere)."""
    if not request.body.strip() or "json" not in request.headers.get("content-type", ""):
        return None
    try:
        return json.loads(request.body)
    except ValueError:
        return None
