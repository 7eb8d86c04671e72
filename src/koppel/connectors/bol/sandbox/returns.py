"""Returns: ``GET /retailer/returns``, ``GET /retailer/returns/{return-id}``, ``PUT
/retailer/returns/{rma-id}`` (handle a return item) and ``POST /retailer/returns`` (the retailer registers
and handles a return), written as the v10 spec's ``ReturnsResponse`` and ``Return``."""

from __future__ import annotations

from typing import Any

from koppel.sandbox.http import Response

from . import problems, return_state
from .core import Core
from .gate import Call
from .orders import accepted, listing
from .render import _number
from .return_state import CREATE_HANDLING_RESULTS, HANDLING_RESULTS, Reason, Return, ReturnItem
from .state import stamp

#: Spring's words for a boolean query parameter (bol accepts ``handled=0``).
BOOLEANS = {"true": True, "false": False, "on": True, "off": False, "yes": True, "no": False, "1": True}
BOOLEANS["0"] = False
CUSTOMER_DETAILS = (
    "salutation",
    "firstName",
    "surname",
    "streetName",
    "houseNumber",
    "houseNumberExtension",
    "extraAddressInformation",
    "zipCode",
    "city",
    "countryCode",
    "email",
    "deliveryPhoneNumber",
    "company",
)


def _reason(item: ReturnItem) -> dict[str, Any]:
    out: dict[str, Any] = {"mainReason": item.main_reason}
    if item.detailed_reason:
        out["detailedReason"] = item.detailed_reason
    out["customerComments"] = item.comments
    return out


def _results(item: ReturnItem) -> list[dict[str, Any]]:
    return [
        {
            "quantity": r.quantity,
            "processingResult": r.result,
            "handlingResult": r.handling,
            "processingDateTime": stamp(r.at),
        }
        for r in item.results
    ]


def _customer(item: ReturnItem) -> dict[str, Any]:
    details = item.order.shipment_details
    out = {key: details[key] for key in CUSTOMER_DETAILS if details.get(key) not in (None, "")}
    vat = item.order.billing_details.get("vatNumber")
    return {**out, "vatNumber": vat} if vat else out


def reduced_item(item: ReturnItem) -> dict[str, Any]:
    return {
        "rmaId": item.rma_id,
        "orderId": item.order.order_id,
        "ean": item.item.ean,
        "expectedQuantity": item.expected,
        "returnReason": _reason(item),
        "handled": item.handled,
        "processingResults": _results(item),
    }


def full_item(item: ReturnItem) -> dict[str, Any]:
    """A ``ReturnItem``: the reduced one with the title, the transport and the customer's details."""
    out: dict[str, Any] = {"rmaId": item.rma_id, "orderId": item.order.order_id, "ean": item.item.ean}
    out["title"] = item.item.title
    out["expectedQuantity"] = item.expected
    out["returnReason"] = _reason(item)
    if item.track_and_trace:
        out["trackAndTrace"] = item.track_and_trace
    if item.transporter:
        out["transporterName"] = item.transporter
    out["handled"] = item.handled
    out["processingResults"] = _results(item)
    out["customerDetails"] = _customer(item)
    return out


def render_return(
    found: Return, items: list[ReturnItem] | None = None, *, full: bool = True
) -> dict[str, Any]:
    """``Return`` (``full``) or ``ReducedReturn`` with ``items`` (default: all)."""
    shown = found.items if items is None else items
    return {
        "returnId": found.return_id,
        "registrationDateTime": stamp(found.registered),
        "fulfilmentMethod": found.method,
        "returnItems": [full_item(i) if full else reduced_item(i) for i in shown],
    }


def _boolean(call: Call, name: str) -> bool | None:
    raw = call.request.query.get(name)
    if raw is None:
        return None
    if raw.lower() not in BOOLEANS:
        reason = f"Request contains invalid value(s): '{raw}', allowed values: true, false."
        raise problems.invalid(call.instance, name, reason)
    return BOOLEANS[raw.lower()]


