"""The checks of plain field values (text, choices, flags, numbers, dates, e-mail addresses, countries) and
how amounts are written."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from koppel.documents.countries import country_by_code, resolve_country

from .common import _CENT, _DATE, _DIGITS, _EMAIL, _FLAGS, _LARGEST, _PRICE
from .render import ApiError, _bad


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
