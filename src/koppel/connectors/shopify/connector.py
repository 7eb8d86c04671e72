"""Shopify as a source: ``orders/*`` webhooks signed with ``X-Shopify-Hmac-Sha256`` (base64 of the
HMAC-SHA256 of the raw body, keyed with the app's client secret, or for webhooks made under Settings →
Notifications the key shown there), de-duplicated on ``X-Shopify-Webhook-Id``; orders fetched and listed
through the REST Admin API, with a legacy custom app's Admin API access token or with a Dev Dashboard app's
client ID and secret (traded for 24-hour tokens, see :mod:`.auth`). An ``orders/*`` webhook's body is the
order: it is handed on with its ``updated_at``, and kept only when it is newer than the order Koppel has
(``koppel.sync.services``), so a late or repeated webhook cannot book old data and the worker need not fetch
the order again.

Refunds (credit notes): the order's ``refunds`` are mapped by :mod:`.refunds`; a ``refunds/create`` webhook
(its body is the Refund, with ``order_id``) names the order, whose record is looked at again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from koppel.connectors.base import BackfillPage, WebhookNotice, same_order_number
from koppel.connectors.http import CallLog
from koppel.connectors.polling import WebshopSource
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.refunds import Refund

from . import mapping, refunds
from .auth import AppCredentials
from .client import PAGE_LIMIT, ShopifyClient

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
#: Topics whose body is the order. Koppel asks the merchant for the first three; the others change an
#: order too and are taken when a shop sends them.
ORDER_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
)
#: Topics whose body is a Refund of the order named by its ``order_id``.
REFUND_TOPICS = ("refunds/create",)
#: Topics about an order that give Koppel nothing to book: answered 200 (Shopify retries anything else and
#: may drop the subscription).
IGNORED_TOPICS = ("orders/delete", "orders/edited")
CURSOR_PREFIX = "since_id="


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifySource(WebshopSource):
    kind = "shopify"
    label = "Shopify"
    statuses = (
        "pending",
        "authorized",
        "partially_paid",
        "paid",
        "partially_refunded",
        "refunded",
        "voided",
        "expired",
    )
    default_eligible_statuses = ("paid", "partially_refunded", "refunded")
    #: A legacy custom app's access token, or a Dev Dashboard app's client ID and secret.
    credential_fields = ("access_token",)
    credential_alternatives = (("client_id", "client_secret"),)
    credential_set_labels = (
        _("Admin API access token (custom app made in the Shopify admin)"),
        _("Client ID and secret (app made in the Dev Dashboard)"),
    )
    credential_help = {
        "access_token": (
            _("Admin API access token"),
            _("Settings → Apps → Develop apps → your app → API credentials; it starts with shpat_."),
        ),
        "client_id": (_("Client ID"), _("Dev Dashboard → your app → Settings.")),
        "client_secret": (
            _("Client secret"),
            _("Dev Dashboard → your app → Settings, beside the client ID."),
        ),
    }
    public_credentials = frozenset({"client_id"})
    url_label = _("Shop address")
    webhook_steps = _(
        "Shopify signs webhooks with the app's client secret. Connected with the client ID and secret, "
        "Koppel checks them with it: subscribe the app to the topics orders/create, orders/updated and "
        "orders/paid with the address above (JSON). Connected with an access token alone, Koppel cannot "
        "check Shopify's signature and finds new orders with its poll instead (at least hourly)."
    )
    url_help = _("Your shop's myshopify.com address, e.g. https://myshop.myshopify.com")
    #: The credential Shopify signs an app's own webhook subscriptions with: ``add_connection`` takes it as
    #: the webhook secret when none is given.
    webhook_secret_credential: ClassVar[str] = "client_secret"
    #: The REST bucket leaks 2 calls a second; a backfill takes half, live fetches and polls the rest.
    backfill_requests_per_second = 1.0
    supports_refunds = True
    mapping = mapping
    refund_reader = refunds
    number_fields = ("name", "order_number", "id")

    def __init__(self, *, url: str, credentials: Mapping[str, str], **options: Any) -> None:
        super().__init__(url=url, credentials=credentials, **options)
        self.client = client_for(url, credentials, self.log)

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        """The order; with its ``transactions`` when a gift card paid part of it (see :mod:`.mapping`)."""
        order = self.client.get_order(order_id)
        if mapping.needs_transactions(order):
            order["transactions"] = self.client.get_transactions(order_id)
        return order

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        return self.client.iter_updated(updated_since)

    def refunds_of(self, payload: Mapping[str, Any]) -> list[Refund]:
        """The order's ``refunds`` that gave money back (a restock alone credits nothing)."""
        return refunds.parse_refunds(payload)

    def find_order_by_number(self, number: str, since: datetime | None = None) -> dict[str, Any] | None:
        """``GET orders.json?name=1001&status=any``: the order's name (``#1001``) as the merchant sees it.
        The ``name`` filter is not in the REST reference (apps rely on it, and Shopify has kept it); should
        Shopify answer orders none of which has that name, the filter was ignored and the orders changed
        since ``since`` are read instead."""
        params = {"name": number.strip().lstrip("#"), "status": "any", "limit": PAGE_LIMIT}
        orders, _ = self.client.orders_page(params)
        found = next((o for o in orders if same_order_number(self.order_number(o), number)), None)
        if found is not None or not orders:
            return found
        return super().find_order_by_number(number, since)

    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """Orders placed in ``[since, until)``, by id, 250 a page; the cursor is the last id read
        (``since_id=<id>``).

        A keyset on the order id rather than Shopify's ``page_info`` token: ids only grow, so an order
        created during the backfill lands after the cursor and an order changed meanwhile keeps its place;
        and the cursor stays valid however long a paused backfill waits (a ``page_info`` token is opaque,
        carries the first request's filters, and nothing promises it lives that long). Shopify sorts by id
        whenever ``since_id`` is given. The number of orders in the range comes with the first page.
        """
        since_id = parse_cursor(cursor)
        total = self.client.count_orders(since, until) if cursor is None else None
        orders = self.client.orders_after(since_id, since, until, PAGE_LIMIT)
        wanted = self.placed_between(orders, since, until)
        ids = [int(order["id"]) for order in orders if isinstance(order.get("id"), int)]
        if len(orders) < PAGE_LIMIT or not ids:
            return BackfillPage(wanted, None, total)
        return BackfillPage(wanted, f"{CURSOR_PREFIX}{max(ids)}", total)

    @staticmethod
    def payload_complete(payload: Mapping[str, Any]) -> bool:
        return not mapping.needs_transactions(payload)

    @staticmethod
    def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        return bool(secret) and hmac.compare_digest(sign(body, secret).encode(), given.encode())

    @staticmethod
    def parse_webhook(body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        topic = headers.get(TOPIC_HEADER, "").strip()
        if topic in IGNORED_TOPICS:
            return None
        if topic not in ORDER_TOPICS + REFUND_TOPICS:
            known = ", ".join(ORDER_TOPICS + REFUND_TOPICS)
            raise ValueError(f"unknown topic {topic!r}; Koppel takes {known}")
        data = json.loads(body)
        if topic in REFUND_TOPICS:
            return refund_notice(topic, data, headers)
        order_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            raise ValueError("the webhook body is not an order with an id")
        # The admin's "Send test notification" posts an example order (``"test": true``) the shop does not
        # have: only its id is taken, so the worker finds out (as for a test order, fetched as it is).
        modified = None if data.get("test") is True else ShopifySource.modified_at(data)
        return WebhookNotice(
            event=topic,
            order_id=str(order_id),
            delivery_id=headers.get(WEBHOOK_ID_HEADER, "").strip(),
            payload=data if modified is not None else None,
            modified_at=modified,
        )

    @staticmethod
    def modified_at(payload: Mapping[str, Any]) -> datetime | None:
        """The order's ``updated_at`` (whole seconds, with the shop's offset); a REST answer's envelope is
        looked through."""
        return mapping.timestamp(payload, "updated_at")


def refund_notice(topic: str, data: Any, headers: Mapping[str, str]) -> WebhookNotice | None:
    """A ``refunds/create`` body is the Refund: the notice names its order (``order_id``), whose record is
    looked at again. A body without an order id names nothing to book."""
    order_id = data.get("order_id") if isinstance(data, dict) else None
    if isinstance(order_id, bool) or not str(order_id or "").isdigit():
        return None
    return WebhookNotice(
        event=topic, order_id=str(order_id), delivery_id=headers.get(WEBHOOK_ID_HEADER, "").strip()
    )


def client_for(url: str, credentials: Mapping[str, str], log: CallLog) -> ShopifyClient:
    """The access token when there is one (the primary credential, unchanged), else the app's grant."""
    if credentials.get("access_token") or not credentials.get("client_id"):
        return ShopifyClient(url, credentials["access_token"], log=log)
    app = AppCredentials(credentials["client_id"], credentials["client_secret"])
    return ShopifyClient(url, app=app, log=log)


def parse_cursor(cursor: str | None) -> int:
    """``since_id=123`` (or a bare ``123``) → 123; no cursor → 0, the first page."""
    if not cursor:
        return 0
    text = cursor.removeprefix(CURSOR_PREFIX)
    if not text.isdigit():
        raise ValueError(f"Not a Shopify backfill cursor: {cursor!r}")
    return int(text)


SOURCE = ShopifySource
