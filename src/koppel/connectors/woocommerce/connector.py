"""WooCommerce as a source: ``order.created`` / ``order.updated`` webhooks (the body is the REST v3 order,
signed with ``X-WC-Webhook-Signature`` = base64 of HMAC-SHA256 of the raw body), the order fetched with the
REST API v3, and polling by ``modified_after`` as the safety net.

Refunds (credit notes): WooCommerce sends ``order.updated`` when an order is refunded; the order's
``refunds`` only summarise its refunds (id, reason, total), so :meth:`WooCommerceSource.refunds_of` finds
none in a payload and :meth:`~WooCommerceSource.refund_hint` says there are some to fetch:
:meth:`~WooCommerceSource.fetch_refunds` reads ``GET orders/{id}/refunds`` (:mod:`.refunds`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from koppel.connectors.base import BackfillPage, WebhookNotice, same_order_number
from koppel.connectors.polling import WebshopSource, every_order
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.refunds import Refund

from . import mapping, refunds
from .client import WooCommerceClient

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DELIVERY_HEADER = "x-wc-webhook-delivery-id"
#: Order topics Koppel acts on; an order restored from the trash is fetched like a changed one.
TOPICS = ("order.created", "order.updated", "order.restored")
#: Order topics that concern no order to book: answered 200 and stored as ignored.
IGNORED_TOPICS = ("order.deleted",)
_PING = re.compile(rb"webhook_id=\d+")
_SECOND = timedelta(seconds=1)


def sign(body: bytes, secret: str) -> str:
    """WooCommerce's signature: ``base64_encode(hash_hmac('sha256', $body, $secret, true))``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def gmt_param(moment: datetime) -> str:
    """A date filter as WooCommerce reads it with ``dates_are_gmt=true``: UTC, whole seconds, no offset
    (WordPress ignores an offset in these filters)."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def whole_second(moment: datetime) -> datetime:
    """The first whole second at or after ``moment``, in UTC: WooCommerce's times have whole seconds."""
    moment = moment.astimezone(UTC)
    return moment if not moment.microsecond else moment.replace(microsecond=0) + _SECOND


