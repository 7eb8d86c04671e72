"""A simulated Shopify, faithful to the REST Admin API's Order resource and to Shopify's webhooks.

Several shops live in one process, each under ``/shopify/{shop}``: the shop URL Koppel is configured with
is ``{sandbox url}/shopify/{shop}`` (``https://{shop}.myshopify.com`` in real life), and the API is under
``/admin/api/{version}/``:

- ``GET orders/{id}.json`` → ``{"order": {...}}``; ``GET orders.json`` with ``ids``, ``since_id``,
  ``created_at_min/max``, ``updated_at_min/max``, ``processed_at_min/max``, ``status`` (``open`` by
  default, ``closed``, ``cancelled``, ``any``), ``financial_status``, ``fulfillment_status``, ``fields``,
  ``limit`` (1-250, default 50) and cursor pagination: a ``Link`` header with ``rel="next"`` /
  ``rel="previous"`` URLs carrying ``page_info``; a request with ``page_info`` may only add ``limit`` and
  ``fields`` (anything else: 400). With ``since_id`` the list is sorted by id ascending; otherwise by
  ``order`` (``id``, ``created_at``, ``updated_at`` or ``processed_at``, ``asc``/``desc``), default
  ``id desc`` (newest first). ``GET orders/count.json`` takes the same filters.
- Auth: ``X-Shopify-Access-Token``, either the shop's permanent ``access_token`` (a legacy custom app's)
  or a token the client credentials grant issued; errors as Shopify writes them, ``{"errors": "..."}`` or
  ``{"errors": {"field": ["..."]}}``.
- The client credentials grant (a Dev Dashboard app's): ``POST /{shop}/admin/oauth/access_token`` with the
  form ``grant_type=client_credentials&client_id=...&client_secret=...`` (a JSON body with the same fields
  is taken too: Shopify's own Node library sends JSON) → ``{"access_token": "shpat_...", "scope":
  "read_orders,read_all_orders", "expires_in": 86399}``. The lifetime is the knob ``token_lifetime``
  (seconds, default 86399) so tests can use a short one; the Admin API answers an expired or revoked token
  401 like a wrong one.
- Rate limit: the REST leaky bucket per shop, 40 calls leaking 2 a second (knobs ``bucket_size`` and
  ``leak_rate``). Every answer past authentication carries ``X-Shopify-Shop-Api-Call-Limit: n/40``; a call
  into a full bucket is answered 429 with ``Retry-After: 2.0`` and does not fill it further.
- Versions: a request for a version older than the oldest supported one is answered by that oldest
  version (Shopify "falls forward"); ``X-Shopify-API-Version`` says which version answered.
- Only orders of the last 60 days are visible unless the app has ``read_all_orders`` (knob
  ``all_orders_access``, on by default because Koppel's README asks the merchant to grant it).

Orders are placed, changed and deleted through the control API (``/_sandbox/shopify``) from a short "cart"
(lines with a price, quantity and VAT percentage; shipping; discounts; the customer); the sandbox writes
the complete order the way Shopify does: discount allocations per line (a percentage rounded per line, a
fixed amount spread over the lines in proportion, leftover cents to the largest remainders), taxes per
line on the discounted amount, rounded half-up to the cent per line, order totals, ``*_set`` money bags.
Webhooks go to the shop's ``webhook_url`` for its subscribed topics (``orders/create``, ``orders/updated``,
``orders/paid`` by default), the body being the order, with Shopify's headers and signature.

Control API: ``POST /shops`` (create or change a shop: ``access_token`` and/or the app's ``client_id``
and ``client_secret`` (a new shop needs one of the two), ``app_installed``, ``webhook_url``,
``webhook_secret``, ``topics``, ``taxes_included``, ``currency``, ``knobs``); under ``/shops/{shop}``:
``POST orders`` (``?notify=false`` sends no webhook), ``POST orders/bulk`` (``{"count", "template",
"created_from", "created_to"}`` or ``{"orders": [...]}``, no webhooks), ``GET|PATCH|DELETE orders/{id}``
(a PATCH takes cart fields plus ``cancel``/``close``), ``DELETE products/{id}``, ``GET|POST knobs``,
``GET|DELETE webhooks`` (the delivery log, ``?wait_for=N``), ``POST webhooks/resend`` (the same webhook id
again: a duplicate), ``POST webhooks/release`` (the held ones, newest first), ``GET|DELETE requests``
(the Admin API and token requests, without headers or bodies), ``GET tokens`` (the granted tokens that
are still valid, with the seconds they have left), ``DELETE tokens`` (revoke them all). For people,
``GET /page`` lists the shops and ``GET /shops/{shop}/page`` shows a shop's orders
(:mod:`koppel.sandbox.pages`).

Assumptions where Shopify's documentation is silent (documented so tests can rely on them):

- Order ids are 13-digit numbers that grow with every order, across shops; order numbers start at 1001.
- Tax is rounded half-up; Shopify's rounding mode is not documented (it rounds per line, see above).
- ``order`` is not in the REST reference, but Shopify is widely reported to honour it; the default sort is
  newest first.
- An error for a parameter combined with ``page_info`` reads
  ``{"errors": {"page_info": ["cannot be combined with <name>; ..."]}}``; an invalid token, a ``limit``
  outside 1-250 and an unreadable date are 400s in the same shape.
- A webhook is tried up to ``webhook_tries`` times (Shopify: 8 times over 4 hours) a few tenths of a second
  apart; every try of one webhook, and every ``duplicate_webhooks`` copy, has the same
  ``X-Shopify-Webhook-Id``. Any answer but a 2xx is a failure, as Shopify counts it.
- Deleting a product turns the lines that sold it into ``product_id: null``, ``variant_id: null``,
  ``product_exists: false`` without changing the orders' ``updated_at`` and without a webhook.
- A refused grant is a 400 with an OAuth error, ``{"error": "...", "error_description": "..."}``: a
  missing field ``invalid_request``, another grant type ``unsupported_grant_type``, a client ID or secret
  that is not the shop's app's ``invalid_client`` (Shopify's exact wording and whether it answers 400 or
  401 are not documented; 400 is what merchants report for ``app_not_installed``), an app that is not
  installed (``app_installed: false``) ``app_not_installed``. A shop without an app refuses every client.
- The token endpoint is outside the Admin API: no version, no leaky bucket; the fault knobs
  (``fail_next``, ``error_rate``) are for API calls only, so a test's ``fail_next`` names the API call it
  means; ``latency_ms`` applies.
- Each grant issues a new token and the earlier ones stay valid until they expire.
- Webhooks are signed with ``webhook_secret``; a shop with an app and no ``webhook_secret`` signs them with
  the client secret, as Shopify signs the webhooks an app subscribes to.

All state is touched from the server's event loop only; reading it from another thread (tests reaching
``SandboxServer.app``) is fine while no requests are in flight.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import hmac
import itertools
import json
import logging
import math
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import HTTPException, Request, Response, Router
from koppel.sandbox.webhooks import Attempt, DeliveryLog, WebhookSender, log_attempt

logger = logging.getLogger("koppel.sandbox.shopify")

SUPPORTED_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
_VERSION = re.compile(r"^\d{4}-(?:01|04|07|10)$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
PAGE_INFO_ALLOWED = frozenset({"page_info", "limit", "fields"})
VISIBLE_DAYS = 60
LOG_LIMIT = 10_000
PAGES = pages.Pages("Shopify", "shopify", "shops")
DEFAULT_TOPICS = ("orders/create", "orders/updated", "orders/paid")
TOPICS = (*DEFAULT_TOPICS, "orders/cancelled", "orders/delete")
WEBHOOK_BACKOFF = (0.2, 0.5, 1.0)
"""Seconds before the second, third and later tries."""
WEBHOOK_TIMEOUT = 5.0
"""Shopify waits five seconds for an answer."""
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "expired",
)
UNPAID = frozenset({"pending", "authorized", "partially_paid"})
SORT_FIELDS = ("id", "created_at", "updated_at", "processed_at")
RATE_LIMIT_MESSAGE = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
AUTH_MESSAGE = "[API] Invalid API key or access token (unrecognized login or wrong password)"
TOKEN_PATH = "/admin/oauth/access_token"
GRANT_FIELDS = ("grant_type", "client_id", "client_secret")
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method."
)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_order_ids = itertools.count(5_980_000_000_001, 17)
_line_ids = itertools.count(14_100_000_000_001, 13)


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # no tz database on this machine: winter time is close enough
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


def now_local() -> datetime:
    return datetime.now(AMSTERDAM).replace(microsecond=0)


def errors(status: int, message: Any, headers: dict[str, str] | None = None) -> Response:
    """A Shopify style error: ``{"errors": "..."}`` or ``{"errors": {"field": [...]}}``."""
    return Response.json({"errors": message}, status, headers)


def _bad_request(message: Any) -> HTTPException:
    return HTTPException(errors(400, message))


# -- the money Shopify computes ----------------------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _bad_request({what: ["is not a number"]})
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad_request({what: [f"{value!r} is not a number"]}) from None
    if not result.is_finite():
        raise _bad_request({what: [f"{value!r} is not a number"]})
    return result


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{_cents(value):.2f}"


def _set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": _money(amount), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def _fraction(percent: Decimal) -> float:
    """21 → 0.21, as the JSON number Shopify writes."""
    return float(percent / 100)


@dataclass(slots=True)
class _Target:
    """A line item or shipping line being priced: what is left after earlier discounts."""

    base: Decimal
    rate: Decimal
    taxable: bool
    sku: str = ""
    allocations: list[tuple[int, Decimal]] = field(default_factory=list)

    @property
    def discounted(self) -> Decimal:
        return self.base - sum((amount for _, amount in self.allocations), _ZERO)


def allocate(discount: dict[str, Any], index: int, targets: list[_Target], what: str) -> Decimal:
    """Spread one discount application over its targets the way Shopify does; returns the amount."""
    kind = discount.get("value_type", "percentage")
    value = _decimal(discount.get("value", "0"), f"{what}.value")
    skus = discount.get("skus")
    eligible = [t for t in targets if t.discounted > 0 and (not skus or t.sku in skus)]
    if not eligible or value <= 0:
        return _ZERO
    if kind == "percentage":
        value = min(value, Decimal(100))
        amounts = [_cents(t.discounted * value / 100) for t in eligible]
    elif kind == "fixed_amount":
        amounts = spread(
            min(value, sum((t.discounted for t in eligible), _ZERO)), [t.discounted for t in eligible]
        )
    else:
        raise _bad_request({f"{what}.value_type": ["must be percentage or fixed_amount"]})
    for target, amount in zip(eligible, amounts, strict=True):
        if amount:
            target.allocations.append((index, amount))
    return sum(amounts, _ZERO)


def spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` in cents over ``weights`` in proportion: each share rounded down, the cents left over to the
    largest remainders, so the shares add up to ``total`` and none exceeds its weight."""
    whole = sum(weights, _ZERO)
    exact = [total * weight / whole for weight in weights]
    shares = [share.quantize(_CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((total - sum(shares, _ZERO)) / _CENT)
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[:left]:
        shares[i] += _CENT
    return shares


def tax(amount: Decimal, rate: Decimal, included: bool) -> Decimal:
    """The tax on one line, rounded to the cent per line (half-up)."""
    if included:
        return _cents(amount * rate / (100 + rate))
    return _cents(amount * rate / 100)


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
    created = identity.created_at
    outstanding = total if status in UNPAID else _ZERO
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


# -- shops ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ShopKnobs(FaultKnobs):
    """The fault knobs (``error_rate`` answers a random 500 or 503), and the shop's own."""

    rate_limit_enabled: bool = True
    bucket_size: int = 40
    leak_rate: float = 2.0
    """Calls a second that leak out of the bucket."""
    all_orders_access: bool = True
    """The app has ``read_all_orders``; without it only the last 60 days of orders are visible."""
    webhooks_enabled: bool = True
    duplicate_webhooks: int = 0
    """Extra copies of every webhook, with the same ``X-Shopify-Webhook-Id``, sent after the first."""
    out_of_order_webhooks: bool = False
    """Hold webhooks; switching it off (or ``POST .../webhooks/release``) sends them newest first."""
    webhook_tries: int = 3
    token_lifetime: int = 86399
    """Seconds a token from the client credentials grant is valid (its ``expires_in``)."""


@dataclass(slots=True)
class OrderMeta:
    """What the list filters read, kept beside the stored JSON so a list never parses 20,000 orders."""

    id: int
    identity: Identity
    created: float
    updated: float
    financial_status: str
    fulfillment_status: str | None
    cancelled: bool
    closed: bool

    def key(self, sort_field: str) -> tuple[float, int]:
        value = {"id": float(self.id), "created_at": self.created, "processed_at": self.created}.get(
            sort_field, self.updated
        )
        return value, self.id


def _epoch(value: Any) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


#: A webhook ready to send: its headers (signature included), the body and the order id.
Webhook = tuple[dict[str, str], bytes, int]


@dataclass(eq=False)
class Shop:
    name: str
    access_token: str
    """A legacy custom app's permanent token; empty for a shop reached only through an app's grant."""
    client_id: str = ""
    client_secret: str = ""
    app_installed: bool = True
    tokens: dict[str, float] = field(default_factory=dict)
    """Tokens the grant issued, with the ``time.monotonic()`` at which each expires."""
    webhook_url: str | None = None
    webhook_secret: str = ""
    topics: list[str] = field(default_factory=lambda: list(DEFAULT_TOPICS))
    webhook_api_version: str = SUPPORTED_VERSIONS[-1]
    settings: ShopSettings = field(default_factory=ShopSettings)
    knobs: ShopKnobs = field(default_factory=ShopKnobs)
    raw: dict[int, bytes] = field(default_factory=dict)
    """Every order as Shopify serialises it; pages are joined from these bytes."""
    meta: dict[int, OrderMeta] = field(default_factory=dict)
    carts: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    next_number: int = 1001
    level: float = 0.0
    level_at: float = field(default_factory=time.monotonic)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Delivery attempts: the newest ones, and how many were logged so far."""
    held: list[Webhook] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return f"{self.name}.myshopify.com"

    @property
    def signing_key(self) -> str:
        return self.webhook_secret or self.client_secret

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is the permanent token or a granted one that has not expired."""
        if self.access_token and hmac.compare_digest(token.encode(), self.access_token.encode()):
            return True
        return self.tokens.get(token, 0.0) > time.monotonic()

    def grant(self) -> dict[str, Any]:
        """A new token from the client credentials grant, as the token endpoint answers it."""
        now = time.monotonic()
        self.tokens = {token: until for token, until in self.tokens.items() if until > now}
        token = f"shpat_{uuid.uuid4().hex}"
        lifetime = self.knobs.token_lifetime
        self.tokens[token] = now + lifetime
        scope = "read_orders,read_all_orders" if self.knobs.all_orders_access else "read_orders"
        return {"access_token": token, "scope": scope, "expires_in": lifetime}

    def live_tokens(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {"access_token": token, "expires_in": round(until - now, 3)}
            for token, until in self.tokens.items()
            if until > now
        ]

    def summary(self, base_url: str) -> dict[str, Any]:
        return {
            "shop": self.name,
            "shop_url": f"{base_url}/shopify/{self.name}",
            "domain": self.domain,
            "client_id": self.client_id,
            "app_installed": self.app_installed,
            "webhook_url": self.webhook_url,
            "topics": self.topics,
            "taxes_included": self.settings.taxes_included,
            "currency": self.settings.currency,
            "orders": len(self.raw),
            "knobs": asdict(self.knobs),
        }

    def order(self, order_id: int) -> dict[str, Any] | None:
        raw = self.raw.get(order_id)
        return json.loads(raw) if raw is not None else None

    def put(self, order: dict[str, Any], cart: dict[str, Any], identity: Identity) -> bytes:
        order_id = order["id"]
        if order_id not in self.raw:
            bisect.insort(self.ids, order_id)
        raw = json.dumps(order, separators=(",", ":")).encode()
        self.raw[order_id] = raw
        self.carts[order_id] = cart
        self.meta[order_id] = OrderMeta(
            order_id,
            identity,
            _epoch(order["created_at"]),
            _epoch(order["updated_at"]),
            order["financial_status"],
            order.get("fulfillment_status"),
            order.get("cancelled_at") is not None,
            order.get("closed_at") is not None,
        )
        return raw

    def remove(self, order_id: int) -> bool:
        if self.raw.pop(order_id, None) is None:
            return False
        del self.meta[order_id], self.carts[order_id]
        self.ids.pop(bisect.bisect_left(self.ids, order_id))
        return True

    def take_call(self) -> bool:
        """One call into the leaky bucket; ``False`` when it is full."""
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.level_at) * self.knobs.leak_rate)
        self.level_at = now
        if not self.knobs.rate_limit_enabled:
            return True
        if self.level + 1 > self.knobs.bucket_size:
            return False
        self.level += 1
        return True

    @property
    def call_limit(self) -> str:
        return f"{min(math.ceil(self.level - 1e-9), self.knobs.bucket_size)}/{self.knobs.bucket_size}"


