"""The bol sandbox's in-memory state: shops (retailer accounts), their orders, shipments, invoice requests,
uploaded invoices, process statuses and subscriptions, the knobs, ids and the clock."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.webhooks import DeliveryLog

LOG_LIMIT = 10_000
PAGE_SIZE = 50
HANDLED_VISIBLE = timedelta(hours=48)
"""Handled (shipped or cancelled) order items stay in the order list this long."""
HISTORY = timedelta(days=92)
"""How far back the shipment list and ``latest-change-date`` reach: 3 months."""
CENT = Decimal("0.01")


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # no tz database: winter time is close enough
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


def now() -> datetime:
    """Now in Amsterdam, to the second: bol writes its date-times with the local offset."""
    return datetime.now(AMSTERDAM).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    """``2019-04-29T18:18:21+02:00``."""
    return moment.astimezone(AMSTERDAM).isoformat(timespec="seconds")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Ids:
    """Ids that look like bol's, drawn from the sandbox's seeded generator and unique within it."""

    def __init__(self, seed: int | None) -> None:
        self.random = random.Random(seed)
        self._used: set[str] = set()

    def number(self, digits: int, first: str = "") -> str:
        while True:
            rest = digits - len(first)
            value = first + str(self.random.randrange(10 ** (rest - 1), 10**rest))
            if value not in self._used:
                self._used.add(value)
                return value

    def order(self) -> str:
        return self.number(10, "1")

    def order_item(self) -> str:
        return self.number(10, "6")

    def shipment(self) -> str:
        return self.number(9, "5")

    def transport(self) -> str:
        return self.number(9, "3")

    def process(self) -> str:
        return self.number(10, "9")

    def subscription(self) -> str:
        return self.number(4)

    def text(self, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        return "".join(self.random.choice(alphabet) for _ in range(length))

    def uuid(self) -> str:
        raw = f"{self.random.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


@dataclass(slots=True)
class BolKnobs(FaultKnobs):
    """The fault knobs (``error_rate`` answers a random 500 or 503, ``fail_next`` the given statuses) and
    the retailer account's own."""

    token_lifetime: int = 299
    """Seconds an access token is valid (its ``expires_in``)."""
    token_requests_per_minute: int = 20
    """Token requests per client a minute before the token endpoint answers 429 (bol blocks such IPs)."""
    rate_limits: bool = True
    rate_limit_scale: float = 1.0
    """Multiplies every bucket's capacity (at least 1 call remains)."""
    rate_limit_window_scale: float = 1.0
    """Multiplies every bucket's window (0.1: bol's minute lasts 6 seconds), so tests can fill one."""
    force_429: int = 0
    """Answer the next this many API calls 429, whatever the buckets say (a burst)."""
    retry_after: int = 0
    """``Retry-After`` seconds of a forced 429; 0: the time until the bucket resets."""
    process_delay_ms: int = 500
    """How long a process status stays PENDING before its change is made (SUCCESS or FAILURE)."""
    push_enabled: bool = True
    push_tries: int = 3
    """Tries per push notification; a subscription whose notification failed every try is disabled."""
    https_only: bool = False
    """Refuse WEBHOOK subscriptions to a plain ``http://`` URL, as bol does (off: tests listen on http)."""
    invoice_max_bytes: int = 2_097_152
    fail_invoice_uploads: bool = False
    """Every invoice upload's process ends FAILURE (the request goes to INVOICE_INCORRECT)."""
    specification_page_size: int = 25_000
    """Lines per page of an invoice specification (bol: at most 25,000)."""