def _quantity(call: Call, data: dict[str, Any]) -> int:
    value = data.get("quantityReturned")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 9999:
        raise problems.invalid(call.instance, "quantityReturned", "must be between 1 and 9999")
    return value


def _handling(call: Call, data: dict[str, Any], allowed: tuple[str, ...]) -> str:
    value = data.get("handlingResult")
    if not isinstance(value, str) or not value:
        raise problems.invalid(call.instance, "handlingResult", "must not be empty")
    if value not in allowed:
        raise problems.invalid(call.instance, "handlingResult", problems.choice_reason(value, allowed))
    return value


def _object(call: Call) -> dict[str, Any]:
    data = call.json_body()
    if not isinstance(data, dict):
        raise problems.invalid(call.instance, "body", "must be an object")
    return data


class Returns:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def list_returns(self, call: Call) -> Response:
        """Handled returns newest first, unhandled ones oldest first; each with the items that match."""
        page = call.page()
        handled = _boolean(call, "handled")
        method = call.choice("fulfilment-method", ("FBR", "FBB"), "FBR")
        found = [r for r in call.data.returns.values() if r.method == method]
        if handled is False:
            found.sort(key=lambda r: r.registered)
        else:
            found = sorted(reversed(found), key=lambda r: r.registered, reverse=True)
        rows = []
        for item in found:
            items = [i for i in item.items if handled is None or i.handled == handled]
            if items:
                rows.append(render_return(item, items, full=False))
        return listing("returns", rows, page)

    async def get_return(self, call: Call, return_id: str) -> Response:
        found = call.data.returns.get(return_id)
        if found is None:
            raise problems.not_found(call.instance, f"Return for return id {return_id} not found.")
        return problems.body(render_return(found))

    async def handle(self, call: Call, rma_id: str) -> Response:
        """The retailer handles a return item: 202, then bol's processing result (ACCEPTED or REJECTED);
        an unknown RMA id or a quantity above the expected one ends the process FAILURE."""
        if not rma_id.isdigit():
            reason = f"Request contains invalid value(s): '{rma_id}', must be a number."
            raise problems.invalid(call.instance, "rma-id", reason)
        data = _object(call)
        handling, quantity = _handling(call, data, HANDLING_RESULTS), _quantity(call, data)
        shop = call.shop

        def effect() -> str | None:
            item = return_state.find_rma(shop, rma_id)
            if item is None:
                return f"Return item with rma id {rma_id} not found."
            try:
                return_state.handle(item, handling, quantity)
            except ValueError as exc:
                return str(exc)
            return None

        description = f"Handle the return item with rma id {rma_id}."
        return accepted(self.core, call, rma_id, "HANDLE_RETURN_ITEM", description, effect)

    async def create(self, call: Call) -> Response:
        """The retailer registers a return of a shipped order item and handles it at once; the process
        status's entity id becomes the new return id."""
        data = _object(call)
        item_id = str(data.get("orderItemId") or "")
        if not item_id:
            raise problems.invalid(call.instance, "orderItemId", "must not be empty")
        quantity = _quantity(call, data)
        handling = _handling(call, data, CREATE_HANDLING_RESULTS)
        shop, holder = call.shop, []

        def effect() -> str | None:
            found = shop.items.get(item_id)
            if found is None:
                return f"Order item {item_id} not found."
            order, item = found
            try:
                created = return_state.register(shop, self.core.ids, order, [(item, quantity)], Reason())
            except ValueError as exc:
                return str(exc)
            return_state.handle(created.items[0], handling, quantity)
            holder[0].entity_id = created.return_id
            return None

        description = f"Create return for order item {item_id}."
        response = accepted(self.core, call, item_id, "CREATE_RETURN_ITEM", description, effect)
        holder.extend(p for p in call.data.processes.values() if p.effect is effect)
        return response


def summary(found: Return) -> dict[str, Any]:
    """A return for the control API: the full ``Return`` and the amount of each item's price."""
    out = render_return(found)
    for row, item in zip(out["returnItems"], found.items, strict=True):
        row["orderItemId"] = item.item.order_item_id
        row["unitPrice"] = _number(item.item.unit_price)
    return out
