"""bol.com's handled returns read as refunds (the translation is :mod:`.refunds`).

**Which.** ``GET /retailer/returns?handled=true&fulfilment-method=FBR|FBB`` (50 a page; handled returns
newest registration first), each return item whose refunding result (see
:func:`.refunds.refunded_quantity`) was *processed* since ``since``: a return registered weeks ago and
handled today is refunded today. The list is read until a return registered more than
:data:`HANDLING_WINDOW` before ``since``: a return handled later than that after it was registered is
not found by the poll. A listed return whose handled items lack ``processingResults`` is read whole
(``GET /retailer/returns/{return-id}``).

**The record refunded.** Each return item (RMA) is priced from its order (``GET /retailer/orders/{id}``),
read once per poll. Order source: one refund per RMA, ``refund_id`` the RMA id, ``order_id`` the bol
order id. Shipment source: the shipments of the order (``GET /retailer/shipments?order-id=``) that hold
the returned order item; one shipment: one refund ``<rma>`` of that shipment; several: the quantity is
spread over them oldest first (each up to what it shipped, read from ``GET /retailer/shipments/{id}``),
a refund ``<rma>-<shipment id>`` each. No shipment found (older than the list's 3 months): the refund
names the bol order id, which no shipment record has, so the merchant sees it as a refund of an order
Koppel has not booked.

A return item whose order is gone (404) or holds no item of its EAN cannot be priced and is left out.

bol allows 20 calls a minute to the return list and to a return; the client paces them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from koppel.connectors.errors import NotFound
from koppel.documents.refunds import Refund

from . import refunds
from .client import BolClient
from .config import BolSettings

METHODS = ("FBR", "FBB")
#: How long after its registration a return is looked for among the handled ones.
HANDLING_WINDOW = timedelta(days=30)


class ReturnReader:
    """One poll's reading of the handled returns, with the orders and shipments it needed."""

    def __init__(self, client: BolClient, settings: BolSettings, *, by_shipment: bool) -> None:
        self.client, self.settings, self.by_shipment = client, settings, by_shipment
        self._orders: dict[str, dict[str, Any] | None] = {}
        self._shipments: dict[str, list[dict[str, Any]]] = {}
        self._shipped: dict[str, dict[str, Any]] = {}

    def refunds(self, since: datetime) -> list[Refund]:
        """The refunds of return items handled since ``since``, oldest first."""
        found = [refund for returned in self.handled_returns(since) for refund in self.of(returned, since)]
        return sorted(found, key=lambda r: (r.created_at, r.refund_id))

    def handled_returns(self, since: datetime) -> Iterator[Mapping[str, Any]]:
        """The handled returns (FBR and FBB) registered since ``since`` less :data:`HANDLING_WINDOW`."""
        oldest = since - HANDLING_WINDOW
        path = self.client.retailer("returns")
        for method in METHODS:
            params = {"handled": "true", "fulfilment-method": method}
            for _page, rows in self.client.pages(path, "returns", params):
                registered = [refunds.moment(r.get("registrationDateTime")) for r in rows]
                yield from (r for r, at in zip(rows, registered, strict=True) if at is None or at >= oldest)
                if any(at is not None and at < oldest for at in registered):
                    break  # newest first: the rest is older still

    def of(self, returned: Mapping[str, Any], since: datetime) -> list[Refund]:
        """The refunds of one return's items handled since ``since``."""
        if refunds.needs_details(returned) and returned.get("returnId"):
            returned = self.client.get_json(self._path("returns", str(returned["returnId"])))
        found: list[Refund] = []
        for item in returned.get("returnItems") or []:
            if not isinstance(item, Mapping):
                continue
            quantity = refunds.refunded_quantity(item)
            at = refunds.refunded_at(item) or refunds.moment(returned.get("registrationDateTime"))
            if quantity and (at is None or at >= since):
                found += self.of_item(returned, item, quantity)
        return found

    def of_item(self, returned: Mapping[str, Any], item: Mapping[str, Any], quantity: int) -> list[Refund]:
        order_id, rma = str(item.get("orderId") or ""), str(item.get("rmaId") or "")
        order = self.order(order_id) if order_id else None
        method = str(returned.get("fulfilmentMethod") or "")
        order_item = refunds.order_item_for(order, str(item.get("ean") or ""), method) if order else None
        if order is None or order_item is None or not rma:
            return []
        if not self.by_shipment:
            record = (rma, order_id, order)
            return [refunds.return_refund(returned, item, record, order_item, quantity, self.settings)]
        pieces = self.pieces(order_id, str(order_item.get("orderItemId") or ""), quantity)
        if not pieces:
            record = (rma, order_id, order)
            return [refunds.return_refund(returned, item, record, order_item, quantity, self.settings)]
        out = []
        for shipment, count in pieces:
            refund_id = rma if len(pieces) == 1 else f"{rma}-{shipment['shipmentId']}"
            record = (refund_id, str(shipment["shipmentId"]), {"shipment": shipment, "order": order})
            out.append(refunds.return_refund(returned, item, record, order_item, count, self.settings))
        return out

    def pieces(self, order_id: str, item_id: str, quantity: int) -> list[tuple[dict[str, Any], int]]:
        """The shipments of the order that hold the order item, each with its share of ``quantity``."""
        holding = [s for s in self.shipments(order_id) if item_id in _item_ids(s)]
        holding.sort(key=lambda s: str(s.get("shipmentDateTime") or ""))
        if len(holding) <= 1:
            return [(s, quantity) for s in holding]
        by_id = {str(s["shipmentId"]): s for s in holding}
        shipped = [(str(s["shipmentId"]), self.shipped(str(s["shipmentId"]), item_id)) for s in holding]
        return [(by_id[sid], count) for sid, count in refunds.allocate(shipped, quantity)]

    # -- reading, once per poll ------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return self.client.retailer("/".join(quote(p, safe="") for p in parts))

    def order(self, order_id: str) -> dict[str, Any] | None:
        if order_id not in self._orders:
            try:
                self._orders[order_id] = self.client.order(order_id)
            except NotFound:
                self._orders[order_id] = None
        return self._orders[order_id]

    def shipments(self, order_id: str) -> list[dict[str, Any]]:
        """The order's shipments as the list gives them (``shipmentItems`` with their order item ids)."""
        if order_id not in self._shipments:
            rows = self.client.get_json(self.client.retailer("shipments"), {"order-id": order_id})
            found = rows.get("shipments")
            listed = [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []
            self._shipments[order_id] = [s for s in listed if s.get("shipmentId")]
        return self._shipments[order_id]

    def shipped(self, shipment_id: str, item_id: str) -> int:
        """How much of the order item the shipment shipped (``quantityShipped``, or ``quantity`` before)."""
        if shipment_id not in self._shipped:
            self._shipped[shipment_id] = self.client.shipment(shipment_id)
        rows = self._shipped[shipment_id].get("shipmentItems") or []
        counts = [
            row.get("quantityShipped", row.get("quantity"))
            for row in rows
            if isinstance(row, Mapping) and str(row.get("orderItemId")) == item_id
        ]
        return sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))


def _item_ids(shipment: Mapping[str, Any]) -> set[str]:
    items = shipment.get("shipmentItems") or []
    return {str(i.get("orderItemId")) for i in items if isinstance(i, Mapping)}
