"""Refunds on a shop's orders, as the REST Admin API's Refund resource writes them.

``POST orders/{id}/refunds.json`` takes ``{"refund": {"note", "notify", "refund_line_items": [{"line_item_id",
"quantity", "restock_type"}], "shipping": {"full_refund": true} | {"amount": "4.95"}, "transactions":
[{"parent_id", "amount", "kind": "refund", "gateway"}]}}`` and answers 201 ``{"refund": {...}}``; ``GET
orders/{id}/refunds.json`` lists them (``{"refunds": [...]}``), ``GET orders/{id}/refunds/{refund_id}.json``
shows one. The control API's ``POST /shops/{shop}/orders/{id}/refunds`` makes one as a merchant does in the
admin: the same body, with the money refunded computed when no ``transactions`` are given (``"amount"``
sets it; ``"amount": "0"`` is a restock without money).

How a refund is written (where Shopify's documentation is silent, as the sandbox assumes it):

- A refund line item's ``subtotal`` is its share of the line after discounts, in the order's basis (incl.
  tax when ``taxes_included``), ``total_tax`` its share of the line's tax; both as JSON numbers and as
  ``*_set`` money bags; shares are rounded half-up, the last unit of a line takes what is left.
- Refunded shipping is an ``order_adjustments`` entry of kind ``shipping_refund`` with ``amount`` (without
  tax) and ``tax_amount`` negative; ``shipping.amount`` is in the order's basis.
- When the transactions refund another amount than the items and shipping come to, an adjustment of kind
  ``refund_discrepancy`` records the difference: ``amount`` = calculated - refunded (negative when more was
  refunded), ``tax_amount`` 0.00.
- More than the order has left to refund, or more of a line than is left, is a 422 in Shopify's error shape.
- The order then lists the refund in ``refunds``; its ``financial_status`` becomes ``partially_refunded``
  (``refunded`` once everything paid went back), ``updated_at`` moves on, ``current_total_price``,
  ``current_total_tax`` and the lines' ``current_quantity`` go down. The shop sends ``refunds/create``
  (the body is the refund) and ``orders/updated`` to the topics it is subscribed to.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from koppel.sandbox.http import HTTPException, Response

from .common import _CENT, _ZERO, errors, now_local
from .money import _cents, _decimal, _money, _set

if TYPE_CHECKING:
    from .state import Shop

_refund_ids = itertools.count(9_800_000_000_001, 19)
_item_ids = itertools.count(7_700_000_000_001, 11)
RESTOCK_TYPES = ("no_restock", "cancel", "return", "legacy_restock")


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(errors(422, {field: [message]}))


def _number(value: Decimal) -> float:
    """Shopify writes a refund line's ``subtotal`` and ``total_tax`` as JSON numbers."""
    return float(_cents(value))


def refunded(refunds: list[dict[str, Any]]) -> Decimal:
    """The money the refunds gave back (their successful refund transactions)."""
    return sum(
        (
            Decimal(t["amount"])
            for refund in refunds
            for t in refund.get("transactions", [])
            if t.get("kind") == "refund" and t.get("status") == "success"
        ),
        _ZERO,
    )


def refunded_quantity(refunds: list[dict[str, Any]], line_id: int) -> int:
    return sum(
        item["quantity"]
        for refund in refunds
        for item in refund.get("refund_line_items", [])
        if item["line_item_id"] == line_id
    )


def _line_share(line: dict[str, Any], quantity: int, earlier: int) -> tuple[Decimal, Decimal]:
    """The subtotal and tax of ``quantity`` units of ``line`` after ``earlier`` units were refunded."""
    after = Decimal(line["price"]) * line["quantity"] - Decimal(line["total_discount"])
    tax = sum((Decimal(t["price"]) for t in line["tax_lines"]), _ZERO)
    if earlier + quantity == line["quantity"]:  # the last units take what is left
        done = _cents(after * earlier / line["quantity"]), _cents(tax * earlier / line["quantity"])
        return after - done[0], tax - done[1]
    return _cents(after * quantity / line["quantity"]), _cents(tax * quantity / line["quantity"])


