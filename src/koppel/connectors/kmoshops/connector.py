"""KMO Shops as a source: webhooks signed with ``X-KMO-Signature`` (hex HMAC-SHA256 of the raw
body), order fetch, polling."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from koppel.connectors.base import BackfillPage, WebhookNotice
from koppel.connectors.polling import WebshopSource
from koppel.documents.i18n import mark as _  # marked for translation; shown translated

from . import mapping
from .client import KmoShopsClient

SIGNATURE_HEADER = "x-kmo-signature"


def _id(payload: Mapping[str, Any]) -> int:
    try:
        return int(payload.get("id", -1))
    except (TypeError, ValueError):
        return -1


def _cursor(cursor: str | None, since: datetime) -> tuple[datetime, int, int]:
    if not cursor:
        return since, -1, 1
    at, last_id, page = cursor.split("|")
    return datetime.fromisoformat(at), int(last_id), int(page)


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class KmoShopsSource(WebshopSource):
    kind = "kmoshops"
    label = "KMO Shops"
    statuses = ("pending", "paid", "processing", "shipped", "completed", "cancelled", "refunded")
    default_eligible_statuses = ("paid", "processing", "shipped", "completed")
    credential_fields = ("api_key",)
    credential_help = {
        "api_key": (
            _("API key"),
            _("In your KMO Shops back office under Settings → API: create a key with read access to orders."),
        )
    }
    url_label = _("Shop address")
    webhook_steps = _(
        "In your KMO Shops back office, open Settings → Webhooks and add a webhook for the events "
        "order.created and order.updated. Paste the address above as its URL and the secret as its "
        "signing secret, then save."
    )
    url_help = _("The address of your webshop, e.g. https://myshop.kmoshops.be")
    mapping = mapping
    backfill_requests_per_second = 0.8  # the shop allows 60 requests a minute; leave room for live traffic

    def __init__(self, *, url: str, credentials: Mapping[str, str], **options: Any) -> None:
        super().__init__(url=url, credentials=credentials, **options)
        self.client = KmoShopsClient(url, credentials["api_key"], log=self.log)

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        return self.client.iter_orders(updated_since)

    def find_order_by_number(self, number: str, since: datetime | None = None) -> dict[str, Any] | None:
        """KMO Shops can look an order up by id only: an order numbered by its id (the default) costs one
        call; any other number is found by reading the orders changed since ``since``."""
        return self._fetch_if_numbered(number) or super().find_order_by_number(number, since)

    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """KMO Shops lists orders by last change only (``updated_since``, inclusive; oldest change first,
        then by id; 50 a page). Every order placed since ``since`` was also changed since then, so those
        pages hold them all; the creation date is checked here.

        The cursor is keyset-like, ``<updated_at>|<last id>|<page>``: a request starts at the last change
        seen and drops what was read in that second, so an order changed meanwhile moves behind the cursor
        (and is read again there) instead of shifting unread orders onto a page already read. Within one
        second holding more than a page of orders (an import), the page just read is asked for again before
        the next one: orders of that second that changed meanwhile have left it, and the unread ones that
        moved up onto it are picked up there.
        """
        at, last_id, page = _cursor(cursor, since)
        orders, pages = self.client.orders_page(at, page)
        unread = [o for o in orders if not (mapping.updated_at(o) == at and _id(o) <= last_id)]
        wanted = self.placed_between(unread, since, until)
        if not orders or (page >= pages and (unread or not orders)):
            return BackfillPage(wanted, None)
        if not unread:  # this page was read already: on to the next one
            return BackfillPage([], f"{at.isoformat()}|{last_id}|{page + 1}")
        last = mapping.updated_at(unread[-1]) or at
        if last > at:
            newest = max(_id(o) for o in unread if mapping.updated_at(o) == last)
            return BackfillPage(wanted, f"{last.isoformat()}|{newest}|1")
        return BackfillPage(wanted, f"{at.isoformat()}|{_id(unread[-1])}|{page}")

    @staticmethod
    def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "")
        return bool(secret) and hmac.compare_digest(sign(body, secret), given.strip().lower())

    @staticmethod
    def parse_webhook(body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        data = json.loads(body)
        if not isinstance(data, dict) or not data.get("order_id"):
            raise ValueError("the notification names no order_id")
        event = str(data.get("event", ""))
        if event not in ("order.created", "order.updated"):
            raise ValueError(f"unknown event {event!r}")
        return WebhookNotice(event=event, order_id=str(data["order_id"]))


SOURCE = KmoShopsSource
