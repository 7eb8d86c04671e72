"""The bol.com shop of ``koppel demo`` (tag ``[bol→FS]``): a retailer account in the bol.com sandbox,
connected with the shipment source (one invoice per shipment, made when it is dispatched), its books and
food at 9% by EAN (bol.com sends no VAT) and the rest at the default 21%.

Everything a customer and bol.com do goes through the sandbox's control API (``/_sandbox/bol``): the
retailer account is made with the connection's client ID and secret, Koppel subscribes its webhook address
to bol's SHIPMENT push notifications itself (as when the connection is saved in the dashboard), and each
order is placed and then shipped, which makes bol push the shipment. The scenarios: an order shipped
whole; a bol.com promotion (a "Korting" line; the invoice totals what the customer paid); an order shipped
in two parts (two invoices, the second a few seconds later); an order of which the customer cancelled one
item (only what shipped is invoiced); an order cancelled whole before it shipped (no shipment, so nothing
to invoice: Koppel says why when asked for it); and a business customer who asks bol.com for the invoice
of a shipment, which Koppel answers by uploading the invoice's PDF from the target.

Imported by :mod:`koppel.demo`; it lists this shop in ``SANDBOX_SHOPS``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from .orders import (
    NL_BUSINESSES,
    PRODUCTS,
    Customer,
    Done,
    FollowUp,
    OrderMaker,
    PlacedOrder,
    Scenario,
)
from .shops import SANDBOX_SHOPS, SandboxShop

if TYPE_CHECKING:
    from koppel.connections.models import Connection

#: A bol.com EAN for each demo product (by SKU).
EANS = {product[0]: f"87{1000000000 + 7919 * n:011d}" for n, product in enumerate(PRODUCTS)}
#: The connection's rates per EAN: the products at 9% (everything else at the default 21%).
EAN_VAT_RATES = "; ".join(f"{EANS[sku]},9" for sku, _title, _price, rate in PRODUCTS if rate == "9.00")
PROMOTION = "Actie: 2e halve prijs"
CENTS = Decimal("0.01")

BOL_SCENARIOS = {
    s.key: s
    for s in (
        Scenario("shipped", "shipped whole: one invoice for the shipment", "handled"),
        Scenario("promotion", "a bol.com promotion: a Korting line", "handled"),
        Scenario("partial", "shipped in two parts, part 1: only what shipped is invoiced", "handled"),
        Scenario("partial-rest", "shipped in two parts, part 2: the rest, a second invoice", "handled"),
        Scenario(
            "part-cancelled", "the customer cancelled one item: the rest shipped and invoiced", "handled"
        ),
        Scenario("cancelled", "cancelled whole before it shipped", "no invoice"),
        Scenario("invoice-request", "business customer; asks bol.com for the invoice", "handled"),
    )
}
BOL_OPENING = ("promotion", "partial", "cancelled", "invoice-request", "part-cancelled", "shipped")
BOL_MIX = ("shipped",) * 3 + ("promotion",) * 2 + ("partial", "part-cancelled", "invoice-request")
#: Seconds between a first shipment and the rest, and between a booked shipment and the customer's request.
REST_SHIPS_AFTER, INVOICE_ASKED_AFTER = 8.0, 8.0
#: How long the demo watches for Koppel's upload of a requested invoice, and how often it looks.
UPLOAD_WAIT, UPLOAD_LOOK = 120.0, 2.0


def _address(customer: Customer) -> dict[str, Any]:
    return {
        "salutation": "UNKNOWN",
        "first_name": customer.firstname,
        "surname": customer.lastname,
        "street_name": customer.address1,
        "house_number": customer.house_number,
        "zip_code": customer.zipcode.replace(" ", ""),
        "city": customer.city,
        "country_code": customer.country,
        "company": customer.company or None,
    }


def _charged(order: dict[str, Any], shipped: dict[str, int]) -> Decimal:
    """What the customer paid for the shipped quantities (by order item id): unit price × quantity minus
    the item's promotion, its share when part of the item ships."""
    total = Decimal(0)
    for item in order["orderItems"]:
        count = shipped.get(item["orderItemId"], 0)
        if not count:
            continue
        unit, quantity = Decimal(str(item["unitPrice"])), item["quantity"]
        discount = sum((Decimal(str(d["amount"])) for d in item.get("discounts") or []), Decimal(0))
        share = discount if count == quantity else (discount * count / quantity).quantize(CENTS)
        total += (unit * count).quantize(CENTS) - share
    return total


