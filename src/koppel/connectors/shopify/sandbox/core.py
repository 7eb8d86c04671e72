"""The simulated Shopify: shops and their orders, placed and changed as the admin would."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta
from typing import Any

from koppel.sandbox.http import HTTPException
from koppel.sandbox.webhooks import WebhookSender

from .api import AdminApi
from .common import (
    _SHOP_NAME,
    AMSTERDAM,
    TOPICS,
    WEBHOOK_TIMEOUT,
    _bad_request,
    _line_ids,
    _order_ids,
    errors,
    now_local,
)
from .control import ControlApi
from .orders import Identity, build_order
from .refunds import RefundApi
from .state import Shop
from .webhooks import Webhooks


class ShopifySandbox(AdminApi, RefundApi, Webhooks, ControlApi):
    """The shops, their Admin API (:meth:`api_router`) and the control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.shops: dict[str, Shop] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(timeout=WEBHOOK_TIMEOUT)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_shop(self, name: str, **options: Any) -> Shop:
        """Create a shop, or change the settings given for an existing one (its orders stay)."""
        if not _SHOP_NAME.match(name):
            raise ValueError(f"Invalid shop name: {name!r} (lower-case letters, digits and dashes)")
        shop = self.shops.get(name)
        token = options.get("access_token")
        if shop is None:
            if not token and not (options.get("client_id") and options.get("client_secret")):
                raise ValueError("access_token, or client_id and client_secret, is required for a new shop")
            shop = Shop(name, token or "")
            shop.settings.shop_domain = shop.domain
        if token:
            shop.access_token = token
        for key, kind in (("client_id", str), ("client_secret", str), ("app_installed", bool)):
            if options.get(key) is not None:
                if not isinstance(options[key], kind):
                    raise ValueError(f"{key} must be a {kind.__name__}")
                setattr(shop, key, options[key])
        if "webhook_url" in options:
            shop.webhook_url = options["webhook_url"] or None
        if options.get("webhook_secret") is not None:
            shop.webhook_secret = options["webhook_secret"]
        if options.get("topics") is not None:
            unknown = set(options["topics"]) - set(TOPICS)
            if unknown:
                raise ValueError(f"Unknown topics: {', '.join(sorted(unknown))}")
            shop.topics = list(options["topics"])
        for key in ("taxes_included", "currency", "tax_title"):
            if options.get(key) is not None:
                setattr(shop.settings, key, options[key])
        if options.get("knobs"):
            self.update_knobs(shop, options["knobs"])
        self.shops[name] = shop
        return shop

    def place(self, shop: Shop, cart: dict[str, Any]) -> dict[str, Any]:
        """A new order from ``cart``; returns it as Shopify serialises it. A ``created_at`` in the cart
        places it in the past (an import, or history for a backfill); ``updated_at`` is then the same."""
        if not isinstance(cart, dict):
            raise _bad_request({"order": ["must be an object"]})
        moment = cart.get("created_at") or now_local().isoformat()
        try:
            created = datetime.fromisoformat(str(moment))
        except ValueError:
            raise _bad_request({"created_at": ["must be an ISO 8601 date-time"]}) from None
        created = (created if created.tzinfo else created.replace(tzinfo=AMSTERDAM)).astimezone(AMSTERDAM)
        identity = Identity(next(_order_ids), shop.next_number, created.isoformat())
        identity.updated_at = str(cart.get("updated_at") or identity.created_at)
        shop.next_number += 1
        order = build_order(cart, identity, shop.settings)
        shop.put(order, cart, identity)
        return order

    def update(self, shop: Shop, order_id: int, changes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Apply changes the way the Shopify admin would; returns the order and the topics it fires."""
        meta = shop.meta.get(order_id)
        if meta is None:
            raise HTTPException(errors(404, "Not Found"))
        if not isinstance(changes, dict):
            raise _bad_request({"order": ["must be an object"]})
        cart = {**shop.carts[order_id], **{k: v for k, v in changes.items() if k not in ("cancel", "close")}}
        now = now_local().isoformat()
        topics = ["orders/updated"]
        if changes.get("cancel"):
            cart["cancelled_at"] = cart.get("cancelled_at") or now
            cart["cancel_reason"] = cart.get("cancel_reason") or "customer"
            topics.append("orders/cancelled")
        if changes.get("close"):
            cart["closed_at"] = now
        if cart.get("financial_status") == "paid" and meta.financial_status != "paid":
            topics.append("orders/paid")
        identity = meta.identity
        identity.updated_at = str(changes.get("updated_at") or now)
        order = build_order(cart, identity, shop.settings)
        shop.put(order, cart, identity)
        return order, topics

    def _rebuild(self, shop: Shop, order_id: int, cart: dict[str, Any]) -> dict[str, Any]:
        """Write the order again from its cart (its refunds shown on it)."""
        identity = shop.meta[order_id].identity
        order = build_order(cart, identity, shop.settings)
        shop.put(order, cart, identity)
        return order

    def delete_product(self, shop: Shop, product_id: int) -> int:
        """Lines that sold the product keep their name and price but lose the product; returns how many
        orders changed."""
        changed = 0
        for order_id in list(shop.ids):
            order = shop.order(order_id)
            if order is None or not any(i.get("product_id") == product_id for i in order["line_items"]):
                continue
            cart = copy.deepcopy(shop.carts[order_id])
            for item, line in zip(cart.get("line_items", []), order["line_items"], strict=False):
                if line.get("product_id") == product_id:
                    item["product_exists"] = False
            meta = shop.meta[order_id]
            shop.put(build_order(cart, meta.identity, shop.settings), cart, meta.identity)
            changed += 1
        return changed

    def bulk(self, shop: Shop, data: dict[str, Any]) -> list[int]:
        """Many orders fast: ``{"count": N, "template": {...}, "created_from": t0, "created_to": t1}`` (the
        creation dates spread evenly over ``[t0, t1)``) or ``{"orders": [...]}``."""
        if isinstance(data.get("orders"), list):
            return [self.place(shop, cart)["id"] for cart in data["orders"]]
        count = data.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 100_000:
            raise _bad_request({"count": ["must be a whole number from 1 to 100000"]})
        template = data.get("template") or {"line_items": [{"title": "Mok", "price": "12.95", "quantity": 2}]}
        start = _bulk_time(data.get("created_from"), now_local() - timedelta(days=30))
        end = _bulk_time(data.get("created_to"), now_local())
        step = (end - start) / count
        first = build_order(template, Identity(0, 0, start.isoformat()), shop.settings)
        ids = []
        for n in range(count):
            created = (start + step * n).replace(microsecond=0).isoformat()
            identity = Identity(next(_order_ids), shop.next_number, created, updated_at=created)
            shop.next_number += 1
            ids.append(self._clone(shop, first, template, identity))
        return ids

    def _clone(self, shop: Shop, first: dict[str, Any], template: dict[str, Any], identity: Identity) -> int:
        order = dict(first)
        lines = []
        for item in first["line_items"]:
            line_id = next(_line_ids)
            identity.line_ids.append(line_id)
            lines.append({**item, "id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}"})
        order.update(
            id=identity.id,
            admin_graphql_api_id=f"gid://shopify/Order/{identity.id}",
            name=f"#{identity.number}",
            order_number=identity.number,
            number=identity.number - 1000,
            token=identity.token,
            created_at=identity.created_at,
            processed_at=identity.created_at,
            updated_at=identity.updated_at,
            line_items=lines,
            checkout_id=identity.id + 1,
            checkout_token=identity.token[::-1],
            confirmation_number=identity.token[:9].upper(),
            order_status_url=f"https://{shop.domain}/{identity.id}/orders/{identity.token}/authenticate",
        )
        if "email" not in template:
            order["email"] = order["contact_email"] = f"klant.{identity.number}@example.nl"
        customer = first.get("customer")
        if isinstance(customer, dict):
            customer_id = identity.id + 7
            address = {
                **customer.get("default_address", {}),
                "id": identity.id + 9,
                "customer_id": customer_id,
            }
            order["customer"] = {
                **customer,
                "email": order["email"],
                "id": customer_id,
                "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                "default_address": address,
            }
        shop.put(order, template, identity)
        return identity.id

    async def aclose(self) -> None:
        """Cancel pending webhook deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()


def _bulk_time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise _bad_request({"created_from": ["must be an ISO 8601 date-time"]}) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=AMSTERDAM)).astimezone(AMSTERDAM)
