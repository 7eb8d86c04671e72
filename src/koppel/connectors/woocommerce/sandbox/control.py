"""The control API (``/_sandbox/woocommerce``) and the pages for people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.control import TenantControl, json_body, notify
from koppel.sandbox.http import HTTPException, Request, Response, Router

from .calc import Calculator
from .common import PAGES, _invalid, now_gmt, parse_gmt, payload, to_int, wc_error, wc_response
from .orders import build_spec
from .state import OrderRecord, Store


class ControlApi(TenantControl):
    """The control API and the pages for people, mixed into the sandbox."""

    tenant_kind = "stores"
    tenant_param = "store"
    tenants_attribute = "stores"

    def answer(self, data: Any, status: int = 200) -> Response:
        return wc_response(data, status)

    def tenant_missing(self, name: str) -> Response:
        return wc_error(404, "woocommerce_sandbox_no_store", f"Store {name} not found")

    def bad_request(self, message: str) -> Response:
        return _invalid(message).response

    def knob_changes(self, request: Request) -> Any:
        return self._body(request)

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        """Mounted at ``/_sandbox/woocommerce``: ``POST stores`` (create or change a store: keys, webhook
        URL and secret, settings, knobs), and under ``stores/{store}``: ``orders`` (place; ``?notify=false``
        sends no webhook), ``orders/bulk``, ``PATCH``/``DELETE orders/{id}``, ``DELETE products/{id}``,
        ``GET``/``POST orders/{id}/refunds`` (a refund as the merchant makes it, :mod:`.refunds`),
        ``knobs``, ``webhooks`` (status, failure count, last ping), ``POST webhooks/{id}`` (status, URL,
        secret), ``webhooks/{id}/ping``, ``webhooks/resend``, ``webhooks/flush``, ``deliveries``
        (``?wait_for=N``) and ``requests``."""
        r = Router()
        r.post("/stores", self._c_put_store)
        r.get("/stores/{store}", self._control(self._c_get_store))
        r.post("/stores/{store}/orders", self._control(self._c_create_order))
        r.post("/stores/{store}/orders/bulk", self._control(self._c_bulk_orders))
        r.patch("/stores/{store}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/stores/{store}/orders/{order_id}", self._control(self._c_delete_order))
        r.get("/stores/{store}/orders/{order_id}/refunds", self._control(self._c_refunds))
        r.post("/stores/{store}/orders/{order_id}/refunds", self._control(self._c_create_refund))
        r.delete("/stores/{store}/products/{product_id}", self._control(self._c_delete_product))
        self.add_log_routes(r, deliveries="deliveries")
        r.get("/stores/{store}/webhooks", self._control(self._c_webhooks))
        r.post("/stores/{store}/webhooks/resend", self._control(self._c_resend))
        r.post("/stores/{store}/webhooks/flush", self._control(self._c_flush))
        r.post("/stores/{store}/webhooks/{webhook_id}", self._control(self._c_change_webhook))
        r.post("/stores/{store}/webhooks/{webhook_id}/ping", self._control(self._c_ping))
        r.get("/page", self._p_index)
        r.get("/stores/{store}/page", self._control(self._p_store))
        return r

    @staticmethod
    def _body(request: Request) -> Any:
        return json_body(request, _invalid)

    @staticmethod
    def _notify(request: Request) -> bool:
        return notify(request)

    def _update_knobs(self, store: Store, changes: Any) -> None:
        try:
            store.knobs.update(changes)
        except ValueError as exc:
            raise _invalid(str(exc)) from None

    async def _c_put_store(self, request: Request) -> Response:
        """``{"store", "consumer_key", "consumer_secret", "webhook_url", "webhook_secret", "topics", "ping",
        "settings": {..., "tax_rates": [...]}, "knobs": {...}}``; creating webhooks pings them."""
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("store"), str):
            return wc_error(400, "woocommerce_sandbox_invalid", "store is required")
        try:
            store, pinged = self.add_store(data["store"], data, self._base_url(request))
        except HTTPException as exc:
            return exc.response
        response = wc_response(store.summary(), 201)
        response.after = self._pinger(store, pinged)
        return response

    async def _c_get_store(self, store: Store, request: Request) -> Response:
        return wc_response(store.summary())

    async def _c_create_order(self, store: Store, request: Request) -> Response:
        data = self._body(request)
        existed = (
            isinstance(data, dict) and str(data.get("id", "")).isdigit() and int(data["id"]) in store.orders
        )
        try:
            record = self.place(store, data)
        except HTTPException as exc:
            return exc.response
        response = wc_response(record.doc, 201)
        if self._notify(request):
            topic = "order.updated" if existed else "order.created"
            response.after = self._sender(store, self._events(store, topic, [record]))
        return response

    async def _c_bulk_orders(self, store: Store, request: Request) -> Response:
        """Fast seeding, without webhooks unless ``"notify": true``: ``{"orders": [...]}``, or ``{"count":
        N, "template": {...}, "start_gmt": "...", "interval_seconds": 60}`` (the template's amounts are
        computed once; ``{n}`` in its billing e-mail becomes the order's index)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return wc_error(400, "woocommerce_sandbox_invalid", "Body must be a JSON object")
        try:
            records = self._bulk(store, data)
        except HTTPException as exc:
            return exc.response
        body = {"created": len(records), "ids": [r.id for r in records]}
        response = wc_response(body, 201)
        if data.get("notify") is True:
            response.after = self._sender(store, self._events(store, "order.created", records))
        return response

    def _bulk(self, store: Store, data: dict[str, Any]) -> list[OrderRecord]:
        if isinstance(data.get("orders"), list):
            return [self.place(store, item) for item in data["orders"]]
        count = to_int(data.get("count", 0), "count")
        template = data.get("template", {})
        if not isinstance(template, dict):
            raise _invalid("template must be an object")
        start = parse_gmt(data["start_gmt"], "start_gmt") if "start_gmt" in data else now_gmt()
        step = timedelta(seconds=to_int(data.get("interval_seconds", 0), "interval_seconds"))
        calculated = Calculator(store.settings, store.rates, build_spec(template, store.settings)).run()
        records = []
        email = str((template.get("billing") or {}).get("email", ""))
        for n in range(count):
            moment = (start + n * step).replace(tzinfo=None).isoformat()
            item = {k: v for k, v in template.items() if k not in ("id", "number")}
            item.update(date_created_gmt=moment)
            if "{n}" in email:
                item["billing"] = {**template["billing"], "email": email.replace("{n}", str(n))}
            records.append(self.place(store, item, calculated))
        return records

    def _order(self, store: Store, order_id: str) -> OrderRecord:
        record = store.orders.get(int(order_id)) if order_id.isdigit() else None
        if record is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
        return record

    async def _c_patch_order(self, store: Store, request: Request, order_id: str) -> Response:
        """Change fields (``status``, ``billing``, ``line_items``, ``coupon_lines``, ``meta_data``...);
        ``notify=false`` sends no ``order.updated``."""
        try:
            record = self.update(store, self._order(store, order_id).id, self._body(request))
        except HTTPException as exc:
            return exc.response
        response = wc_response(record.doc)
        if self._notify(request):
            response.after = self._sender(store, self._events(store, "order.updated", [record]))
        return response

    async def _c_delete_order(self, store: Store, request: Request, order_id: str) -> Response:
        """Trash the order (status ``trash``, topic ``order.deleted``), or remove it with ``force=true``."""
        try:
            record = self._order(store, order_id)
        except HTTPException as exc:
            return exc.response
        if request.query.get("force", "false").lower() in ("true", "1"):
            store.remove(record.id)
            return wc_response(record.doc)
        if record.status == "trash":
            return wc_error(
                410, "woocommerce_rest_already_trashed", "The shop_order has already been deleted."
            )
        record = self.update(store, record.id, {"status": "trash"})
        response = wc_response(record.doc)
        response.after = self._sender(store, self._events(store, "order.deleted", [record]))
        return response

    async def _c_delete_product(self, store: Store, request: Request, product_id: str) -> Response:
        if not product_id.isdigit():
            return wc_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return wc_response(
            {"product_id": int(product_id), "orders": self.delete_product(store, int(product_id))}
        )

    async def _c_webhooks(self, store: Store, request: Request) -> Response:
        return wc_response([hook.control_view(store) for hook in store.webhooks.values()])

    async def _c_change_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        """Set a webhook's ``status`` (e.g. active again after it was disabled), URL or secret."""
        try:
            hook = self._webhook(store, webhook_id)
            changes = self._body(request)
            if not isinstance(changes, dict):
                raise _invalid("Body must be a JSON object")
            self._change_webhook(hook, changes)
        except HTTPException as exc:
            return exc.response
        return wc_response(hook.control_view(store))

    async def _c_ping(self, store: Store, request: Request, webhook_id: str) -> Response:
        try:
            hook = self._webhook(store, webhook_id)
        except HTTPException as exc:
            return exc.response
        response = wc_response({"queued": 1}, 202)
        response.after = self._pinger(store, [hook])
        return response

    async def _c_resend(self, store: Store, request: Request) -> Response:
        """Deliver an order again as it is now: ``{"order_id": N, "topic": "order.updated"}`` (a new
        delivery, whatever ``webhooks_enabled`` says)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return wc_error(400, "woocommerce_sandbox_invalid", "Body must be a JSON object")
        topic = data.get("topic", "order.updated")
        try:
            record = self._order(store, str(data.get("order_id", "")))
        except HTTPException as exc:
            return exc.response
        hooks = [h for h in store.webhooks.values() if h.topic == topic and h.status == "active"]
        if not hooks:
            return wc_error(409, "woocommerce_sandbox_no_webhook", f"No active webhook for {topic}")
        response = wc_response({"queued": len(hooks)}, 202)
        response.after = self._sender(
            store, [(hook, topic, record.id, payload(topic, record)) for hook in hooks]
        )
        return response

    async def _c_flush(self, store: Store, request: Request) -> Response:
        """Send the delivery ``out_of_order_webhooks`` is holding back, if any."""
        held, store.held = store.held, None
        response = wc_response({"sent": int(held is not None)}, 202)
        if held is not None:
            response.after = lambda: self._webhook_sender.spawn(self._send_all(store, [held]))
        return response

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.stores)

    async def _p_index(self, request: Request) -> Response:
        rows = [
            (
                name,
                len(store.orders),
                ", ".join(sorted({hook.delivery_url for hook in store.webhooks.values()})),
            )
            for name, store in self.stores.items()
        ]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_store(self, store: Store, request: Request) -> Response:
        orders = [_order_row(record.doc) for record in pages.newest(store.orders.values())]
        return PAGES.page(request, store.name, pages.orders(orders, len(store.orders)))


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as ``GET orders/{id}`` shows it, as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    billing = order["billing"]
    name = " ".join(part for key in ("first_name", "last_name", "company") if (part := billing.get(key)))
    total = f"{order['total']} {order['currency']}"
    return (
        order["id"],
        order["number"],
        order["date_created"],
        name,
        billing.get("email"),
        order["status"],
        total,
    )