def _refund_line_items(order: dict[str, Any], given: Any, refunds: list[dict[str, Any]]) -> list[dict]:
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise _unprocessable("refund_line_items", "must be a list of objects")
    lines = {line["id"]: line for line in order["line_items"]}
    result = []
    for n, item in enumerate(given):
        line = lines.get(item.get("line_item_id"))
        if line is None:
            raise _unprocessable(f"refund_line_items.{n}.line_item_id", "is not a line item of this order")
        quantity = item.get("quantity", 1)
        earlier = refunded_quantity(refunds, line["id"])
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise _unprocessable(f"refund_line_items.{n}.quantity", "must be a whole number of at least 1")
        if quantity > line["quantity"] - earlier:
            raise _unprocessable(
                f"refund_line_items.{n}.quantity", "cannot refund more items than were purchased"
            )
        restock = item.get("restock_type", "return")
        if restock not in RESTOCK_TYPES:
            raise _unprocessable(
                f"refund_line_items.{n}.restock_type", f"must be one of {', '.join(RESTOCK_TYPES)}"
            )
        result.append(_refund_line_item(order, line, quantity, earlier, restock))
    return result


def _refund_line_item(
    order: dict[str, Any], line: dict[str, Any], quantity: int, earlier: int, restock: str
) -> dict[str, Any]:
    currency = order["currency"]
    subtotal, tax = _line_share(line, quantity, earlier)
    return {
        "id": next(_item_ids),
        "line_item_id": line["id"],
        "location_id": None if restock == "no_restock" else 65_000_000_001,
        "quantity": quantity,
        "restock_type": restock,
        "subtotal": _number(subtotal),
        "subtotal_set": _set(subtotal, currency),
        "total_tax": _number(tax),
        "total_tax_set": _set(tax, currency),
        "line_item": line,
    }


