"""The control API's returns (under ``/_sandbox/bol/shops/{shop}``): a customer returns shipped items of an
order, and the retailer or bol's warehouse (FBB) handles a return item.

- ``POST orders/{order_id}/return`` ``{"items": [{"order_item_id", "quantity"}]?, "reason"?,
  "detailed_reason"?, "comments"?, "registered_at"?, "handle"?: {"handling_result", "quantity"?, "at"?}}``:
  one return, an RMA per item (by default everything shipped and not yet returned), with bol's
  ``mainReason`` ``reason``; ``handle`` handles every item at once → 201 ``{"return"}``.
- ``POST returns/{rma_id}/handle`` ``{"handling_result", "quantity"?, "at"?}`` (quantity: the expected one)
  → ``{"return"}``; ``GET returns/{return_id}`` → ``{"return"}``.

A returned ``Return`` is the v10 one, each item with its ``orderItemId`` and ``unitPrice`` besides.
"""

from __future__ import annotations

from typing import Any

from koppel.sandbox.http import HTTPException, Request, Response

from . import build, return_state
from .core import Core
from .return_state import Reason, ReturnItem
from .returns import summary
from .state import Item, Order, Shop


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(Response.json({"error": message}, status))


def _object(request: Request) -> dict[str, Any]:
    try:
        data = request.json() if request.body else {}
    except ValueError:
        raise _fail(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _fail(400, "Body must be a JSON object")
    return data


def _wanted(shop: Shop, order: Order, given: Any) -> list[tuple[Item, int]]:
    """``[{"order_item_id", "quantity"}]`` (or bare ids) → (item, quantity); none given: everything
    returnable."""
    if given is None:
        found = [(item, return_state.returnable(shop, item)) for item in order.items]
        return [(item, quantity) for item, quantity in found if quantity > 0]
    if not isinstance(given, list):
        raise ValueError("items must be a list of {order_item_id, quantity}")
    out = []
    for entry in given:
        item_id = str(entry.get("order_item_id") if isinstance(entry, dict) else entry)
        item = order.item(item_id)
        if item is None:
            raise ValueError(f"Order item {item_id} is not in order {order.order_id}")
        left = return_state.returnable(shop, item)
        out.append((item, entry.get("quantity", left) if isinstance(entry, dict) else left))
    return out


def _handle(item: ReturnItem, data: Any) -> None:
    if not isinstance(data, dict) or not data.get("handling_result"):
        raise ValueError("handle needs a handling_result")
    at = build.moment(data.get("at"), "at") if data.get("at") else None
    return_state.handle(item, str(data["handling_result"]), data.get("quantity", item.expected), at)


class ReturnControl:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def returned(self, shop: Shop, request: Request, order_id: str) -> Response:
        """The customer returns shipped items (and, with ``handle``, they are handled at once)."""
        data = _object(request)
        order = shop.orders.get(order_id)
        if order is None:
            raise _fail(404, f"Order {order_id} not found")
        reason = Reason(
            str(data.get("reason") or return_state.DEFAULT_REASON),
            str(data["detailed_reason"]) if data.get("detailed_reason") else None,
            str(data.get("comments") or ""),
        )
        at = build.moment(data.get("registered_at"), "registered_at") if data.get("registered_at") else None
        wanted = _wanted(shop, order, data.get("items"))
        created = return_state.register(shop, self.core.ids, order, wanted, reason, registered=at)
        if data.get("handle") is not None:
            for item in created.items:
                _handle(item, data["handle"])
        return Response.json({"return": summary(created)}, 201)

    async def handle(self, shop: Shop, request: Request, rma_id: str) -> Response:
        """The retailer (FBR) or bol's warehouse (FBB) handles a return item."""
        item = return_state.find_rma(shop, rma_id)
        if item is None:
            raise _fail(404, f"Return item {rma_id} not found")
        _handle(item, _object(request))
        found = next(r for r in shop.returns.values() if item in r.items)
        return Response.json({"return": summary(found)})

    async def get(self, shop: Shop, request: Request, return_id: str) -> Response:
        found = shop.returns.get(return_id)
        if found is None:
            raise _fail(404, f"Return {return_id} not found")
        return Response.json({"return": summary(found)})
