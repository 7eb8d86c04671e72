"""The order Shopify writes for a cart (pure: the same cart gives the same order)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .common import _ZERO, FINANCIAL_STATUSES, UNPAID, _bad_request, _line_ids
from .money import _decimal, _fraction, _money, _set, _Target, allocate, tax
from .transactions import GIFT_CARD_GATEWAY, gift_card_total


def _tax_lines(amount: Decimal, target: _Target, settings: ShopSettings, currency: str) -> list[dict]:
    if not target.taxable or target.rate == 0:
        return []
    price = tax(amount, target.rate, settings.taxes_included)
    return [
        {
            "channel_liable": False,
            "price": _money(price),
            "price_set": _set(price, currency),
            "rate": _fraction(target.rate),
            "title": settings.tax_title,
        }
    ]


def _allocations(target: _Target, currency: str) -> list[dict[str, Any]]:
    return [
        {"amount": _money(amount), "amount_set": _set(amount, currency), "discount_application_index": index}
        for index, amount in target.allocations
    ]


# -- the order Shopify writes ------------------------------------------------------------------------------


@dataclass(slots=True)
class ShopSettings:
    taxes_included: bool = True
    currency: str = "EUR"
    tax_title: str = "BTW"
    shop_domain: str = "example.myshopify.com"


@dataclass(slots=True)
class Identity:
    """What stays the same when an order is written again: ids, number, token, dates."""

    id: int
    number: int
    created_at: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    updated_at: str = ""
    line_ids: list[int] = field(default_factory=list)


DEFAULT_ADDRESS = {
    "first_name": "Sanne",
    "last_name": "Jansen",
    "company": None,
    "address1": "Kerkstraat 7",
    "address2": None,
    "city": "Utrecht",
    "zip": "3511 LK",
    "province": None,
    "province_code": None,
    "country": "Netherlands",
    "country_code": "NL",
    "phone": "+31301234567",
}
_ADDRESS_FIELDS = (*DEFAULT_ADDRESS, "name", "latitude", "longitude")


def _address(given: Any, fallback: dict[str, Any], what: str) -> dict[str, Any] | None:
    if given is None:
        return None
    if not isinstance(given, dict):
        raise _bad_request({what: ["must be an object or null"]})
    address = {**dict.fromkeys(_ADDRESS_FIELDS), **fallback, **given}
    names = (address.get("first_name"), address.get("last_name"))
    address.setdefault("name", None)
    address["name"] = address["name"] or " ".join(part for part in names if part) or None
    return address


def _list_of_objects(cart: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = cart.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _bad_request({key: ["must be a list of objects"]})
    return value


def build_order(cart: dict[str, Any], identity: Identity, settings: ShopSettings) -> dict[str, Any]:
    """The complete Shopify order for a cart. Pure: the same input gives the same order."""
    currency = str(cart.get("currency", settings.currency))
    settings = ShopSettings(
        bool(cart.get("taxes_included", settings.taxes_included)),
        currency,
        settings.tax_title,
        settings.shop_domain,
    )
    items = _list_of_objects(cart, "line_items")
    if not items:
        raise _bad_request({"line_items": ["must have at least one line item"]})
    shipping = _list_of_objects(cart, "shipping_lines")
    discounts = _list_of_objects(cart, "discounts")
    line_targets = [_line_target(item, n) for n, item in enumerate(items)]
    ship_targets = [
        _Target(
            _decimal(s.get("price", "0"), f"shipping_lines.{n}.price"), _rate(s, f"shipping_lines.{n}"), True
        )
        for n, s in enumerate(shipping)
    ]
    applications, codes = [], []
    for index, discount in enumerate(discounts):
        targets = ship_targets if discount.get("target_type") == "shipping_line" else line_targets
        amount = allocate(discount, index, targets, f"discounts.{index}")
        applications.append(_application(discount))
        if discount.get("code"):
            kind = (
                "shipping" if discount.get("target_type") == "shipping_line" else discount.get("value_type")
            )
            codes.append({"code": discount["code"], "amount": _money(amount), "type": kind})
    while len(identity.line_ids) < len(items) + len(shipping):
        identity.line_ids.append(next(_line_ids))
    line_items = [
        _line_item(item, target, identity.line_ids[n], settings)
        for n, (item, target) in enumerate(zip(items, line_targets, strict=True))
    ]
    shipping_lines = [
        _shipping_line(line, target, identity.line_ids[len(items) + n], settings)
        for n, (line, target) in enumerate(zip(shipping, ship_targets, strict=True))
    ]
    return _order(cart, identity, settings, line_items, shipping_lines, applications, codes)


def _rate(line: dict[str, Any], what: str) -> Decimal:
    rate = _decimal(line.get("tax_rate", "21"), f"{what}.tax_rate")
    if not 0 <= rate < 100:
        raise _bad_request({f"{what}.tax_rate": ["must be a percentage from 0 to 100"]})
    return rate


def _line_target(item: dict[str, Any], n: int) -> _Target:
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise _bad_request({f"line_items.{n}.quantity": ["must be a whole number of at least 1"]})
    price = _decimal(item.get("price", "0"), f"line_items.{n}.price")
    taxable = bool(item.get("taxable", True))
    return _Target(price * quantity, _rate(item, f"line_items.{n}"), taxable, str(item.get("sku") or ""))


def _application(discount: dict[str, Any]) -> dict[str, Any]:
    value_type = discount.get("value_type", "percentage")
    kind = "discount_code" if discount.get("code") else discount.get("type", "automatic")
    application = {
        "target_type": discount.get("target_type", "line_item"),
        "type": kind,
        "value": _value(_decimal(discount.get("value", "0"), "discount value")),
        "value_type": value_type,
        "allocation_method": "across",
        "target_selection": "entitled" if discount.get("skus") else "all",
    }
    if kind == "discount_code":
        application["code"] = discount["code"]
    else:
        title = discount.get("title") or "Korting"
        application["title"] = title
        application["description"] = discount.get("description", title)
    return application


def _value(value: Decimal) -> str:
    """Shopify writes a discount's value with at least one decimal: "10.0", "4.95"."""
    return f"{value:.1f}" if value == value.to_integral() else str(value)