class WooCommerceSource(WebshopSource):
    kind = "woocommerce"
    label = "WooCommerce"
    statuses = (
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
        "trash",
        "checkout-draft",
    )
    default_eligible_statuses = ("processing", "completed")
    credential_fields = ("consumer_key", "consumer_secret")
    credential_help = {
        "consumer_key": (
            _("Consumer key"),
            _("In WordPress: WooCommerce → Settings → Advanced → REST API → Add key, with Read permission."),
        ),
        "consumer_secret": (_("Consumer secret"), _("Shown beside the consumer key when you create it.")),
    }
    public_credentials = frozenset({"consumer_key"})
    url_label = _("Shop address")
    webhook_steps = _(
        "In WordPress, open WooCommerce → Settings → Advanced → Webhooks and add two webhooks, one with "
        "topic Order created and one with Order updated. Status Active, API version WP REST API "
        "Integration v3; paste the address above as Delivery URL and the secret as Secret, then save."
    )
    url_help = _("The address of your WordPress site, e.g. https://myshop.nl")
    # WooCommerce itself sets no limit (hosts do); a page of 100 orders is heavy work for a WordPress site.
    backfill_requests_per_second = 5.0
    supports_refunds = True
    mapping = mapping
    refund_reader = refunds

    def __init__(self, *, url: str, credentials: Mapping[str, str], **options: Any) -> None:
        super().__init__(url=url, credentials=credentials, **options)
        self.client = WooCommerceClient(
            url, credentials["consumer_key"], credentials["consumer_secret"], log=self.log
        )

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        """Orders changed since ``updated_since``, oldest change first (``orderby=modified``)."""
        return every_order(lambda cursor: self._keyset_page("modified", updated_since, None, cursor))

    def refunds_of(self, payload: Mapping[str, Any]) -> list[Refund]:
        """None: an order's ``refunds`` hold only each refund's id, reason and total, not its lines (their
        VAT rates), so the refunds are fetched (:meth:`fetch_refunds`) when :meth:`refund_hint` says so."""
        return []

    def refund_hint(self, payload: Mapping[str, Any]) -> bool:
        """Whether the order's ``refunds`` summary lists any."""
        return bool(payload.get("refunds"))

    def find_order_by_number(self, number: str, since: datetime | None = None) -> dict[str, Any] | None:
        """The order numbered by its id (WooCommerce's default: one call), else ``GET orders?search=``:
        WooCommerce's order search matches the id and, with a sequential-numbers plugin, the number it
        gives (as well as names and addresses, so the answer is checked). ``since`` is not needed."""
        found = self._fetch_if_numbered(number)
        if found is not None:
            return found
        page = self.client.orders_page({"search": number.strip().lstrip("#"), "page": 1})
        return next((o for o in page.orders if same_order_number(self.order_number(o), number)), None)

    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """Orders placed in ``[since, until)``, oldest first (``orderby=date``, by creation date, which
        never changes); ``total`` from ``X-WP-Total`` of the first page."""
        page = self._keyset_page("date", since, until, cursor)
        wanted = self.placed_between(page.orders, since, until)
        return BackfillPage(wanted, page.next_cursor, page.total if cursor is None else None)

    def _keyset_page(
        self, field: str, since: datetime, until: datetime | None, cursor: str | None
    ) -> BackfillPage:
        """One page ordered by ``field`` (``date`` or ``modified``), and the cursor of the next.

        Page numbers alone would skip orders: one changed or trashed while the pages are read moves out of
        its place and shifts the rest one back onto a page already read. So the cursor is keyset-like,
        ``<time>|<page>|<ids>``: each request starts at the last time seen (``after`` is exclusive, so one
        second earlier) and leaves out the orders of that second already read (``ids``, unless they
        changed since); only a page whose orders all share that second is followed by its next page number.
        """
        at, page_text, skip_text = [*(cursor or "").split("|", 2), "", ""][:3]
        start = whole_second(datetime.fromisoformat(at) if at else since)
        number = int(page_text or 1)
        stamp = "date_created" if field == "date" else "date_modified"
        after, before = ("after", "before") if field == "date" else ("modified_after", "modified_before")
        params: dict[str, str | int] = {after: gmt_param(start - _SECOND), "orderby": field, "order": "asc"}
        params["page"] = number
        if until is not None:
            params[before] = gmt_param(whole_second(until))
        page = self.client.orders_page(params)
        skip = set(filter(None, skip_text.split(",")))
        fresh = [
            o for o in page.orders if not (str(o.get("id")) in skip and mapping.gmt_time(o, stamp) == start)
        ]
        if not page.orders or number >= page.pages:
            return BackfillPage(fresh, None, page.total)
        last = mapping.gmt_time(page.orders[-1], stamp)
        if last is not None and last > start:
            read = ",".join(str(o.get("id")) for o in page.orders if mapping.gmt_time(o, stamp) == last)
            return BackfillPage(fresh, f"{last.isoformat()}|1|{read}", page.total)
        return BackfillPage(fresh, f"{start.isoformat()}|{number + 1}|{skip_text}", page.total)

    @staticmethod
    def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not secret or not given:
            return False
        return hmac.compare_digest(sign(body, secret).encode(), given.encode("utf-8", "replace"))

    @staticmethod
    def is_ping(body: bytes, headers: Mapping[str, str]) -> bool:
        """The call WooCommerce makes when a webhook is saved: form body ``webhook_id=N``, unsigned. It
        must be answered 200, or WooCommerce reports the delivery URL as broken."""
        return SIGNATURE_HEADER not in headers and _PING.fullmatch(body.strip()) is not None

    @staticmethod
    def parse_webhook(body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """The order a webhook names, with the order itself (the body is the REST v3 order) and its
        ``date_modified_gmt``; ``None`` for a deleted (trashed) order, which is nothing to book. A body
        without a readable modification time is passed on as a bare notice (the worker fetches the order).

        ``delivery_id`` is WooCommerce's ``X-WC-Webhook-Delivery-ID`` with the order id and its
        ``date_modified_gmt``: WooCommerce makes that header from the webhook id and the current second
        only, so the deliveries of several orders changed in one second (a bulk action, a queue run) share
        it. The header alone would drop all but the first as duplicates.
        """
        topic = headers.get(TOPIC_HEADER, "").strip().lower()
        if topic in IGNORED_TOPICS:
            return None
        if topic not in TOPICS:
            raise ValueError(
                f"unexpected topic {topic!r}: point only the topics order.created and order.updated at Koppel"
            )
        data = json.loads(body)
        value = data.get("id") if isinstance(data, dict) else None
        if isinstance(value, bool) or not str(value or "").isdigit() or int(value) <= 0:
            raise ValueError("the notification names no order id")
        delivery = headers.get(DELIVERY_HEADER, "").strip()
        key = f"{delivery}:{value}:{data.get('date_modified_gmt') or ''}" if delivery else ""
        modified = WooCommerceSource.modified_at(data)
        return WebhookNotice(
            event=topic,
            order_id=str(int(value)),
            delivery_id=key[:200],
            payload=data if modified is not None else None,
            modified_at=modified,
        )

    @staticmethod
    def modified_at(payload: Mapping[str, Any]) -> datetime | None:
        """``date_modified_gmt`` (whole seconds, UTC): WooCommerce moves it on every save of the order."""
        return mapping.gmt_time(payload, "date_modified")


SOURCE = WooCommerceSource
