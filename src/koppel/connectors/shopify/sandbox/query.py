"""The filters of ``orders.json`` and its ``page_info`` cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .common import AMSTERDAM, FINANCIAL_STATUSES, PAGE_INFO_ALLOWED, SORT_FIELDS, _bad_request
from .state import OrderMeta

# -- list filters --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Query:
    """The filters of one ``orders.json`` request (what a ``page_info`` token carries along)."""

    params: dict[str, str]
    ids: frozenset[int] | None = None
    since_id: int | None = None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    status: str = "open"
    financial_status: str = "any"
    fulfillment_status: str = "any"
    sort: tuple[str, str] = ("id", "desc")

    @classmethod
    def parse(cls, params: dict[str, str]) -> Query:
        query = cls({k: v for k, v in params.items() if k not in PAGE_INFO_ALLOWED})
        if "ids" in params:
            query.ids = frozenset(_int(part, "ids") for part in params["ids"].split(",") if part.strip())
        if "since_id" in params:
            query.since_id = _int(params["since_id"], "since_id")
        for name in ("created_at", "updated_at", "processed_at"):
            low, high = params.get(f"{name}_min"), params.get(f"{name}_max")
            if low is not None or high is not None:
                query.ranges[name] = (_time(low, f"{name}_min"), _time(high, f"{name}_max"))
        query.status = _choice(params, "status", "open", ("open", "closed", "cancelled", "any"))
        query.financial_status = _choice(
            params, "financial_status", "any", ("any", "unpaid", *FINANCIAL_STATUSES)
        )
        query.fulfillment_status = _choice(
            params, "fulfillment_status", "any", ("any", "shipped", "partial", "unshipped", "unfulfilled")
        )
        query.sort = ("id", "asc") if query.since_id is not None else _sort(params.get("order"))
        return query

    def matches(self, meta: OrderMeta, visible_from: float | None) -> bool:
        if visible_from is not None and meta.created < visible_from:
            return False
        if self.ids is not None and meta.id not in self.ids:
            return False
        if self.since_id is not None and meta.id <= self.since_id:
            return False
        for name, (low, high) in self.ranges.items():
            value = meta.updated if name == "updated_at" else meta.created
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return self._status_ok(meta)

    def _status_ok(self, meta: OrderMeta) -> bool:
        if self.status == "open" and (meta.closed or meta.cancelled):
            return False
        if (self.status == "closed" and not meta.closed) or (
            self.status == "cancelled" and not meta.cancelled
        ):
            return False
        wanted = self.financial_status
        if wanted == "unpaid":
            if meta.financial_status not in ("authorized", "partially_paid"):
                return False
        elif wanted != "any" and meta.financial_status != wanted:
            return False
        shipped = meta.fulfillment_status
        return {
            "any": True,
            "shipped": shipped == "fulfilled",
            "partial": shipped == "partial",
            "unshipped": shipped is None,
            "unfulfilled": shipped in (None, "partial"),
        }[self.fulfillment_status]


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _bad_request({name: ["expected Integer"]}) from None


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _bad_request({name: ["must be an ISO 8601 date-time"]}) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=AMSTERDAM)).timestamp()


def _choice(params: dict[str, str], name: str, default: str, allowed: Iterable[str]) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise _bad_request({name: [f"must be one of {', '.join(allowed)}"]})
    return value


def _sort(value: str | None) -> tuple[str, str]:
    if not value:
        return "id", "desc"
    parts = value.split()
    if len(parts) == 1:
        parts.append("asc")
    if len(parts) != 2 or parts[0] not in SORT_FIELDS or parts[1].lower() not in ("asc", "desc"):
        raise _bad_request({"order": [f"must be one of {', '.join(SORT_FIELDS)} with asc or desc"]})
    return parts[0], parts[1].lower()


def encode_page_info(params: dict[str, str], last: tuple[float, int], direction: str) -> str:
    data = json.dumps({"q": params, "k": list(last), "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_page_info(token: str) -> tuple[dict[str, str], tuple[float, int], str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params = {str(k): str(v) for k, v in data["q"].items()}
        last = (float(data["k"][0]), int(data["k"][1]))
        direction = data["d"] if data["d"] in ("next", "prev") else "next"
    except (ValueError, KeyError, TypeError, IndexError):
        raise _bad_request({"page_info": ["Invalid value."]}) from None
    return params, last, direction
