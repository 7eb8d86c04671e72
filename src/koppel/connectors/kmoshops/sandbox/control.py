"""The control API (``/_sandbox/kmoshops``) and the pages for people."""

from __future__ import annotations

from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.control import TenantControl, json_body, notify
from koppel.sandbox.http import Request, Response, Router

from .common import (
    EVENTS,
    ORDER_FORM,
    PAGES,
    _bad_request,
    error,
)
from .state import Shop


class ControlApi(TenantControl):
    """The control API and the pages for people, mixed into the sandbox."""

    def tenant_missing(self, name: str) -> Response:
        return error(404, f"Shop {name} not found")

    def bad_request(self, message: str) -> Response:
        return error(400, message)

    def knob_changes(self, request: Request) -> Any:
        return self._body(request)

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/shops", self._c_put_shop)
        r.get("/shops/{shop}", self._control(self._c_get_shop))
        r.post("/shops/{shop}/orders", self._control(self._c_create_order))
        r.post("/shops/{shop}/orders/bulk", self._control(self._c_bulk_orders))
        r.patch("/shops/{shop}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/shops/{shop}/orders/{order_id}", self._control(self._c_delete_order))
        self.add_log_routes(r, deliveries="webhooks")
        r.post("/shops/{shop}/webhooks/resend", self._control(self._c_resend))
        r.get("/page", self._p_index)
        r.get("/shops/{shop}/page", self._control(self._p_shop))
        r.post("/shops/{shop}/page/orders", self._control(self._p_place_order))
        return r

    @staticmethod
    def _body(request: Request) -> Any:
        return json_body(request, _bad_request)

    async def _c_put_shop(self, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("shop"), str):
            return error(400, "shop is required")
        try:
            shop = self.add_shop(
                data["shop"],
                api_key=data.get("api_key"),
                webhook_url=(data["webhook_url"] or "") if "webhook_url" in data else None,
                webhook_secret=data.get("webhook_secret"),
                knobs=data.get("knobs"),
            )
        except ValueError as exc:
            return error(400, str(exc))
        return Response.json(shop.summary(self._base_url(request)), 201)

    async def _c_get_shop(self, shop: Shop, request: Request) -> Response:
        return Response.json(shop.summary(self._base_url(request)))

    async def _c_create_order(self, shop: Shop, request: Request) -> Response:
        order, event = self.add_order(shop, self._body(request))
        response = Response.json(order, 201)
        if notify(request):
            response.after = self._webhooks(shop, [(event, order["id"])])
        return response

    async def _c_bulk_orders(self, shop: Shop, request: Request) -> Response:
        """Fast seeding: ``{"orders": [...], "notify": false}``; notify defaults to false here."""
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
            return error(400, "orders must be a list")
        events = [self.add_order(shop, item) for item in data["orders"]]
        response = Response.json({"created": len(events), "ids": [order["id"] for order, _ in events]}, 201)
        if data.get("notify") is True:
            response.after = self._webhooks(shop, [(event, order["id"]) for order, event in events])
        return response

    async def _c_patch_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        changes = self._body(request)
        if not isinstance(changes, dict):
            return error(400, "Body must be a JSON object")
        if not order_id.isdigit():
            return error(404, f"Order {order_id} not found")
        order = self.update_order(shop, int(order_id), changes)
        response = Response.json(order)
        if notify(request):
            response.after = self._webhooks(shop, [("order.updated", order["id"])])
        return response

    async def _c_delete_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit() or shop.remove(int(order_id)) is None:
            return error(404, f"Order {order_id} not found")
        return Response.empty()

    async def _c_resend(self, shop: Shop, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict):
            return error(400, "Body must be a JSON object")
        event = data.get("event", "order.updated")
        order_id = str(data.get("order_id", ""))
        if event not in EVENTS:
            return error(400, f"event must be one of {', '.join(EVENTS)}")
        if not order_id.isdigit():
            return error(400, "order_id must be an order id")
        if not shop.webhook_url:
            return error(409, f"Shop {shop.name} has no webhook_url")
        response = Response.json({"queued": 1}, 202)
        response.after = self._webhooks(shop, [(event, int(order_id))], resend=True)
        return response

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.shops)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(shop.orders), shop.webhook_url) for name, shop in self.shops.items()]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_shop(self, shop: Shop, request: Request) -> Response:
        orders = [_order_row(order) for order in pages.newest(shop.orders.values())]
        action = PAGES.path(shop.name, "page", "orders")
        return PAGES.page(
            request,
            shop.name,
            pages.orders(orders, len(shop.orders)),
            pages.section("Place an order", pages.form(action, ORDER_FORM, "Place order")),
        )

    async def _p_place_order(self, shop: Shop, request: Request) -> Response:
        """The "Place order" form: an order of one line and no shipping, placed as ``POST orders`` places
        it, its webhook included."""
        back = PAGES.of(shop.name)
        given = pages.form_data(request)
        quantity = given.get("quantity", "")
        try:
            if not quantity.isdigit() or int(quantity) < 1:
                raise ValueError(f"Quantity: {quantity!r} is not a whole number from 1 up")
            price = pages.number(given.get("price", ""), "Unit price")
            rate = f"{pages.number(given.get('vat_rate', ''), 'VAT rate', below=100):.2f}"
        except ValueError as exc:
            return pages.error(request, str(exc), back)
        customer = {
            "firstname": given.get("first_name", ""),
            "lastname": given.get("last_name", ""),
            "email": given.get("email", ""),
            "country": given.get("country", "").upper(),
        }
        line = {"description": given.get("product", ""), "amount": int(quantity), "price": f"{price:.2f}"}
        order, event = self.add_order(
            shop,
            {
                "status": given.get("status") or "paid",
                "customer": customer,
                "lines": [{**line, "tax_rate": rate}],
                "shipping": None,
            },
        )
        response = pages.redirect(back)
        response.after = self._webhooks(shop, [(event, order["id"])])
        return response


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    customer = order["customer"]
    name = " ".join(str(part) for key in ("firstname", "lastname", "company") if (part := customer[key]))
    return (
        order["id"],
        order["number"],
        order["created_at"],
        name,
        customer["email"],
        order["status"],
        order["total"],
    )
