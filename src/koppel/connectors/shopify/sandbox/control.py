"""The control API (``/_sandbox/shopify``) and the pages for people."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.control import TenantControl, json_body, notify
from koppel.sandbox.http import Request, Response, Router

from .common import PAGES, TOPICS, _bad_request, errors
from .state import Shop


class ControlApi(TenantControl):
    """The control API and the pages for people, mixed into the sandbox."""

    def tenant_missing(self, name: str) -> Response:
        return errors(404, f"Shop {name} not found")

    def bad_request(self, message: str) -> Response:
        return errors(400, message)

    def knob_changes(self, request: Request) -> Any:
        return self._body(request)

    def update_knobs(self, shop: Shop, changes: Any) -> Callable[[], None]:
        """Releasing the held webhooks when ``out_of_order_webhooks`` is switched off."""
        was_holding = shop.knobs.out_of_order_webhooks
        shop.knobs.update(changes)
        if was_holding and not shop.knobs.out_of_order_webhooks:
            return self.release(shop)
        return lambda: None

    def deliveries_view(self, shop: Shop) -> Any:
        return {"deliveries": list(shop.deliveries), "held": len(shop.held)}

    def requests_view(self, shop: Shop) -> Any:
        return {"requests": list(shop.requests)}

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/shops", self._c_put_shop)
        r.get("/shops/{shop}", self._control(self._c_get_shop))
        r.post("/shops/{shop}/orders", self._control(self._c_create_order))
        r.post("/shops/{shop}/orders/bulk", self._control(self._c_bulk_orders))
        r.get("/shops/{shop}/orders/{order_id}", self._control(self._c_get_order))
        r.patch("/shops/{shop}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/shops/{shop}/orders/{order_id}", self._control(self._c_delete_order))
        r.get("/shops/{shop}/orders/{order_id}/refunds", self._control(self._c_refunds))
        r.post("/shops/{shop}/orders/{order_id}/refunds", self._control(self._c_create_refund))
        r.delete("/shops/{shop}/products/{product_id}", self._control(self._c_delete_product))
        self.add_log_routes(r, deliveries="webhooks")
        r.post("/shops/{shop}/webhooks/resend", self._control(self._c_resend))
        r.post("/shops/{shop}/webhooks/release", self._control(self._c_release))
        r.get("/shops/{shop}/tokens", self._control(self._c_tokens))
        r.delete("/shops/{shop}/tokens", self._control(self._c_revoke_tokens))
        r.get("/page", self._p_index)
        r.get("/shops/{shop}/page", self._control(self._p_shop))
        return r

    @staticmethod
    def _body(request: Request) -> Any:
        return json_body(request, _bad_request)

    @staticmethod
    def _notify(request: Request, default: str = "true") -> bool:
        return notify(request, default)

    async def _c_put_shop(self, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("shop"), str):
            return errors(400, {"shop": ["is required"]})
        options = {k: v for k, v in data.items() if k != "shop"}
        try:
            shop = self.add_shop(data["shop"], **options)
        except ValueError as exc:
            return errors(400, str(exc))
        return Response.json(shop.summary(self._base_url(request)), 201)

    async def _c_get_shop(self, shop: Shop, request: Request) -> Response:
        return Response.json(shop.summary(self._base_url(request)))

    async def _c_create_order(self, shop: Shop, request: Request) -> Response:
        order = self.place(shop, self._body(request))
        response = Response.json({"order": order}, 201)
        if self._notify(request):
            events = [("orders/create", order["id"])]
            if order["financial_status"] == "paid":
                events.append(("orders/paid", order["id"]))
            response.after = self._webhooks(shop, events)
        return response

    async def _c_bulk_orders(self, shop: Shop, request: Request) -> Response:
        """Fast seeding without webhooks (``"notify": true`` sends ``orders/create`` for each)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return errors(400, {"body": ["must be an object"]})
        ids = self.bulk(shop, data)
        response = Response.json({"created": len(ids), "first_id": ids[0], "last_id": ids[-1]}, 201)
        if data.get("notify") is True:
            response.after = self._webhooks(shop, [("orders/create", order_id) for order_id in ids])
        return response

    async def _c_get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        order = shop.order(int(order_id)) if order_id.isdigit() else None
        return Response.json({"order": order}) if order else errors(404, "Not Found")

    async def _c_patch_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit():
            return errors(404, "Not Found")
        order, topics = self.update(shop, int(order_id), self._body(request))
        response = Response.json({"order": order})
        if self._notify(request):
            response.after = self._webhooks(shop, [(topic, order["id"]) for topic in topics])
        return response

    async def _c_delete_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit() or not shop.remove(int(order_id)):
            return errors(404, "Not Found")
        response = Response.empty()
        if self._notify(request):
            response.after = self._webhooks(shop, [("orders/delete", int(order_id))])
        return response

    async def _c_delete_product(self, shop: Shop, request: Request, product_id: str) -> Response:
        if not product_id.isdigit():
            return errors(404, "Not Found")
        return Response.json({"orders_changed": self.delete_product(shop, int(product_id))})

    async def _c_resend(self, shop: Shop, request: Request) -> Response:
        """Send a webhook again, by default with the id of the last delivery for the order (a duplicate)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return errors(400, "Body must be a JSON object")
        topic = data.get("topic", "orders/updated")
        order_id = str(data.get("order_id", ""))
        if topic not in TOPICS:
            return errors(400, {"topic": [f"must be one of {', '.join(TOPICS)}"]})
        if not order_id.isdigit():
            return errors(400, {"order_id": ["must be an order id"]})
        if not shop.webhook_url:
            return errors(409, f"Shop {shop.name} has no webhook_url")
        webhook_id = data.get("webhook_id") or next(
            (d["webhook_id"] for d in reversed(shop.deliveries) if d["order_id"] == order_id),
            str(uuid.uuid4()),
        )
        response = Response.json({"queued": 1, "webhook_id": webhook_id}, 202)
        response.after = self._webhooks(shop, [(topic, int(order_id))], resend_id=webhook_id)
        return response

    async def _c_release(self, shop: Shop, request: Request) -> Response:
        response = Response.json({"released": len(shop.held)}, 202)
        response.after = self.release(shop)
        return response

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.shops)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(shop.raw), shop.webhook_url) for name, shop in self.shops.items()]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_shop(self, shop: Shop, request: Request) -> Response:
        orders = [_order_row(json.loads(raw)) for raw in pages.newest(shop.raw.values())]
        return PAGES.page(request, shop.name, pages.orders(orders, len(shop.raw)))

    async def _c_tokens(self, shop: Shop, request: Request) -> Response:
        return Response.json({"tokens": shop.live_tokens()})

    async def _c_revoke_tokens(self, shop: Shop, request: Request) -> Response:
        """Revoke every granted token (as uninstalling the app does); the permanent token stays."""
        shop.tokens.clear()
        return Response.empty()


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as Shopify serialises it, as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    address = order.get("billing_address") or order.get("customer") or {}
    name = " ".join(str(part) for key in ("first_name", "last_name", "company") if (part := address.get(key)))
    status = " / ".join(filter(None, (order["financial_status"], order.get("fulfillment_status"))))
    total = f"{order['total_price']} {order['currency']}"
    return order["id"], order["name"], order["created_at"], name, order.get("email"), status, total