# -- list filters --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Query:
    """The filters of one ``orders.json`` request (what a ``page_info`` token carries along)."""

    params: dict[str, str]
    ids: frozenset[int] | None = None
    since_id: int | None = None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    status: str = "open"
    financial_status: str = "any"
    fulfillment_status: str = "any"
    sort: tuple[str, str] = ("id", "desc")

    @classmethod
    def parse(cls, params: dict[str, str]) -> Query:
        query = cls({k: v for k, v in params.items() if k not in PAGE_INFO_ALLOWED})
        if "ids" in params:
            query.ids = frozenset(_int(part, "ids") for part in params["ids"].split(",") if part.strip())
        if "since_id" in params:
            query.since_id = _int(params["since_id"], "since_id")
        for name in ("created_at", "updated_at", "processed_at"):
            low, high = params.get(f"{name}_min"), params.get(f"{name}_max")
            if low is not None or high is not None:
                query.ranges[name] = (_time(low, f"{name}_min"), _time(high, f"{name}_max"))
        query.status = _choice(params, "status", "open", ("open", "closed", "cancelled", "any"))
        query.financial_status = _choice(
            params, "financial_status", "any", ("any", "unpaid", *FINANCIAL_STATUSES)
        )
        query.fulfillment_status = _choice(
            params, "fulfillment_status", "any", ("any", "shipped", "partial", "unshipped", "unfulfilled")
        )
        query.sort = ("id", "asc") if query.since_id is not None else _sort(params.get("order"))
        return query

    def matches(self, meta: OrderMeta, visible_from: float | None) -> bool:
        if visible_from is not None and meta.created < visible_from:
            return False
        if self.ids is not None and meta.id not in self.ids:
            return False
        if self.since_id is not None and meta.id <= self.since_id:
            return False
        for name, (low, high) in self.ranges.items():
            value = meta.updated if name == "updated_at" else meta.created
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return self._status_ok(meta)

    def _status_ok(self, meta: OrderMeta) -> bool:
        if self.status == "open" and (meta.closed or meta.cancelled):
            return False
        if (self.status == "closed" and not meta.closed) or (
            self.status == "cancelled" and not meta.cancelled
        ):
            return False
        wanted = self.financial_status
        if wanted == "unpaid":
            if meta.financial_status not in ("authorized", "partially_paid"):
                return False
        elif wanted != "any" and meta.financial_status != wanted:
            return False
        shipped = meta.fulfillment_status
        return {
            "any": True,
            "shipped": shipped == "fulfilled",
            "partial": shipped == "partial",
            "unshipped": shipped is None,
            "unfulfilled": shipped in (None, "partial"),
        }[self.fulfillment_status]


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _bad_request({name: ["expected Integer"]}) from None


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _bad_request({name: ["must be an ISO 8601 date-time"]}) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=AMSTERDAM)).timestamp()


