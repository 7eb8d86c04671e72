"""Refunds of a store's orders, as the REST API v3's order refunds endpoints write them.

- ``GET orders/{id}/refunds`` (newest first, ``page``/``per_page``, ``X-WP-Total`` and ``X-WP-TotalPages``),
  ``GET orders/{id}/refunds/{refund_id}``, ``POST orders/{id}/refunds`` with ``{"amount", "reason",
  "api_refund", "line_items": [{"id", "quantity", "refund_total", "refund_tax": [{"id", "refund_total"}]}]}``
  (the ids of any of the order's items: products, shipping, fees; ``refund_total`` excl. tax). Without
  ``amount`` the items' totals and taxes are refunded; ``amount`` takes precedence when given (as in
  WooCommerce). An amount of 0 or less, or more than is left to refund: 400
  ``woocommerce_rest_cannot_create_order_refund``.
- A refund's items carry WooCommerce's signs (``quantity``, ``subtotal``, ``total``, taxes negative) and
  the meta ``_refunded_item_id``; products are in ``line_items``, shipping in ``shipping_lines``, fees in
  ``fee_lines``. Its id comes from the store's sequence of order ids (refunds are posts, as orders are).
- The order's ``refunds`` then list ``{"id", "reason", "total": "-<amount>"}``, newest first; its
  ``date_modified`` moves on, a full refund sets ``status`` to ``refunded`` (``wc_order_fully_refunded``),
  and the store sends ``order.updated`` (hook ``woocommerce_order_refunded``).
- Control API: ``POST /stores/{store}/orders/{id}/refunds`` makes a refund as the merchant does in the
  back office: ``{"line_items": [{"id" | "index", "quantity"}], "shipping": true, "amount", "reason"}``,
  each item's share (``quantity`` of its units, with their taxes) computed; ``{"full": true}`` refunds
  what is left as an amount (the status set to Refunded). ``GET`` lists the refunds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from koppel.sandbox.http import HTTPException, Request, Response

from .common import ZERO, fmt2, now_gmt, rnd, to_decimal, wc_error, wc_response

if TYPE_CHECKING:
    from .state import OrderRecord, Store

KINDS = ("line_items", "shipping_lines", "fee_lines")
CANNOT = "woocommerce_rest_cannot_create_order_refund"


def _refuse(message: str) -> HTTPException:
    return HTTPException(wc_error(400, CANNOT, message))


def summaries(store: Store, order_id: int) -> list[dict[str, Any]]:
    """The order's ``refunds``: each refund's id, reason and total (negative), newest first."""
    return [
        {"id": r["id"], "reason": r["reason"], "total": fmt2(-Decimal(r["amount"]))}
        for r in store.refunds.get(order_id, [])
    ]


def refunded(store: Store, order_id: int) -> Decimal:
    return sum((Decimal(r["amount"]) for r in store.refunds.get(order_id, [])), ZERO)


def _items(doc: dict[str, Any]) -> dict[int, tuple[str, dict[str, Any]]]:
    return {item["id"]: (kind, item) for kind in KINDS for item in doc.get(kind, [])}


def _refund_item(
    kind: str, item: dict[str, Any], quantity: int, total: Decimal, taxes: dict[int, Decimal], new_id: int
) -> dict:
    """One refunded item, WooCommerce's signs."""
    tax = sum(taxes.values(), ZERO)
    entries = [{"id": rate_id, "total": fmt2(-t), "subtotal": fmt2(-t)} for rate_id, t in taxes.items()]
    line = {
        "id": new_id,
        "total": fmt2(-total),
        "total_tax": fmt2(-tax),
        "taxes": entries,
        "meta_data": [{"id": new_id + 1, "key": "_refunded_item_id", "value": str(item["id"])}],
    }
    if kind == "line_items":
        unit = -total / quantity if quantity else -total
        line = {
            "name": item["name"],
            "product_id": item["product_id"],
            "variation_id": item["variation_id"],
            "quantity": -quantity,
            "tax_class": item["tax_class"],
            "subtotal": fmt2(-total),
            "subtotal_tax": fmt2(-tax),
            **line,
            "sku": item["sku"],
            "price": float(rnd(unit)),
            "refund_total": float(-total),
        }
    elif kind == "shipping_lines":
        line = {"method_title": item["method_title"], "method_id": item["method_id"], **line}
    else:
        line = {"name": item["name"], "tax_class": item.get("tax_class", ""), **line}
    return line


def build_refund(store: Store, record: OrderRecord, body: Mapping[str, Any]) -> dict[str, Any]:
    """The refund ``body`` makes of the order; raises a 400 for what WooCommerce refuses."""
    items = _items(record.doc)
    given = body.get("line_items") or []
    if not isinstance(given, list) or not all(isinstance(x, dict) for x in given):
        raise _refuse("line_items must be a list of objects")
    lines: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    money = ZERO
    for n, entry in enumerate(given):
        found = items.get(entry.get("id"))
        if found is None:
            raise _refuse(f"line_items.{n}.id is not an item of this order")
        total = rnd(to_decimal(entry.get("refund_total", "0"), f"line_items.{n}.refund_total"))
        taxes = {
            int(t.get("id", 0)): rnd(to_decimal(t.get("refund_total", "0"), f"line_items.{n}.refund_tax"))
            for t in entry.get("refund_tax") or []
            if isinstance(t, dict)
        }
        quantity = int(entry.get("quantity") or 0)
        store.next_item_id += 2
        lines[found[0]].append(_refund_item(found[0], found[1], quantity, total, taxes, store.next_item_id))
        money += total + sum(taxes.values(), ZERO)
    if body.get("amount") not in (None, ""):
        money = rnd(to_decimal(body["amount"], "amount"))
    if money <= 0:
        raise _refuse("Refund amount must be greater than zero.")
    if money > Decimal(record.doc["total"]) - refunded(store, record.id):
        raise _refuse("Invalid refund amount.")
    return _refund_doc(store, record, body, money, lines)


