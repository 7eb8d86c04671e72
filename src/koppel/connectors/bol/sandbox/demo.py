"""The demo environment's data (``/bol/retailer-demo``, ``/bol/shared-demo``): like bol's demo, one fixed
data set that every client sees, with the ids of bol's demo pages; writes are validated like production
and answered with a mocked process status, and change nothing."""

from __future__ import annotations

from datetime import timedelta

from . import build
from .state import Ids, InvoiceRequest, Shop, now

ORDERS = {
    "1042823870": [
        ("8785056370398", "Star Wars Prequel Trilogy", 1, "19.99", "FBB"),
        ("8717418510749", "Star Wars - The happy family 2", 1, "32.98", "FBB"),
    ],
    "7616222700": [("8712626055143", "Star Wars - The happy family", 2, "22.98", "FBR")],
    "7616222250": [("8712626055150", "Star Wars - Original Trilogy", 3, "34.99", "FBR")],
}
SHIPPED_ORDER = "7616222250"
SHIPMENT_ID = "914587795"
CUSTOMER = {
    "salutation": "MALE",
    "first_name": "Hans",
    "surname": "de Grote",
    "street_name": "Skywalkerstraat",
    "house_number": "199",
    "zip_code": "1234AB",
    "city": "PLATOONDORP",
    "country_code": "NL",
    "language": "nl",
}
BILLING = {
    **CUSTOMER,
    "first_name": "Pieter",
    "surname": "Post",
    "house_number": "21",
    "house_number_extension": "X",
    "company": "Pieter Post",
    "vat_number": "NL123456789B01",
    "kvk_number": "99887766",
    "order_reference": "Mijn order ref",
}


def demo_shop() -> Shop:
    ids = Ids(1)
    shop = Shop("demo", "demo", "", 1234567)
    placed = now() - timedelta(days=1)
    for order_id, lines in ORDERS.items():
        items = [
            {"ean": ean, "title": title, "quantity": qty, "unit_price": price, "fulfilment": method}
            for ean, title, qty, price, method in lines
        ]
        body = {"items": items, "customer": CUSTOMER, "billing": BILLING, "placed_at": placed.isoformat()}
        order = build.build_order(body, ids)
        order.order_id = order_id
        shop.add_order(order)
    order = shop.orders[SHIPPED_ORDER]
    shipment = build.ship(
        order, [(order.items[0], 3)], ids, shipped=placed + timedelta(hours=2), reference="Shipment1"
    )
    shipment.shipment_id = SHIPMENT_ID
    shop.add_shipment(shipment)
    shop.invoice_requests[SHIPMENT_ID] = InvoiceRequest(
        shipment, "3004850316", [("INVOICE_REQUESTED", placed + timedelta(hours=3))]
    )
    shop.knobs.process_delay_ms = 0
    return shop