def _choice(params: dict[str, str], name: str, default: str, allowed: Iterable[str]) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise _bad_request({name: [f"must be one of {', '.join(allowed)}"]})
    return value


def _sort(value: str | None) -> tuple[str, str]:
    if not value:
        return "id", "desc"
    parts = value.split()
    if len(parts) == 1:
        parts.append("asc")
    if len(parts) != 2 or parts[0] not in SORT_FIELDS or parts[1].lower() not in ("asc", "desc"):
        raise _bad_request({"order": [f"must be one of {', '.join(SORT_FIELDS)} with asc or desc"]})
    return parts[0], parts[1].lower()


def encode_page_info(params: dict[str, str], last: tuple[float, int], direction: str) -> str:
    data = json.dumps({"q": params, "k": list(last), "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_page_info(token: str) -> tuple[dict[str, str], tuple[float, int], str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params = {str(k): str(v) for k, v in data["q"].items()}
        last = (float(data["k"][0]), int(data["k"][1]))
        direction = data["d"] if data["d"] in ("next", "prev") else "next"
    except (ValueError, KeyError, TypeError, IndexError):
        raise _bad_request({"page_info": ["Invalid value."]}) from None
    return params, last, direction


# -- the sandbox ---------------------------------------------------------------------------------------------


class ShopifySandbox:
    """The shops, their Admin API (:meth:`api_router`) and the control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.shops: dict[str, Shop] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(timeout=WEBHOOK_TIMEOUT)

    # ------------------------------------------------------------------ Python API (also used by control)

    def add_shop(self, name: str, **options: Any) -> Shop:
        """Create a shop, or change the settings given for an existing one (its orders stay)."""
        if not _SHOP_NAME.match(name):
            raise ValueError(f"Invalid shop name: {name!r} (lower-case letters, digits and dashes)")
        shop = self.shops.get(name)
        token = options.get("access_token")
        if shop is None:
            if not token and not (options.get("client_id") and options.get("client_secret")):
                raise ValueError("access_token, or client_id and client_secret, is required for a new shop")
            shop = Shop(name, token or "")
            shop.settings.shop_domain = shop.domain
        if token:
            shop.access_token = token
        for key, kind in (("client_id", str), ("client_secret", str), ("app_installed", bool)):
            if options.get(key) is not None:
                if not isinstance(options[key], kind):
                    raise ValueError(f"{key} must be a {kind.__name__}")
                setattr(shop, key, options[key])
        if "webhook_url" in options:
            shop.webhook_url = options["webhook_url"] or None
        if options.get("webhook_secret") is not None:
            shop.webhook_secret = options["webhook_secret"]
        if options.get("topics") is not None:
            unknown = set(options["topics"]) - set(TOPICS)
            if unknown:
                raise ValueError(f"Unknown topics: {', '.join(sorted(unknown))}")
            shop.topics = list(options["topics"])
        for key in ("taxes_included", "currency", "tax_title"):
            if options.get(key) is not None:
                setattr(shop.settings, key, options[key])
        if options.get("knobs"):
            self._update_knobs(shop, options["knobs"])
        self.shops[name] = shop
        return shop

    def place(self, shop: Shop, cart: dict[str, Any]) -> dict[str, Any]:
        """A new order from ``cart``; returns it as Shopify serialises it. A ``created_at`` in the cart
        places it in the past (an import, or history for a backfill); ``updated_at`` is then the same."""
        if not isinstance(cart, dict):
            raise _bad_request({"order": ["must be an object"]})
        moment = cart.get("created_at") or now_local().isoformat()
        try:
            created = datetime.fromisoformat(str(moment))
        except ValueError:
            raise _bad_request({"created_at": ["must be an ISO 8601 date-time"]}) from None
        created = (created if created.tzinfo else created.replace(tzinfo=AMSTERDAM)).astimezone(AMSTERDAM)
        identity = Identity(next(_order_ids), shop.next_number, created.isoformat())
        identity.updated_at = str(cart.get("updated_at") or identity.created_at)
        shop.next_number += 1
        order = build_order(cart, identity, shop.settings)
        shop.put(order, cart, identity)
        return order

    def update(self, shop: Shop, order_id: int, changes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Apply changes the way the Shopify admin would; returns the order and the topics it fires."""
        meta = shop.meta.get(order_id)
        if meta is None:
            raise HTTPException(errors(404, "Not Found"))
        if not isinstance(changes, dict):
            raise _bad_request({"order": ["must be an object"]})
        cart = {**shop.carts[order_id], **{k: v for k, v in changes.items() if k not in ("cancel", "close")}}
        now = now_local().isoformat()
        topics = ["orders/updated"]
        if changes.get("cancel"):
            cart["cancelled_at"] = cart.get("cancelled_at") or now
            cart["cancel_reason"] = cart.get("cancel_reason") or "customer"
            topics.append("orders/cancelled")
        if changes.get("close"):
            cart["closed_at"] = now
        if cart.get("financial_status") == "paid" and meta.financial_status != "paid":
            topics.append("orders/paid")
        identity = meta.identity
        identity.updated_at = str(changes.get("updated_at") or now)
        order = build_order(cart, identity, shop.settings)
        shop.put(order, cart, identity)
        return order, topics

    def delete_product(self, shop: Shop, product_id: int) -> int:
        """Lines that sold the product keep their name and price but lose the product; returns how many
        orders changed."""
        changed = 0
        for order_id in list(shop.ids):
            order = shop.order(order_id)
            if order is None or not any(i.get("product_id") == product_id for i in order["line_items"]):
                continue
            cart = copy.deepcopy(shop.carts[order_id])
            for item, line in zip(cart.get("line_items", []), order["line_items"], strict=False):
                if line.get("product_id") == product_id:
                    item["product_exists"] = False
            meta = shop.meta[order_id]
            shop.put(build_order(cart, meta.identity, shop.settings), cart, meta.identity)
            changed += 1
        return changed

    def bulk(self, shop: Shop, data: dict[str, Any]) -> list[int]:
        """Many orders fast: ``{"count": N, "template": {...}, "created_from": t0, "created_to": t1}`` (the
        creation dates spread evenly over ``[t0, t1)``) or ``{"orders": [...]}``."""
        if isinstance(data.get("orders"), list):
            return [self.place(shop, cart)["id"] for cart in data["orders"]]
        count = data.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 100_000:
            raise _bad_request({"count": ["must be a whole number from 1 to 100000"]})
        template = data.get("template") or {"line_items": [{"title": "Mok", "price": "12.95", "quantity": 2}]}
        start = _bulk_time(data.get("created_from"), now_local() - timedelta(days=30))
        end = _bulk_time(data.get("created_to"), now_local())
        step = (end - start) / count
        first = build_order(template, Identity(0, 0, start.isoformat()), shop.settings)
        ids = []
        for n in range(count):
            created = (start + step * n).replace(microsecond=0).isoformat()
            identity = Identity(next(_order_ids), shop.next_number, created, updated_at=created)
            shop.next_number += 1
            ids.append(self._clone(shop, first, template, identity))
        return ids

    def _clone(self, shop: Shop, first: dict[str, Any], template: dict[str, Any], identity: Identity) -> int:
        order = dict(first)
        lines = []
        for item in first["line_items"]:
            line_id = next(_line_ids)
            identity.line_ids.append(line_id)
            lines.append({**item, "id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}"})
        order.update(
            id=identity.id,
            admin_graphql_api_id=f"gid://shopify/Order/{identity.id}",
            name=f"#{identity.number}",
            order_number=identity.number,
            number=identity.number - 1000,
            token=identity.token,
            created_at=identity.created_at,
            processed_at=identity.created_at,
            updated_at=identity.updated_at,
            line_items=lines,
            checkout_id=identity.id + 1,
            checkout_token=identity.token[::-1],
            confirmation_number=identity.token[:9].upper(),
            order_status_url=f"https://{shop.domain}/{identity.id}/orders/{identity.token}/authenticate",
        )
        if "email" not in template:
            order["email"] = order["contact_email"] = f"klant.{identity.number}@example.nl"
        customer = first.get("customer")
        if isinstance(customer, dict):
            customer_id = identity.id + 7
            address = {
                **customer.get("default_address", {}),
                "id": identity.id + 9,
                "customer_id": customer_id,
            }
            order["customer"] = {
                **customer,
                "email": order["email"],
                "id": customer_id,
                "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                "default_address": address,
            }
        shop.put(order, template, identity)
        return identity.id

    async def aclose(self) -> None:
        """Cancel pending webhook deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()

    # ------------------------------------------------------------------ Admin API

    def api_router(self) -> Router:
        router = Router()
        router.get("/{shop}/admin/api/{version}/orders.json", self._api(self._list_orders))
        router.get("/{shop}/admin/api/{version}/orders/count.json", self._api(self._count_orders))
        router.get("/{shop}/admin/api/{version}/orders/{order_id}.json", self._api(self._get_order))
        router.post("/{shop}" + TOKEN_PATH, self._access_token)
        router.route("/{shop}/{path:path}", None, self._unknown)
        return router

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: shop, version, latency, auth, the bucket, faults and the request log."""

        async def endpoint(request: Request, shop: str, version: str, **params: str) -> Response:
            found = self.shops.get(shop)
            if found is None:
                return errors(404, "Not Found")
            served = _served_version(version)
            try:
                response = await self._gate(found, request, served) or await handler(found, request, **params)
            except HTTPException as exc:
                response = exc.response
            if served is not None:
                response.headers.setdefault("X-Shopify-API-Version", served)
                if response.status != 401:  # every answer past authentication reports the bucket
                    response.headers["X-Shopify-Shop-Api-Call-Limit"] = found.call_limit
            response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)
            _log_request(found, request, response)
            return response

        return endpoint

    async def _gate(self, shop: Shop, request: Request, served: str | None) -> Response | None:
        knobs = shop.knobs
        await knobs.delay()
        if served is None:
            return errors(404, "Not Found")
        if not shop.accepts(request.headers.get("x-shopify-access-token", "")):
            return errors(401, AUTH_MESSAGE)
        if not shop.take_call():
            return errors(429, RATE_LIMIT_MESSAGE, {"Retry-After": "2.0"})
        status = knobs.fault(self._random, (500, 503))
        if status is not None:
            return errors(
                status, _REASONS.get(status, "Error"), {"Retry-After": "2.0"} if status == 429 else None
            )
        return None

    async def _get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        raw = shop.raw.get(int(order_id)) if order_id.isdigit() else None
        if raw is None or not self._visible(shop, shop.meta[int(order_id)]):
            return errors(404, "Not Found")
        fields = _fields(request.query)
        if fields is None:
            body = b'{"order":' + raw + b"}"
            return Response(200, body, {}, "application/json; charset=utf-8")
        return Response.json({"order": _pick(json.loads(raw), fields)})

    async def _count_orders(self, shop: Shop, request: Request) -> Response:
        query = Query.parse(request.query)
        count = sum(1 for meta in self._matching(shop, query))
        return Response.json({"count": count})

    async def _list_orders(self, shop: Shop, request: Request) -> Response:
        params = request.query
        limit = _int(params.get("limit", str(DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad_request({"limit": [f"must be between 1 and {MAX_LIMIT}"]})
        token = params.get("page_info")
        if token is not None:
            extra = sorted(set(params) - PAGE_INFO_ALLOWED)
            if extra:
                raise _bad_request(
                    {
                        "page_info": [
                            f"cannot be combined with {', '.join(extra)}; only limit and fields may be given"
                        ]
                    }
                )
            filters, last, direction = decode_page_info(token)
            query = Query.parse(filters)
        else:
            query, last, direction = Query.parse(params), None, "next"
        page, has_more = self._page(shop, query, limit, last, direction)
        return self._orders_response(shop, request, query, page, has_more, limit, last, direction)

    def _page(
        self, shop: Shop, query: Query, limit: int, last: tuple[float, int] | None, direction: str
    ) -> tuple[list[OrderMeta], bool]:
        """One page in the query's order after (or, going back, before) the keyset ``last``."""
        field_name, order = query.sort
        descending = order == "desc"
        if query.since_id is not None and last is None and direction == "next":
            return self._since_id_page(shop, query, limit)
        rows = sorted(self._matching(shop, query), key=lambda m: m.key(field_name), reverse=descending)
        if last is not None:
            forward = (direction == "next") != descending
            rows = [m for m in rows if (m.key(field_name) > last) == forward and m.key(field_name) != last]
        if direction == "prev":
            return rows[-limit:], len(rows) > limit
        return rows[:limit], len(rows) > limit

    def _since_id_page(self, shop: Shop, query: Query, limit: int) -> tuple[list[OrderMeta], bool]:
        """``since_id``: walk the ids upwards from it (fast even with many orders)."""
        start = bisect.bisect_right(shop.ids, query.since_id or 0)
        visible = self._visible_from(shop)
        rows: list[OrderMeta] = []
        for order_id in itertools.islice(shop.ids, start, None):
            meta = shop.meta[order_id]
            if query.matches(meta, visible):
                if len(rows) == limit:
                    return rows, True
                rows.append(meta)
        return rows, False

    def _orders_response(
        self,
        shop: Shop,
        request: Request,
        query: Query,
        page: list[OrderMeta],
        has_more: bool,
        limit: int,
        last: tuple[float, int] | None,
        direction: str,
    ) -> Response:
        fields = _fields(request.query)
        if fields is None:
            body = b'{"orders":[' + b",".join(shop.raw[m.id] for m in page) + b"]}"
        else:
            picked = [_pick(json.loads(shop.raw[m.id]), fields) for m in page]
            body = json.dumps({"orders": picked}, separators=(",", ":")).encode()
        links = []
        field_name = query.sort[0]
        base = f"{self._base_url(request)}/shopify/{shop.name}{request.path[len(shop.name) + 1 :]}"
        extra = f"&fields={request.query['fields']}" if "fields" in request.query else ""
        going_back = direction == "prev"
        if page and (last is not None) and (not going_back or has_more):
            token = encode_page_info(query.params, page[0].key(field_name), "prev")
            links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="previous"')
        if page and (has_more if not going_back else last is not None):
            token = encode_page_info(query.params, page[-1].key(field_name), "next")
            links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="next"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, body, headers, "application/json; charset=utf-8")

    def _matching(self, shop: Shop, query: Query) -> Iterable[OrderMeta]:
        visible = self._visible_from(shop)
        return (meta for meta in shop.meta.values() if query.matches(meta, visible))

    @staticmethod
    def _visible_from(shop: Shop) -> float | None:
        if shop.knobs.all_orders_access:
            return None
        return (datetime.now(UTC) - timedelta(days=VISIBLE_DAYS)).timestamp()

    def _visible(self, shop: Shop, meta: OrderMeta) -> bool:
        visible = self._visible_from(shop)
        return visible is None or meta.created >= visible

    async def _unknown(self, request: Request, shop: str, path: str) -> Response:
        return errors(404, "Not Found")

    # ------------------------------------------------------------------ the client credentials grant

    async def _access_token(self, request: Request, shop: str) -> Response:
        found = self.shops.get(shop)
        if found is None:
            return errors(404, "Not Found")
        await found.knobs.delay()
        response = _answer_grant(found, _grant_form(request))
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        _log_request(found, request, response)
        return response

    # ------------------------------------------------------------------ webhooks

    def _webhooks(
        self, shop: Shop, events: list[tuple[str, int]], *, resend_id: str | None = None
    ) -> Callable[[], None]:
        """A callback that sends the webhooks for ``events`` (topic, order id) once the control call has
        answered. The body is the order as it is now: a held webhook delivered late carries old data."""
        wanted = [(topic, order_id) for topic, order_id in events if resend_id or topic in shop.topics]
        if not shop.webhook_url or not wanted or not (resend_id or shop.knobs.webhooks_enabled):
            return lambda: None
        webhooks: list[Webhook] = []
        for topic, order_id in wanted:
            raw = shop.raw.get(order_id) or json.dumps({"id": order_id}).encode()
            webhooks.append((self._headers(shop, topic, raw, resend_id), raw, order_id))
        if shop.knobs.out_of_order_webhooks and not resend_id:
            shop.held.extend(webhooks)
            return lambda: None
        copies = 1 if resend_id else 1 + shop.knobs.duplicate_webhooks

        def start() -> None:  # each topic on its own, as Shopify sends them: in no particular order
            for webhook in webhooks:
                self._webhook_sender.spawn(self._deliver_all(shop, [webhook], copies))

        return start

    @staticmethod
    def _headers(shop: Shop, topic: str, raw: bytes, webhook_id: str | None) -> dict[str, str]:
        digest = hmac.new(shop.signing_key.encode(), raw, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-API-Version": shop.webhook_api_version,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }

    async def _deliver_all(self, shop: Shop, webhooks: list[Webhook], copies: int) -> None:
        """One after the other; a duplicate is the same webhook again after the first (Shopify delivers at
        least once)."""
        for headers, raw, order_id in webhooks:
            for _ in range(copies):
                await self._deliver(shop, headers, raw, order_id)

    def release(self, shop: Shop) -> Callable[[], None]:
        """Send the held webhooks one after the other, newest first (the out-of-order case)."""
        held, shop.held = shop.held, []
        if not shop.webhook_url or not held:
            return lambda: None
        copies = 1 + shop.knobs.duplicate_webhooks
        return lambda: self._webhook_sender.spawn(self._deliver_all(shop, held[::-1], copies))

    async def _deliver(self, shop: Shop, headers: dict[str, str], raw: bytes, order_id: int) -> None:
        url = shop.webhook_url or ""
        topic, webhook_id = headers["X-Shopify-Topic"], headers["X-Shopify-Webhook-Id"]

        def logged(attempt: Attempt) -> None:
            entry = {"time": now_local().isoformat(), "topic": topic, "order_id": str(order_id)}
            shop.deliveries.append({**entry, "webhook_id": webhook_id, **attempt.log_fields()})
            log_attempt(logger, topic, order_id, attempt)

        await self._webhook_sender.deliver(
            url,
            raw,
            headers,
            tries=shop.knobs.webhook_tries,
            backoff=WEBHOOK_BACKOFF,
            accepted=lambda status: 200 <= status < 300,  # Shopify counts anything else as a failure
            on_attempt=logged,
        )

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        r = Router()
        r.post("/shops", self._c_put_shop)
        r.get("/shops/{shop}", self._control(self._c_get_shop))
        r.post("/shops/{shop}/orders", self._control(self._c_create_order))
        r.post("/shops/{shop}/orders/bulk", self._control(self._c_bulk_orders))
        r.get("/shops/{shop}/orders/{order_id}", self._control(self._c_get_order))
        r.patch("/shops/{shop}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/shops/{shop}/orders/{order_id}", self._control(self._c_delete_order))
        r.delete("/shops/{shop}/products/{product_id}", self._control(self._c_delete_product))
        r.get("/shops/{shop}/knobs", self._control(self._c_get_knobs))
        r.post("/shops/{shop}/knobs", self._control(self._c_set_knobs))
        r.get("/shops/{shop}/webhooks", self._control(self._c_webhooks))
        r.delete("/shops/{shop}/webhooks", self._control(self._c_clear_webhooks))
        r.post("/shops/{shop}/webhooks/resend", self._control(self._c_resend))
        r.post("/shops/{shop}/webhooks/release", self._control(self._c_release))
        r.get("/shops/{shop}/requests", self._control(self._c_requests))
        r.delete("/shops/{shop}/requests", self._control(self._c_clear_requests))
        r.get("/shops/{shop}/tokens", self._control(self._c_tokens))
        r.delete("/shops/{shop}/tokens", self._control(self._c_revoke_tokens))
        r.get("/page", self._p_index)
        r.get("/shops/{shop}/page", self._control(self._p_shop))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, shop: str, **params: str) -> Response:
            found = self.shops.get(shop)
            if found is None:
                return errors(404, f"Shop {shop} not found")
            return await handler(found, request, **params)

        return endpoint

    def _base_url(self, request: Request) -> str:
        return self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json() if request.body else {}
        except ValueError:
            raise _bad_request("Body is not valid JSON") from None

    @staticmethod
    def _notify(request: Request, default: str = "true") -> bool:
        return request.query.get("notify", default).lower() not in ("false", "0", "no")

    def _update_knobs(self, shop: Shop, changes: Any) -> Callable[[], None]:
        was_holding = shop.knobs.out_of_order_webhooks
        shop.knobs.update(changes)
        if was_holding and not shop.knobs.out_of_order_webhooks:
            return self.release(shop)
        return lambda: None

    async def _c_put_shop(self, request: Request) -> Response:
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("shop"), str):
            return errors(400, {"shop": ["is required"]})
        options = {k: v for k, v in data.items() if k != "shop"}
        try:
            shop = self.add_shop(data["shop"], **options)
        except ValueError as exc:
            return errors(400, str(exc))
        return Response.json(shop.summary(self._base_url(request)), 201)

    async def _c_get_shop(self, shop: Shop, request: Request) -> Response:
        return Response.json(shop.summary(self._base_url(request)))

    async def _c_create_order(self, shop: Shop, request: Request) -> Response:
        order = self.place(shop, self._body(request))
        response = Response.json({"order": order}, 201)
        if self._notify(request):
            events = [("orders/create", order["id"])]
            if order["financial_status"] == "paid":
                events.append(("orders/paid", order["id"]))
            response.after = self._webhooks(shop, events)
        return response

    async def _c_bulk_orders(self, shop: Shop, request: Request) -> Response:
        """Fast seeding without webhooks (``"notify": true`` sends ``orders/create`` for each)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return errors(400, {"body": ["must be an object"]})
        ids = self.bulk(shop, data)
        response = Response.json({"created": len(ids), "first_id": ids[0], "last_id": ids[-1]}, 201)
        if data.get("notify") is True:
            response.after = self._webhooks(shop, [("orders/create", order_id) for order_id in ids])
        return response

    async def _c_get_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        order = shop.order(int(order_id)) if order_id.isdigit() else None
        return Response.json({"order": order}) if order else errors(404, "Not Found")

    async def _c_patch_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit():
            return errors(404, "Not Found")
        order, topics = self.update(shop, int(order_id), self._body(request))
        response = Response.json({"order": order})
        if self._notify(request):
            response.after = self._webhooks(shop, [(topic, order["id"]) for topic in topics])
        return response

    async def _c_delete_order(self, shop: Shop, request: Request, order_id: str) -> Response:
        if not order_id.isdigit() or not shop.remove(int(order_id)):
            return errors(404, "Not Found")
        response = Response.empty()
        if self._notify(request):
            response.after = self._webhooks(shop, [("orders/delete", int(order_id))])
        return response

    async def _c_delete_product(self, shop: Shop, request: Request, product_id: str) -> Response:
        if not product_id.isdigit():
            return errors(404, "Not Found")
        return Response.json({"orders_changed": self.delete_product(shop, int(product_id))})

    async def _c_get_knobs(self, shop: Shop, request: Request) -> Response:
        return Response.json(asdict(shop.knobs))

    async def _c_set_knobs(self, shop: Shop, request: Request) -> Response:
        try:
            after = self._update_knobs(shop, self._body(request))
        except ValueError as exc:
            return errors(400, str(exc))
        response = Response.json(asdict(shop.knobs))
        response.after = after
        return response

    async def _c_webhooks(self, shop: Shop, request: Request) -> Response:
        """The delivery log; ``?wait_for=N&timeout=5`` first waits until N attempts have been logged."""
        try:
            await shop.deliveries.wait_as_asked(request.query)
        except ValueError:
            return errors(400, "wait_for and timeout must be numbers")
        return Response.json({"deliveries": list(shop.deliveries), "held": len(shop.held)})

    async def _c_clear_webhooks(self, shop: Shop, request: Request) -> Response:
        shop.deliveries.clear()
        return Response.empty()

    async def _c_resend(self, shop: Shop, request: Request) -> Response:
        """Send a webhook again, by default with the id of the last delivery for the order (a duplicate)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return errors(400, "Body must be a JSON object")
        topic = data.get("topic", "orders/updated")
        order_id = str(data.get("order_id", ""))
        if topic not in TOPICS:
            return errors(400, {"topic": [f"must be one of {', '.join(TOPICS)}"]})
        if not order_id.isdigit():
            return errors(400, {"order_id": ["must be an order id"]})
        if not shop.webhook_url:
            return errors(409, f"Shop {shop.name} has no webhook_url")
        webhook_id = data.get("webhook_id") or next(
            (d["webhook_id"] for d in reversed(shop.deliveries) if d["order_id"] == order_id),
            str(uuid.uuid4()),
        )
        response = Response.json({"queued": 1, "webhook_id": webhook_id}, 202)
        response.after = self._webhooks(shop, [(topic, int(order_id))], resend_id=webhook_id)
        return response

    async def _c_release(self, shop: Shop, request: Request) -> Response:
        response = Response.json({"released": len(shop.held)}, 202)
        response.after = self.release(shop)
        return response

    async def _c_requests(self, shop: Shop, request: Request) -> Response:
        return Response.json({"requests": list(shop.requests)})

    async def _c_clear_requests(self, shop: Shop, request: Request) -> Response:
        shop.requests.clear()
        return Response.empty()

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.shops)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(shop.raw), shop.webhook_url) for name, shop in self.shops.items()]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_shop(self, shop: Shop, request: Request) -> Response:
        orders = [_order_row(json.loads(raw)) for raw in pages.newest(shop.raw.values())]
        return PAGES.page(request, shop.name, pages.orders(orders, len(shop.raw)))

    async def _c_tokens(self, shop: Shop, request: Request) -> Response:
        return Response.json({"tokens": shop.live_tokens()})

    async def _c_revoke_tokens(self, shop: Shop, request: Request) -> Response:
        """Revoke every granted token (as uninstalling the app does); the permanent token stays."""
        shop.tokens.clear()
        return Response.empty()


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    423: "Locked",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as Shopify serialises it, as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    address = order.get("billing_address") or order.get("customer") or {}
    name = " ".join(str(part) for key in ("first_name", "last_name", "company") if (part := address.get(key)))
    status = " / ".join(filter(None, (order["financial_status"], order.get("fulfillment_status"))))
    total = f"{order['total_price']} {order['currency']}"
    return order["id"], order["name"], order["created_at"], name, order.get("email"), status, total


