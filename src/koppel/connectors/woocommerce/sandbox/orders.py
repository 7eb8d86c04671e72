"""Orders as the store writes them: the spec from a cart, the header, the REST JSON."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from .calc import Calculated, Coupon
from .common import CURRENCY_SYMBOLS, STATUSES, WC_VERSION, _invalid, fmt2, to_decimal, to_int
from .refunds import summaries
from .settings import StoreSettings
from .state import OrderRecord, Store

# --- building orders ---------------------------------------------------------------------------------------


def _address(data: Any, what: str, with_email: bool) -> dict[str, str]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _invalid(f"{what} must be an object")
    fields = [
        "first_name",
        "last_name",
        "company",
        "address_1",
        "address_2",
        "city",
        "state",
        "postcode",
        "country",
    ]
    fields += ["email", "phone"] if with_email else ["phone"]
    return {name: str(data.get(name, "") or "") for name in fields}


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _invalid(f"{key} must be a list of objects")
    return value


def build_spec(data: dict[str, Any], settings: StoreSettings) -> dict[str, Any]:
    """What the order was made of (products, shipping, fees, coupons), checked and typed."""
    items = []
    for n, line in enumerate(_list(data, "line_items")):
        items.append(
            {
                "name": str(line.get("name", f"Product {n + 1}")),
                "product_id": to_int(line.get("product_id", 100 + n), f"line_items.{n}.product_id"),
                "variation_id": to_int(line.get("variation_id", 0), f"line_items.{n}.variation_id"),
                "sku": line.get("sku", f"SKU-{n + 1}"),
                "quantity": to_int(line.get("quantity", 1), f"line_items.{n}.quantity", 1),
                "price": to_decimal(line.get("price", "10.00"), f"line_items.{n}.price"),
                "tax_class": str(line.get("tax_class", "") or "").replace("standard", ""),
                "tax_status": line.get("tax_status", "taxable"),
                "deleted": bool(line.get("deleted", False)),
                "meta_data": line.get("meta_data", []),
            }
        )
    shipping = [
        {
            "method_title": str(line.get("method_title", "Verzending")),
            "method_id": str(line.get("method_id", "flat_rate")),
            "instance_id": str(line.get("instance_id", "1")),
            "total": to_decimal(line.get("total", "0.00"), f"shipping_lines.{n}.total"),
            "tax_class": line.get("tax_class", "inherit"),
        }
        for n, line in enumerate(_list(data, "shipping_lines"))
    ]
    fees = [
        {
            "name": str(line.get("name", "Toeslag")),
            "total": to_decimal(line.get("total", "0.00"), f"fee_lines.{n}.total"),
            "tax_class": str(line.get("tax_class", "") or "").replace("standard", ""),
            "tax_status": line.get("tax_status", "taxable"),
        }
        for n, line in enumerate(_list(data, "fee_lines"))
    ]
    coupons = []
    for n, line in enumerate(_list(data, "coupon_lines")):
        kind = line.get("discount_type", "percent")
        if kind not in ("percent", "fixed_cart", "fixed_product"):
            raise _invalid(f"coupon_lines.{n}.discount_type: {kind!r} is not a coupon type")
        amount = to_decimal(line.get("amount", "10"), f"coupon_lines.{n}.amount")
        coupons.append(Coupon(str(line.get("code", f"coupon{n + 1}")).lower(), kind, amount))
    gift_cards = [
        {
            "code": str(line.get("code", f"GIFT-{n + 1:04d}")),
            "amount": to_decimal(line.get("amount", "10.00"), f"gift_cards.{n}.amount"),
        }
        for n, line in enumerate(_list(data, "gift_cards"))
    ]
    return {
        "gift_cards": gift_cards,
        "prices_include_tax": bool(data.get("prices_include_tax", settings.prices_include_tax)),
        "vat_exempt": bool(data.get("vat_exempt", False)),
        "line_items": items,
        "shipping_lines": shipping,
        "fee_lines": fees,
        "coupons": coupons,
    }


HEADER_DEFAULTS: dict[str, Any] = {
    "parent_id": 0,
    "customer_id": 0,
    "payment_method": "mollie_wc_gateway_ideal",
    "payment_method_title": "iDEAL",
    "transaction_id": "",
    "customer_ip_address": "127.0.0.1",
    "customer_user_agent": "Mozilla/5.0 (Koppel sandbox)",
    "created_via": "checkout",
    "customer_note": "",
}


def build_header(data: dict[str, Any], store: Store, order_id: int) -> dict[str, Any]:
    status = data.get("status", "processing")
    if status not in STATUSES:
        raise _invalid(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    meta = data.get("meta_data", [])
    if not isinstance(meta, list):
        raise _invalid("meta_data must be a list")
    header = {key: data.get(key, default) for key, default in HEADER_DEFAULTS.items()}
    header.update(
        status=status,
        number=str(data.get("number", order_id)),
        currency=str(data.get("currency", store.settings.currency)),
        order_key=data.get("order_key") or f"wc_order_{secrets.token_urlsafe(10)[:13]}",
        cart_hash=data.get("cart_hash", secrets.token_hex(16)),
        billing=_address(data.get("billing"), "billing", True),
        shipping=_address(data.get("shipping"), "shipping", False),
        meta_data=[dict(m) for m in meta if isinstance(m, dict)],
    )
    return header


_SPEC_KEYS = frozenset(
    {
        "prices_include_tax",
        "vat_exempt",
        "line_items",
        "shipping_lines",
        "fee_lines",
        "coupon_lines",
        "gift_cards",
    }
)


def _item_json(store: Store, line: dict[str, Any], calc: dict[str, Any], item_id: int) -> dict[str, Any]:
    gone = line["deleted"] or line["product_id"] in store.deleted_products
    product_id = 0 if gone else line["product_id"]
    return {
        "id": item_id,
        "name": line["name"],
        "product_id": product_id,
        "variation_id": 0 if gone else line["variation_id"],
        "quantity": line["quantity"],
        "tax_class": "" if line["tax_class"] is None else line["tax_class"],
        **{k: calc[k] for k in ("subtotal", "subtotal_tax", "total", "total_tax", "taxes")},
        "meta_data": line["meta_data"],
        "sku": None if gone else line["sku"],
        "price": calc["price"],
        "image": {"id": "", "src": ""}
        if gone
        else {
            "id": str(product_id + 5000),
            "src": f"{store.home_url}/wp-content/uploads/product-{product_id}.jpg",
        },
        "parent_name": None,
    }


def gift_cards_json(cards: list[dict[str, Any]], first_id: int) -> list[dict[str, Any]]:
    """``gift_cards`` as the WooCommerce Gift Cards extension shows them: the cards redeemed on the order
    (their amounts JSON numbers), which WooCommerce's ``total`` no longer includes."""
    return [
        {"id": first_id * 10 + n, "code": card["code"], "amount": float(card["amount"])}
        for n, card in enumerate(cards, 1)
    ]


