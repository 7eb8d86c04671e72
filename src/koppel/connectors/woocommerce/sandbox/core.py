"""The simulated WooCommerce: stores and their orders, placed and changed as the shop would."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from koppel.sandbox.http import HTTPException, update_settings
from koppel.sandbox.webhooks import WebhookSender

from .api import RestApi
from .calc import Calculated, Calculator
from .common import (
    _STORE_NAME,
    DEFAULT_TOPICS,
    ORDER_TOPICS,
    PAID_STATUSES,
    _invalid,
    now_gmt,
    parse_gmt,
    to_decimal,
    to_int,
    wc_error,
)
from .control import ControlApi
from .orders import _SPEC_KEYS, build_header, build_spec, render_order
from .refunds import RefundApi
from .settings import TaxRate, default_rates
from .state import OrderRecord, Store, Webhook
from .webhooks import Webhooks


class WooCommerceSandbox(RestApi, RefundApi, Webhooks, ControlApi):
    """The stores, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.stores: dict[str, Store] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(follow_redirects=False)

    # ------------------------------------------------------------------ stores

    def add_store(self, name: str, data: dict[str, Any], base_url: str) -> tuple[Store, list[Webhook]]:
        """Create a store, or change what ``data`` names of an existing one (its orders stay). Returns it and
        the webhooks that were (re)created and want their ping."""
        if not _STORE_NAME.match(name):
            raise _invalid(f"Invalid store name: {name!r}")
        store = self.stores.get(name)
        if store is None:
            key, secret = data.get("consumer_key"), data.get("consumer_secret")
            if not key or not secret:
                raise _invalid("consumer_key and consumer_secret are required for a new store")
            store = Store(name, str(key), str(secret), f"{self.public_url or base_url}/woocommerce/{name}")
        for attribute in ("consumer_key", "consumer_secret"):
            if data.get(attribute):
                setattr(store, attribute, str(data[attribute]))
        self._configure(store, data)
        pinged = self._set_webhooks(store, data)
        self.stores[name] = store
        return store, pinged

    def _configure(self, store: Store, data: dict[str, Any]) -> None:
        settings = data.get("settings")
        if settings is not None:
            if not isinstance(settings, dict):
                raise _invalid("settings must be an object")
            changes = {k: v for k, v in settings.items() if k != "tax_rates"}
            try:
                update_settings(store.settings, changes)
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            if "tax_rates" in settings:
                store.rates = self._rates(settings["tax_rates"], store.settings.country)
            elif "country" in changes:
                store.rates = default_rates(store.settings.country)
        if data.get("knobs"):
            self._update_knobs(store, data["knobs"])

    @staticmethod
    def _rates(data: Any, country: str) -> list[TaxRate]:
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _invalid("tax_rates must be a list of objects")
        return [
            TaxRate(
                to_int(r.get("id", n), f"tax_rates.{n}.id", 1),
                to_decimal(r.get("rate", "0"), f"tax_rates.{n}.rate"),
                str(r.get("name", "BTW")),
                str(r.get("class", "") or "").replace("standard", ""),
                str(r.get("country", country)).upper(),
            )
            for n, r in enumerate(data, 1)
        ]

    def _set_webhooks(self, store: Store, data: dict[str, Any]) -> list[Webhook]:
        if "webhook_url" not in data and "webhook_secret" not in data:
            return []
        url = data.get("webhook_url")
        if url is None and "webhook_url" not in data:
            url = next((hook.delivery_url for hook in store.webhooks.values()), "")
        if not url:
            store.webhooks.clear()
            return []
        secret = str(data.get("webhook_secret") or next((h.secret for h in store.webhooks.values()), ""))
        topics = data.get("topics", DEFAULT_TOPICS)
        if not isinstance(topics, list | tuple) or any(t not in ORDER_TOPICS for t in topics):
            raise _invalid(f"topics must be a list of {', '.join(ORDER_TOPICS)}")
        existing = {hook.topic: hook for hook in store.webhooks.values()}
        store.webhooks = {}
        changed = []
        for topic in topics:
            hook = existing.get(topic)
            if hook is None:
                hook = Webhook(store.next_webhook_id, topic, url, secret)
                store.next_webhook_id += 1
            if hook.delivery_url != url or hook.status != "active" or hook is not existing.get(topic):
                hook.pending_delivery = True
                changed.append(hook)
            hook.delivery_url, hook.secret, hook.status, hook.modified = url, secret, "active", now_gmt()
            store.webhooks[hook.id] = hook
        return changed if data.get("ping", True) is not False else []

    # ------------------------------------------------------------------ orders

    def place(self, store: Store, data: Any, calculated: Calculated | None = None) -> OrderRecord:
        """A new order (or one replacing the order with the same id)."""
        if not isinstance(data, dict):
            raise _invalid("An order must be a JSON object")
        order_id = to_int(data.get("id", store.next_id), "id", 1)
        spec = build_spec(data, store.settings)
        header = build_header(data, store, order_id)
        created = (
            parse_gmt(data["date_created_gmt"], "date_created_gmt")
            if "date_created_gmt" in data
            else now_gmt()
        )
        modified = (
            parse_gmt(data["date_modified_gmt"], "date_modified_gmt")
            if "date_modified_gmt" in data
            else created
        )
        record = OrderRecord(order_id, spec, header, created, max(modified, created))
        self._set_payment_dates(record, data, created)
        record.item_ids = self._item_ids(store, spec)
        self._render(store, record, calculated)
        store.put(record)
        return record

    @staticmethod
    def _set_payment_dates(record: OrderRecord, data: dict[str, Any], moment: datetime) -> None:
        if "date_paid_gmt" in data:
            record.paid = parse_gmt(data["date_paid_gmt"], "date_paid_gmt") if data["date_paid_gmt"] else None
        elif data.get("set_paid") or (record.status in PAID_STATUSES and record.paid is None):
            record.paid = moment  # WooCommerce sets date_paid on the way to processing or completed
        if record.status == "completed" and record.completed is None:
            record.completed = moment

    @staticmethod
    def _item_ids(store: Store, spec: dict[str, Any]) -> list[int]:
        count = (
            len(spec["line_items"])
            + len(spec["shipping_lines"])
            + len(spec["fee_lines"])
            + len(spec["coupons"])
        )
        start = store.next_item_id
        store.next_item_id += count + 4
        return list(range(start, start + count + 4))

    def update(self, store: Store, order_id: int, changes: Any) -> OrderRecord:
        """Change an order as the back office would; ``date_modified`` becomes now."""
        record = store.orders.get(order_id)
        if record is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
        if not isinstance(changes, dict):
            raise _invalid("Body must be a JSON object")
        now = (
            parse_gmt(changes["date_modified_gmt"], "date_modified_gmt")
            if "date_modified_gmt" in changes
            else now_gmt()
        )
        data = {**self._spec_input(record), **{k: v for k, v in changes.items() if k in _SPEC_KEYS}}
        spec = build_spec(data, store.settings)
        header_input = {**record.header, **{k: v for k, v in changes.items() if k not in _SPEC_KEYS}}
        for part in ("billing", "shipping"):
            if isinstance(changes.get(part), dict):
                header_input[part] = {**record.header[part], **changes[part]}
        header = build_header(header_input, store, order_id)
        updated = OrderRecord(order_id, spec, header, record.created, now, record.paid, record.completed)
        self._set_payment_dates(updated, changes, now)
        updated.item_ids = record.item_ids if spec == record.spec else self._item_ids(store, spec)
        self._render(store, updated)
        store.put(updated)
        return updated

    @staticmethod
    def _spec_input(record: OrderRecord) -> dict[str, Any]:
        spec = record.spec
        return {
            "prices_include_tax": spec["prices_include_tax"],
            "vat_exempt": spec["vat_exempt"],
            "line_items": [{**line, "price": str(line["price"])} for line in spec["line_items"]],
            "shipping_lines": [{**line, "total": str(line["total"])} for line in spec["shipping_lines"]],
            "fee_lines": [{**line, "total": str(line["total"])} for line in spec["fee_lines"]],
            "coupon_lines": [
                {"code": c.code, "discount_type": c.kind, "amount": str(c.amount)} for c in spec["coupons"]
            ],
            "gift_cards": [{**c, "amount": str(c["amount"])} for c in spec.get("gift_cards", [])],
        }

    def delete_product(self, store: Store, product_id: int) -> int:
        """Delete a product: its order lines stay, pointing nowhere. Returns the orders touched."""
        store.deleted_products.add(product_id)
        touched = 0
        for record in store.orders.values():
            if any(line["product_id"] == product_id for line in record.spec["line_items"]):
                self._render(store, record)
                touched += 1
        return touched

    def _render(self, store: Store, record: OrderRecord, calculated: Calculated | None = None) -> None:
        """The order as ``GET orders/{id}`` returns it (WooCommerce 9's field order)."""
        calc = calculated or Calculator(store.settings, store.rates, record.spec).run()
        record.doc = render_order(store, record, calc)
