"""The webhooks a store sends, signed as WooCommerce signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable

from koppel.sandbox.webhooks import Attempt

from .common import MAX_FAILURES, WC_VERSION, WP_VERSION, logger, now_gmt, payload
from .state import Delivery, OrderRecord, Store, Webhook


class Webhooks:
    """The webhooks a store sends, and their pings, mixed into the sandbox."""

    # ------------------------------------------------------------------ webhooks

    def _events(
        self, store: Store, topic: str, records: Iterable[OrderRecord]
    ) -> list[tuple[Webhook, str, int, bytes]]:
        """The deliveries a change makes, with the body as it is now (checked at the change, like
        WooCommerce's ``should_deliver``)."""
        if not store.knobs.webhooks_enabled:
            return []
        hooks = [h for h in store.webhooks.values() if h.topic == topic and h.status == "active"]
        if not hooks:
            return []
        return [(hook, topic, r.id, payload(topic, r)) for r in records for hook in hooks]

    def _sender(self, store: Store, events: list[tuple[Webhook, str, int, bytes]]) -> Callable[[], None]:
        """A callback that starts the deliveries; run it after the control call has answered."""
        if not events:
            return lambda: None

        def start() -> None:
            second = int(time.time())
            jobs = [
                Delivery(hook, topic, oid, body, self._delivery_id(store, hook, second))
                for hook, topic, oid, body in events
            ]
            if store.knobs.out_of_order_webhooks:
                sequence: list[Delivery] = []
                for job in jobs:
                    if store.held is None:
                        store.held = job
                    else:
                        sequence += [job, store.held]
                        store.held = None
                self._webhook_sender.spawn(self._send_all(store, sequence))
            else:
                for job in jobs:
                    self._webhook_sender.spawn(self._send_all(store, [job]))

        return start

    @staticmethod
    def _delivery_id(store: Store, hook: Webhook, second: int) -> str:
        """``wp_hash( $webhook_id . strtotime('now') )``: the same for every delivery of a webhook in one
        second."""
        return hmac.new(store.salt.encode(), f"{hook.id}{second}".encode(), hashlib.md5).hexdigest()

    async def _send_all(self, store: Store, jobs: list[Delivery]) -> None:
        for job in jobs:
            for _ in range(1 + store.knobs.duplicate_webhooks):
                await self._send(store, job)

    async def _send(self, store: Store, job: Delivery) -> None:
        hook = job.webhook
        resource, event = job.topic.split(".", 1)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            "X-WC-Webhook-Source": f"{store.home_url}/",
            "X-WC-Webhook-Topic": job.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": base64.b64encode(
                hmac.new(hook.secret.encode(), job.body, hashlib.sha256).digest()
            ).decode(),
            "X-WC-Webhook-ID": str(hook.id),
            "X-WC-Webhook-Delivery-ID": job.delivery_id,
        }
        sent = await self._post(store, hook.delivery_url, job.body, headers)
        status = sent.status
        if status is not None and 200 <= status < 303:
            hook.failure_count = 0
        elif hook.failure_count > MAX_FAILURES:
            hook.status = "disabled"  # WC_Webhook::failed_delivery
        else:
            hook.failure_count += 1
        self._log(store, hook, sent, "delivery", job.topic, str(job.order_id), job.delivery_id)
        ms = sent.duration_ms
        logger.info("webhook %s order %s: %s (%.1f ms)", job.topic, job.order_id, status or sent.error, ms)

    async def _post(self, store: Store, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        """One POST, as WooCommerce makes it: no retries, the store's ``webhook_timeout_s``."""
        return await self._webhook_sender.post(url, body, headers, timeout=store.knobs.webhook_timeout_s)

    @staticmethod
    def _log(
        store: Store,
        hook: Webhook,
        sent: Attempt,
        kind: str,
        topic: str,
        order_id: str | None,
        delivery_id: str | None,
    ) -> None:
        """Log a delivery or a ping, with the webhook's state after it."""
        store.deliveries.append(
            {
                "time": now_gmt().isoformat(),
                "kind": kind,
                "webhook_id": hook.id,
                "topic": topic,
                "order_id": order_id,
                "delivery_id": delivery_id,
                "url": hook.delivery_url,
                "status": sent.status,
                "error": sent.error,
                "duration_ms": sent.duration_ms,
                "webhook_status": hook.status,
                "failure_count": hook.failure_count,
            }
        )

    async def _ping(self, store: Store, hook: Webhook) -> None:
        """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, no ``X-WC-*`` headers; only 200 is OK."""
        headers = {
            "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = f"webhook_id={hook.id}".encode()
        sent = await self._post(store, hook.delivery_url, body, headers)
        hook.ping_status = sent.status
        if sent.status == 200:
            hook.pending_delivery = False
        self._log(store, hook, sent, "ping", hook.topic, None, None)

    def _pinger(self, store: Store, hooks: list[Webhook]) -> Callable[[], None]:
        def start() -> None:
            for hook in hooks:
                self._webhook_sender.spawn(self._ping(store, hook))

        return start

    async def aclose(self) -> None:
        """Cancel pending deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()
