"""A shop's state: its knobs, orders (as serialised bytes), tokens, bucket and logs."""

from __future__ import annotations

import bisect
import hmac
import json
import math
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.webhooks import DeliveryLog

from .common import DEFAULT_TOPICS, LOG_LIMIT, SUPPORTED_VERSIONS
from .orders import Identity, ShopSettings
from .refunds import apply_refunds

# -- shops ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ShopKnobs(FaultKnobs):
    """The fault knobs (``error_rate`` answers a random 500 or 503), and the shop's own."""

    rate_limit_enabled: bool = True
    bucket_size: int = 40
    leak_rate: float = 2.0
    """Calls a second that leak out of the bucket."""
    all_orders_access: bool = True
    """The app has ``read_all_orders``; without it only the last 60 days of orders are visible."""
    webhooks_enabled: bool = True
    duplicate_webhooks: int = 0
    """Extra copies of every webhook, with the same ``X-Shopify-Webhook-Id``, sent after the first."""
    out_of_order_webhooks: bool = False
    """Hold webhooks; switching it off (or ``POST .../webhooks/release``) sends them newest first."""
    webhook_tries: int = 3
    token_lifetime: int = 86399
    """Seconds a token from the client credentials grant is valid (its ``expires_in``)."""


@dataclass(slots=True)
class OrderMeta:
    """What the list filters read, kept beside the stored JSON so a list never parses 20,000 orders."""

    id: int
    identity: Identity
    created: float
    updated: float
    financial_status: str
    fulfillment_status: str | None
    cancelled: bool
    closed: bool

    def key(self, sort_field: str) -> tuple[float, int]:
        value = {"id": float(self.id), "created_at": self.created, "processed_at": self.created}.get(
            sort_field, self.updated
        )
        return value, self.id


def _epoch(value: Any) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


#: A webhook ready to send: its headers (signature included), the body and the order id.
Webhook = tuple[dict[str, str], bytes, int]


@dataclass(eq=False)
class Shop:
    name: str
    access_token: str
    """A legacy custom app's permanent token; empty for a shop reached only through an app's grant."""
    client_id: str = ""
    client_secret: str = ""
    app_installed: bool = True
    tokens: dict[str, float] = field(default_factory=dict)
    """Tokens the grant issued, with the ``time.monotonic()`` at which each expires."""
    webhook_url: str | None = None
    webhook_secret: str = ""
    topics: list[str] = field(default_factory=lambda: list(DEFAULT_TOPICS))
    webhook_api_version: str = SUPPORTED_VERSIONS[-1]
    settings: ShopSettings = field(default_factory=ShopSettings)
    knobs: ShopKnobs = field(default_factory=ShopKnobs)
    raw: dict[int, bytes] = field(default_factory=dict)
    """Every order as Shopify serialises it; pages are joined from these bytes."""
    meta: dict[int, OrderMeta] = field(default_factory=dict)
    carts: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    next_number: int = 1001
    level: float = 0.0
    level_at: float = field(default_factory=time.monotonic)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Delivery attempts: the newest ones, and how many were logged so far."""
    held: list[Webhook] = field(default_factory=list)
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Each order's refunds, oldest first (shown on the order whenever it is written)."""

    @property
    def domain(self) -> str:
        return f"{self.name}.myshopify.com"

    @property
    def signing_key(self) -> str:
        return self.webhook_secret or self.client_secret

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is the permanent token or a granted one that has not expired."""
        if self.access_token and hmac.compare_digest(token.encode(), self.access_token.encode()):
            return True
        return self.tokens.get(token, 0.0) > time.monotonic()

    def grant(self) -> dict[str, Any]:
        """A new token from the client credentials grant, as the token endpoint answers it."""
        now = time.monotonic()
        self.tokens = {token: until for token, until in self.tokens.items() if until > now}
        token = f"shpat_{uuid.uuid4().hex}"
        lifetime = self.knobs.token_lifetime
        self.tokens[token] = now + lifetime
        scope = "read_orders,read_all_orders" if self.knobs.all_orders_access else "read_orders"
        return {"access_token": token, "scope": scope, "expires_in": lifetime}

    def live_tokens(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {"access_token": token, "expires_in": round(until - now, 3)}
            for token, until in self.tokens.items()
            if until > now
        ]

    def summary(self, base_url: str) -> dict[str, Any]:
        return {
            "shop": self.name,
            "shop_url": f"{base_url}/shopify/{self.name}",
            "domain": self.domain,
            "client_id": self.client_id,
            "app_installed": self.app_installed,
            "webhook_url": self.webhook_url,
            "topics": self.topics,
            "taxes_included": self.settings.taxes_included,
            "currency": self.settings.currency,
            "orders": len(self.raw),
            "knobs": asdict(self.knobs),
        }

    def order(self, order_id: int) -> dict[str, Any] | None:
        raw = self.raw.get(order_id)
        return json.loads(raw) if raw is not None else None

    def put(self, order: dict[str, Any], cart: dict[str, Any], identity: Identity) -> bytes:
        order_id = order["id"]
        apply_refunds(order, self.refunds.get(order_id, []))
        if order_id not in self.raw:
            bisect.insort(self.ids, order_id)
        raw = json.dumps(order, separators=(",", ":")).encode()
        self.raw[order_id] = raw
        self.carts[order_id] = cart
        self.meta[order_id] = OrderMeta(
            order_id,
            identity,
            _epoch(order["created_at"]),
            _epoch(order["updated_at"]),
            order["financial_status"],
            order.get("fulfillment_status"),
            order.get("cancelled_at") is not None,
            order.get("closed_at") is not None,
        )
        return raw

    def remove(self, order_id: int) -> bool:
        if self.raw.pop(order_id, None) is None:
            return False
        del self.meta[order_id], self.carts[order_id]
        self.refunds.pop(order_id, None)
        self.ids.pop(bisect.bisect_left(self.ids, order_id))
        return True

    def take_call(self) -> bool:
        """One call into the leaky bucket; ``False`` when it is full."""
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.level_at) * self.knobs.leak_rate)
        self.level_at = now
        if not self.knobs.rate_limit_enabled:
            return True
        if self.level + 1 > self.knobs.bucket_size:
            return False
        self.level += 1
        return True

    @property
    def call_limit(self) -> str:
        return f"{min(math.ceil(self.level - 1e-9), self.knobs.bucket_size)}/{self.knobs.bucket_size}"
