"""The control API under ``/_sandbox/bol``: retailer accounts, orders placed, shipped, cancelled and
returned as a customer and bol would (returns: :mod:`.return_control`), invoice requests, knobs, the
request log, push deliveries, uploaded invoices."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from koppel.sandbox.http import HTTPException, Request, Response, Router

from . import build, invoice_state, render
from .core import Core
from .pages import Pages
from .return_control import ReturnControl
from .state import InvoiceRequest, Item, Shop, stamp

Handler = Callable[..., Awaitable[Response]]


def fail(status: int, message: str) -> HTTPException:
    return HTTPException(Response.json({"error": message}, status))


def _body(request: Request) -> Any:
    try:
        return request.json() if request.body else {}
    except ValueError:
        raise fail(400, "Body is not valid JSON") from None


def _object(request: Request) -> dict[str, Any]:
    data = _body(request)
    if not isinstance(data, dict):
        raise fail(400, "Body must be a JSON object")
    return data


class Control:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.pages = Pages(core)
        self.returns = ReturnControl(core)

    def router(self) -> Router:
        r = Router()
        r.post("/shops", self._put_shop)
        r.post("/signature-keys/rotate", self._rotate)
        shop_routes: list[tuple[str, str, Handler]] = [
            ("GET", "", self._get_shop),
            ("POST", "/orders", self._place),
            ("GET", "/orders/{order_id}", self._get_order),
            ("POST", "/orders/{order_id}/ship", self._ship),
            ("POST", "/orders/{order_id}/cancel", self._cancel),
            ("POST", "/orders/{order_id}/return", self.returns.returned),
            ("GET", "/returns/{return_id}", self.returns.get),
            ("POST", "/returns/{rma_id}/handle", self.returns.handle),
            ("GET", "/shipments/{shipment_id}", self._get_shipment),
            ("POST", "/shipments/{shipment_id}/invoice-request", self._invoice_request),
            ("GET", "/invoices", self._invoices),
            ("POST", "/invoices", self._issue_invoice),
            ("GET", "/invoices/issued", self._issued_invoices),
            ("GET", "/invoices/{shipment_id}", self._invoice_pdf),
            ("GET", "/knobs", self._get_knobs),
            ("POST", "/knobs", self._set_knobs),
            ("GET", "/requests", self._requests),
            ("DELETE", "/requests", self._clear_requests),
            ("GET", "/deliveries", self._deliveries),
            ("DELETE", "/deliveries", self._clear_deliveries),
            ("GET", "/tokens", self._tokens),
            ("DELETE", "/tokens", self._revoke_tokens),
            ("GET", "/processes", self._processes),
            ("GET", "/page", self.pages.shop),
        ]
        for method, path, handler in shop_routes:
            r.route(
                "/shops/{shop}" + path,
                (method, "HEAD") if method == "GET" else (method,),
                self._with_shop(handler),
            )
        r.get("/page", self.pages.index)
        return r

    def _with_shop(self, handler: Handler) -> Handler:
        async def endpoint(request: Request, shop: str, **params: str) -> Response:
            found = self.core.shops.get(shop)
            if found is None:
                return Response.json({"error": f"Shop {shop} not found"}, 404)
            self.core.settle(found)
            try:
                return await handler(found, request, **params)
            except ValueError as exc:
                return Response.json({"error": str(exc)}, 400)

        return endpoint

    def _base(self, request: Request) -> str:
        return self.core.base_url(request.headers.get("host"))

    async def _put_shop(self, request: Request) -> Response:
        data = _object(request)
        name = data.get("shop")
        if not isinstance(name, str):
            return Response.json({"error": "shop is required"}, 400)
        existed = name in self.core.shops
        try:
            shop = self.core.add_shop(name, **{k: v for k, v in data.items() if k != "shop"})
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json(shop.summary(self._base(request)), 200 if existed else 201)

    async def _rotate(self, request: Request) -> Response:
        self.core.keys.rotate()
        return Response.json(self.core.keys.key_set())

    async def _get_shop(self, shop: Shop, request: Request) -> Response:
        return Response.json(shop.summary(self._base(request)))

    @staticmethod
    def _notify(request: Request) -> bool:
        return request.query.get("notify", "true").lower() not in ("false", "0", "no")

    async def _place(self, shop: Shop, request: Request) -> Response:
        order = build.build_order(_body(request), self.core.ids)
        shop.add_order(order)
        if self._notify(request):
            self.core.push(shop, "ORDER", "ORDER_CREATED", order.order_id)
        return Response.json({"order": render.order(order)}, 201)

    def _order(self, shop: Shop, order_id: str):
        order = shop.orders.get(order_id)
        if order is None:
            raise fail(404, f"Order {order_id} not found")
        return order

    async def _get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        return Response.json({"order": render.order(self._order(shop, order_id))})

    def _items(self, order: Any, given: Any, *, open_only: bool = True) -> list[tuple[Item, int]]:
        """``[{"order_item_id", "quantity"}]`` (or bare ids) → (item, quantity); none given: all open."""
        if given is None:
            return [(item, item.open) for item in order.items if item.open > 0 or not open_only]
        if not isinstance(given, list):
            raise ValueError("items must be a list")
        out = []
        for entry in given:
            item_id = str(entry.get("order_item_id") if isinstance(entry, dict) else entry)
            item = order.item(item_id)
            if item is None:
                raise ValueError(f"Order item {item_id} is not in order {order.order_id}")
            quantity = entry.get("quantity", item.open) if isinstance(entry, dict) else item.open
            out.append((item, quantity))
        return out

    async def _ship(self, shop: Shop, request: Request, order_id: str) -> Response:
        """bol (FBB) or the retailer (FBR) ships items at once: a shipment and its SHIPMENT push."""
        data = _object(request)
        order = self._order(shop, order_id)
        wanted = [(item, qty) for item, qty in self._items(order, data.get("items")) if qty]
        if not wanted:
            raise ValueError(f"Order {order_id} has nothing open to ship")
        if len({item.method for item, _ in wanted}) > 1:
            raise ValueError("A shipment holds FBR or FBB items, not both")
        shipment = build.ship(
            order,
            wanted,
            self.core.ids,
            shipped=build.moment(data.get("shipped_at"), "shipped_at") if data.get("shipped_at") else None,
            reference=data.get("shipment_reference"),
            transporter_code=data.get("transporter_code"),
            track_and_trace=data.get("track_and_trace"),
        )
        shop.add_shipment(shipment)
        if self._notify(request):
            self.core.push(shop, "SHIPMENT", "UPDATE_TRANSPORT_EVENT", shipment.shipment_id)
        return Response.json({"shipment": render.shipment(shipment)}, 201)

    async def _cancel(self, shop: Shop, request: Request, order_id: str) -> Response:
        """The customer cancels: ``request_only`` just asks (``cancellationRequest: true``, the retailer
        confirms
        through ``PUT /retailer/orders/cancellation``); otherwise the open quantity is cancelled at once."""
        data = _object(request)
        order = self._order(shop, order_id)
        at = build.moment(data.get("at"), "at") if data.get("at") else None
        items = [item for item, _ in self._items(order, data.get("items"))]
        if not items:
            raise ValueError(f"Order {order_id} has nothing open to cancel")
        for item in items:
            if data.get("request_only"):
                item.cancellation_request = True
                item.changed = at or build.now()
            else:
                build.cancel(item, at, by_customer=True)
        if self._notify(request):
            self.core.push(shop, "ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", order.order_id)
        return Response.json({"order": render.order(order)})

    async def _get_shipment(self, shop: Shop, request: Request, shipment_id: str) -> Response:
        found = shop.shipments.get(shipment_id)
        if found is None:
            raise fail(404, f"Shipment {shipment_id} not found")
        return Response.json({"shipment": render.shipment(found)})

    async def _invoice_request(self, shop: Shop, request: Request, shipment_id: str) -> Response:
        """The customer asks for an invoice for a shipment (status INVOICE_REQUESTED)."""
        data = _object(request)
        found = shop.shipments.get(shipment_id)
        if found is None:
            raise fail(404, f"Shipment {shipment_id} not found")
        at = build.moment(data.get("requested_at"), "requested_at")
        account = str(data.get("customer_account_number") or self.core.ids.number(10, "3"))
        item = InvoiceRequest(found, account, [("INVOICE_REQUESTED", at)])
        shop.invoice_requests[shipment_id] = item
        return Response.json({"invoice_request": render.invoice_request(item)}, 201)

    async def _invoices(self, shop: Shop, request: Request) -> Response:
        rows = [
            {
                "shipment_id": u.shipment_id,
                "filename": u.filename,
                "content_type": u.content_type,
                "size": len(u.body),
                "sha256": hashlib.sha256(u.body).hexdigest(),
                "uploaded_at": stamp(u.uploaded),
                "process_status_id": u.process_id,
                "status": u.status,
            }
            for u in shop.uploads
        ]
        return Response.json({"invoices": rows})

    async def _issue_invoice(self, shop: Shop, request: Request) -> Response:
        """bol issues one of its own invoices to the retailer (the body of :mod:`.invoice_state`)."""
        invoice = invoice_state.issue(shop, _object(request), self.core.ids)
        return Response.json({"invoice": invoice_state.issued(invoice)}, 201)

    async def _issued_invoices(self, shop: Shop, request: Request) -> Response:
        rows = [invoice_state.issued(i) for i in shop.retailer_invoices.values()]
        return Response.json({"invoices": rows})

    async def _invoice_pdf(self, shop: Shop, request: Request, shipment_id: str) -> Response:
        found = [u for u in shop.uploads if u.shipment_id == shipment_id]
        if not found:
            raise fail(404, f"No invoice uploaded for shipment {shipment_id}")
        return Response(200, found[-1].body, {}, "application/pdf")

    async def _get_knobs(self, shop: Shop, request: Request) -> Response:
        return Response.json(asdict(shop.knobs))

    async def _set_knobs(self, shop: Shop, request: Request) -> Response:
        shop.knobs.update(_body(request))
        return Response.json(asdict(shop.knobs))

    async def _requests(self, shop: Shop, request: Request) -> Response:
        return Response.json({"requests": list(shop.requests)})

    async def _clear_requests(self, shop: Shop, request: Request) -> Response:
        shop.requests.clear()
        return Response.empty()

    async def _deliveries(self, shop: Shop, request: Request) -> Response:
        """The push delivery log; ``?wait_for=N&timeout=5`` first waits until N attempts have been logged."""
        await shop.deliveries.wait_as_asked(request.query)
        return Response.json({"deliveries": list(shop.deliveries)})

    async def _clear_deliveries(self, shop: Shop, request: Request) -> Response:
        shop.deliveries.clear()
        return Response.empty()

    async def _tokens(self, shop: Shop, request: Request) -> Response:
        import time

        moment = time.time()
        live = [{"expires_in": round(until - moment, 3)} for until in shop.tokens.values() if until > moment]
        return Response.json({"tokens": live, "token_requests_last_minute": len(shop.token_requests)})

    async def _revoke_tokens(self, shop: Shop, request: Request) -> Response:
        self.core.revoke_tokens(shop)
        return Response.empty()

    async def _processes(self, shop: Shop, request: Request) -> Response:
        base = f"{self._base(request)}/bol/shared"
        return Response.json({"processes": [render.process_status(p, base) for p in shop.processes.values()]})