@dataclass(slots=True)
class Item:
    order_item_id: str
    ean: str
    title: str
    quantity: int
    unit_price: Decimal
    method: str
    """FBR or FBB."""
    discounts: list[dict[str, Any]]
    commission: Decimal
    offer_id: str
    offer_reference: str | None
    changed: datetime
    quantity_shipped: int = 0
    quantity_cancelled: int = 0
    cancellation_request: bool = False

    @property
    def open(self) -> int:
        return self.quantity - self.quantity_shipped - self.quantity_cancelled

    @property
    def status(self) -> str:
        return "OPEN" if self.open > 0 else "HANDLED"

    @property
    def total_price(self) -> Decimal:
        return cents(self.unit_price * self.quantity - sum((d["amount"] for d in self.discounts), Decimal(0)))


@dataclass(slots=True)
class Order:
    order_id: str
    placed: datetime
    shipment_details: dict[str, Any]
    billing_details: dict[str, Any]
    items: list[Item]
    pickup_point: bool = False
    vvb: bool = False

    def item(self, order_item_id: str) -> Item | None:
        return next((i for i in self.items if i.order_item_id == order_item_id), None)


@dataclass(slots=True)
class ShipmentLine:
    item: Item
    quantity: int


@dataclass(slots=True)
class Shipment:
    shipment_id: str
    order: Order
    lines: list[ShipmentLine]
    shipped: datetime
    reference: str | None
    transport_id: str
    transporter_code: str
    track_and_trace: str | None
    shipping_label_id: str | None = None


@dataclass(slots=True)
class InvoiceRequest:
    shipment: Shipment
    customer_account_number: str
    transitions: list[tuple[str, datetime]]

    @property
    def status(self) -> str:
        return self.transitions[-1][0]


@dataclass(slots=True)
class Upload:
    shipment_id: str
    filename: str
    content_type: str
    body: bytes
    uploaded: datetime
    process_id: str
    status: str = "PENDING"


@dataclass(slots=True)
class Process:
    process_id: str
    entity_id: str
    event_type: str
    description: str
    created: datetime
    due: float
    """``time.monotonic()`` at which the change is made."""
    effect: Any = None
    """``() -> str | None``: makes the change; an error message makes the process FAILURE."""
    status: str = "PENDING"
    error: str | None = None


@dataclass(slots=True)
class Subscription:
    subscription_id: str
    resources: list[str]
    url: str
    subscription_type: str
    enabled: bool = True
    identity: str | None = None


@dataclass(eq=False)
class Shop:
    name: str
    client_id: str
    client_secret: str
    retailer_id: int
    active: bool = True
    knobs: BolKnobs = field(default_factory=BolKnobs)
    orders: dict[str, Order] = field(default_factory=dict)
    items: dict[str, tuple[Order, Item]] = field(default_factory=dict)
    shipments: dict[str, Shipment] = field(default_factory=dict)
    invoice_requests: dict[str, InvoiceRequest] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    retailer_invoices: dict[str, Any] = field(default_factory=dict)
    """bol's own invoices to the retailer, by invoice id (:class:`.invoice_state.RetailerInvoice`)."""
    returns: dict[str, Any] = field(default_factory=dict)
    """Customer returns, by return id (:class:`.return_state.Return`)."""
    tokens: dict[str, float] = field(default_factory=dict)
    """Issued access tokens and the epoch second at which each expires."""
    token_requests: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    buckets: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Per rate-limit bucket: when its window started (monotonic) and the calls made in it."""
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        for item in order.items:
            self.items[item.order_item_id] = (order, item)

    def add_shipment(self, shipment: Shipment) -> None:
        self.shipments[shipment.shipment_id] = shipment

    def summary(self, base_url: str) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "shop": self.name,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "retailer_id": self.retailer_id,
            "active": self.active,
            "token_url": f"{base_url}/bol/token",
            "api_url": f"{base_url}/bol/retailer",
            "shared_url": f"{base_url}/bol/shared",
            "demo_api_url": f"{base_url}/bol/retailer-demo",
            "demo_shared_url": f"{base_url}/bol/shared-demo",
            "orders": len(self.orders),
            "shipments": len(self.shipments),
            "subscriptions": len(self.subscriptions),
            "knobs": asdict(self.knobs),
        }
