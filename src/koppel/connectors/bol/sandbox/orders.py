"""Orders and shipments: ``GET /retailer/orders``, ``GET /retailer/orders/{order-id}``,
``PUT /retailer/orders/cancellation``, ``GET /retailer/shipments``, ``POST /retailer/shipments`` and
``GET /retailer/shipments/{shipment-id}``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from koppel.sandbox.http import Response

from . import build, problems, render
from .core import Core
from .gate import Call
from .state import HANDLED_VISIBLE, HISTORY, PAGE_SIZE, Item, Order, Shop, now

MOCKED = "This is a mocked process status."
REASONS = (
    "OUT_OF_STOCK",
    "REQUESTED_BY_CUSTOMER",
    "BAD_CONDITION",
    "HIGHER_SHIPCOST",
    "INCORRECT_PRICE",
    "NOT_AVAIL_IN_TIME",
    "NO_BOL_GUARANTEE",
    "ORDERED_TWICE",
    "RETAIN_ITEM",
    "TECH_ISSUE",
    "UNFINDABLE_ITEM",
    "OTHER",
)


def listing(key: str, rows: list[dict[str, Any]], page: int) -> Response:
    """Page ``page`` (50 a page) of ``rows`` under ``key``; an empty page is ``{ }``."""
    chunk = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return problems.body({key: chunk} if chunk else {})


def accepted(
    core: Core, call: Call, entity: str, event: str, description: str, effect: Any = None
) -> Response:
    """202 and a process status; in the demo environment nothing changes (a mocked process status)."""
    if call.demo:
        process = core.start_process(call.data, entity, event, MOCKED)
    else:
        process = core.start_process(call.shop, entity, event, description, effect)
    return problems.body(render.process_status(process, call.shared), 202)


class Orders:
    def __init__(self, core: Core) -> None:
        self.core = core

    # ------------------------------------------------------------------ orders

    async def list_orders(self, call: Call) -> Response:
        page = call.page()
        method = call.choice("fulfilment-method", ("FBR", "FBB", "ALL"), "FBR")
        status = call.choice("status", ("OPEN", "SHIPPED", "ALL"), "OPEN")
        interval = self._interval(call)
        latest = self._latest_change_date(call)
        vvb = call.request.query.get("vvb-only", "false").lower() == "true"
        moment = now()

        def wanted(item: Item) -> bool:
            if method != "ALL" and item.method != method:
                return False
            if (status == "OPEN" and item.status != "OPEN") or (
                status == "SHIPPED" and not item.quantity_shipped
            ):
                return False
            if interval is not None and moment - item.changed > timedelta(minutes=interval):
                return False
            if latest is not None:
                return item.changed.date() == latest
            return item.status == "OPEN" or moment - item.changed <= HANDLED_VISIBLE

        rows = []
        for order in sorted(call.data.orders.values(), key=lambda o: o.placed):  # stable: as placed
            items = [item for item in order.items if wanted(item)] if order.vvb or not vvb else []
            if items:
                rows.append(render.reduced_order(order, items))
        return listing("orders", rows, page)

    @staticmethod
    def _interval(call: Call) -> int | None:
        raw = call.request.query.get("change-interval-minute")
        if raw is None:
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= 60:
            reason = f"Request contains invalid value(s): '{raw}', must be between 1 and 60."
            raise problems.invalid(call.instance, "change-interval-minute", reason)
        return int(raw)

    @staticmethod
    def _latest_change_date(call: Call) -> date | None:
        raw = call.request.query.get("latest-change-date")
        if raw is None:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
        if day is None or day > now().date() or now().date() - day > HISTORY:
            reason = (
                f"Request contains invalid value(s): '{raw}', must be a date (YYYY-MM-DD) within 3 months."
            )
            raise problems.invalid(call.instance, "latest-change-date", reason)
        return day

    async def get_order(self, call: Call, order_id: str) -> Response:
        order = call.data.orders.get(order_id)
        if order is None:
            raise problems.not_found(call.instance, f"Order for order id {order_id} not found.")
        return problems.body(render.order(order))

    async def cancel(self, call: Call) -> Response:
        data = call.json_body()
        wanted = _list_of(call, data, "orderItems")
        items: list[tuple[str, str]] = []
        for entry in wanted:
            item_id, reason = str(entry.get("orderItemId") or ""), str(entry.get("reasonCode") or "")
            if not item_id:
                raise problems.invalid(call.instance, "orderItems[].orderItemId", "must not be empty")
            if reason not in REASONS:
                raise problems.invalid(
                    call.instance, "orderItems[].reasonCode", problems.choice_reason(reason, REASONS)
                )
            items.append((item_id, reason))
        _same_order(call, call.data, [item_id for item_id, _ in items])
        shop = call.shop

        def effect() -> str | None:
            for item_id, reason in items:
                found = shop.items.get(item_id)
                if found is None:
                    return f"Order item {item_id} not found."
                try:
                    build.cancel(found[1], by_customer=reason == "REQUESTED_BY_CUSTOMER")
                except ValueError as exc:
                    return str(exc)
            return None

        entity = items[0][0]
        return accepted(self.core, call, entity, "CANCEL_ORDER", f"Cancel order item {entity}.", effect)

    # ------------------------------------------------------------------ shipments

    async def list_shipments(self, call: Call) -> Response:
        page = call.page()
        order_id = call.request.query.get("order-id")
        method = call.choice("fulfilment-method", ("FBR", "FBB"), None if order_id else "FBR")
        oldest = now() - HISTORY
        found = [
            s
            for s in call.data.shipments.values()
            if s.shipped >= oldest
            and (order_id is None or s.order.order_id == order_id)
            and (method is None or s.lines[0].item.method == method)
        ]
        found = sorted(reversed(found), key=lambda s: s.shipped, reverse=True)  # newest first, ties too
        return listing("shipments", [render.reduced_shipment(s) for s in found], page)

    async def get_shipment(self, call: Call, shipment_id: str) -> Response:
        found = call.data.shipments.get(shipment_id)
        if found is None:
            raise problems.not_found(call.instance, f"Shipment for shipment id {shipment_id} not found.")
        return problems.body(render.shipment(found))

    async def create_shipment(self, call: Call) -> Response:
        data = call.json_body()
        wanted = _list_of(call, data, "orderItems")
        lines: list[tuple[str, int | None]] = []
        for entry in wanted:
            item_id, quantity = str(entry.get("orderItemId") or ""), entry.get("quantity")
            if not item_id:
                raise problems.invalid(call.instance, "orderItems[].orderItemId", "must not be empty")
            if quantity is not None and (
                not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1
            ):
                raise problems.invalid(call.instance, "orderItems[].quantity", "must be a positive integer")
            lines.append((item_id, quantity))
        options = _shipment_options(call, data)
        _same_order(call, call.data, [item_id for item_id, _ in lines])
        shop = call.shop

        def effect() -> str | None:
            return self._ship(shop, lines, options)

        entity = lines[0][0]
        return accepted(
            self.core, call, entity, "CREATE_SHIPMENT", f"Create shipment for order item {entity}.", effect
        )

    def _ship(self, shop: Shop, lines: list[tuple[str, int | None]], options: dict[str, Any]) -> str | None:
        wanted: list[tuple[Item, int]] = []
        order: Order | None = None
        for item_id, quantity in lines:
            found = shop.items.get(item_id)
            if found is None:
                return f"Order item {item_id} not found."
            order, item = found
            if item.method == "FBB":
                return f"Order item {item_id} is fulfilled by bol.com and cannot be shipped by the retailer."
            wanted.append((item, quantity if quantity is not None else item.open))
        assert order is not None
        try:
            shipment = build.ship(order, wanted, self.core.ids, **options)
        except ValueError as exc:
            return str(exc)
        shop.add_shipment(shipment)
        self.core.push(shop, "SHIPMENT", "UPDATE_TRANSPORT_EVENT", shipment.shipment_id)
        return None


def _list_of(call: Call, data: Any, key: str) -> list[dict[str, Any]]:
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise problems.invalid(call.instance, key, "must not be empty")
    return entries


def _same_order(call: Call, shop: Shop, item_ids: list[str]) -> None:
    orders = {shop.items[i][0].order_id for i in item_ids if i in shop.items}
    if len(orders) > 1:
        raise problems.invalid(call.instance, "orderItems", "Order item id's must belong to the same order.")


def _shipment_options(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    reference = data.get("shipmentReference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 90):
        raise problems.invalid(call.instance, "shipmentReference", "size must be between 0 and 90")
    transport = data.get("transport")
    options: dict[str, Any] = {"reference": reference, "shipping_label_id": data.get("shippingLabelId")}
    if transport is not None:
        if not isinstance(transport, dict) or not transport.get("transporterCode"):
            raise problems.invalid(call.instance, "transport.transporterCode", "must not be empty")
        options["transporter_code"] = str(transport["transporterCode"])
        options["track_and_trace"] = transport.get("trackAndTrace")
    return options
