"""The signed webhooks a shop sends when an order is placed or changed."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

from koppel.sandbox.webhooks import Attempt, WebhookSender, log_attempt

from .common import (
    WEBHOOK_BACKOFF,
    WEBHOOK_TRIES,
    logger,
    now_local,
)
from .state import Shop


class Webhooks:
    """The webhook deliveries, mixed into the sandbox."""

    _webhook_sender: WebhookSender

    # ------------------------------------------------------------------ webhooks

    def _webhooks(
        self, shop: Shop, events: list[tuple[str, int]], *, resend: bool = False
    ) -> Callable[[], None]:
        """A callback that starts the deliveries; run it after the control call has answered."""
        url, secret = shop.webhook_url, shop.webhook_secret
        copies = 1 if resend else 1 + shop.knobs.duplicate_webhooks
        if not url or not events or not (resend or shop.knobs.webhooks_enabled):
            return lambda: None

        def start() -> None:
            for event, order_id in events:
                for _ in range(copies):
                    self._webhook_sender.spawn(self._deliver(shop, url, secret, event, order_id))

        return start

    async def _deliver(self, shop: Shop, url: str, secret: str, event: str, order_id: int) -> None:
        body = json.dumps(
            {"event": event, "order_id": str(order_id), "shop": shop.name}, separators=(",", ":")
        )
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-KMO-Signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
            "User-Agent": "KMO-Shops-Webhooks/1.0 (Koppel sandbox)",
        }

        def logged(attempt: Attempt) -> None:
            entry = {"time": now_local().isoformat(), "event": event, "order_id": str(order_id)}
            shop.deliveries.append({**entry, **attempt.log_fields()})
            log_attempt(logger, event, order_id, attempt)

        await self._webhook_sender.deliver(
            url,
            raw,
            headers,
            tries=WEBHOOK_TRIES,
            backoff=WEBHOOK_BACKOFF,
            accepted=lambda status: status < 500,  # a 5xx is tried again
            on_attempt=logged,
        )
