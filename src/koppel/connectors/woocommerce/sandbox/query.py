"""``GET orders`` parameters, validated as WordPress's REST schema does."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from .common import _REST_DATE, HIDDEN_FROM_ANY, ORDERBY, STATUSES, _invalid_param
from .state import OrderRecord, Store


@dataclass(slots=True)
class OrderQuery:
    """``GET orders`` parameters, validated as WordPress's REST schema does."""

    page: int = 1
    per_page: int = 10
    offset: int | None = None
    orderby: str = "date"
    descending: bool = True
    statuses: frozenset[str] | None = None
    bounds: dict[str, int] = field(default_factory=dict)
    """``after``/``before``/``modified_after``/``modified_before`` as epoch seconds."""

    @classmethod
    def read(cls, query: dict[str, str], store: Store) -> OrderQuery:
        q = cls()
        q.page = cls._int(query, "page", 1, 1)
        q.per_page = cls._int(query, "per_page", 10, 1, 100)
        q.offset = cls._int(query, "offset", 0, 0) if "offset" in query else None
        q.orderby = query.get("orderby", "date")
        if q.orderby not in ORDERBY:
            raise _invalid_param("orderby", f"orderby is not one of {', '.join(ORDERBY)}.")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid_param("order", "order is not one of asc and desc.")
        q.descending = order == "desc"
        gmt = query.get("dates_are_gmt", "false").lower()
        if gmt not in ("true", "false", "1", "0"):
            raise _invalid_param("dates_are_gmt", "dates_are_gmt is not of type boolean.")
        zone = UTC if gmt in ("true", "1") else store.zone
        for name in ("after", "before", "modified_after", "modified_before"):
            if name in query:
                q.bounds[name] = cls._date(query[name], name, zone)
        q.statuses = cls._statuses(query.get("status", "any"))
        return q

    @staticmethod
    def _int(query: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
        text = query.get(name, str(default))
        try:
            value = int(text)
        except ValueError:
            raise _invalid_param(name, f"{name} is not of type integer.") from None
        if value < low or (high is not None and value > high):
            why = (
                f"{name} must be between {low} (inclusive) and {high} (inclusive)"
                if high
                else (f"{name} must be greater than or equal to {low}")
            )
            raise _invalid_param(name, why)
        return value

    @staticmethod
    def _date(text: str, name: str, zone: tzinfo) -> int:
        """A date filter. WordPress's date query uses the wall time written and ignores an offset."""
        match = _REST_DATE.match(text.strip())
        if match is None:
            raise _invalid_param(name, "Invalid date.")
        wall = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
        return int(wall.replace(tzinfo=zone).timestamp())

    @staticmethod
    def _statuses(text: str) -> frozenset[str] | None:
        wanted = {part.strip() for part in text.split(",") if part.strip()} or {"any"}
        unknown = wanted - {"any", *STATUSES}
        if unknown:
            raise _invalid_param("status", f"status[0] is not one of any, {', '.join(STATUSES)}.")
        return None if "any" in wanted else frozenset(wanted)

    def run(self, store: Store) -> tuple[list[OrderRecord], int]:
        """The page's orders and the number of matching orders."""
        keys = self._candidates(store)
        records = [store.orders[order_id] for _, order_id in keys]
        matching = [r for r in records if self._matches(r)]
        start = self.offset if self.offset is not None else (self.page - 1) * self.per_page
        return matching[start : start + self.per_page], len(matching)

    def _candidates(self, store: Store) -> list[tuple[int, int]]:
        """Orders in the order asked for, narrowed by the bounds of the sort field."""
        if self.orderby in ("date", "modified"):
            index = store.by_created if self.orderby == "date" else store.by_modified
            low, high = (
                ("after", "before") if self.orderby == "date" else ("modified_after", "modified_before")
            )
            lo = bisect_right(index, (self.bounds[low], math.inf)) if low in self.bounds else 0
            hi = bisect_left(index, (self.bounds[high], -1)) if high in self.bounds else len(index)
            keys = index[lo:hi]
        else:
            keys = [(order_id, order_id) for order_id in sorted(store.orders)]
        return keys[::-1] if self.descending else keys

    def _matches(self, record: OrderRecord) -> bool:
        if self.statuses is None:
            if record.status in HIDDEN_FROM_ANY:
                return False
        elif record.status not in self.statuses:
            return False
        created, modified = int(record.created.timestamp()), int(record.modified.timestamp())
        b = self.bounds
        return (
            ("after" not in b or created > b["after"])
            and ("before" not in b or created < b["before"])
            and ("modified_after" not in b or modified > b["modified_after"])
            and ("modified_before" not in b or modified < b["modified_before"])
        )