def _shipping_left(order: dict[str, Any], refunds: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
    """The shipping (in the order's basis) and its tax not refunded yet."""
    charged = sum((Decimal(s["discounted_price"]) for s in order["shipping_lines"]), _ZERO)
    tax = sum((Decimal(t["price"]) for s in order["shipping_lines"] for t in s["tax_lines"]), _ZERO)
    for refund in refunds:
        for adjustment in refund.get("order_adjustments", []):
            if adjustment["kind"] == "shipping_refund":
                net, taxed = -Decimal(adjustment["amount"]), -Decimal(adjustment["tax_amount"])
                charged -= net + taxed if order["taxes_included"] else net
                tax -= taxed
    return charged, tax


def _shipping_adjustment(order: dict[str, Any], shipping: Any, refunds: list[dict[str, Any]]) -> list[dict]:
    """The ``shipping_refund`` adjustment for ``shipping`` (``{"full_refund": true}`` or ``{"amount"}``)."""
    if not shipping:
        return []
    if not isinstance(shipping, dict):
        raise _unprocessable("shipping", "must be an object")
    left, tax_left = _shipping_left(order, refunds)
    amount = left if "amount" not in shipping else _decimal(shipping["amount"], "shipping.amount")
    if amount <= 0 or (not shipping.get("full_refund") and "amount" not in shipping):
        return []
    if amount > left:
        raise _unprocessable("shipping", f"cannot refund more than {_money(left)} of shipping")
    tax = _cents(tax_left * amount / left) if left else _ZERO
    net = amount - tax if order["taxes_included"] else amount
    return [_adjustment(order, "shipping_refund", "Shipping refund", -net, -tax)]


def _adjustment(
    order: dict[str, Any], kind: str, reason: str, amount: Decimal, tax: Decimal
) -> dict[str, Any]:
    currency = order["currency"]
    return {
        "id": next(_item_ids),
        "order_id": order["id"],
        "amount": _money(amount),
        "amount_set": _set(amount, currency),
        "tax_amount": _money(tax),
        "tax_amount_set": _set(tax, currency),
        "kind": kind,
        "reason": reason,
    }


def calculated(order: dict[str, Any], items: list[dict], adjustments: list[dict]) -> Decimal:
    """What the items and shipping of a refund come to, incl. tax (the money Shopify suggests)."""
    total = _ZERO
    for item in items:
        subtotal, tax = Decimal(item["subtotal_set"]["shop_money"]["amount"]), Decimal(str(item["total_tax"]))
        total += subtotal if order["taxes_included"] else subtotal + tax
    for adjustment in adjustments:
        total -= Decimal(adjustment["amount"]) + Decimal(adjustment["tax_amount"])
    return total


def _transactions(order: dict[str, Any], given: Any, created: str) -> list[dict[str, Any]]:
    if not isinstance(given, list) or not all(isinstance(t, dict) for t in given):
        raise _unprocessable("transactions", "must be a list of objects")
    gateways = order.get("payment_gateway_names") or ["manual"]
    result = []
    for n, transaction in enumerate(given):
        amount = _decimal(transaction.get("amount", "0"), f"transactions.{n}.amount")
        if amount <= 0:
            continue
        result.append(
            {
                "id": next(_item_ids),
                "admin_graphql_api_id": None,
                "amount": _money(amount),
                "authorization": None,
                "created_at": created,
                "currency": order["currency"],
                "gateway": transaction.get("gateway", gateways[0]),
                "kind": transaction.get("kind", "refund"),
                "order_id": order["id"],
                "parent_id": transaction.get("parent_id"),
                "processed_at": created,
                "status": "success",
                "test": False,
            }
        )
        result[-1]["admin_graphql_api_id"] = f"gid://shopify/OrderTransaction/{result[-1]['id']}"
    return result


def build_refund(order: dict[str, Any], body: Mapping[str, Any], refunds: list[dict[str, Any]]) -> dict:
    """The refund ``body`` (``POST refunds.json``'s ``refund``) makes of ``order``, given its earlier
    ``refunds``; raises a 422 for what Shopify refuses."""
    created = now_local().isoformat()
    items = _refund_line_items(order, body.get("refund_line_items", []), refunds)
    adjustments = _shipping_adjustment(order, body.get("shipping"), refunds)
    transactions = _transactions(order, body.get("transactions", []), created)
    money = sum((Decimal(t["amount"]) for t in transactions if t["kind"] == "refund"), _ZERO)
    if money > Decimal(order["total_price"]) - refunded(refunds):
        raise _unprocessable("base", "Refund amount exceeds the amount that can be refunded")
    expected = calculated(order, items, adjustments)
    if transactions and abs(money - expected) >= _CENT:
        adjustments.append(
            _adjustment(order, "refund_discrepancy", "Refund discrepancy", expected - money, _ZERO)
        )
    refund_id = next(_refund_ids)
    zero = _set(_ZERO, order["currency"])
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "created_at": created,
        "note": body.get("note"),
        "order_id": order["id"],
        "processed_at": created,
        "restock": any(item["restock_type"] != "no_restock" for item in items),
        "total_additional_fees_set": zero,
        "total_duties_set": zero,
        "user_id": 548_380_009,
        "order_adjustments": adjustments,
        "transactions": transactions,
        "refund_line_items": items,
        "duties": [],
        "additional_fees": [],
    }


def suggested_transactions(
    order: dict[str, Any], body: dict[str, Any], refunds: list[dict[str, Any]]
) -> list:
    """What a merchant's "Refund" button sends: the calculated amount (or ``amount``) to the order's
    gateway, nothing for 0."""
    if "transactions" in body:
        return body["transactions"]
    if "amount" in body:
        amount = _decimal(body["amount"], "amount")
    else:
        items = _refund_line_items(order, body.get("refund_line_items", []), refunds)
        amount = calculated(order, items, _shipping_adjustment(order, body.get("shipping"), refunds))
    return [{"kind": "refund", "amount": _money(amount)}] if amount > 0 else []


