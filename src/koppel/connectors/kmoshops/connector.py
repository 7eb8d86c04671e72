"""KMO Shops as a source: webhooks signed with ``X-KMO-Signature`` (hex HMAC-SHA256 of the raw
body), order fetch, polling."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from koppel.connectors.base import BackfillPage, SourceConnector, WebhookNotice
from koppel.documents.model import Order

from . import mapping
from .client import KmoShopsClient

SIGNATURE_HEADER = "x-kmo-signature"
#: Orders on a page of ``GET orders`` (the interface says 50).
PAGE_SIZE = 50


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class KmoShopsSource(SourceConnector):
    kind = "kmoshops"
    label = "KMO Shops"
    statuses = ("pending", "paid", "processing", "shipped", "completed", "cancelled", "refunded")
    default_eligible_statuses = ("paid", "processing", "shipped", "completed")
    credential_fields = ("api_key",)
    backfill_requests_per_second = 0.8  # the shop allows 60 requests a minute; leave room for live traffic

    def __init__(self, *, url: str, credentials: Mapping[str, str], log=None) -> None:
        super().__init__(url=url, credentials=credentials, log=log)
        self.client = KmoShopsClient(url, credentials["api_key"], log=self.log)

    def close(self) -> None:
        self.client.close()

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        return self.client.get_order(order_id)

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        return self.client.iter_orders(updated_since)

    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """KMO Shops lists orders by last change only (``updated_since``, inclusive; oldest change first,
        then by id; 50 a page). Every order placed since ``since`` was also changed since then, so those
        pages hold them all; the creation date is checked here.

        The cursor is keyset-like, ``<updated_at>|<skip>``: the next request starts at the last change seen,
        skipping the orders of that same second already read. An order changed meanwhile moves behind the
        cursor (and is read again there) instead of shifting unread orders onto a page already read.
        """
        at, _, skip_text = (cursor or "").partition("|")
        start, skip = (datetime.fromisoformat(at) if at else since), int(skip_text or 0)
        page = skip // PAGE_SIZE + 1
        orders, pages = self.client.orders_page(start, page)
        orders = orders[skip % PAGE_SIZE :]
        wanted = [order for order in orders if mapping.created_between(order, since, until)]
        if not orders or page >= pages:
            return BackfillPage(wanted, None)
        last = mapping.updated_at(orders[-1]) or start
        if last <= start:  # the whole page changed in the same second as the cursor
            return BackfillPage(wanted, f"{start.isoformat()}|{skip + len(orders)}")
        same_second = sum(1 for order in orders if mapping.updated_at(order) == last)
        return BackfillPage(wanted, f"{last.isoformat()}|{same_second}")

    @staticmethod
    def parse_order(payload: Mapping[str, Any]) -> Order:
        return mapping.parse_order(payload)

    @staticmethod
    def order_id(payload: Mapping[str, Any]) -> str:
        return mapping.order_id(payload)

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