def _line_item(item: dict[str, Any], target: _Target, line_id: int, settings: ShopSettings) -> dict[str, Any]:
    currency = settings.currency
    price = _decimal(item.get("price", "0"), "price")
    title = str(item.get("title") or "Product")
    variant = item.get("variant_title")
    exists = bool(item.get("product_exists", True))
    discount = target.base - target.discounted
    quantity = item.get("quantity", 1)
    product_id = item.get("product_id", _stable_id(title)) if exists else None
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "attributed_staffs": [],
        "current_quantity": quantity,
        "fulfillable_quantity": quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": bool(item.get("gift_card", False)),
        "grams": item.get("grams", 500),
        "name": f"{title} - {variant}" if variant else title,
        "price": _money(price),
        "price_set": _set(price, currency),
        "product_exists": exists,
        "product_id": product_id,
        "properties": item.get("properties", []),
        "quantity": quantity,
        "requires_shipping": bool(item.get("requires_shipping", True)),
        "sku": item.get("sku", ""),
        "taxable": target.taxable,
        "title": title,
        "total_discount": _money(discount),
        "total_discount_set": _set(discount, currency),
        "variant_id": (product_id + 1) if product_id else None,
        "variant_inventory_management": "shopify",
        "variant_title": variant,
        "vendor": item.get("vendor", "Koppel Sandbox"),
        "tax_lines": _tax_lines(target.discounted, target, settings, currency),
        "duties": [],
        "discount_allocations": _allocations(target, currency),
    }


def _stable_id(title: str) -> int:
    return 8_800_000_000_000 + int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) % 10**9 * 10