def render_order(store: Store, record: OrderRecord, calc: Calculated) -> dict[str, Any]:
    h, spec = record.header, record.spec
    ids = iter(record.item_ids)
    tax_ids = {}
    items = [
        _item_json(store, line, c, next(ids)) for line, c in zip(spec["line_items"], calc.items, strict=True)
    ]
    shipping = [
        {
            "id": next(ids),
            "method_title": line["method_title"],
            "method_id": line["method_id"],
            "instance_id": line["instance_id"],
            **c,
            "meta_data": [],
        }
        for line, c in zip(spec["shipping_lines"], calc.shipping_lines, strict=True)
    ]
    fees = [
        {"id": next(ids), "name": line["name"], "tax_class": line["tax_class"], **c, "meta_data": []}
        for line, c in zip(spec["fee_lines"], calc.fee_lines, strict=True)
    ]
    coupons = [{"id": next(ids), **c, "meta_data": []} for c in calc.coupon_lines]
    for line in calc.tax_lines:
        tax_ids[line["rate_id"]] = next(ids, 0) or record.item_ids[-1] + line["rate_id"]
    tax_lines = [{**line, "id": tax_ids[line["rate_id"]]} for line in calc.tax_lines]
    meta = list(h["meta_data"])
    if spec["vat_exempt"] and not any(m.get("key") == "is_vat_exempt" for m in meta):
        meta.append({"key": "is_vat_exempt", "value": "yes"})
    cards = gift_cards_json(spec.get("gift_cards", []), record.id)
    redeemed = sum((Decimal(str(card["amount"])) for card in cards), Decimal(0))
    total = Decimal(calc.totals["total"]) - redeemed
    gmt = lambda moment: None if moment is None else moment.replace(tzinfo=None).isoformat()  # noqa: E731
    return {
        "id": record.id,
        "parent_id": h["parent_id"],
        "status": h["status"],
        "currency": h["currency"],
        "version": WC_VERSION,
        "prices_include_tax": spec["prices_include_tax"],
        "date_created": store.local(record.created),
        "date_modified": store.local(record.modified),
        **{
            k: calc.totals[k]
            for k in (
                "discount_total",
                "discount_tax",
                "shipping_total",
                "shipping_tax",
                "cart_tax",
                "total",
                "total_tax",
            )
        },
        "total": fmt2(total),  # after the gift cards (keeps its place among the totals above)
        "customer_id": h["customer_id"],
        "order_key": h["order_key"],
        "billing": h["billing"],
        "shipping": h["shipping"],
        "payment_method": h["payment_method"],
        "payment_method_title": h["payment_method_title"],
        "transaction_id": h["transaction_id"],
        "customer_ip_address": h["customer_ip_address"],
        "customer_user_agent": h["customer_user_agent"],
        "created_via": h["created_via"],
        "customer_note": h["customer_note"],
        "date_completed": store.local(record.completed),
        "date_paid": store.local(record.paid),
        "cart_hash": h["cart_hash"],
        "number": h["number"],
        "meta_data": [
            {"id": 100 + n, "key": m.get("key", ""), "value": m.get("value")} for n, m in enumerate(meta)
        ],
        "line_items": items,
        "tax_lines": tax_lines,
        "shipping_lines": shipping,
        "fee_lines": fees,
        "coupon_lines": coupons,
        "refunds": summaries(store, record.id),
        "payment_url": f"{store.home_url}/checkout/order-pay/{record.id}/"
        f"?pay_for_order=true&key={h['order_key']}",
        "is_editable": h["status"] in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": h["status"] in ("pending", "failed") and total > 0,
        "needs_processing": bool(items),
        "date_created_gmt": gmt(record.created),
        "date_modified_gmt": gmt(record.modified),
        "date_completed_gmt": gmt(record.completed),
        "date_paid_gmt": gmt(record.paid),
        **({"gift_cards": cards} if cards else {}),
        "currency_symbol": CURRENCY_SYMBOLS.get(h["currency"], h["currency"]),
        "_links": {
            "self": [{"href": f"{store.api_url}/orders/{record.id}"}],
            "collection": [{"href": f"{store.api_url}/orders"}],
        },
    }
