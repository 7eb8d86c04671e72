"""What the API and the control API share: the shops, ids, keys and tokens, process statuses (PENDING
until ``process_delay_ms`` has passed, then their change is made) and push notifications."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from koppel.sandbox.webhooks import Attempt, WebhookSender

from .signing import HEADER, KeyRing
from .state import Ids, Process, Shop, now, stamp

logger = logging.getLogger("koppel.sandbox.bol")

DEFAULT_SEED = 10_2023
PUSH_BACKOFF = (0.2, 0.5, 1.0)
PUSH_TIMEOUT = 5.0
"""bol waits five seconds for a webhook's answer."""
CLOCK_SKEW = 1.0
_SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

Effect = Callable[[], "str | None"]


class Core:
    def __init__(self, public_url: str | None, seed: int | None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.shops: dict[str, Shop] = {}
        self.ids = Ids(DEFAULT_SEED if seed is None else seed)
        self.keys = KeyRing()
        self.tokens: dict[str, tuple[Shop, float]] = {}
        self.sender = WebhookSender(timeout=PUSH_TIMEOUT)

    # ------------------------------------------------------------------ shops and tokens

    def add_shop(self, name: str, **options: Any) -> Shop:
        """Create a retailer account, or change the settings given for an existing one."""
        if not _SHOP_NAME.match(name):
            raise ValueError(f"Invalid shop name: {name!r} (lower-case letters, digits and dashes)")
        shop = self.shops.get(name)
        if shop is None:
            client_id = str(options.get("client_id") or self.ids.uuid())
            if any(s.client_id == client_id for s in self.shops.values()):
                raise ValueError(f"client_id {client_id} belongs to another shop")
            secret = str(options.get("client_secret") or self.ids.text(64, "ABCDEFabcdef0123456789-_"))
            shop = Shop(name, client_id, secret, int(self.ids.number(7, "1")))
        elif options.get("client_secret"):
            shop.client_secret = str(options["client_secret"])
        if options.get("retailer_id") is not None:
            shop.retailer_id = int(options["retailer_id"])
        if options.get("active") is not None:
            shop.active = bool(options["active"])
        if options.get("knobs"):
            shop.knobs.update(options["knobs"])
        self.shops[name] = shop
        return shop

    def shop_for_client(self, client_id: str) -> Shop | None:
        return next((s for s in self.shops.values() if s.client_id == client_id), None)

    def issue_token(self, shop: Shop) -> dict[str, Any]:
        issued = time.time()
        lifetime = shop.knobs.token_lifetime
        claims = {
            "sub": shop.client_id,
            "iss": "https://login.bol.com",
            "iat": int(issued),
            "exp": int(issued + lifetime),
            "jti": self.ids.uuid(),
            "scope": ["RETAILER"],
        }
        token = self.keys.jwt(claims)
        self.tokens = {t: v for t, v in self.tokens.items() if v[1] + CLOCK_SKEW > issued - 3600}
        self.tokens[token] = (shop, issued + lifetime)
        shop.tokens[token] = issued + lifetime
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": "RETAILER"}

    def revoke_tokens(self, shop: Shop) -> None:
        for token in shop.tokens:
            self.tokens.pop(token, None)
        shop.tokens.clear()

    def base_url(self, host: str | None) -> str:
        return self.public_url or f"http://{host or '127.0.0.1'}"

    # ------------------------------------------------------------------ process statuses

    def start_process(
        self, shop: Shop, entity_id: str, event_type: str, description: str, effect: Effect | None = None
    ) -> Process:
        delay = shop.knobs.process_delay_ms / 1000
        process = Process(
            self.ids.process(), entity_id, event_type, description, now(), time.monotonic() + delay, effect
        )
        shop.processes[process.process_id] = process
        self.sender.spawn(self._settle_later(shop, delay))
        return process

    async def _settle_later(self, shop: Shop, delay: float) -> None:
        await asyncio.sleep(delay)
        self.settle(shop)

    def settle(self, shop: Shop) -> None:
        """Make the changes of every process that is due; each becomes SUCCESS or FAILURE."""
        moment = time.monotonic()
        for process in list(shop.processes.values()):
            if process.status != "PENDING" or process.due > moment:
                continue
            error = process.effect() if process.effect is not None else None
            process.status, process.error = ("FAILURE", error) if error else ("SUCCESS", None)
            self.push(shop, "PROCESS_STATUS", process.status, process.process_id)

    # ------------------------------------------------------------------ push notifications

    def push(
        self, shop: Shop, resource: str, event_type: str, resource_id: str, only: str | None = None
    ) -> int:
        """Send ``{"retailerId", "timestamp", "event": {"resource", "type", "resourceId"}}`` to every enabled
        WEBHOOK subscription to ``resource`` (or to subscription ``only``, whatever its resources), signed;
        answers how many were started."""
        if not shop.knobs.push_enabled:
            return 0
        started = 0
        for sub in list(shop.subscriptions.values()):
            wanted = sub.subscription_id == only if only else resource in sub.resources and sub.enabled
            if not wanted or sub.subscription_type != "WEBHOOK":
                continue
            event = {"resource": resource, "type": event_type, "resourceId": resource_id}
            payload = {"retailerId": shop.retailer_id, "timestamp": stamp(now()), "event": event}
            raw = json.dumps(payload, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", HEADER: self.keys.signature_header(raw)}
            self.sender.spawn(self._deliver(shop, sub.subscription_id, sub.url, raw, headers, event))
            started += 1
        return started

    async def _deliver(
        self, shop: Shop, sub_id: str, url: str, raw: bytes, headers: dict[str, str], event: dict[str, str]
    ) -> None:
        def logged(attempt: Attempt) -> None:
            entry = {
                "time": stamp(now()),
                "subscription_id": sub_id,
                **event,
                "key_id": self.keys.current.key_id,
            }
            shop.deliveries.append({**entry, **attempt.log_fields()})
            logger.info(
                "push %s %s %s to %s: %s",
                event["resource"],
                event["type"],
                event["resourceId"],
                url,
                attempt.outcome,
            )

        last = await self.sender.deliver(
            url,
            raw,
            headers,
            tries=max(1, shop.knobs.push_tries),
            backoff=PUSH_BACKOFF,
            accepted=lambda status: 200 <= status < 300,
            on_attempt=logged,
        )
        if last.status is None or not 200 <= last.status < 300:
            sub = shop.subscriptions.get(sub_id)
            if sub is not None and event["resource"] != "TEST":
                sub.enabled = False  # bol disables a subscription that keeps failing

    async def aclose(self) -> None:
        await self.sender.aclose()