def _shipping_line(
    line: dict[str, Any], target: _Target, line_id: int, settings: ShopSettings
) -> dict[str, Any]:
    currency = settings.currency
    title = str(line.get("title") or "Standaard verzending")
    return {
        "id": line_id,
        "carrier_identifier": None,
        "code": line.get("code", title),
        "discounted_price": _money(target.discounted),
        "discounted_price_set": _set(target.discounted, currency),
        "is_removed": False,
        "phone": None,
        "price": _money(target.base),
        "price_set": _set(target.base, currency),
        "requested_fulfillment_service_id": None,
        "source": "shopify",
        "title": title,
        "tax_lines": _tax_lines(target.discounted, target, settings, currency),
        "discount_allocations": _allocations(target, currency),
    }


def _order(
    cart: dict[str, Any],
    identity: Identity,
    settings: ShopSettings,
    line_items: list[dict[str, Any]],
    shipping_lines: list[dict[str, Any]],
    applications: list[dict[str, Any]],
    codes: list[dict[str, Any]],
) -> dict[str, Any]:
    currency = settings.currency
    line_total = sum((Decimal(i["price"]) * i["quantity"] for i in line_items), _ZERO)
    line_discounts = sum((Decimal(i["total_discount"]) for i in line_items), _ZERO)
    ship_total = sum((Decimal(s["price"]) for s in shipping_lines), _ZERO)
    ship_after = sum((Decimal(s["discounted_price"]) for s in shipping_lines), _ZERO)
    taxes = _order_tax_lines([*line_items, *shipping_lines], currency)
    total_tax = sum((Decimal(t["price"]) for t in taxes), _ZERO)
    duties = _decimal(cart.get("duties", "0"), "duties")
    fees = _decimal(cart.get("additional_fees", "0"), "additional_fees")
    subtotal = line_total - line_discounts
    total = subtotal + ship_after + duties + fees + (_ZERO if settings.taxes_included else total_tax)
    status = cart.get("financial_status", "paid")
    if status not in FINANCIAL_STATUSES:
        raise _bad_request({"financial_status": [f"must be one of {', '.join(FINANCIAL_STATUSES)}"]})
    billing = _address(cart.get("billing_address", {}), DEFAULT_ADDRESS, "billing_address")
    shipping_address = _address(
        cart.get("shipping_address", billing or {}), billing or DEFAULT_ADDRESS, "shipping_address"
    )
    email = cart.get("email", f"klant.{identity.number}@example.nl")
    gateways = cart.get("payment_gateway_names", [cart.get("gateway", "shopify_payments")])
    redeemed = gift_card_total(cart)
    if redeemed and GIFT_CARD_GATEWAY not in gateways:
        gateways = [GIFT_CARD_GATEWAY, *gateways]  # Shopify lists the gift card among the gateways
    created = identity.created_at
    outstanding = total - redeemed if status in UNPAID else _ZERO
    order = {
        "id": identity.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{identity.id}",
        "app_id": 580111,
        "browser_ip": "192.0.2.10",
        "buyer_accepts_marketing": False,
        "cancel_reason": cart.get("cancel_reason"),
        "cancelled_at": cart.get("cancelled_at"),
        "cart_token": None,
        "checkout_id": identity.id + 1,
        "checkout_token": identity.token[::-1],
        "client_details": None,
        "closed_at": cart.get("closed_at"),
        "confirmation_number": identity.token[:9].upper(),
        "confirmed": True,
        "contact_email": email,
        "created_at": created,
        "currency": currency,
        "current_subtotal_price": _money(subtotal),
        "current_subtotal_price_set": _set(subtotal, currency),
        "current_total_additional_fees_set": _set(fees, currency) if fees else None,
        "current_total_discounts": _money(line_discounts + ship_total - ship_after),
        "current_total_discounts_set": _set(line_discounts + ship_total - ship_after, currency),
        "current_total_duties_set": _set(duties, currency) if duties else None,
        "current_total_price": _money(total),
        "current_total_price_set": _set(total, currency),
        "current_total_tax": _money(total_tax),
        "current_total_tax_set": _set(total_tax, currency),
        "customer_locale": "nl",
        "device_id": None,
        "discount_codes": codes,
        "email": email,
        "estimated_taxes": False,
        "financial_status": status,
        "fulfillment_status": cart.get("fulfillment_status"),
        "gateway": gateways[0] if gateways else "",
        "landing_site": "/",
        "landing_site_ref": None,
        "location_id": None,
        "merchant_of_record_app_id": None,
        "name": f"#{identity.number}",
        "note": cart.get("note"),
        "note_attributes": cart.get("note_attributes", []),
        "number": identity.number - 1000,
        "order_number": identity.number,
        "order_status_url": f"https://{settings.shop_domain}/{identity.id}/orders/{identity.token}/authenticate",
        "original_total_additional_fees_set": _set(fees, currency) if fees else None,
        "original_total_duties_set": _set(duties, currency) if duties else None,
        "payment_gateway_names": gateways,
        "phone": cart.get("phone"),
        "presentment_currency": currency,
        "processed_at": created,
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": cart.get("source_name", "web"),
        "source_url": None,
        "subtotal_price": _money(subtotal),
        "subtotal_price_set": _set(subtotal, currency),
        "tags": cart.get("tags", ""),
        "tax_exempt": False,
        "tax_lines": taxes,
        "taxes_included": settings.taxes_included,
        "test": bool(cart.get("test", False)),
        "token": identity.token,
        "total_discounts": _money(line_discounts + ship_total - ship_after),
        "total_discounts_set": _set(line_discounts + ship_total - ship_after, currency),
        "total_line_items_price": _money(line_total),
        "total_line_items_price_set": _set(line_total, currency),
        "total_outstanding": _money(outstanding),
        "total_price": _money(total),
        "total_price_set": _set(total, currency),
        "total_shipping_price_set": _set(ship_total, currency),
        "total_tax": _money(total_tax),
        "total_tax_set": _set(total_tax, currency),
        "total_tip_received": "0.00",
        "total_weight": sum(int(i["grams"]) * i["quantity"] for i in line_items),
        "updated_at": identity.updated_at or created,
        "user_id": None,
        "billing_address": billing,
        "customer": _customer(cart, billing, email, identity),
        "discount_applications": applications,
        "fulfillments": [],
        "line_items": line_items,
        "payment_terms": None,
        "refunds": [],
        "shipping_address": shipping_address,
        "shipping_lines": shipping_lines,
    }
    order.update(cart.get("raw", {}))  # an escape hatch for payloads Shopify wrote in older versions
    return order


