"""bol.com as a source: the Retailer API v10, with an invoice per order or per shipment.

**Records.** With the source setting ``order`` a record is a bol order (its id the order id, its payload
the v10 ``Order``); with ``shipment`` a record is a shipment (its id the shipment id, its payload
``{"shipment": <Shipment>, "order": <Order>}``: the order holds the discounts, and the billing details
when the shipment lacks them, as for an FBB order shipped before Koppel saw it).

**Statuses.** A bol order is paid when bol passes it on. ``open`` (something to ship), ``shipped``
(everything not cancelled has shipped; every shipment record), ``cancellation_requested`` (the customer
asks to cancel what is open; waits until the merchant cancels or ships) and ``cancelled`` (nothing left;
never booked). Booked by default: ``open`` and ``shipped`` ("all open, paid orders").

**Intake.** Push notifications: :meth:`BolSource.register_webhook` subscribes the connection's webhook
address (type WEBHOOK) to ORDER events (order source) or SHIPMENT events (shipment source), so that each
push names a record's id. A push is signed by bol with RSA-SHA256; see :meth:`BolSource.verify_webhook`
and :meth:`BolSource.check_webhook` for where the keys come from. Polling is the safety net: the order
list (``status=ALL``, ``fulfilment-method=ALL``, ``change-interval-minute`` when the last poll is under
an hour ago) or the shipment list (newest first, 3 months back).

**Invoice requests.** A customer may ask bol for the invoice of a shipment; bol expects the retailer to
upload it. :meth:`BolSource.invoice_requests` lists the open and refused requests (each naming the record
the invoice is on), :meth:`BolSource.upload_invoice` sends the PDF and :meth:`BolSource.process_status`
says how bol took it; ``koppel.sync.invoice_requests`` drives them.

**Refunds.** Returns handled with a result that refunds the customer (:meth:`BolSource.iter_refunds`,
:mod:`.returns`), and, for the order source, items cancelled after the order was invoiced
(:meth:`BolSource.refunds_of`); see :mod:`.refunds` for how each becomes a canonical refund.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from koppel.connectors.base import BackfillPage, SourceConnector, WebhookNotice
from koppel.connectors.errors import NotFound, NothingToBook, OrderInvalid
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.marketplace import InvoiceFiles, InvoiceSummary, LineType
from koppel.documents.model import Order
from koppel.documents.refunds import Refund

from . import mapping, own_invoices, refunds, signatures
from .client import PRODUCTION_URL, BolClient
from .config import BolSettings
from .returns import ReturnReader

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: The order list reaches this far back with ``latest-change-date`` (bol: 3 months).
HISTORY = timedelta(days=90)
#: ``change-interval-minute`` takes at most this.
MAX_INTERVAL_MINUTES = 60
METHODS = ("FBR", "FBB")
RESOURCES = {"order": "ORDER", "shipment": "SHIPMENT"}
#: Push resources that name no record to book (the connector asks for none of them; a TEST is bol's
#: "is this address alive" notification).
IGNORED_RESOURCES = frozenset(
    {
        "PROCESS_STATUS",
        "TEST",
        "PRICE_STAR_BOUNDARY",
        "COMPETING_OFFER",
        "OFFER_FOR_SALE",
        "OFFER_NOT_FOR_SALE",
    }
)

#: bol's invoice request statuses in Koppel's words (``Record.invoice_request``).
REQUEST_STATES = {
    "INVOICE_REQUESTED": "requested",
    "INVOICE_UPLOADED": "uploaded",
    "FINISHED": "uploaded",
    "INVOICE_INCORRECT": "incorrect",
    "INVOICE_VIRUS_DETECTED": "incorrect",
}
#: The request lists read: waiting for an upload, and uploads bol refused.
REQUEST_LISTS = ("OPEN", "UPLOAD_ERROR")
#: bol's process statuses in the words of ``koppel.sync.invoice_requests``.
PROCESS_STATES = {"PENDING": "pending", "SUCCESS": "success", "FAILURE": "failure", "TIMEOUT": "failure"}


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    """A customer's request for the invoice of a shipment.

    ``record_id`` is the id of the record the invoice is on (the shipment, or its order for the order
    source); ``requested_at`` the moment of the last request, so that a customer asking again is a new
    request; ``state`` is ``requested``, ``uploaded`` or ``incorrect``."""

    shipment_id: str
    record_id: str
    state: str
    requested_at: str


def _requested_at(row: Mapping[str, Any]) -> str:
    moves = [m for m in row.get("statusTransitions") or [] if isinstance(m, Mapping)]
    asked = [str(m.get("statusDateTime") or "") for m in moves if m.get("status") == "INVOICE_REQUESTED"]
    return max(asked, default="")


def _latest_change(reduced: Mapping[str, Any]) -> str:
    items = reduced.get("orderItems") or []
    stamps = [str(i.get("latestChangedDateTime") or "") for i in items if isinstance(i, Mapping)]
    return max(stamps, default=str(reduced.get("orderPlacedDateTime") or ""))


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class BolSource(SourceConnector):
    kind = "bol"
    label = "bol.com"
    statuses = mapping.STATUSES
    default_eligible_statuses = (mapping.OPEN, mapping.SHIPPED)
    cancelled_statuses = (mapping.CANCELLED,)
    settings_model = BolSettings
    credential_fields = ("client_id", "client_secret")
    credential_help = {
        "client_id": (
            _("Client ID"),
            _(
                "bol.com Seller Dashboard → Instellingen → Diensten → API-instellingen: create credentials "
                "for Koppel (its own set, not one another link uses) and copy the client ID."
            ),
        ),
        "client_secret": (_("Client secret"), _("Shown beside the client ID when the credentials are made.")),
    }
    public_credentials = frozenset({"client_id"})
    url_label = _("API address")
    url_help = _(
        "https://api.bol.com, bol.com's Retailer API (Koppel asks login.bol.com for its access tokens). "
        "Test or Live is chosen in the configuration."
    )
    #: The address offered when a connection is made.
    production_url: ClassVar[str] = PRODUCTION_URL
    webhook_steps = _(
        "Nothing to paste: Koppel subscribes this address to bol.com's push notifications itself when the "
        "connection is saved, and checks bol.com's signature on each. New orders are also found by "
        "polling."
    )
    #: The order list allows 25 calls a minute and a shipment 50; a backfill page reads a list page and
    #: the details of its orders or shipments, so pages are taken slowly.
    backfill_requests_per_second = 0.2

    def __init__(self, *, url: str, credentials: Mapping[str, str], **options: Any) -> None:
        super().__init__(url=url, credentials=credentials, **options)
        self.client = BolClient(
            url,
            credentials.get("client_id", ""),
            credentials.get("client_secret", ""),
            demo=self.settings.environment == "test",
            token_store=self.token_store,
            log=self.log,
        )

    @property
    def by_shipment(self) -> bool:
        return self.settings.source == "shipment"

    def close(self) -> None:
        self.client.close()

    # -- fetching ----------------------------------------------------------------------------------------

    def test_connection(self) -> None:
        """A token and one cheap call (the subscriptions: not the order list's 25 a minute)."""
        self.client.subscriptions()

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        if not self.by_shipment:
            return self.client.order(order_id)
        return self.shipment_with_order(order_id)

    def shipment_with_order(self, shipment_id: str) -> dict[str, Any]:
        """``{"shipment", "order"}``: the shipment and, for its discounts and billing details, its order."""
        shipment = self.client.shipment(shipment_id)
        ref = shipment.get("order")
        order_id = ref.get("orderId") if isinstance(ref, Mapping) else None
        if not order_id:
            raise OrderInvalid(f"shipment {shipment_id} names no order")
        return {"shipment": shipment, "order": self.client.order(str(order_id))}

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        if self.by_shipment:
            shipments = [s for s in self._shipments_since(updated_since)]
            for reduced in reversed(shipments):  # oldest first
                yield self.shipment_with_order(str(reduced["shipmentId"]))
            return
        for reduced in self._orders_changed_since(updated_since):
            yield self.client.order(str(reduced["orderId"]))

    def swept_order_ids(self, since: datetime) -> Iterator[str]:
        """Order source: the orders of the shipments dispatched since ``since`` (3 months back at most),
        oldest first. An order shipped while Koppel was away for more than 48 hours has left the order list
        but not the shipment list. The shipment source needs no sweep: its poll reads the shipment list."""
        if self.by_shipment:
            return
        since = max(since, datetime.now(UTC) - HISTORY)
        seen: set[str] = set()
        for reduced in reversed(self._shipments_since(since)):
            ref = reduced.get("order")
            order_id = str(ref.get("orderId") or "") if isinstance(ref, Mapping) else ""
            if order_id and order_id not in seen:
                seen.add(order_id)
                yield order_id

    def _orders_changed_since(self, since: datetime) -> list[dict[str, Any]]:
        """Orders with an item changed since ``since``, oldest change first (open orders, and handled ones
        of the last 48 hours: what the order list holds)."""
        params: dict[str, Any] = {"status": "ALL", "fulfilment-method": "ALL"}
        minutes = math.ceil((datetime.now(UTC) - since).total_seconds() / 60) + 1
        if minutes <= MAX_INTERVAL_MINUTES:
            params["change-interval-minute"] = max(1, minutes)
        found = []
        for _page, rows in self.client.pages(self.client.retailer("orders"), "orders", params):
            for reduced in rows:
                changed = _moment(_latest_change(reduced))
                if reduced.get("orderId") and (changed is None or changed >= since):
                    found.append(reduced)
        found.sort(key=lambda r: _moment(_latest_change(r)) or since)
        return found

    def _shipments_since(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """Shipments dispatched in ``[since, until)`` (FBR and FBB), newest first."""
        found = []
        for method in METHODS:
            params = {"fulfilment-method": method}
            for _page, rows in self.client.pages(self.client.retailer("shipments"), "shipments", params):
                older = False
                for reduced in rows:
                    moment = _moment(str(reduced.get("shipmentDateTime") or ""))
                    if moment is not None and moment < since:
                        older = True
                        continue
                    if reduced.get("shipmentId") and (until is None or moment is None or moment < until):
                        found.append(reduced)
                if older:  # the list is newest first: the rest is older still
                    break
        found.sort(key=lambda r: str(r.get("shipmentDateTime") or ""), reverse=True)
        return found

    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """Shipment source: one page of the shipment list (``FBR:<page>``, then ``FBB:<page>``), its
        shipments dispatched in the range, each fetched with its order. Order source: the orders changed on
        one day (``latest-change-date``, 3 months back at most) from the range's first day to today, one list
        page at a time (cursor ``<day>:<page>``), those placed in the range fetched whole."""
        if self.by_shipment:
            return self._shipment_backfill(since, until, cursor)
        return self._order_backfill(since, until, cursor)

    def _shipment_backfill(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        method, _, page_text = (cursor or "FBR:1").partition(":")
        page = int(page_text or 1)
        params = {"fulfilment-method": method, "page": page}
        rows = self.client.get_json(self.client.retailer("shipments"), params).get("shipments") or []
        rows = [r for r in rows if isinstance(r, dict)]
        wanted, older = [], False
        for reduced in rows:
            moment = _moment(str(reduced.get("shipmentDateTime") or ""))
            if moment is not None and moment < since:
                older = True
            elif reduced.get("shipmentId") and (until is None or moment is None or moment < until):
                wanted.append(self.shipment_with_order(str(reduced["shipmentId"])))
        if len(rows) == 50 and not older:
            return BackfillPage(wanted, f"{method}:{page + 1}")
        following = METHODS.index(method) + 1 if method in METHODS else len(METHODS)
        return BackfillPage(wanted, f"{METHODS[following]}:1" if following < len(METHODS) else None)

    def _order_backfill(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        today = datetime.now(AMSTERDAM).date()  # bol's days are Dutch days
        first = max(since.astimezone(AMSTERDAM).date(), today - HISTORY)
        day_text, _, page_text = (cursor or f"{first.isoformat()}:1").partition(":")
        day, page = date.fromisoformat(day_text), int(page_text or 1)
        params = {"status": "ALL", "fulfilment-method": "ALL", "latest-change-date": day.isoformat()}
        rows = self.client.get_json(self.client.retailer("orders"), {**params, "page": page}).get("orders")
        rows = [r for r in rows or [] if isinstance(r, dict) and r.get("orderId")]
        wanted = []
        for reduced in rows:
            placed = _moment(str(reduced.get("orderPlacedDateTime") or ""))
            if placed is None or (placed >= since and (until is None or placed < until)):
                wanted.append(self.client.order(str(reduced["orderId"])))
        if len(rows) == 50:
            return BackfillPage(wanted, f"{day.isoformat()}:{page + 1}")
        following = day + timedelta(days=1)
        return BackfillPage(wanted, f"{following.isoformat()}:1" if following <= today else None)

    def find_order_by_number(self, number: str, since: datetime | None = None) -> dict[str, Any] | None:
        """Order source: the order by its number. Shipment source: ``<order>-<shipment>`` or a shipment id
        fetched directly, or a bol order number: its first shipment (``GET /retailer/shipments?order-id``)."""
        text = number.strip().lstrip("#")
        if not text:
            return None
        try:
            if not self.by_shipment:
                return self.client.order(text)
            if "-" in text:
                return self.shipment_with_order(text.rpartition("-")[2])
            params = {"order-id": text}
            rows = self.client.get_json(self.client.retailer("shipments"), params).get("shipments") or []
            if rows and isinstance(rows[0], Mapping) and rows[0].get("shipmentId"):
                return self.shipment_with_order(str(rows[-1]["shipmentId"]))
            return self.shipment_with_order(text)
        except NotFound:
            return self._unshipped(text) if self.by_shipment and text.isdigit() else None

    def _unshipped(self, order_id: str) -> None:
        """Shipment source, no shipment found: an order of that number that has not shipped has nothing to
        invoice yet (or ever, when cancelled whole), which :class:`NothingToBook` says."""
        try:
            order = self.client.order(order_id)
        except NotFound:
            return None
        cancelled = mapping.order_status(order) == mapping.CANCELLED
        state = "was cancelled whole" if cancelled else "has not shipped yet"
        raise NothingToBook(f"order {order_id} {state}", order_number=order_id, cancelled=cancelled)

    # -- invoice requests --------------------------------------------------------------------------------

    def invoice_requests(self) -> Iterator[InvoiceRequest]:
        """The requests waiting for an invoice (``state=OPEN``) and those whose upload bol refused
        (``state=UPLOAD_ERROR``), each shipment once."""
        seen: set[str] = set()
        for state in REQUEST_LISTS:
            for row in self.client.invoice_requests(state):
                shipment_id = str(row.get("shipmentId") or "")
                if not shipment_id or shipment_id in seen:
                    continue
                seen.add(shipment_id)
                record_id = shipment_id if self.by_shipment else str(row.get("orderId") or "")
                yield InvoiceRequest(
                    shipment_id,
                    record_id or self.order_of(shipment_id),
                    REQUEST_STATES.get(str(row.get("status") or ""), "requested"),
                    _requested_at(row),
                )

    def order_of(self, shipment_id: str) -> str:
        """The id of the order a shipment belongs to (asked of bol)."""
        ref = self.client.shipment(shipment_id).get("order")
        order_id = ref.get("orderId") if isinstance(ref, Mapping) else None
        if not order_id:
            raise OrderInvalid(f"shipment {shipment_id} names no order")
        return str(order_id)

    def upload_invoice(self, shipment_id: str, pdf: bytes, filename: str) -> str:
        """Send the invoice of a shipment; answers the id of bol's process status that follows it ("" when
        bol answered none: accepted, nothing to follow)."""
        status = self.client.upload_invoice(shipment_id, pdf, filename)
        return str(status.get("processStatusId") or "")

    def process_status(self, process_id: str) -> tuple[str, str]:
        """``("pending" | "success" | "failure", bol's error message)`` of a process status."""
        status = self.client.process_status(process_id)
        state = PROCESS_STATES.get(str(status.get("status") or ""), "pending")
        return state, str(status.get("errorMessage") or "")

    # -- bol's own invoices to the retailer ------------------------------------------------------------

    supplies_invoices = True

    def marketplace_invoices(self, since: date, until: date) -> Iterator[InvoiceSummary]:
        return own_invoices.invoices(self.client, since, until)

    def marketplace_invoice_files(self, summary: InvoiceSummary) -> InvoiceFiles:
        return own_invoices.files(self.client, summary)

    @classmethod
    def line_type(cls, code: str) -> LineType:
        return own_invoices.line_type(code)

    @staticmethod
    def line_type_codes() -> list[str]:
        return own_invoices.line_type_codes()

    @classmethod
    def marketplace_order_number(cls, record_number: str) -> str:
        """A shipment record's number is ``<order>-<shipment>``; bol's invoices name the order."""
        return record_number.partition("-")[0]

    # -- refunds: returns and cancellations ----------------------------------------------------------------

    supports_refunds = True

    def refunds_of(self, payload: Mapping[str, Any]) -> list[Refund]:
        """Order source: a refund ``cancel-<orderItemId>`` per order item with ``quantityCancelled`` > 0
        (the invoice made when the order was placed may hold it). Shipment source: none, a cancelled item
        never shipped, so no shipment's invoice holds it."""
        if self.by_shipment:
            return []
        return refunds.cancellations(payload, self.settings)

    def fetch_refunds(self, order_id: str) -> list[Refund]:
        """The order's cancellations, fetched (order source; the shipment source has none). bol's return
        list cannot be asked for one order's returns: they come from :meth:`iter_refunds`."""
        if self.by_shipment:
            return []
        return self.refunds_of(self.client.order(order_id))

    def iter_refunds(self, since: datetime) -> Iterator[Refund]:
        """The return items (FBR and FBB) whose refunding result bol processed since ``since``, oldest
        first: one refund per RMA (shipment source: per RMA and shipment, see :mod:`.returns`)."""
        reader = ReturnReader(self.client, self.settings, by_shipment=self.by_shipment)
        yield from reader.refunds(since)

    # -- push notifications ------------------------------------------------------------------------------

    def register_webhook(self, url: str) -> dict[str, Any]:
        """Subscribe ``url`` (the connection's webhook address) to bol's push notifications: one
        subscription of type WEBHOOK to ORDER (order source) or SHIPMENT (shipment source). An existing
        subscription to ``url`` is updated instead of a second made (call it again after the source
        setting changed). Also reads bol's signature keys into the cache. Answers bol's ``ProcessStatus``
        (``entityId`` the subscription id) as bol's 202 gave it."""
        body = {
            "resources": [RESOURCES[self.settings.source]],
            "url": url,
            "subscriptionType": "WEBHOOK",
            "enabled": True,
        }
        existing = next((s for s in self.client.subscriptions() if s.get("url") == url), None)
        if existing is not None and existing.get("id"):
            path = self.client.retailer(f"subscriptions/{existing['id']}")
            status = self.client.write("PUT", path, body)
        else:
            status = self.client.write("POST", self.client.retailer("subscriptions"), body)
        self.signature_keys(refresh=True)
        return status

    def signature_keys(self, *, refresh: bool = False, wanted: str | None = None) -> dict[str, Any]:
        """bol's signature keys for this connection's API, from the process's cache (read when missing,
        older than an hour, ``refresh``, or ``wanted`` is an unknown key id)."""
        base = f"{self.client.url}/{self.client.suffix or 'live'}"
        if refresh:
            signatures.KEYS.put(base, self.client.signature_keys())
        return signatures.KEYS.keys_for(base, self.client.signature_keys, wanted)

    def check_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """The push's signature checked against this connection's API's keys, read (with this connection's
        token) when the cache has none, they are over an hour old, or the push names an unknown key id."""
        wanted = signatures.key_id(headers)
        if not wanted:
            return False
        return signatures.verify(body, headers, self.signature_keys(wanted=wanted))

    @staticmethod
    def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """The push's signature checked against the signature keys this process has read (by
        :meth:`register_webhook`, :meth:`check_webhook` or :meth:`signature_keys`), without any call: a
        static check has no connection to read them with. The keys are bol's own, the same for every
        retailer; ``secret`` (the connection's webhook secret) plays no part, bol signs with its key.
        Unsigned, signed by an unknown key or not matching: ``False``. The intake should prefer the
        connection's :meth:`check_webhook`, which reads the keys when the process has none yet."""
        return signatures.KEYS.verify_with_any(body, headers)

    @staticmethod
    def parse_webhook(body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """``{"retailerId", "timestamp", "event": {"resource", "type", "resourceId"}}``: ORDER names an order,
        SHIPMENT a shipment (the connection subscribes to the one its records are); the rest is ignored.
        The delivery id is resource, type, id and timestamp: bol resends a failed push unchanged."""
        data = json.loads(body)
        event = data.get("event") if isinstance(data, dict) else None
        if not isinstance(event, dict):
            raise ValueError("the notification has no event")
        resource, kind = str(event.get("resource") or ""), str(event.get("type") or "")
        if resource in IGNORED_RESOURCES:
            return None
        if resource not in RESOURCES.values():
            raise ValueError(f"unknown resource {resource!r}; Koppel takes ORDER and SHIPMENT")
        resource_id = event.get("resourceId")
        if not isinstance(resource_id, str | int) or isinstance(resource_id, bool) or not str(resource_id):
            raise ValueError("the event names no resourceId")
        delivery = f"{resource}:{kind}:{resource_id}:{data.get('timestamp', '')}"
        return WebhookNotice(event=f"{resource}.{kind}"[:60], order_id=str(resource_id), delivery_id=delivery)

    # -- payloads ----------------------------------------------------------------------------------------

    @staticmethod
    def parse_order(payload: Mapping[str, Any], settings: Any = None) -> Order:
        return mapping.parse_order(
            payload, BolSource.load_settings(settings) if settings is not None else None
        )

    @staticmethod
    def order_id(payload: Mapping[str, Any]) -> str:
        return mapping.order_id(payload)

    @classmethod
    def order_number(cls, payload: Mapping[str, Any]) -> str:
        try:
            return mapping.order_number(payload)
        except OrderInvalid:
            return ""


SOURCE = BolSource
