"""Returns in the bol sandbox: a customer returns shipped items (a ``Return`` of one or more return items,
each an RMA of one order item), and the retailer (FBR) or bol's warehouse (FBB) handles each item.

A handling names a ``handlingResult``; bol answers it with a processing result:

- ``RETURN_RECEIVED`` and ``STILL_APPROVED`` (the return does not meet the conditions, the retailer
  approves it anyway): ``ACCEPTED``, the customer gets the money back;
- ``EXCHANGE_PRODUCT`` and ``REPAIR_PRODUCT``: ``ACCEPTED`` too (bol takes the return in), but the
  customer gets a new or repaired product instead of money;
- ``RETURN_DOES_NOT_MEET_CONDITIONS`` and ``CUSTOMER_KEEPS_PRODUCT_PAID``: ``REJECTED``.

Handling an item again changes its handling (bol allows it): the new processing result replaces the old.
Return ids are 8 digits starting 1, RMA ids 8 digits starting 8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .state import Ids, Item, Order, Shop, now

HANDLING_RESULTS = (
    "RETURN_RECEIVED",
    "EXCHANGE_PRODUCT",
    "RETURN_DOES_NOT_MEET_CONDITIONS",
    "REPAIR_PRODUCT",
    "CUSTOMER_KEEPS_PRODUCT_PAID",
    "STILL_APPROVED",
)
#: ``POST /retailer/returns`` takes every handling result but STILL_APPROVED (the spec's enum).
CREATE_HANDLING_RESULTS = HANDLING_RESULTS[:-1]
REJECTED_RESULTS = frozenset({"RETURN_DOES_NOT_MEET_CONDITIONS", "CUSTOMER_KEEPS_PRODUCT_PAID"})
DEFAULT_REASON = "Anders, namelijk:"


def processing_result(handling: str) -> str:
    """bol's answer to a handling result: ``ACCEPTED`` or ``REJECTED``."""
    return "REJECTED" if handling in REJECTED_RESULTS else "ACCEPTED"


@dataclass(slots=True)
class Processing:
    quantity: int
    result: str
    handling: str
    at: datetime


@dataclass(slots=True)
class ReturnItem:
    rma_id: str
    order: Order
    item: Item
    expected: int
    main_reason: str
    detailed_reason: str | None = None
    comments: str = ""
    track_and_trace: str | None = None
    transporter: str | None = None
    results: list[Processing] = field(default_factory=list)

    @property
    def handled(self) -> bool:
        return bool(self.results)


@dataclass(slots=True)
class Return:
    return_id: str
    registered: datetime
    method: str
    items: list[ReturnItem]


def find_rma(shop: Shop, rma_id: str) -> ReturnItem | None:
    return next((i for r in shop.returns.values() for i in r.items if i.rma_id == rma_id), None)


def returned_quantity(shop: Shop, item: Item) -> int:
    """How much of ``item`` returns already name (expected)."""
    return sum(i.expected for r in shop.returns.values() for i in r.items if i.item is item)


def returnable(shop: Shop, item: Item) -> int:
    """What of ``item`` may still be returned: shipped, not yet in a return."""
    return item.quantity_shipped - returned_quantity(shop, item)


@dataclass(frozen=True, slots=True)
class Reason:
    main: str = DEFAULT_REASON
    detailed: str | None = None
    comments: str = ""


def register(
    shop: Shop,
    ids: Ids,
    order: Order,
    wanted: list[tuple[Item, int]],
    reason: Reason,
    *,
    registered: datetime | None = None,
) -> Return:
    """The customer registers a return of ``wanted`` (item, quantity) of ``order``: one return, an RMA per
    item. ``ValueError`` when an item was not shipped (or is returned already) in that quantity, or the
    items are fulfilled in different ways; nothing changes then."""
    if not wanted:
        raise ValueError(f"Order {order.order_id} has nothing shipped to return")
    for item, quantity in wanted:
        left = returnable(shop, item)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= left:
            raise ValueError(f"Order item {item.order_item_id} has {left} to return, not {quantity}")
    methods = {item.method for item, _ in wanted}
    if len(methods) > 1:
        raise ValueError("A return holds FBR or FBB items, not both")
    items = [
        ReturnItem(
            ids.number(8, "8"),
            order,
            item,
            quantity,
            reason.main,
            reason.detailed,
            reason.comments,
            f"3SBLCR{ids.number(9)}",
            "PostNL",
        )
        for item, quantity in wanted
    ]
    found = Return(ids.number(8, "1"), registered or now(), methods.pop(), items)
    shop.returns[found.return_id] = found
    return found


def handle(item: ReturnItem, handling: str, quantity: int, at: datetime | None = None) -> None:
    """Handle a return item (again): its processing result is bol's answer to ``handling``. ``ValueError``
    for an unknown handling result or a quantity above the one expected."""
    if handling not in HANDLING_RESULTS:
        raise ValueError(f"Unknown handling result {handling}")
    if not 1 <= quantity <= item.expected:
        raise ValueError(
            f"Return item with rma id {item.rma_id} expects {item.expected} returned, not {quantity}."
        )
    item.results = [Processing(quantity, processing_result(handling), handling, at or now())]