class BolSandboxShop(SandboxShop):
    kind, label, control = "bol", "bol.com", "/_sandbox/bol/shops"
    webhook_log = "deliveries"
    source_settings = {"source": "shipment", "ean_vat_rates": EAN_VAT_RATES}

    def source_url(self, sandbox_url: str, shop: str) -> str:
        return f"{sandbox_url}/bol"  # one API for every retailer; the client ID says which

    def new_credentials(self) -> dict[str, str]:
        return {"client_id": str(uuid.uuid4()), "client_secret": secrets.token_urlsafe(48)}

    def create(
        self,
        client: httpx.Client,
        shop: str,
        credentials: dict[str, str],
        *,
        webhook_url: str,
        secret: str,
        knobs: dict[str, Any],
    ) -> str | None:
        """The retailer account with the connection's client ID and secret (bol.com signs its pushes
        with its own RSA key: the connection's webhook secret plays no part)."""
        client.post(self.control, json={"shop": shop, **credentials, "knobs": knobs}).raise_for_status()
        return None

    def after_connect(self, connection: Connection) -> None:
        """Koppel subscribes the connection's webhook address to bol's pushes, as the dashboard does."""
        from koppel.intake.subscribe import subscribe_webhook

        subscribed, problem = subscribe_webhook(connection)
        if not subscribed:
            raise RuntimeError(f"Koppel could not subscribe its webhook address at bol.com: {problem}")

    def webhook_note(self, client: httpx.Client, shop: str) -> str:
        count = client.get(self.shop_path(shop)).raise_for_status().json()["subscriptions"]
        return (
            f"SHIPMENT push notifications, subscribed by Koppel ({count} subscription), signed with "
            "bol.com's RSA key"
        )

    def scenarios(self, maker: OrderMaker) -> Iterator[Scenario]:
        yield from (BOL_SCENARIOS[key] for key in BOL_OPENING)
        while True:
            yield BOL_SCENARIOS[maker.random.choice(BOL_MIX)]

    # -- an order and what happens to it ---------------------------------------------------------------

    def order_body(self, maker: OrderMaker, scenario: str) -> dict[str, Any]:
        count = 2 if scenario in ("partial", "part-cancelled", "promotion") else maker.random.randint(1, 2)
        items = []
        for sku, title, price, _rate in maker.random.sample(PRODUCTS, count):
            item = {
                "ean": EANS[sku],
                "title": title,
                "quantity": 1,
                "unit_price": price,
                "offer_reference": sku,
            }
            if scenario == "promotion" and not items:
                half = (Decimal(price) / 2).quantize(CENTS)
                item.update(quantity=2, discounts=[{"title": PROMOTION, "amount": str(half)}])
            items.append(item)
        if scenario == "invoice-request":
            customer = maker.random.choice(NL_BUSINESSES)
            billing = {
                **_address(customer),
                "vat_number": customer.vatnumber or None,
                "kvk_number": "12345678",
            }
            return {"items": items, "customer": _address(customer), "billing": billing}
        return {"items": items, "customer": _address(maker.consumer())}

    def place(self, client: httpx.Client, shop: str, maker: OrderMaker, scenario: str) -> PlacedOrder:
        path = self.shop_path(shop)
        body = self.order_body(maker, scenario)
        response = client.post(f"{path}/orders", params={"notify": "false"}, json=body)
        order = response.raise_for_status().json()["order"]
        order_id, items = order["orderId"], order["orderItems"]
        if scenario == "cancelled":
            client.post(f"{path}/orders/{order_id}/cancel", json={}).raise_for_status()
            told = FollowUp(0.5, "cancelled", lambda c, _conn: self._cancelled(c, shop, order_id))
            return PlacedOrder(order_id, order_id, follow_ups=(told,))
        if scenario == "part-cancelled":
            gone = items[-1]["orderItemId"]
            client.post(f"{path}/orders/{order_id}/cancel", json={"items": [gone]}).raise_for_status()
            items = items[:-1]
            placed = self._ship(client, shop, order, [{"order_item_id": i["orderItemId"]} for i in items])
            told = FollowUp(0.5, "cancelled", lambda c, _conn: self._cancelled(c, shop, order_id, gone))
            return replace(placed, follow_ups=(told,))
        if scenario == "partial":
            first = [{"order_item_id": items[0]["orderItemId"], "quantity": items[0]["quantity"]}]
            placed = self._ship(client, shop, order, first)
            rest = FollowUp(REST_SHIPS_AFTER, "shipped", lambda c, _conn: self._ship_rest(c, shop, order))
            return replace(placed, follow_ups=(rest,))
        placed = self._ship(client, shop, order, [{"order_item_id": i["orderItemId"]} for i in items])
        if scenario == "invoice-request":
            ask = FollowUp(INVOICE_ASKED_AFTER, "asked", lambda c, _conn: self._ask_invoice(c, shop, placed))
            return replace(placed, follow_ups=(ask,))
        return placed

    def _ship(
        self, client: httpx.Client, shop: str, order: dict[str, Any], items: list[dict[str, Any]] | None
    ) -> PlacedOrder:
        body = {"items": items} if items is not None else {}
        response = client.post(f"{self.shop_path(shop)}/orders/{order['orderId']}/ship", json=body)
        shipment = response.raise_for_status().json()["shipment"]
        quantities = {line["orderItemId"]: line["quantityShipped"] for line in shipment["shipmentItems"]}
        number = f"{order['orderId']}-{shipment['shipmentId']}"  # the record's order number
        return PlacedOrder(shipment["shipmentId"], number, _charged(order, quantities))

    def _cancelled(self, client: httpx.Client, shop: str, order_id: str, item_id: str = "") -> Done:
        """What bol.com's order says of the cancellation, read back through the control API."""
        order = client.get(f"{self.shop_path(shop)}/orders/{order_id}").raise_for_status().json()["order"]
        gone = [
            f"{i['quantityCancelled']} x {i['product']['title']}"
            for i in order["orderItems"]
            if i["quantityCancelled"] and (not item_id or i["orderItemId"] == item_id)
        ]
        if item_id:
            return Done(f"the customer cancelled {', '.join(gone)} before it shipped: not on the invoice")
        return Done(
            f"the customer cancelled the whole order ({', '.join(gone)}) before it shipped: bol.com makes "
            "no shipment of it, so there is nothing to invoice"
        )

    def _ship_rest(self, client: httpx.Client, shop: str, order: dict[str, Any]) -> Done:
        placed = self._ship(client, shop, order, None)
        return Done(
            f"bol.com shipped the rest: shipment {placed.order_id}", (placed, BOL_SCENARIOS["partial-rest"])
        )

    def _ask_invoice(self, client: httpx.Client, shop: str, placed: PlacedOrder) -> Done:
        response = client.post(f"{self.shop_path(shop)}/shipments/{placed.order_id}/invoice-request", json={})
        response.raise_for_status()
        look = FollowUp(UPLOAD_LOOK, "invoice", self._upload_watch(shop, placed, UPLOAD_WAIT))
        return Done(f"the customer asked bol.com for the invoice of shipment {placed.order_id}", then=look)

    def _upload_watch(self, shop: str, placed: PlacedOrder, left: float) -> Any:
        def look(client: httpx.Client, connection: Connection) -> Done:
            response = client.get(f"{self.shop_path(shop)}/invoices")
            uploads = [
                u
                for u in response.raise_for_status().json()["invoices"]
                if u["shipment_id"] == placed.order_id
            ]
            if uploads:
                upload = uploads[-1]
                return Done(
                    f"Koppel uploaded the invoice PDF to bol.com ({upload['filename']}, "
                    f"{upload['size']} bytes; bol's process status {upload['status']})"
                )
            if left <= UPLOAD_LOOK:
                return Done(f"no invoice uploaded to bol.com within {UPLOAD_WAIT:.0f} s")
            return Done(
                "",
                then=FollowUp(UPLOAD_LOOK, "invoice", self._upload_watch(shop, placed, left - UPLOAD_LOOK)),
            )

        return look


SANDBOX_SHOPS[BolSandboxShop.kind] = BolSandboxShop()