def _refund_doc(
    store: Store, record: OrderRecord, body: Mapping[str, Any], money: Decimal, lines: dict[str, list]
) -> dict[str, Any]:
    refund_id = store.next_id
    store.next_id += 1
    now = now_gmt()
    url = f"{store.api_url}/orders/{record.id}"
    return {
        "id": refund_id,
        "date_created": store.local(now),
        "date_created_gmt": now.replace(tzinfo=None).isoformat(),
        "amount": fmt2(money),
        "reason": str(body.get("reason") or ""),
        "refunded_by": 1,
        "refunded_payment": bool(body.get("api_refund", True)),
        "meta_data": [],
        **lines,
        "tax_lines": [],
        "_links": {
            "self": [{"href": f"{url}/refunds/{refund_id}"}],
            "collection": [{"href": f"{url}/refunds"}],
            "up": [{"href": url}],
        },
    }


def merchant_body(record: OrderRecord, data: Mapping[str, Any], left: Decimal) -> dict[str, Any]:
    """The REST body the back office's refund form sends for ``data`` (see the module docstring)."""
    if data.get("full"):
        return {"amount": fmt2(left), "reason": data.get("reason", "Order fully refunded")}
    doc = record.doc
    entries = []
    for n, wanted in enumerate(data.get("line_items") or []):
        item = doc["line_items"][wanted["index"]] if "index" in wanted else _items(doc)[wanted["id"]][1]
        quantity = int(wanted.get("quantity", item.get("quantity", 1)))
        share = Decimal(quantity) / Decimal(item["quantity"])
        entries.append(_entry(item, share, quantity, n))
    if data.get("shipping"):
        entries += [_entry(line, Decimal(1), 0, n) for n, line in enumerate(doc["shipping_lines"])]
    body: dict[str, Any] = {"line_items": entries, "reason": data.get("reason", "")}
    if data.get("amount") is not None:
        body["amount"] = data["amount"]
    return body


def _entry(item: dict[str, Any], share: Decimal, quantity: int, n: int) -> dict[str, Any]:
    return {
        "id": item["id"],
        "quantity": quantity,
        "refund_total": fmt2(rnd(to_decimal(item["total"], f"{n}.total") * share)),
        "refund_tax": [
            {"id": t["id"], "refund_total": fmt2(rnd(to_decimal(t["total"] or "0", f"{n}.tax") * share))}
            for t in item.get("taxes", [])
        ],
    }


class RefundApi:
    """The REST API's and the control API's refund endpoints, mixed into the sandbox."""

    def refund(self, store: Store, order_id: int, body: Any) -> dict[str, Any]:
        """Make a refund of the order (as ``POST orders/{id}/refunds`` does); returns it."""
        record = store.orders.get(order_id)
        if record is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
        if not isinstance(body, dict):
            raise _refuse("Body must be a JSON object")
        refund = build_refund(store, record, body)
        store.refunds[order_id] = [refund, *store.refunds.get(order_id, [])]
        full = refunded(store, order_id) >= Decimal(record.doc["total"])
        self.update(store, order_id, {"status": "refunded"} if full else {})
        return refund

    def _refunded(self, store: Store, order_id: int, body: Any) -> Response:
        refund = self.refund(store, order_id, body)
        response = wc_response(refund, 201)
        response.after = self._sender(store, self._events(store, "order.updated", [store.orders[order_id]]))
        return response

    async def _list_refunds(self, store: Store, request: Request, order_id: str) -> Response:
        if not order_id.isdigit() or int(order_id) not in store.orders:
            return wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        refunds = store.refunds.get(int(order_id), [])
        per_page = max(1, min(100, int(request.query.get("per_page", "10") or 10)))
        page = max(1, int(request.query.get("page", "1") or 1))
        pages = max(1, -(-len(refunds) // per_page))
        chosen = refunds[(page - 1) * per_page : page * per_page]
        return wc_response(chosen, 200, {"X-WP-Total": str(len(refunds)), "X-WP-TotalPages": str(pages)})

    async def _get_refund(self, store: Store, request: Request, order_id: str, refund_id: str) -> Response:
        found = [r for r in store.refunds.get(int(order_id), []) if str(r["id"]) == refund_id]
        if not found:
            return wc_error(404, "woocommerce_rest_invalid_id", "Invalid ID.")
        return wc_response(found[0])

    async def _create_refund(self, store: Store, request: Request, order_id: str) -> Response:
        if not order_id.isdigit():
            return wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return self._refunded(store, int(order_id), self._body(request))

    async def _c_refunds(self, store: Store, request: Request, order_id: str) -> Response:
        return await self._list_refunds(store, request, order_id)

    async def _c_create_refund(self, store: Store, request: Request, order_id: str) -> Response:
        record = self._order(store, order_id)
        data = self._body(request)
        if not isinstance(data, dict):
            return wc_error(400, CANNOT, "Body must be a JSON object")
        left = Decimal(record.doc["total"]) - refunded(store, record.id)
        response = self._refunded(store, record.id, merchant_body(record, data, left))
        if not self._notify(request):
            response.after = None
        return response