def _order_tax_lines(lines: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    """The order's taxes per rate and title: the per-line amounts added up."""
    totals: dict[tuple[float, str], Decimal] = {}
    for line in lines:
        for tax_line in line["tax_lines"]:
            key = (tax_line["rate"], tax_line["title"])
            totals[key] = totals.get(key, _ZERO) + Decimal(tax_line["price"])
    return [
        {
            "price": _money(price),
            "rate": rate,
            "title": title,
            "price_set": _set(price, currency),
            "channel_liable": False,
        }
        for (rate, title), price in totals.items()
    ]


def _customer(
    cart: dict[str, Any], billing: dict[str, Any] | None, email: str, identity: Identity
) -> dict[str, Any] | None:
    given = cart.get("customer", {})
    if given is None:
        return None
    address = billing or DEFAULT_ADDRESS
    return {
        "id": identity.id + 7,
        "email": email,
        "created_at": identity.created_at,
        "updated_at": identity.created_at,
        "first_name": address.get("first_name"),
        "last_name": address.get("last_name"),
        "state": "enabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": None,
        "currency": "EUR",
        "tags": "",
        "admin_graphql_api_id": f"gid://shopify/Customer/{identity.id + 7}",
        "default_address": {
            **address,
            "id": identity.id + 9,
            "customer_id": identity.id + 7,
            "default": True,
        },
        **given,
    }
