"""The webhooks a shop sends, signed as Shopify signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from koppel.sandbox.webhooks import Attempt, log_attempt

from .common import WEBHOOK_BACKOFF, logger, now_local
from .state import Shop, Webhook


class Webhooks:
    """Sending the shop's webhooks, mixed into the sandbox."""

    # ------------------------------------------------------------------ webhooks

    def _webhooks(
        self, shop: Shop, events: list[tuple[Any, ...]], *, resend_id: str | None = None
    ) -> Callable[[], None]:
        """A callback that sends the webhooks for ``events`` (topic, order id and, for a body that is not
        the order, such as ``refunds/create``'s refund, the body) once the control call has answered. An
        order's body is the order as it is now: a held webhook delivered late carries old data."""
        wanted = [event for event in events if resend_id or event[0] in shop.topics]
        if not shop.webhook_url or not wanted or not (resend_id or shop.knobs.webhooks_enabled):
            return lambda: None
        webhooks: list[Webhook] = []
        for topic, order_id, *body in wanted:
            raw = body[0] if body else shop.raw.get(order_id) or json.dumps({"id": order_id}).encode()
            webhooks.append((self._headers(shop, topic, raw, resend_id), raw, order_id))
        if shop.knobs.out_of_order_webhooks and not resend_id:
            shop.held.extend(webhooks)
            return lambda: None
        copies = 1 if resend_id else 1 + shop.knobs.duplicate_webhooks

        def start() -> None:  # each topic on its own, as Shopify sends them: in no particular order
            for webhook in webhooks:
                self._webhook_sender.spawn(self._deliver_all(shop, [webhook], copies))

        return start

    @staticmethod
    def _headers(shop: Shop, topic: str, raw: bytes, webhook_id: str | None) -> dict[str, str]:
        digest = hmac.new(shop.signing_key.encode(), raw, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-API-Version": shop.webhook_api_version,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }

    async def _deliver_all(self, shop: Shop, webhooks: list[Webhook], copies: int) -> None:
        """One after the other; a duplicate is the same webhook again after the first (Shopify delivers at
        least once)."""
        for headers, raw, order_id in webhooks:
            for _ in range(copies):
                await self._deliver(shop, headers, raw, order_id)

    def release(self, shop: Shop) -> Callable[[], None]:
        """Send the held webhooks one after the other, newest first (the out-of-order case)."""
        held, shop.held = shop.held, []
        if not shop.webhook_url or not held:
            return lambda: None
        copies = 1 + shop.knobs.duplicate_webhooks
        return lambda: self._webhook_sender.spawn(self._deliver_all(shop, held[::-1], copies))

    async def _deliver(self, shop: Shop, headers: dict[str, str], raw: bytes, order_id: int) -> None:
        url = shop.webhook_url or ""
        topic, webhook_id = headers["X-Shopify-Topic"], headers["X-Shopify-Webhook-Id"]

        def logged(attempt: Attempt) -> None:
            entry = {"time": now_local().isoformat(), "topic": topic, "order_id": str(order_id)}
            shop.deliveries.append({**entry, "webhook_id": webhook_id, **attempt.log_fields()})
            log_attempt(logger, topic, order_id, attempt)

        await self._webhook_sender.deliver(
            url,
            raw,
            headers,
            tries=shop.knobs.webhook_tries,
            backoff=WEBHOOK_BACKOFF,
            accepted=lambda status: 200 <= status < 300,  # Shopify counts anything else as a failure
            on_attempt=logged,
        )