def apply_refunds(order: dict[str, Any], refunds: list[dict[str, Any]]) -> None:
    """Show ``refunds`` on the order (in place): its ``refunds``, status and current totals."""
    if not refunds:
        return
    order["refunds"] = refunds
    back = refunded(refunds)
    total = Decimal(order["total_price"])
    if back > 0:
        order["financial_status"] = "refunded" if back >= total else "partially_refunded"
    current = total - back
    order["current_total_price"] = _money(current)
    order["current_total_price_set"] = _set(current, order["currency"])
    taxes = sum(
        (Decimal(str(item["total_tax"])) for refund in refunds for item in refund["refund_line_items"]),
        _ZERO,
    ) - sum((Decimal(a["tax_amount"]) for r in refunds for a in r["order_adjustments"]), _ZERO)
    current_tax = Decimal(order["total_tax"]) - taxes
    order["current_total_tax"] = _money(current_tax)
    order["current_total_tax_set"] = _set(current_tax, order["currency"])
    for line in order["line_items"]:
        line["current_quantity"] = line["quantity"] - refunded_quantity(refunds, line["id"])
        line["fulfillable_quantity"] = min(line["fulfillable_quantity"], line["current_quantity"])


class RefundApi:
    """The Admin API's and the control API's refund endpoints, mixed into the sandbox."""

    def refund(self, shop: Shop, order_id: int, body: Any) -> dict[str, Any]:
        """Make a refund of the order (as ``POST refunds.json`` does); returns it."""
        order = shop.order(order_id)
        if order is None:
            raise HTTPException(errors(404, "Not Found"))
        if not isinstance(body, dict):
            raise _unprocessable("refund", "must be an object")
        earlier = shop.refunds.get(order_id, [])
        refund = build_refund(order, body, earlier)
        shop.refunds[order_id] = [*earlier, refund]
        meta = shop.meta[order_id]
        meta.identity.updated_at = refund["created_at"]
        cart = shop.carts[order_id]
        self._rebuild(shop, order_id, cart)
        return refund

    async def _list_refunds(self, shop: Shop, request: Any, order_id: str) -> Response:
        if not order_id.isdigit() or int(order_id) not in shop.raw:
            return errors(404, "Not Found")
        return Response.json({"refunds": shop.refunds.get(int(order_id), [])})

    async def _get_refund(self, shop: Shop, request: Any, order_id: str, refund_id: str) -> Response:
        found = [r for r in shop.refunds.get(int(order_id), []) if str(r["id"]) == refund_id]
        return Response.json({"refund": found[0]}) if found else errors(404, "Not Found")

    async def _create_refund(self, shop: Shop, request: Any, order_id: str) -> Response:
        data = self._body(request)
        body = data.get("refund") if isinstance(data, dict) else None
        if not order_id.isdigit() or int(order_id) not in shop.raw:
            return errors(404, "Not Found")
        if not isinstance(body, dict):
            return errors(400, {"refund": ["Required parameter missing or invalid"]})
        return self._refunded(shop, int(order_id), body)

    def _refunded(self, shop: Shop, order_id: int, body: dict[str, Any]) -> Response:
        """Make the refund and answer it; the webhooks go once the answer is out."""
        refund = self.refund(shop, order_id, body)
        response = Response.json({"refund": refund}, 201)
        raw = Response.json(refund).body
        response.after = self._webhooks(
            shop, [("refunds/create", order_id, raw), ("orders/updated", order_id)]
        )
        return response

    async def _c_refunds(self, shop: Shop, request: Any, order_id: str) -> Response:
        return await self._list_refunds(shop, request, order_id)

    async def _c_create_refund(self, shop: Shop, request: Any, order_id: str) -> Response:
        """A refund as a merchant makes it in the admin (see the module docstring)."""
        if not order_id.isdigit() or int(order_id) not in shop.raw:
            return errors(404, "Not Found")
        body = self._body(request)
        if not isinstance(body, dict):
            return errors(400, {"refund": ["must be an object"]})
        order = shop.order(int(order_id)) or {}
        earlier = shop.refunds.get(int(order_id), [])
        body = {**body, "transactions": suggested_transactions(order, body, earlier)}
        response = self._refunded(shop, int(order_id), body)
        if not self._notify(request):
            response.after = None
        return response
