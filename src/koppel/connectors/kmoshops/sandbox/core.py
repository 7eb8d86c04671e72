"""The simulated KMO Shops: shops and their orders, placed and changed as the back office would."""

from __future__ import annotations

import random
from typing import Any

from koppel.sandbox.http import HTTPException
from koppel.sandbox.webhooks import WebhookSender

from .api import ShopApi
from .common import (
    _CUSTOMER_FIELDS,
    _PAID_STATUSES,
    _SHOP_NAME,
    _bad_request,
    _parse_time,
    error,
    now_local,
    order_total,
)
from .control import ControlApi
from .state import Shop
from .webhooks import Webhooks


class KmoShopsSandbox(ShopApi, Webhooks, ControlApi):
    """The shops, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.shops: dict[str, Shop] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(timeout=10.0)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_shop(
        self,
        name: str,
        api_key: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        knobs: dict[str, Any] | None = None,
    ) -> Shop:
        """Create a shop, or update the settings given for an existing one (its orders stay)."""
        if not _SHOP_NAME.match(name):
            raise ValueError(f"Invalid shop name: {name!r}")
        shop = self.shops.get(name)
        if shop is None:
            if not api_key:
                raise ValueError("api_key is required for a new shop")
            shop = Shop(name, api_key)
        if api_key:
            shop.api_key = api_key
        if webhook_url is not None:
            shop.webhook_url = webhook_url or None
        if webhook_secret is not None:
            shop.webhook_secret = webhook_secret
        if knobs:
            shop.knobs.update(knobs)
        self.shops[name] = shop
        return shop

    def add_order(self, shop: Shop, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Store a new order (or replace one with the same id); returns it and its webhook event."""
        order = self._build_order(shop, data)
        event = "order.updated" if order["id"] in shop.orders else "order.created"
        shop.put(order)
        return order, event

    def update_order(self, shop: Shop, order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply changed fields the way a shop back office would; ``updated_at`` becomes now."""
        current = shop.orders.get(order_id)
        if current is None:
            raise HTTPException(error(404, f"Order {order_id} not found"))
        merged = dict(current)
        for key, value in changes.items():
            if key == "id":
                continue
            if (
                key in ("customer", "shipping")
                and isinstance(value, dict)
                and isinstance(merged.get(key), dict)
            ):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        if "status" in changes and "paid" not in changes:
            if changes["status"] in _PAID_STATUSES:
                merged["paid"] = True
            elif changes["status"] == "pending":
                merged["paid"] = False
        if "total" not in changes and {"lines", "shipping", "priceincltax"} & changes.keys():
            del merged["total"]  # recomputed
        merged["updated_at"] = changes.get("updated_at") or now_local().isoformat()
        order = self._build_order(shop, merged)
        shop.put(order)
        return order

    async def aclose(self) -> None:
        """Cancel pending webhook deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()

    # ------------------------------------------------------------------ orders

    def _build_order(self, shop: Shop, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _bad_request("An order must be a JSON object")
        raw_id = data.get("id", shop.next_id)
        try:
            if isinstance(raw_id, bool):
                raise ValueError
            order_id = int(raw_id)
        except (TypeError, ValueError):
            raise _bad_request(f"id: {raw_id!r} is not an integer") from None
        now = now_local().isoformat()
        status = data.get("status", "paid")
        customer = data.get("customer") or {}
        lines = data.get("lines", [])
        shipping = data.get(
            "shipping", {"description": "Verzendkosten", "price": "0.00", "tax_rate": "21.00"}
        )
        if not isinstance(customer, dict):
            raise _bad_request("customer must be an object")
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise _bad_request("lines must be a list of objects")
        if shipping is not None and not isinstance(shipping, dict):
            raise _bad_request("shipping must be an object or null")
        order: dict[str, Any] = {
            "id": order_id,
            "number": data.get("number", str(order_id)),
            "created_at": data.get("created_at", now),
            "status": status,
            "currency": data.get("currency", "EUR"),
            "priceincltax": data.get("priceincltax", True),
            "payment_method": data.get("payment_method", "iDEAL"),
            "paid": data.get("paid", status != "pending"),
            "customer": {**dict.fromkeys(_CUSTOMER_FIELDS, ""), **customer},
            "lines": [
                {"sku": "", "description": "", "amount": 1, "price": "0.00", "tax_rate": "21.00", **line}
                for line in lines
            ],
            "shipping": shipping,
        }
        order["total"] = data["total"] if "total" in data else order_total(order)
        for key, value in data.items():  # extra fields pass through untouched
            order.setdefault(key, value)
        _parse_time(order["created_at"], "created_at")
        order["updated_at"] = _parse_time(data.get("updated_at", now), "updated_at").isoformat()
        return order
