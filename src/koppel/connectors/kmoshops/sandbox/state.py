"""A simulated KMO Shops shop: its settings, knobs, orders and logs."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.webhooks import DeliveryLog

from .common import (
    FIRST_ORDER_ID,
    LOG_LIMIT,
    PAGE_SIZE,
)


@dataclass(slots=True)
class ShopKnobs(FaultKnobs):
    """The fault knobs for the shop API (``error_rate`` answers a random 500 or 503), and the shop's own."""

    rate_limit_per_minute: int = 60
    """Requests allowed per sliding 60 s window; 0 switches the limit off."""
    duplicate_webhooks: int = 0
    """Extra copies of every webhook (to test de-duplication)."""
    webhooks_enabled: bool = True


@dataclass(eq=False)
class Shop:
    name: str
    api_key: str
    webhook_url: str | None = None
    webhook_secret: str = ""
    knobs: ShopKnobs = field(default_factory=ShopKnobs)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_keys: list[tuple[int, int]] = field(default_factory=list)
    """``(updated_at as epoch seconds, id)`` of every order, kept sorted for the paged list."""
    next_id: int = FIRST_ORDER_ID
    hits: deque[float] = field(default_factory=deque)
    """Monotonic times of the API requests inside the current rate-limit window."""
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Delivery attempts: the newest ones, and how many were logged so far."""

    def summary(self, base_url: str) -> dict[str, Any]:
        return {
            "shop": self.name,
            "shop_url": f"{base_url}/kmoshops/{self.name}",
            "webhook_url": self.webhook_url,
            "orders": len(self.orders),
            "knobs": asdict(self.knobs),
        }

    def _index(self, order: dict[str, Any]) -> tuple[int, int]:
        return int(datetime.fromisoformat(order["updated_at"]).timestamp()), order["id"]

    def put(self, order: dict[str, Any]) -> None:
        """Store (or replace) ``order``, keeping the ``updated_at`` index sorted."""
        old = self.orders.get(order["id"])
        if old is not None:
            self._unindex(old)
        self.orders[order["id"]] = order
        insort(self.order_keys, self._index(order))
        self.next_id = max(self.next_id, order["id"] + 1)

    def remove(self, order_id: int) -> dict[str, Any] | None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self._unindex(order)
        return order

    def _unindex(self, order: dict[str, Any]) -> None:
        key = self._index(order)
        i = bisect_left(self.order_keys, key)
        if i < len(self.order_keys) and self.order_keys[i] == key:
            del self.order_keys[i]

    def page(self, since: datetime | None, page: int) -> tuple[list[dict[str, Any]], int]:
        """Orders changed at or after ``since``, oldest change first: one page and the page count."""
        start = 0 if since is None else bisect_left(self.order_keys, (math.ceil(since.timestamp()), -1))
        pages = max(1, math.ceil((len(self.order_keys) - start) / PAGE_SIZE))
        lo = start + (page - 1) * PAGE_SIZE
        return [self.orders[order_id] for _, order_id in self.order_keys[lo : lo + PAGE_SIZE]], pages
