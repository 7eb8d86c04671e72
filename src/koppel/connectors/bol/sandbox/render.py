"""The state written as the v10 spec names it: ``Order``, ``ReducedOrder``, ``Shipment``,
``ReducedShipment``, ``InvoiceRequests``, ``ProcessStatus`` and ``SubscriptionResponse``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from .state import InvoiceRequest, Item, Order, Process, Shipment, Subscription, cents, stamp

INVOICE_BILLING = (
    "salutation",
    "firstName",
    "surname",
    "streetName",
    "houseNumber",
    "houseNumberExtension",
    "zipCode",
    "city",
    "countryCode",
    "company",
    "vatNumber",
    "kvkNumber",
)


def _number(value: Decimal) -> float | int:
    """A JSON number as bol writes money: ``12.99``, ``5`` (no trailing zeros)."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral() else float(normal)


def _fulfilment(order: Order, item: Item, full: bool) -> dict[str, Any]:
    placed = order.placed.date()
    out: dict[str, Any] = {
        "method": item.method,
        "distributionParty": "BOL" if item.method == "FBB" else "RETAILER",
        "latestDeliveryDate": (placed + timedelta(days=1)).isoformat(),
    }
    if full:
        out["expiryDate"] = (placed + timedelta(days=3)).isoformat()
        out["timeFrameType"] = "REGULAR"
    return out


def _offer(item: Item) -> dict[str, Any]:
    offer: dict[str, Any] = {"offerId": item.offer_id}
    if item.offer_reference:
        offer["reference"] = item.offer_reference
    return offer


def order_item(order: Order, item: Item) -> dict[str, Any]:
    return {
        "orderItemId": item.order_item_id,
        "cancellationRequest": item.cancellation_request,
        "fulfilment": _fulfilment(order, item, True),
        "offer": _offer(item),
        "product": {"ean": item.ean, "title": item.title},
        "quantity": item.quantity,
        "quantityShipped": item.quantity_shipped,
        "quantityCancelled": item.quantity_cancelled,
        "unitPrice": _number(item.unit_price),
        "totalPrice": _number(item.total_price),
        "discounts": [{"title": d["title"], "amount": _number(d["amount"])} for d in item.discounts],
        "commission": _number(item.commission),
        "latestChangedDateTime": stamp(item.changed),
    }


def order(order: Order) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "pickupPoint": order.pickup_point,
        "orderPlacedDateTime": stamp(order.placed),
        "shipmentDetails": dict(order.shipment_details),
        "billingDetails": dict(order.billing_details),
        "orderItems": [order_item(order, item) for item in order.items],
    }


def reduced_order(order: Order, items: list[Item]) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "orderPlacedDateTime": stamp(order.placed),
        "orderItems": [
            {
                "orderItemId": item.order_item_id,
                "ean": item.ean,
                "fulfilmentMethod": item.method,
                "fulfilmentStatus": item.status,
                "quantity": item.quantity,
                "quantityShipped": item.quantity_shipped,
                "quantityCancelled": item.quantity_cancelled,
                "cancellationRequest": item.cancellation_request,
                "latestChangedDateTime": stamp(item.changed),
            }
            for item in items
        ],
    }


def _shipment_order(shipment: Shipment) -> dict[str, Any]:
    return {"orderId": shipment.order.order_id, "orderPlacedDateTime": stamp(shipment.order.placed)}


def reduced_shipment(shipment: Shipment) -> dict[str, Any]:
    out: dict[str, Any] = {"shipmentId": shipment.shipment_id, "shipmentDateTime": stamp(shipment.shipped)}
    if shipment.reference:
        out["shipmentReference"] = shipment.reference
    out["order"] = _shipment_order(shipment)
    out["shipmentItems"] = [
        {"orderItemId": ln.item.order_item_id, "ean": ln.item.ean} for ln in shipment.lines
    ]
    out["transport"] = {"transportId": shipment.transport_id}
    return out


def _transport(shipment: Shipment) -> dict[str, Any]:
    out: dict[str, Any] = {"transportId": shipment.transport_id, "transporterCode": shipment.transporter_code}
    if shipment.track_and_trace:
        out["trackAndTrace"] = shipment.track_and_trace
    if shipment.shipping_label_id:
        out["shippingLabelId"] = shipment.shipping_label_id
    out["transportEvents"] = [{"eventCode": "AT_TRANSPORTER", "eventDateTime": stamp(shipment.shipped)}]
    return out


def shipment(shipment: Shipment) -> dict[str, Any]:
    placed = shipment.order
    out: dict[str, Any] = {"shipmentId": shipment.shipment_id, "shipmentDateTime": stamp(shipment.shipped)}
    if shipment.reference:
        out["shipmentReference"] = shipment.reference
    out["pickupPoint"] = placed.pickup_point
    out["order"] = _shipment_order(shipment)
    out["shipmentDetails"] = dict(placed.shipment_details)
    out["billingDetails"] = dict(placed.billing_details)
    out["shipmentItems"] = [
        {
            "orderItemId": line.item.order_item_id,
            "fulfilment": _fulfilment(placed, line.item, False),
            "offer": _offer(line.item),
            "product": {"ean": line.item.ean, "title": line.item.title},
            "quantity": line.item.quantity,
            "quantityShipped": line.quantity,
            "unitPrice": _number(line.item.unit_price),
            "commission": _number(cents(line.item.commission * line.quantity / line.item.quantity)),
        }
        for line in shipment.lines
    ]
    out["transport"] = _transport(shipment)
    return out


def invoice_request(request: InvoiceRequest) -> dict[str, Any]:
    found = request.shipment
    billing = found.order.billing_details
    return {
        "shipmentId": found.shipment_id,
        "orderId": found.order.order_id,
        "customerAccountNumber": request.customer_account_number,
        "billingDetails": {key: billing[key] for key in INVOICE_BILLING if key in billing},
        "products": [
            {"description": ln.item.title, "quantity": ln.quantity, "unitPrice": _number(ln.item.unit_price)}
            for ln in found.lines
        ],
        "status": request.status,
        "statusTransitions": [
            {"status": status, "statusDateTime": stamp(at)} for status, at in request.transitions
        ],
    }


def process_status(process: Process, base: str) -> dict[str, Any]:
    """``ProcessStatus``; ``base`` is the shared API's URL (``…/bol/shared`` or ``…/bol/shared-demo``)."""
    out: dict[str, Any] = {
        "processStatusId": process.process_id,
        "entityId": process.entity_id,
        "eventType": process.event_type,
        "description": process.description,
        "status": process.status,
    }
    if process.error:
        out["errorMessage"] = process.error
    out["createTimestamp"] = stamp(process.created)
    href = f"{base}/process-status/{process.process_id}"
    out["links"] = [{"rel": "self", "href": href, "method": "GET"}]
    return out


def subscription(item: Subscription) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.subscription_id,
        "resources": list(item.resources),
        "url": item.url,
        "subscriptionType": item.subscription_type,
        "enabled": item.enabled,
    }
    if item.identity:
        out["identity"] = item.identity
    return out