def _log_request(shop: Shop, request: Request, response: Response) -> None:
    """The request log: method, path below the shop, query and status (never headers or bodies)."""
    shop.requests.append(
        {
            "time": now_local().isoformat(),
            "method": request.method,
            "path": request.path[len(shop.name) + 1 :],
            "query": request.query,
            "status": response.status,
        }
    )


def oauth_error(error: str, description: str) -> Response:
    """A refused grant the way the token endpoint writes it."""
    return Response.json({"error": error, "error_description": description}, 400)


def _grant_form(request: Request) -> dict[str, str]:
    """The token request's fields: a form (what Shopify documents) or a JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(reversed(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)))
    if content_type == "application/json":
        try:
            data = request.json()
        except ValueError:
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    return {}


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _answer_grant(shop: Shop, form: dict[str, str]) -> Response:
    """The token endpoint's answer to a client credentials grant."""
    missing = [name for name in GRANT_FIELDS if not form.get(name)]
    if missing:
        return oauth_error("invalid_request", f"Missing required parameter: {missing[0]}.")
    if form["grant_type"] != "client_credentials":
        return oauth_error(
            "unsupported_grant_type", "The authorization grant type is not supported by the server."
        )
    if not (_same(form["client_id"], shop.client_id) and _same(form["client_secret"], shop.client_secret)):
        return oauth_error("invalid_client", INVALID_CLIENT)
    if not shop.app_installed:
        return oauth_error("app_not_installed", "The application is not installed on this shop.")
    return Response.json(shop.grant())


def _served_version(version: str) -> str | None:
    """The version that answers: a supported one itself, an older one falls forward to the oldest
    supported, an unknown or future one is not found."""
    if version == "unstable" or version in SUPPORTED_VERSIONS:
        return version
    if _VERSION.match(version) and version < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]
    return None


def _fields(query: dict[str, str]) -> list[str] | None:
    value = query.get("fields")
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _pick(order: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: order[name] for name in fields if name in order}


def _bulk_time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise _bad_request({"created_from": ["must be an ISO 8601 date-time"]}) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=AMSTERDAM)).astimezone(AMSTERDAM)


SANDBOX = ShopifySandbox
