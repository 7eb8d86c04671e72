"""List queries: filters (``filter=`` and the vendor's ``field__op__value``), sorting, paging and the
fields wanted."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.sandbox.http import Request

from .clients import CLIENT_FIELDS
from .common import _DIGITS, DEFAULT_LIMIT, MAX_LIMIT
from .invoices import INVOICE_FIELDS
from .render import _bad


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
