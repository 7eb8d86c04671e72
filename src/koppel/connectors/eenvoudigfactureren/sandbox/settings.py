"""An account's settings as the control API's ``POST /accounts`` takes them, checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from koppel.sandbox.http import update_settings

from .common import _EMAIL, MAX_TAXES, SCOPES
from .render import ApiError
from .state import AccountKnobs
from .values import _decimal, _yes


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
