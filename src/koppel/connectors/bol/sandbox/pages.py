"""Pages for people (:mod:`koppel.sandbox.pages`): ``/_sandbox/bol/page`` lists the retailer accounts,
``/_sandbox/bol/shops/{shop}/page`` a shop's newest orders, shipments and invoice requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from koppel.sandbox import pages
from koppel.sandbox.http import Request, Response

from .state import Order, Shop, stamp

if TYPE_CHECKING:
    from .core import Core

PAGES = pages.Pages("bol.com", "bol", "shops")
SHOP_HEADERS = ("Shop", "Orders", "Shipments", "Subscriptions")
SHIPMENT_HEADERS = ("Shipment", "Order", "Date", "Items", "Transport", "Invoice")
REQUEST_HEADERS = ("Shipment", "Order", "Customer", "Status", "Since")


def _order_row(order: Order) -> tuple[object, ...]:
    details = order.billing_details
    name = " ".join(filter(None, (details.get("firstName"), details.get("surname"), details.get("company"))))
    methods = "/".join(sorted({item.method for item in order.items}))
    status = ", ".join(f"{i.quantity}x {i.status.lower()}" for i in order.items) + f" ({methods})"
    total = sum(item.total_price for item in order.items)
    return (
        order.order_id,
        order.order_id,
        stamp(order.placed),
        name,
        details.get("email"),
        status,
        f"{total} EUR",
    )


class Pages:
    def __init__(self, core: Core) -> None:
        self.core = core

    def links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.core.shops)

    async def index(self, request: Request) -> Response:
        rows = [
            (n, len(s.orders), len(s.shipments), len(s.subscriptions)) for n, s in self.core.shops.items()
        ]
        return PAGES.index(request, SHOP_HEADERS, rows)

    async def shop(self, shop: Shop, request: Request) -> Response:
        orders = [_order_row(o) for o in pages.newest(shop.orders.values())]
        uploaded = {u.shipment_id: u.status for u in shop.uploads}
        shipments = [
            (
                s.shipment_id,
                s.order.order_id,
                stamp(s.shipped),
                ", ".join(f"{ln.quantity}x {ln.item.title}" for ln in s.lines),
                f"{s.transporter_code} {s.track_and_trace or ''}",
                uploaded.get(s.shipment_id, ""),
            )
            for s in pages.newest(shop.shipments.values())
        ]
        requests = [
            (
                r.shipment.shipment_id,
                r.shipment.order.order_id,
                r.shipment.order.billing_details.get("surname"),
                r.status,
                stamp(r.transitions[-1][1]),
            )
            for r in pages.newest(shop.invoice_requests.values())
        ]
        return PAGES.page(
            request,
            shop.name,
            pages.orders(orders, len(shop.orders)),
            pages.section("Shipments", pages.table(SHIPMENT_HEADERS, shipments, len(shop.shipments))),
            pages.section(
                "Invoice requests", pages.table(REQUEST_HEADERS, requests, len(shop.invoice_requests))
            ),
        )
