"""A store's state: its orders, webhooks, deliveries and logs."""

from __future__ import annotations

import secrets
from bisect import bisect_left, insort
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from koppel.sandbox.webhooks import DeliveryLog

from .common import API, FIRST_ORDER_ID, LOG_LIMIT, TOPIC_HOOKS, _zone, now_gmt
from .settings import Knobs, StoreSettings, TaxRate, default_rates

# --- orders and stores -------------------------------------------------------------------------------------


@dataclass(eq=False)
class OrderRecord:
    id: int
    spec: dict[str, Any]
    header: dict[str, Any]
    created: datetime
    modified: datetime
    paid: datetime | None = None
    completed: datetime | None = None
    item_ids: list[int] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.header["status"]


@dataclass(eq=False)
class Webhook:
    id: int
    topic: str
    delivery_url: str
    secret: str
    name: str = ""
    status: str = "active"
    failure_count: int = 0
    pending_delivery: bool = True
    created: datetime = field(default_factory=now_gmt)
    modified: datetime = field(default_factory=now_gmt)
    ping_status: int | None = None

    def as_api(self, store: Store) -> dict[str, Any]:
        resource, event = self.topic.split(".", 1)
        return {
            "id": self.id,
            "name": self.name or f"Koppel {self.topic}",
            "status": self.status,
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": TOPIC_HOOKS[self.topic],
            "delivery_url": self.delivery_url,
            "date_created": store.local(self.created),
            "date_created_gmt": self.created.replace(tzinfo=None).isoformat(),
            "date_modified": store.local(self.modified),
            "date_modified_gmt": self.modified.replace(tzinfo=None).isoformat(),
            "_links": {"self": [{"href": f"{store.api_url}/webhooks/{self.id}"}]},
        }

    def control_view(self, store: Store) -> dict[str, Any]:
        return {**self.as_api(store), "failure_count": self.failure_count, "ping_status": self.ping_status}


@dataclass(eq=False)
class Delivery:
    webhook: Webhook
    topic: str
    order_id: int
    body: bytes
    delivery_id: str


@dataclass(eq=False)
class Store:
    name: str
    consumer_key: str
    consumer_secret: str
    home_url: str
    settings: StoreSettings = field(default_factory=StoreSettings)
    knobs: Knobs = field(default_factory=Knobs)
    rates: list[TaxRate] = field(default_factory=lambda: default_rates("NL"))
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    by_created: list[tuple[int, int]] = field(default_factory=list)
    by_modified: list[tuple[int, int]] = field(default_factory=list)
    next_id: int = FIRST_ORDER_ID
    next_item_id: int = 1
    deleted_products: set[int] = field(default_factory=set)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    next_webhook_id: int = 1
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    held: Delivery | None = None
    hits: deque[float] = field(default_factory=deque)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Deliveries and pings: the newest ones, and how many were logged so far."""
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Each order's refunds, newest first, as ``GET orders/{id}/refunds`` shows them."""

    @property
    def api_url(self) -> str:
        return f"{self.home_url}{API}"

    @property
    def zone(self) -> tzinfo:
        return _zone(self.settings.timezone)

    def local(self, moment: datetime | None) -> str | None:
        """A GMT moment as the site's local time without offset, as WooCommerce writes ``date_*``."""
        return None if moment is None else moment.astimezone(self.zone).replace(tzinfo=None).isoformat()

    def put(self, record: OrderRecord) -> None:
        self.remove(record.id)
        self.orders[record.id] = record
        insort(self.by_created, (int(record.created.timestamp()), record.id))
        insort(self.by_modified, (int(record.modified.timestamp()), record.id))
        self.next_id = max(self.next_id, record.id + 1)

    def remove(self, order_id: int) -> OrderRecord | None:
        record = self.orders.pop(order_id, None)
        if record is not None:
            for index, moment in ((self.by_created, record.created), (self.by_modified, record.modified)):
                key = (int(moment.timestamp()), record.id)
                i = bisect_left(index, key)
                if i < len(index) and index[i] == key:
                    del index[i]
        return record

    def summary(self) -> dict[str, Any]:
        return {
            "store": self.name,
            "url": self.home_url,
            "api_url": self.api_url,
            "orders": len(self.orders),
            "settings": asdict(self.settings),
            "tax_rates": [rate.as_dict() for rate in self.rates],
            "knobs": asdict(self.knobs),
            "webhooks": [hook.control_view(self) for hook in self.webhooks.values()],
        }
