"""A simulated WooCommerce shop: the REST API v3 orders (and webhooks) endpoints and the webhooks the shop
sends, faithful to WooCommerce's documentation and code (research B2, ``shared/specs/woocommerce``).

Several shops ("stores") live in one process. The address Koppel is configured with (WordPress's home
address) is ``{sandbox url}/woocommerce/{store}``; the API is under ``…/{store}/wp-json/wc/v3/``:

- ``GET orders/{id}`` and ``GET orders`` with ``page``, ``per_page`` (1-100, default 10), ``orderby``
  (``date``, ``modified``, ``id``; ties by id), ``order``, ``after``/``before`` (creation) and
  ``modified_after``/``modified_before`` (all exclusive, as WordPress's date queries are), ``dates_are_gmt``
  and ``status`` (comma-separated; ``any`` leaves out ``trash`` and ``checkout-draft``); ``X-WP-Total``,
  ``X-WP-TotalPages`` and ``Link`` headers. ``GET``/``PUT webhooks[/{id}]``.
- HTTP Basic with the consumer key and secret (or ``consumer_key``/``consumer_secret`` query parameters),
  errors as ``{"code", "message", "data": {"status"}}`` with WordPress's codes, JSON as PHP writes it
  (``\\/`` and ``\\uXXXX`` escapes). Unknown routes are ``rest_no_route``; paths outside ``wp-json`` get the
  theme's HTML 404 page.

Orders are placed and changed through the control API under ``/_sandbox/woocommerce`` (see
:meth:`WooCommerceSandbox.control_router`); for people, ``/_sandbox/woocommerce/page`` lists the stores and
``.../stores/{store}/page`` shows a store's orders (:mod:`koppel.sandbox.pages`).

The shop computes every amount the way WooCommerce's cart does (``WC_Cart_Totals``, ``WC_Discounts``,
``WC_Tax``): net amounts and taxes per line, unrounded taxes in ``taxes[]``, tax rounded per line (or per rate
with ``tax_round_at_subtotal``), percent and fixed coupons in whole cents with the remainder spread cent by
cent, shipping taxed at the class of the cart's items, a negative fee taxed in proportion to the cart's tax
classes, and the order total rounded from the unrounded sums.

Webhooks: a store's ``webhook_url`` and ``webhook_secret`` create one webhook per topic (``order.created``
and ``order.updated``), each pinged on creation with the form body ``webhook_id=N`` and no signature. A
delivery is one POST (WooCommerce does not retry) with the ``X-WC-Webhook-*`` headers; its body is the
order as ``GET orders/{id}`` returns it, signed with base64(HMAC-SHA256). Answers 200-302 count as success;
each other answer raises the webhook's ``failure_count``, and a failure while it is above 5 (the 7th in a
row) sets the webhook's status to ``disabled``, after which it sends nothing until it is set active again.

Where the sources are silent or the simulation simplifies (tests may rely on these):

- The delivery id is, as in WooCommerce, a hash of the webhook id and the current second, so deliveries
  made in the same second share it; one control call's deliveries all use the second of that call.
- The body is the order at the moment of the change (WooCommerce builds it when the queued delivery runs,
  which may be later); ``out_of_order_webhooks`` holds each delivery back until the next one has been sent.
- ``duplicate_webhooks`` sends the same delivery (same id, same body) again, one copy after the other.
- Trashing an order (``DELETE`` without ``force``) sends only ``order.deleted`` (body ``{"id": N}``), which
  the default webhooks do not subscribe to (``"topics"`` adds it). A deleted product keeps its order
  lines, with ``product_id`` 0 and ``sku`` null.
- Coupons are applied one after the other, percentages of the price before earlier coupons (WooCommerce's
  default "not sequential"), capped at what is left of the price; fixed coupons are in the shop's price
  basis. Customer location does not change rates (every customer pays the shop country's rates).
- ``rate_limit_per_minute`` (0, off, by default: WooCommerce has no limit, hosts have) answers 429 with
  ``Retry-After``; ``fail_next`` answers the statuses given (500 as WordPress's critical error JSON, 502-504
  as a proxy's HTML page).
- Basic auth is accepted over plain HTTP (the real shop accepts it over HTTPS only).

All state is touched from the server's event loop only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import random
import re
import secrets
import time
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from koppel.sandbox import pages
from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import HTTPException, Request, Response, Router, update_settings
from koppel.sandbox.webhooks import Attempt, DeliveryLog, WebhookSender

logger = logging.getLogger("koppel.sandbox.woocommerce")

API = "/wp-json/wc/v3"
FIRST_ORDER_ID = 1001
LOG_LIMIT = 10_000
PAGES = pages.Pages("WooCommerce", "woocommerce", "stores")
WINDOW_SECONDS = 60.0
MAX_FAILURES = 5
ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
DEFAULT_TOPICS = ("order.created", "order.updated")
#: The WordPress actions each topic listens to (``WC_Webhook::get_default_topic_hooks``).
TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
HIDDEN_FROM_ANY = frozenset({"trash", "checkout-draft"})
PAID_STATUSES = frozenset({"processing", "completed"})
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
WC_VERSION = "9.4.2"
WP_VERSION = "6.7.1"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

CENT = Decimal("0.01")
RAW = Decimal("1e-10")
ZERO = Decimal(0)
_STORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REST_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_PROXY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
    "</center><hr><center>nginx</center></body></html>"
)
_THEME_404 = (
    "<!DOCTYPE html><html><head><title>Pagina niet gevonden</title></head><body><h1>Oeps! Die pagina "
    "kan niet worden gevonden.</h1></body></html>"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


# --- small helpers ---------------------------------------------------------------------------------------


def php_json(obj: Any) -> bytes:
    """JSON as WordPress writes it (``wp_json_encode``): compact, non-ASCII as ``\\uXXXX``, ``/`` as
    ``\\/``. A receiver must verify the signature over these exact bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def payload(topic: str, record: OrderRecord) -> bytes:
    """A webhook body: the order as the REST API returns it; for a deleted order only its id."""
    return php_json({"id": record.id} if topic.endswith(".deleted") else record.doc)


def wc_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, php_json(obj), dict(headers or {}), "application/json; charset=UTF-8")


def wc_error(status: int, code: str, message: str, **data: Any) -> Response:
    """A WordPress REST error."""
    return wc_response({"code": code, "message": message, "data": {"status": status, **data}}, status)


def _invalid(message: str) -> HTTPException:
    return HTTPException(wc_error(400, "woocommerce_sandbox_invalid", message))


def _invalid_param(name: str, why: str) -> HTTPException:
    return HTTPException(
        wc_error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})
    )


def rnd(value: Decimal) -> Decimal:
    """PHP's ``round($x, 2)``: half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt2(value: Decimal) -> str:
    """``wc_format_decimal($x, 2)``."""
    text = f"{rnd(value):.2f}"
    return "0.00" if text == "-0.00" else text


def fmt_raw(value: Decimal) -> str:
    """An unrounded tax as WooCommerce stores it: trailing zeros dropped (``0.9``, ``1.7355371901``)."""
    text = format(value.quantize(RAW, rounding=ROUND_HALF_UP).normalize(), "f")
    return "0" if text in ("-0", "0E-10") else text


def to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _invalid(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise _invalid(f"{what}: {value!r} is not a number")
    return result


def to_int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _invalid(f"{what}: {value!r} is not an integer")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise _invalid(f"{what}: {value!r} is not an integer") from None
    if number < minimum:
        raise _invalid(f"{what}: must be at least {minimum}")
    return number


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=1)) if name == "Europe/Amsterdam" else UTC


def now_gmt() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_gmt(value: Any, what: str) -> datetime:
    """A control-API date: ISO 8601; without an offset it is UTC (like WooCommerce's ``*_gmt`` fields)."""
    if not isinstance(value, str):
        raise _invalid(f"{what}: expected an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)


# --- tax rates and the shop's settings -------------------------------------------------------------------


@dataclass(slots=True)
class TaxRate:
    id: int
    rate: Decimal
    name: str
    tax_class: str = ""
    country: str = "NL"
    priority: int = 1
    compound: bool = False

    @property
    def code(self) -> str:
        """``WC_Tax::get_rate_code``: country, state, name and priority, upper case."""
        return "-".join(p for p in (self.country, self.name or "TAX", str(self.priority)) if p).upper()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rate": f"{self.rate:.4f}",
            "name": self.name,
            "class": self.tax_class or "standard",
        }


#: Tax class slugs in the order WooCommerce lists them (standard is "").
CLASS_ORDER = ("", "reduced-rate", "intermediate-rate", "zero-rate")
DEFAULT_RATES = {
    "NL": [(21, "BTW", ""), (9, "BTW laag", "reduced-rate"), (0, "BTW 0%", "zero-rate")],
    "BE": [
        (21, "BTW", ""),
        (12, "BTW 12%", "intermediate-rate"),
        (6, "BTW 6%", "reduced-rate"),
        (0, "BTW 0%", "zero-rate"),
    ],
}


def default_rates(country: str) -> list[TaxRate]:
    table = DEFAULT_RATES.get(country.upper(), DEFAULT_RATES["NL"])
    return [
        TaxRate(n, Decimal(rate), name, cls, country.upper()) for n, (rate, name, cls) in enumerate(table, 1)
    ]


@dataclass(slots=True)
class StoreSettings:
    """What WooCommerce → Settings → General / Tax say."""

    prices_include_tax: bool = True
    tax_round_at_subtotal: bool = False
    calc_taxes: bool = True
    country: str = "NL"
    currency: str = "EUR"
    timezone: str = "Europe/Amsterdam"
    legacy_tax_lines: bool = False
    """Leave ``rate_percent`` out of ``tax_lines`` (WooCommerce before 3.7)."""


@dataclass(slots=True)
class Knobs(FaultKnobs):
    """The fault knobs (``error_rate`` answers a random 500, 502 or 503), and the store's own."""

    rate_limit_per_minute: int = 0
    """Requests allowed per sliding 60 s window; 0 (the default) switches the limit off."""
    duplicate_webhooks: int = 0
    webhooks_enabled: bool = True
    out_of_order_webhooks: bool = False
    webhook_timeout_s: float = 10.0


# --- WooCommerce's arithmetic ------------------------------------------------------------------------------


@dataclass(slots=True)
class Taxed:
    """An amount split into net and taxes per rate id (unrounded, as ``WC_Tax::calc_tax`` returns them)."""

    net: Decimal
    taxes: dict[int, Decimal]


def calc_tax(amount: Decimal, rates: list[TaxRate], inclusive: bool) -> Taxed:
    """``WC_Tax::calc_tax`` for non-compound rates: inclusive amounts are split, exclusive ones taxed."""
    if not rates:
        return Taxed(amount, {})
    total_rate = sum((r.rate for r in rates), ZERO)
    if inclusive:
        tax = amount - amount / (1 + total_rate / 100) if total_rate else ZERO
        shares = {r.id: (tax * r.rate / total_rate if total_rate else ZERO) for r in rates}
        shares = {k: v.quantize(RAW, rounding=ROUND_HALF_UP) for k, v in shares.items()}
        return Taxed(amount - sum(shares.values(), ZERO), shares)
    taxes = {r.id: (amount * r.rate / 100).quantize(RAW, rounding=ROUND_HALF_UP) for r in rates}
    return Taxed(amount, taxes)


@dataclass(slots=True)
class Coupon:
    code: str
    kind: str
    amount: Decimal


class Discounts:
    """``WC_Discounts`` on line prices in whole cents (in the shop's price basis)."""

    def __init__(self, prices: list[Decimal], quantities: list[int]) -> None:
        self.prices = prices
        self.quantities = quantities
        self.given: list[dict[str, Decimal]] = [defaultdict(lambda: ZERO) for _ in prices]

    def left(self, i: int) -> Decimal:
        return self.prices[i] - sum(self.given[i].values(), ZERO)

    def apply(self, coupon: Coupon) -> None:
        cents_amount = (coupon.amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if coupon.kind == "percent":
            self._percent(coupon.code, coupon.amount)
        elif coupon.kind == "fixed_product":
            for i, quantity in enumerate(self.quantities):
                self._give(i, coupon.code, min(cents_amount * quantity, self.left(i)))
        else:
            self._fixed_cart(coupon.code, cents_amount)

    def _give(self, i: int, code: str, amount: Decimal) -> Decimal:
        amount = max(ZERO, amount.quantize(Decimal(1), rounding=ROUND_FLOOR))
        self.given[i][code] += amount
        return amount

    def _percent(self, code: str, percent: Decimal) -> None:
        total = given = ZERO
        for i in range(len(self.prices)):
            base = self.prices[i].quantize(Decimal(1), rounding=ROUND_HALF_UP)
            given += self._give(
                i, code, min((base * percent / 100).quantize(Decimal(1), ROUND_FLOOR), self.left(i))
            )
            total += base
        wanted = (total * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if given < wanted:
            self._remainder(code, wanted - given)

    def _fixed_cart(self, code: str, amount: Decimal) -> Decimal:
        count = sum(q for i, q in enumerate(self.quantities) if self.left(i) > 0)
        if not count or amount <= 0:
            return ZERO
        per_unit = (amount / count).quantize(Decimal(1), rounding=ROUND_FLOOR)
        if per_unit <= 0:
            return self._remainder(code, amount)
        given = sum(
            (self._give(i, code, min(per_unit * q, self.left(i))) for i, q in enumerate(self.quantities)),
            ZERO,
        )
        if 0 < given < amount:
            given += self._fixed_cart(code, amount - given)
        return given

    def _remainder(self, code: str, amount: Decimal) -> Decimal:
        """``apply_coupon_remainder``: one cent per unit, item after item, until it is spent."""
        given = ZERO
        for i, quantity in enumerate(self.quantities):
            for _ in range(quantity):
                if given >= amount:
                    return given
                given += self._give(i, code, min(self.left(i), Decimal(1)))
        return given


@dataclass(slots=True)
class Calculated:
    items: list[dict[str, Any]]
    shipping_lines: list[dict[str, Any]]
    fee_lines: list[dict[str, Any]]
    coupon_lines: list[dict[str, Any]]
    tax_lines: list[dict[str, Any]]
    totals: dict[str, str]


class Calculator:
    """One order's amounts, as ``WC_Cart_Totals`` computes them at checkout."""

    def __init__(self, settings: StoreSettings, rates: list[TaxRate], spec: dict[str, Any]) -> None:
        self.settings = settings
        self.rates = rates
        self.spec = spec
        self.incl = bool(spec["prices_include_tax"])
        self.per_line = not settings.tax_round_at_subtotal
        self.taxing = settings.calc_taxes and not spec.get("vat_exempt")

    def class_rates(self, tax_class: str | None) -> list[TaxRate]:
        if tax_class is None or not self.taxing:
            return []
        return [r for r in self.rates if r.tax_class == tax_class]

    def line_tax(self, value: Decimal) -> Decimal:
        """``round_line_tax``: per line, unless taxes are rounded at the subtotal."""
        return rnd(value) if self.per_line else value

    def run(self) -> Calculated:
        items = self._items()
        shipping = self._shipping(items)
        fees = self._fees(items, shipping)
        return self._totals(items, shipping, fees)

    # items ----------------------------------------------------------------------------------------------

    def _items(self) -> list[dict[str, Any]]:
        lines = self.spec["line_items"]
        prices = []
        for line in lines:
            amount = line["price"] * line["quantity"]
            if self.incl and self.spec.get("vat_exempt") and self.settings.calc_taxes:
                # A VAT-exempt customer in a shop with prices incl. tax pays the price without the base tax.
                amount = calc_tax(amount, self._rates_of(line, force=True), True).net
            prices.append(amount * 100)
        discounts = Discounts(prices, [line["quantity"] for line in lines])
        for coupon in self.spec["coupons"]:
            discounts.apply(coupon)
        result = []
        for i, line in enumerate(lines):
            rates = self._rates_of(line)
            inclusive = self.incl and not self.spec.get("vat_exempt")
            before = calc_tax(prices[i] / 100, rates, inclusive)
            after = calc_tax(discounts.left(i) / 100, rates, inclusive)
            result.append(
                {"line": line, "rates": rates, "before": before, "after": after, "given": discounts.given[i]}
            )
        return result

    def _rates_of(self, line: dict[str, Any], force: bool = False) -> list[TaxRate]:
        if line.get("tax_status") == "none":
            return []
        if force:
            return [r for r in self.rates if r.tax_class == line.get("tax_class", "")]
        return self.class_rates(line.get("tax_class", ""))

    # shipping and fees ----------------------------------------------------------------------------------

    def _shipping_rates(self, items: list[dict[str, Any]], tax_class: str | None) -> list[TaxRate]:
        """``WC_Tax::get_shipping_tax_rates``: with ``inherit``, the class of the cart's taxable items (the
        standard rate when it is among them or when they differ without a match)."""
        if tax_class != "inherit":
            return self.class_rates(tax_class)
        classes = {item["line"].get("tax_class", "") for item in items if item["rates"]}
        if not classes:
            return []
        if len(classes) == 1:
            return self.class_rates(classes.pop())
        if "" not in classes:
            for slug in CLASS_ORDER:
                if slug in classes:
                    return self.class_rates(slug)
        return self.class_rates("")

    def _shipping(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for line in self.spec["shipping_lines"]:
            rates = self._shipping_rates(items, line.get("tax_class", "inherit"))
            result.append({"line": line, "taxed": calc_tax(line["total"], rates, False)})
        return result

    def _class_costs(
        self, items: list[dict[str, Any]], shipping: list[dict[str, Any]]
    ) -> dict[str | None, Decimal]:
        costs: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
        for item in items:
            net = item["after"].net
            if net > 0:
                costs[item["line"].get("tax_class", "") if item["rates"] else None] += net
        for ship in shipping:
            tax_class = ship["line"].get("tax_class", "inherit")
            if ship["line"]["total"] > 0 and tax_class != "inherit":
                costs[tax_class] += ship["line"]["total"]
        return costs

    def _fees(self, items: list[dict[str, Any]], shipping: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for line in self.spec["fee_lines"]:
            amount = line["total"]
            taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
            if self.taxing and amount < 0:
                # Negative fees have their tax split over the cart's tax classes, so they work as a discount.
                costs = self._class_costs(items, shipping)
                whole = sum(costs.values(), ZERO)
                for tax_class, cost in costs.items():
                    if tax_class is None or not whole:
                        continue
                    for rate_id, tax in calc_tax(
                        amount * cost / whole, self.class_rates(tax_class), False
                    ).taxes.items():
                        taxes[rate_id] += tax
            elif line.get("tax_status", "taxable") == "taxable":
                taxes.update(calc_tax(amount, self.class_rates(line.get("tax_class", "")), False).taxes)
            result.append({"line": line, "taxed": Taxed(amount, dict(taxes))})
        return result

    # totals ---------------------------------------------------------------------------------------------

    def _totals(
        self, items: list[dict[str, Any]], shipping: list[dict[str, Any]], fees: list[dict[str, Any]]
    ) -> Calculated:
        cart_taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
        ship_taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
        items_total = fees_total = shipping_total = discount = discount_tax = ZERO
        for item in items:
            before, after = item["before"], item["after"]
            items_total += rnd(after.net) if self.per_line else after.net
            discount += before.net - after.net
            for rate_id, tax in after.taxes.items():
                cart_taxes[rate_id] += self.line_tax(tax)
            discount_tax += sum(map(self.line_tax, before.taxes.values()), ZERO) - sum(
                map(self.line_tax, after.taxes.values()), ZERO
            )
        for fee in fees:
            fees_total += fee["taxed"].net
            for rate_id, tax in fee["taxed"].taxes.items():
                cart_taxes[rate_id] += self.line_tax(tax)
        for ship in shipping:
            shipping_total += ship["taxed"].net
            for rate_id, tax in ship["taxed"].taxes.items():
                ship_taxes[rate_id] += self.line_tax(tax)
        all_taxes = sum(cart_taxes.values(), ZERO) + sum(ship_taxes.values(), ZERO)
        tax_lines = self._tax_lines(cart_taxes, ship_taxes)
        cart_tax = sum((Decimal(t["tax_total"]) for t in tax_lines), ZERO)
        shipping_tax = sum((Decimal(t["shipping_tax_total"]) for t in tax_lines), ZERO)
        totals = {
            "discount_total": fmt2(discount),
            "discount_tax": fmt2(discount_tax),
            "shipping_total": fmt2(shipping_total),
            "shipping_tax": fmt2(shipping_tax),
            "cart_tax": fmt2(cart_tax),
            "total": fmt2(items_total + fees_total + shipping_total + all_taxes),
            "total_tax": fmt2(cart_tax + shipping_tax),
        }
        return Calculated(
            [self._item_json(item) for item in items],
            [self._charge_json(s, "shipping") for s in shipping],
            [self._charge_json(f, "fee") for f in fees],
            self._coupon_json(items),
            tax_lines,
            totals,
        )

    def _tax_lines(self, cart: dict[int, Decimal], shipping: dict[int, Decimal]) -> list[dict[str, Any]]:
        lines = []
        for rate in self.rates:
            if rate.id not in cart and rate.id not in shipping:
                continue
            line = {
                "id": 0,
                "rate_code": rate.code,
                "rate_id": rate.id,
                "label": rate.name,
                "compound": rate.compound,
                "tax_total": fmt2(cart.get(rate.id, ZERO)),
                "shipping_tax_total": fmt2(shipping.get(rate.id, ZERO)),
                "rate_percent": float(rate.rate),
                "meta_data": [],
            }
            if self.settings.legacy_tax_lines:
                del line["rate_percent"]
            lines.append(line)
        return lines

    def _item_json(self, item: dict[str, Any]) -> dict[str, Any]:
        before, after, line = item["before"], item["after"], item["line"]
        subtotal_tax = sum(map(self.line_tax, before.taxes.values()), ZERO)
        total_tax = sum(map(self.line_tax, after.taxes.values()), ZERO)
        quantity = line["quantity"]
        return {
            "subtotal": fmt2(before.net),
            "subtotal_tax": fmt2(subtotal_tax),
            "total": fmt2(after.net),
            "total_tax": fmt2(total_tax),
            "taxes": [
                {"id": rate_id, "total": fmt_raw(after.taxes[rate_id]), "subtotal": fmt_raw(tax)}
                for rate_id, tax in before.taxes.items()
            ],
            "price": float(round(after.net / quantity, 6)) if quantity else 0,
        }

    def _charge_json(self, charge: dict[str, Any], kind: str) -> dict[str, Any]:
        taxed = charge["taxed"]
        data = {
            "total": fmt2(taxed.net),
            "total_tax": fmt2(sum(map(self.line_tax, taxed.taxes.values()), ZERO)),
            "taxes": [
                {"id": rate_id, "total": fmt_raw(tax), "subtotal": ""} for rate_id, tax in taxed.taxes.items()
            ],
        }
        if kind == "fee":
            data["tax_status"] = charge["line"].get("tax_status", "taxable")
        return data

    def _coupon_json(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for coupon in self.spec["coupons"]:
            gross = tax = ZERO
            for item in items:
                given = item["given"].get(coupon.code, ZERO) / 100
                gross += given
                inclusive = self.incl and not self.spec.get("vat_exempt")
                tax += sum(calc_tax(given, item["rates"], inclusive).taxes.values(), ZERO)
            net = gross - tax if self.incl else gross
            result.append({"code": coupon.code, "discount": fmt2(net), "discount_tax": fmt2(tax)})
        return result


# --- orders and stores -------------------------------------------------------------------------------------


@dataclass(eq=False)
class OrderRecord:
    id: int
    spec: dict[str, Any]
    header: dict[str, Any]
    created: datetime
    modified: datetime
    paid: datetime | None = None
    completed: datetime | None = None
    item_ids: list[int] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.header["status"]


@dataclass(eq=False)
class Webhook:
    id: int
    topic: str
    delivery_url: str
    secret: str
    name: str = ""
    status: str = "active"
    failure_count: int = 0
    pending_delivery: bool = True
    created: datetime = field(default_factory=now_gmt)
    modified: datetime = field(default_factory=now_gmt)
    ping_status: int | None = None

    def as_api(self, store: Store) -> dict[str, Any]:
        resource, event = self.topic.split(".", 1)
        return {
            "id": self.id,
            "name": self.name or f"Koppel {self.topic}",
            "status": self.status,
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": TOPIC_HOOKS[self.topic],
            "delivery_url": self.delivery_url,
            "date_created": store.local(self.created),
            "date_created_gmt": self.created.replace(tzinfo=None).isoformat(),
            "date_modified": store.local(self.modified),
            "date_modified_gmt": self.modified.replace(tzinfo=None).isoformat(),
            "_links": {"self": [{"href": f"{store.api_url}/webhooks/{self.id}"}]},
        }

    def control_view(self, store: Store) -> dict[str, Any]:
        return {**self.as_api(store), "failure_count": self.failure_count, "ping_status": self.ping_status}


@dataclass(eq=False)
class Delivery:
    webhook: Webhook
    topic: str
    order_id: int
    body: bytes
    delivery_id: str


@dataclass(eq=False)
class Store:
    name: str
    consumer_key: str
    consumer_secret: str
    home_url: str
    settings: StoreSettings = field(default_factory=StoreSettings)
    knobs: Knobs = field(default_factory=Knobs)
    rates: list[TaxRate] = field(default_factory=lambda: default_rates("NL"))
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    by_created: list[tuple[int, int]] = field(default_factory=list)
    by_modified: list[tuple[int, int]] = field(default_factory=list)
    next_id: int = FIRST_ORDER_ID
    next_item_id: int = 1
    deleted_products: set[int] = field(default_factory=set)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    next_webhook_id: int = 1
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    held: Delivery | None = None
    hits: deque[float] = field(default_factory=deque)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    deliveries: DeliveryLog = field(default_factory=lambda: DeliveryLog(LOG_LIMIT))
    """Deliveries and pings: the newest ones, and how many were logged so far."""

    @property
    def api_url(self) -> str:
        return f"{self.home_url}{API}"

    @property
    def zone(self) -> tzinfo:
        return _zone(self.settings.timezone)

    def local(self, moment: datetime | None) -> str | None:
        """A GMT moment as the site's local time without offset, as WooCommerce writes ``date_*``."""
        return None if moment is None else moment.astimezone(self.zone).replace(tzinfo=None).isoformat()

    def put(self, record: OrderRecord) -> None:
        self.remove(record.id)
        self.orders[record.id] = record
        insort(self.by_created, (int(record.created.timestamp()), record.id))
        insort(self.by_modified, (int(record.modified.timestamp()), record.id))
        self.next_id = max(self.next_id, record.id + 1)

    def remove(self, order_id: int) -> OrderRecord | None:
        record = self.orders.pop(order_id, None)
        if record is not None:
            for index, moment in ((self.by_created, record.created), (self.by_modified, record.modified)):
                key = (int(moment.timestamp()), record.id)
                i = bisect_left(index, key)
                if i < len(index) and index[i] == key:
                    del index[i]
        return record

    def summary(self) -> dict[str, Any]:
        return {
            "store": self.name,
            "url": self.home_url,
            "api_url": self.api_url,
            "orders": len(self.orders),
            "settings": asdict(self.settings),
            "tax_rates": [rate.as_dict() for rate in self.rates],
            "knobs": asdict(self.knobs),
            "webhooks": [hook.control_view(self) for hook in self.webhooks.values()],
        }


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
    return {
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


class WooCommerceSandbox:
    """The stores, their API (:meth:`api_router`) and their control API (:meth:`control_router`)."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.stores: dict[str, Store] = {}
        self._random = random.Random(seed)
        self._webhook_sender = WebhookSender(follow_redirects=False)

    # ------------------------------------------------------------------ stores

    def add_store(self, name: str, data: dict[str, Any], base_url: str) -> tuple[Store, list[Webhook]]:
        """Create a store, or change what ``data`` names of an existing one (its orders stay). Returns it and
        the webhooks that were (re)created and want their ping."""
        if not _STORE_NAME.match(name):
            raise _invalid(f"Invalid store name: {name!r}")
        store = self.stores.get(name)
        if store is None:
            key, secret = data.get("consumer_key"), data.get("consumer_secret")
            if not key or not secret:
                raise _invalid("consumer_key and consumer_secret are required for a new store")
            store = Store(name, str(key), str(secret), f"{self.public_url or base_url}/woocommerce/{name}")
        for attribute in ("consumer_key", "consumer_secret"):
            if data.get(attribute):
                setattr(store, attribute, str(data[attribute]))
        self._configure(store, data)
        pinged = self._set_webhooks(store, data)
        self.stores[name] = store
        return store, pinged

    def _configure(self, store: Store, data: dict[str, Any]) -> None:
        settings = data.get("settings")
        if settings is not None:
            if not isinstance(settings, dict):
                raise _invalid("settings must be an object")
            changes = {k: v for k, v in settings.items() if k != "tax_rates"}
            try:
                update_settings(store.settings, changes)
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            if "tax_rates" in settings:
                store.rates = self._rates(settings["tax_rates"], store.settings.country)
            elif "country" in changes:
                store.rates = default_rates(store.settings.country)
        if data.get("knobs"):
            self._update_knobs(store, data["knobs"])

    @staticmethod
    def _rates(data: Any, country: str) -> list[TaxRate]:
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _invalid("tax_rates must be a list of objects")
        return [
            TaxRate(
                to_int(r.get("id", n), f"tax_rates.{n}.id", 1),
                to_decimal(r.get("rate", "0"), f"tax_rates.{n}.rate"),
                str(r.get("name", "BTW")),
                str(r.get("class", "") or "").replace("standard", ""),
                str(r.get("country", country)).upper(),
            )
            for n, r in enumerate(data, 1)
        ]

    def _set_webhooks(self, store: Store, data: dict[str, Any]) -> list[Webhook]:
        if "webhook_url" not in data and "webhook_secret" not in data:
            return []
        url = data.get("webhook_url")
        if url is None and "webhook_url" not in data:
            url = next((hook.delivery_url for hook in store.webhooks.values()), "")
        if not url:
            store.webhooks.clear()
            return []
        secret = str(data.get("webhook_secret") or next((h.secret for h in store.webhooks.values()), ""))
        topics = data.get("topics", DEFAULT_TOPICS)
        if not isinstance(topics, list | tuple) or any(t not in ORDER_TOPICS for t in topics):
            raise _invalid(f"topics must be a list of {', '.join(ORDER_TOPICS)}")
        existing = {hook.topic: hook for hook in store.webhooks.values()}
        store.webhooks = {}
        changed = []
        for topic in topics:
            hook = existing.get(topic)
            if hook is None:
                hook = Webhook(store.next_webhook_id, topic, url, secret)
                store.next_webhook_id += 1
            if hook.delivery_url != url or hook.status != "active" or hook is not existing.get(topic):
                hook.pending_delivery = True
                changed.append(hook)
            hook.delivery_url, hook.secret, hook.status, hook.modified = url, secret, "active", now_gmt()
            store.webhooks[hook.id] = hook
        return changed if data.get("ping", True) is not False else []

    # ------------------------------------------------------------------ orders

    def place(self, store: Store, data: Any, calculated: Calculated | None = None) -> OrderRecord:
        """A new order (or one replacing the order with the same id)."""
        if not isinstance(data, dict):
            raise _invalid("An order must be a JSON object")
        order_id = to_int(data.get("id", store.next_id), "id", 1)
        spec = build_spec(data, store.settings)
        header = build_header(data, store, order_id)
        created = (
            parse_gmt(data["date_created_gmt"], "date_created_gmt")
            if "date_created_gmt" in data
            else now_gmt()
        )
        modified = (
            parse_gmt(data["date_modified_gmt"], "date_modified_gmt")
            if "date_modified_gmt" in data
            else created
        )
        record = OrderRecord(order_id, spec, header, created, max(modified, created))
        self._set_payment_dates(record, data, created)
        record.item_ids = self._item_ids(store, spec)
        self._render(store, record, calculated)
        store.put(record)
        return record

    @staticmethod
    def _set_payment_dates(record: OrderRecord, data: dict[str, Any], moment: datetime) -> None:
        if "date_paid_gmt" in data:
            record.paid = parse_gmt(data["date_paid_gmt"], "date_paid_gmt") if data["date_paid_gmt"] else None
        elif data.get("set_paid") or (record.status in PAID_STATUSES and record.paid is None):
            record.paid = moment  # WooCommerce sets date_paid on the way to processing or completed
        if record.status == "completed" and record.completed is None:
            record.completed = moment

    @staticmethod
    def _item_ids(store: Store, spec: dict[str, Any]) -> list[int]:
        count = (
            len(spec["line_items"])
            + len(spec["shipping_lines"])
            + len(spec["fee_lines"])
            + len(spec["coupons"])
        )
        start = store.next_item_id
        store.next_item_id += count + 4
        return list(range(start, start + count + 4))

    def update(self, store: Store, order_id: int, changes: Any) -> OrderRecord:
        """Change an order as the back office would; ``date_modified`` becomes now."""
        record = store.orders.get(order_id)
        if record is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
        if not isinstance(changes, dict):
            raise _invalid("Body must be a JSON object")
        now = (
            parse_gmt(changes["date_modified_gmt"], "date_modified_gmt")
            if "date_modified_gmt" in changes
            else now_gmt()
        )
        data = {**self._spec_input(record), **{k: v for k, v in changes.items() if k in _SPEC_KEYS}}
        spec = build_spec(data, store.settings)
        header_input = {**record.header, **{k: v for k, v in changes.items() if k not in _SPEC_KEYS}}
        for part in ("billing", "shipping"):
            if isinstance(changes.get(part), dict):
                header_input[part] = {**record.header[part], **changes[part]}
        header = build_header(header_input, store, order_id)
        updated = OrderRecord(order_id, spec, header, record.created, now, record.paid, record.completed)
        self._set_payment_dates(updated, changes, now)
        updated.item_ids = record.item_ids if spec == record.spec else self._item_ids(store, spec)
        self._render(store, updated)
        store.put(updated)
        return updated

    @staticmethod
    def _spec_input(record: OrderRecord) -> dict[str, Any]:
        spec = record.spec
        return {
            "prices_include_tax": spec["prices_include_tax"],
            "vat_exempt": spec["vat_exempt"],
            "line_items": [{**line, "price": str(line["price"])} for line in spec["line_items"]],
            "shipping_lines": [{**line, "total": str(line["total"])} for line in spec["shipping_lines"]],
            "fee_lines": [{**line, "total": str(line["total"])} for line in spec["fee_lines"]],
            "coupon_lines": [
                {"code": c.code, "discount_type": c.kind, "amount": str(c.amount)} for c in spec["coupons"]
            ],
        }

    def delete_product(self, store: Store, product_id: int) -> int:
        """Delete a product: its order lines stay, pointing nowhere. Returns the orders touched."""
        store.deleted_products.add(product_id)
        touched = 0
        for record in store.orders.values():
            if any(line["product_id"] == product_id for line in record.spec["line_items"]):
                self._render(store, record)
                touched += 1
        return touched

    def _render(self, store: Store, record: OrderRecord, calculated: Calculated | None = None) -> None:
        """The order as ``GET orders/{id}`` returns it (WooCommerce 9's field order)."""
        calc = calculated or Calculator(store.settings, store.rates, record.spec).run()
        record.doc = render_order(store, record, calc)

    # ------------------------------------------------------------------ the shop's REST API

    def api_router(self) -> Router:
        r = Router()
        r.get("/{store}" + API + "/orders", self._api(self._list_orders))
        r.get("/{store}" + API + "/orders/{order_id}", self._api(self._get_order))
        r.get("/{store}" + API + "/webhooks", self._api(self._list_webhooks))
        r.get("/{store}" + API + "/webhooks/{webhook_id}", self._api(self._get_webhook))
        r.put("/{store}" + API + "/webhooks/{webhook_id}", self._api(self._put_webhook))
        r.route("/{store}/wp-json/{path:path}", None, self._no_route)
        r.route("/{store}/{path:path}", None, self._theme_page)
        return r

    def _api(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        """Wrap an API handler: store lookup, latency, auth, rate limit, faults and the request log."""

        async def endpoint(request: Request, store: str, **params: str) -> Response:
            found = self.stores.get(store)
            if found is None:
                return Response.text(_THEME_404, 404, content_type="text/html; charset=UTF-8")
            try:
                response = await self._gate(found, request) or await handler(found, request, **params)
            except HTTPException as exc:
                response = exc.response
            found.requests.append(
                {
                    "time": now_gmt().isoformat(),
                    "method": request.method,
                    "path": request.path[len(store) + 1 :],
                    "query": {k: v for k, v in request.query.items() if k != "consumer_secret"},
                    "status": response.status,
                }
            )
            return response

        return endpoint

    async def _gate(self, store: Store, request: Request) -> Response | None:
        knobs = store.knobs
        await knobs.delay()
        problem = self._auth_problem(store, request)
        if problem is not None:
            return problem
        if knobs.rate_limit_per_minute:
            now, window = time.monotonic(), store.hits
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= knobs.rate_limit_per_minute:
                wait = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
                response = wc_error(
                    429, "rest_too_many_requests", "Too many requests. Please try again later."
                )
                response.headers["Retry-After"] = str(wait)
                return response
            window.append(now)
        status = knobs.fault(self._random, (500, 502, 503))
        return self._fault(status) if status is not None else None

    @staticmethod
    def _fault(status: int) -> Response:
        if status in _REASONS:
            page = _PROXY_PAGE.format(status=status, reason=_REASONS[status])
            return Response.text(page, status, content_type="text/html")
        if status == 500:
            return wc_error(
                500, "internal_server_error", "<p>There has been a critical error on this website.</p>"
            )
        response = wc_error(status, "woocommerce_sandbox_fault", f"Fault injected: {status}")
        if status == 429:
            response.headers["Retry-After"] = "1"
        return response

    @staticmethod
    def _auth_problem(store: Store, request: Request) -> Response | None:
        """WooCommerce's key check: Basic auth, or the key and secret as query parameters."""
        key, secret = request.query.get("consumer_key", ""), request.query.get("consumer_secret", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                key = secret = ""
        if not key:
            what = (
                "list resources"
                if request.path.rstrip("/").endswith(("orders", "webhooks"))
                else "view this resource"
            )
            return wc_error(401, "woocommerce_rest_cannot_view", f"Sorry, you cannot {what}.")
        if not hmac.compare_digest(key.encode(), store.consumer_key.encode()):
            return wc_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if not hmac.compare_digest(secret.encode(), store.consumer_secret.encode()):
            return wc_error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return None

    async def _no_route(self, request: Request, store: str, path: str) -> Response:
        return wc_error(404, "rest_no_route", "No route was found matching the URL and request method.")

    async def _theme_page(self, request: Request, store: str, path: str) -> Response:
        return Response.text(_THEME_404, 404, content_type="text/html; charset=UTF-8")

    async def _get_order(self, store: Store, request: Request, order_id: str) -> Response:
        if not order_id.isdigit():
            return wc_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        record = store.orders.get(int(order_id))
        if record is None:
            return wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return wc_response(record.doc)

    async def _list_orders(self, store: Store, request: Request) -> Response:
        query = OrderQuery.read(request.query, store)
        records, total = query.run(store)
        pages = math.ceil(total / query.per_page) if total else 0
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        link = self._links(store, request, query.page, pages)
        if link:
            headers["Link"] = link
        return wc_response([record.doc for record in records], 200, headers)

    @staticmethod
    def _links(store: Store, request: Request, page: int, pages: int) -> str:
        params = {k: v for k, v in request.query.items() if k not in ("consumer_key", "consumer_secret")}
        links = []
        if page > 1:
            links.append(
                f'<{store.api_url}/orders?{urlencode({**params, "page": min(page - 1, pages)})}>; rel="prev"'
            )
        if pages > page:
            links.append(f'<{store.api_url}/orders?{urlencode({**params, "page": page + 1})}>; rel="next"')
        return ", ".join(links)

    async def _list_webhooks(self, store: Store, request: Request) -> Response:
        hooks = [hook.as_api(store) for hook in store.webhooks.values()]
        return wc_response(hooks, 200, {"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": "1"})

    def _webhook(self, store: Store, webhook_id: str) -> Webhook:
        hook = store.webhooks.get(int(webhook_id)) if webhook_id.isdigit() else None
        if hook is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID."))
        return hook

    async def _get_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        return wc_response(self._webhook(store, webhook_id).as_api(store))

    async def _put_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        hook = self._webhook(store, webhook_id)
        changes = self._body(request)
        if not isinstance(changes, dict):
            return wc_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        self._change_webhook(hook, changes)
        return wc_response(hook.as_api(store))

    @staticmethod
    def _change_webhook(hook: Webhook, changes: dict[str, Any]) -> None:
        status = changes.get("status")
        if status is not None and status not in ("active", "paused", "disabled"):
            raise _invalid_param("status", "status is not one of active, paused, and disabled.")
        for name in ("name", "delivery_url", "secret"):
            if isinstance(changes.get(name), str):
                setattr(hook, name, changes[name])
        if status is not None:
            hook.status = status
        hook.modified = now_gmt()

    # ------------------------------------------------------------------ webhooks

    def _events(
        self, store: Store, topic: str, records: Iterable[OrderRecord]
    ) -> list[tuple[Webhook, str, int, bytes]]:
        """The deliveries a change makes, with the body as it is now (checked at the change, like
        WooCommerce's ``should_deliver``)."""
        if not store.knobs.webhooks_enabled:
            return []
        hooks = [h for h in store.webhooks.values() if h.topic == topic and h.status == "active"]
        if not hooks:
            return []
        return [(hook, topic, r.id, payload(topic, r)) for r in records for hook in hooks]

    def _sender(self, store: Store, events: list[tuple[Webhook, str, int, bytes]]) -> Callable[[], None]:
        """A callback that starts the deliveries; run it after the control call has answered."""
        if not events:
            return lambda: None

        def start() -> None:
            second = int(time.time())
            jobs = [
                Delivery(hook, topic, oid, body, self._delivery_id(store, hook, second))
                for hook, topic, oid, body in events
            ]
            if store.knobs.out_of_order_webhooks:
                sequence: list[Delivery] = []
                for job in jobs:
                    if store.held is None:
                        store.held = job
                    else:
                        sequence += [job, store.held]
                        store.held = None
                self._webhook_sender.spawn(self._send_all(store, sequence))
            else:
                for job in jobs:
                    self._webhook_sender.spawn(self._send_all(store, [job]))

        return start

    @staticmethod
    def _delivery_id(store: Store, hook: Webhook, second: int) -> str:
        """``wp_hash( $webhook_id . strtotime('now') )``: the same for every delivery of a webhook in one
        second."""
        return hmac.new(store.salt.encode(), f"{hook.id}{second}".encode(), hashlib.md5).hexdigest()

    async def _send_all(self, store: Store, jobs: list[Delivery]) -> None:
        for job in jobs:
            for _ in range(1 + store.knobs.duplicate_webhooks):
                await self._send(store, job)

    async def _send(self, store: Store, job: Delivery) -> None:
        hook = job.webhook
        resource, event = job.topic.split(".", 1)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            "X-WC-Webhook-Source": f"{store.home_url}/",
            "X-WC-Webhook-Topic": job.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": base64.b64encode(
                hmac.new(hook.secret.encode(), job.body, hashlib.sha256).digest()
            ).decode(),
            "X-WC-Webhook-ID": str(hook.id),
            "X-WC-Webhook-Delivery-ID": job.delivery_id,
        }
        sent = await self._post(store, hook.delivery_url, job.body, headers)
        status = sent.status
        if status is not None and 200 <= status < 303:
            hook.failure_count = 0
        elif hook.failure_count > MAX_FAILURES:
            hook.status = "disabled"  # WC_Webhook::failed_delivery
        else:
            hook.failure_count += 1
        self._log(store, hook, sent, "delivery", job.topic, str(job.order_id), job.delivery_id)
        ms = sent.duration_ms
        logger.info("webhook %s order %s: %s (%.1f ms)", job.topic, job.order_id, status or sent.error, ms)

    async def _post(self, store: Store, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        """One POST, as WooCommerce makes it: no retries, the store's ``webhook_timeout_s``."""
        return await self._webhook_sender.post(url, body, headers, timeout=store.knobs.webhook_timeout_s)

    @staticmethod
    def _log(
        store: Store,
        hook: Webhook,
        sent: Attempt,
        kind: str,
        topic: str,
        order_id: str | None,
        delivery_id: str | None,
    ) -> None:
        """Log a delivery or a ping, with the webhook's state after it."""
        store.deliveries.append(
            {
                "time": now_gmt().isoformat(),
                "kind": kind,
                "webhook_id": hook.id,
                "topic": topic,
                "order_id": order_id,
                "delivery_id": delivery_id,
                "url": hook.delivery_url,
                "status": sent.status,
                "error": sent.error,
                "duration_ms": sent.duration_ms,
                "webhook_status": hook.status,
                "failure_count": hook.failure_count,
            }
        )

    async def _ping(self, store: Store, hook: Webhook) -> None:
        """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, no ``X-WC-*`` headers; only 200 is OK."""
        headers = {
            "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = f"webhook_id={hook.id}".encode()
        sent = await self._post(store, hook.delivery_url, body, headers)
        hook.ping_status = sent.status
        if sent.status == 200:
            hook.pending_delivery = False
        self._log(store, hook, sent, "ping", hook.topic, None, None)

    def _pinger(self, store: Store, hooks: list[Webhook]) -> Callable[[], None]:
        def start() -> None:
            for hook in hooks:
                self._webhook_sender.spawn(self._ping(store, hook))

        return start

    async def aclose(self) -> None:
        """Cancel pending deliveries and close the HTTP client (lifespan shutdown)."""
        await self._webhook_sender.aclose()

    # ------------------------------------------------------------------ control API

    def control_router(self) -> Router:
        """Mounted at ``/_sandbox/woocommerce``: ``POST stores`` (create or change a store: keys, webhook
        URL and secret, settings, knobs), and under ``stores/{store}``: ``orders`` (place; ``?notify=false``
        sends no webhook), ``orders/bulk``, ``PATCH``/``DELETE orders/{id}``, ``DELETE products/{id}``,
        ``knobs``, ``webhooks`` (status, failure count, last ping), ``POST webhooks/{id}`` (status, URL,
        secret), ``webhooks/{id}/ping``, ``webhooks/resend``, ``webhooks/flush``, ``deliveries``
        (``?wait_for=N``) and ``requests``."""
        r = Router()
        r.post("/stores", self._c_put_store)
        r.get("/stores/{store}", self._control(self._c_get_store))
        r.post("/stores/{store}/orders", self._control(self._c_create_order))
        r.post("/stores/{store}/orders/bulk", self._control(self._c_bulk_orders))
        r.patch("/stores/{store}/orders/{order_id}", self._control(self._c_patch_order))
        r.delete("/stores/{store}/orders/{order_id}", self._control(self._c_delete_order))
        r.delete("/stores/{store}/products/{product_id}", self._control(self._c_delete_product))
        r.get("/stores/{store}/knobs", self._control(self._c_get_knobs))
        r.post("/stores/{store}/knobs", self._control(self._c_set_knobs))
        r.get("/stores/{store}/webhooks", self._control(self._c_webhooks))
        r.post("/stores/{store}/webhooks/resend", self._control(self._c_resend))
        r.post("/stores/{store}/webhooks/flush", self._control(self._c_flush))
        r.post("/stores/{store}/webhooks/{webhook_id}", self._control(self._c_change_webhook))
        r.post("/stores/{store}/webhooks/{webhook_id}/ping", self._control(self._c_ping))
        r.get("/stores/{store}/deliveries", self._control(self._c_deliveries))
        r.delete("/stores/{store}/deliveries", self._control(self._c_clear_deliveries))
        r.get("/stores/{store}/requests", self._control(self._c_requests))
        r.delete("/stores/{store}/requests", self._control(self._c_clear_requests))
        r.get("/page", self._p_index)
        r.get("/stores/{store}/page", self._control(self._p_store))
        return r

    def _control(self, handler: Callable[..., Coroutine[Any, Any, Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request, store: str, **params: str) -> Response:
            found = self.stores.get(store)
            if found is None:
                return wc_error(404, "woocommerce_sandbox_no_store", f"Store {store} not found")
            return await handler(found, request, **params)

        return endpoint

    def _base_url(self, request: Request) -> str:
        return self.public_url or f"http://{request.headers.get('host', '127.0.0.1')}"

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json() if request.body else {}
        except ValueError:
            raise _invalid("Body is not valid JSON") from None

    @staticmethod
    def _notify(request: Request) -> bool:
        return request.query.get("notify", "true").lower() not in ("false", "0", "no")

    def _update_knobs(self, store: Store, changes: Any) -> None:
        try:
            store.knobs.update(changes)
        except ValueError as exc:
            raise _invalid(str(exc)) from None

    async def _c_put_store(self, request: Request) -> Response:
        """``{"store", "consumer_key", "consumer_secret", "webhook_url", "webhook_secret", "topics", "ping",
        "settings": {..., "tax_rates": [...]}, "knobs": {...}}``; creating webhooks pings them."""
        data = self._body(request)
        if not isinstance(data, dict) or not isinstance(data.get("store"), str):
            return wc_error(400, "woocommerce_sandbox_invalid", "store is required")
        try:
            store, pinged = self.add_store(data["store"], data, self._base_url(request))
        except HTTPException as exc:
            return exc.response
        response = wc_response(store.summary(), 201)
        response.after = self._pinger(store, pinged)
        return response

    async def _c_get_store(self, store: Store, request: Request) -> Response:
        return wc_response(store.summary())

    async def _c_create_order(self, store: Store, request: Request) -> Response:
        data = self._body(request)
        existed = (
            isinstance(data, dict) and str(data.get("id", "")).isdigit() and int(data["id"]) in store.orders
        )
        try:
            record = self.place(store, data)
        except HTTPException as exc:
            return exc.response
        response = wc_response(record.doc, 201)
        if self._notify(request):
            topic = "order.updated" if existed else "order.created"
            response.after = self._sender(store, self._events(store, topic, [record]))
        return response

    async def _c_bulk_orders(self, store: Store, request: Request) -> Response:
        """Fast seeding, without webhooks unless ``"notify": true``: ``{"orders": [...]}``, or ``{"count":
        N, "template": {...}, "start_gmt": "...", "interval_seconds": 60}`` (the template's amounts are
        computed once; ``{n}`` in its billing e-mail becomes the order's index)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return wc_error(400, "woocommerce_sandbox_invalid", "Body must be a JSON object")
        try:
            records = self._bulk(store, data)
        except HTTPException as exc:
            return exc.response
        body = {"created": len(records), "ids": [r.id for r in records]}
        response = wc_response(body, 201)
        if data.get("notify") is True:
            response.after = self._sender(store, self._events(store, "order.created", records))
        return response

    def _bulk(self, store: Store, data: dict[str, Any]) -> list[OrderRecord]:
        if isinstance(data.get("orders"), list):
            return [self.place(store, item) for item in data["orders"]]
        count = to_int(data.get("count", 0), "count")
        template = data.get("template", {})
        if not isinstance(template, dict):
            raise _invalid("template must be an object")
        start = parse_gmt(data["start_gmt"], "start_gmt") if "start_gmt" in data else now_gmt()
        step = timedelta(seconds=to_int(data.get("interval_seconds", 0), "interval_seconds"))
        calculated = Calculator(store.settings, store.rates, build_spec(template, store.settings)).run()
        records = []
        email = str((template.get("billing") or {}).get("email", ""))
        for n in range(count):
            moment = (start + n * step).replace(tzinfo=None).isoformat()
            item = {k: v for k, v in template.items() if k not in ("id", "number")}
            item.update(date_created_gmt=moment)
            if "{n}" in email:
                item["billing"] = {**template["billing"], "email": email.replace("{n}", str(n))}
            records.append(self.place(store, item, calculated))
        return records

    def _order(self, store: Store, order_id: str) -> OrderRecord:
        record = store.orders.get(int(order_id)) if order_id.isdigit() else None
        if record is None:
            raise HTTPException(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
        return record

    async def _c_patch_order(self, store: Store, request: Request, order_id: str) -> Response:
        """Change fields (``status``, ``billing``, ``line_items``, ``coupon_lines``, ``meta_data``...);
        ``notify=false`` sends no ``order.updated``."""
        try:
            record = self.update(store, self._order(store, order_id).id, self._body(request))
        except HTTPException as exc:
            return exc.response
        response = wc_response(record.doc)
        if self._notify(request):
            response.after = self._sender(store, self._events(store, "order.updated", [record]))
        return response

    async def _c_delete_order(self, store: Store, request: Request, order_id: str) -> Response:
        """Trash the order (status ``trash``, topic ``order.deleted``), or remove it with ``force=true``."""
        try:
            record = self._order(store, order_id)
        except HTTPException as exc:
            return exc.response
        if request.query.get("force", "false").lower() in ("true", "1"):
            store.remove(record.id)
            return wc_response(record.doc)
        if record.status == "trash":
            return wc_error(
                410, "woocommerce_rest_already_trashed", "The shop_order has already been deleted."
            )
        record = self.update(store, record.id, {"status": "trash"})
        response = wc_response(record.doc)
        response.after = self._sender(store, self._events(store, "order.deleted", [record]))
        return response

    async def _c_delete_product(self, store: Store, request: Request, product_id: str) -> Response:
        if not product_id.isdigit():
            return wc_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return wc_response(
            {"product_id": int(product_id), "orders": self.delete_product(store, int(product_id))}
        )

    async def _c_get_knobs(self, store: Store, request: Request) -> Response:
        return wc_response(asdict(store.knobs))

    async def _c_set_knobs(self, store: Store, request: Request) -> Response:
        try:
            self._update_knobs(store, self._body(request))
        except HTTPException as exc:
            return exc.response
        return wc_response(asdict(store.knobs))

    async def _c_webhooks(self, store: Store, request: Request) -> Response:
        return wc_response([hook.control_view(store) for hook in store.webhooks.values()])

    async def _c_change_webhook(self, store: Store, request: Request, webhook_id: str) -> Response:
        """Set a webhook's ``status`` (e.g. active again after it was disabled), URL or secret."""
        try:
            hook = self._webhook(store, webhook_id)
            changes = self._body(request)
            if not isinstance(changes, dict):
                raise _invalid("Body must be a JSON object")
            self._change_webhook(hook, changes)
        except HTTPException as exc:
            return exc.response
        return wc_response(hook.control_view(store))

    async def _c_ping(self, store: Store, request: Request, webhook_id: str) -> Response:
        try:
            hook = self._webhook(store, webhook_id)
        except HTTPException as exc:
            return exc.response
        response = wc_response({"queued": 1}, 202)
        response.after = self._pinger(store, [hook])
        return response

    async def _c_resend(self, store: Store, request: Request) -> Response:
        """Deliver an order again as it is now: ``{"order_id": N, "topic": "order.updated"}`` (a new
        delivery, whatever ``webhooks_enabled`` says)."""
        data = self._body(request)
        if not isinstance(data, dict):
            return wc_error(400, "woocommerce_sandbox_invalid", "Body must be a JSON object")
        topic = data.get("topic", "order.updated")
        try:
            record = self._order(store, str(data.get("order_id", "")))
        except HTTPException as exc:
            return exc.response
        hooks = [h for h in store.webhooks.values() if h.topic == topic and h.status == "active"]
        if not hooks:
            return wc_error(409, "woocommerce_sandbox_no_webhook", f"No active webhook for {topic}")
        response = wc_response({"queued": len(hooks)}, 202)
        response.after = self._sender(
            store, [(hook, topic, record.id, payload(topic, record)) for hook in hooks]
        )
        return response

    async def _c_flush(self, store: Store, request: Request) -> Response:
        """Send the delivery ``out_of_order_webhooks`` is holding back, if any."""
        held, store.held = store.held, None
        response = wc_response({"sent": int(held is not None)}, 202)
        if held is not None:
            response.after = lambda: self._webhook_sender.spawn(self._send_all(store, [held]))
        return response

    async def _c_deliveries(self, store: Store, request: Request) -> Response:
        """The delivery log (pings included); ``?wait_for=N&timeout=5`` first waits until N are logged."""
        try:
            await store.deliveries.wait_as_asked(request.query)
        except ValueError:
            return wc_error(400, "woocommerce_sandbox_invalid", "wait_for and timeout must be numbers")
        return wc_response(list(store.deliveries))

    async def _c_clear_deliveries(self, store: Store, request: Request) -> Response:
        store.deliveries.clear()
        return Response.empty()

    async def _c_requests(self, store: Store, request: Request) -> Response:
        return wc_response(list(store.requests))

    async def _c_clear_requests(self, store: Store, request: Request) -> Response:
        store.requests.clear()
        return Response.empty()

    # ------------------------------------------------------------ pages for people (koppel.sandbox.pages)

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.stores)

    async def _p_index(self, request: Request) -> Response:
        rows = [
            (
                name,
                len(store.orders),
                ", ".join(sorted({hook.delivery_url for hook in store.webhooks.values()})),
            )
            for name, store in self.stores.items()
        ]
        return PAGES.index(request, pages.SHOP_HEADERS, rows)

    async def _p_store(self, store: Store, request: Request) -> Response:
        orders = [_order_row(record.doc) for record in pages.newest(store.orders.values())]
        return PAGES.page(request, store.name, pages.orders(orders, len(store.orders)))


@dataclass(slots=True)
class OrderQuery:
    """``GET orders`` parameters, validated as WordPress's REST schema does."""

    page: int = 1
    per_page: int = 10
    offset: int | None = None
    orderby: str = "date"
    descending: bool = True
    statuses: frozenset[str] | None = None
    bounds: dict[str, int] = field(default_factory=dict)
    """``after``/``before``/``modified_after``/``modified_before`` as epoch seconds."""

    @classmethod
    def read(cls, query: dict[str, str], store: Store) -> OrderQuery:
        q = cls()
        q.page = cls._int(query, "page", 1, 1)
        q.per_page = cls._int(query, "per_page", 10, 1, 100)
        q.offset = cls._int(query, "offset", 0, 0) if "offset" in query else None
        q.orderby = query.get("orderby", "date")
        if q.orderby not in ORDERBY:
            raise _invalid_param("orderby", f"orderby is not one of {', '.join(ORDERBY)}.")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid_param("order", "order is not one of asc and desc.")
        q.descending = order == "desc"
        gmt = query.get("dates_are_gmt", "false").lower()
        if gmt not in ("true", "false", "1", "0"):
            raise _invalid_param("dates_are_gmt", "dates_are_gmt is not of type boolean.")
        zone = UTC if gmt in ("true", "1") else store.zone
        for name in ("after", "before", "modified_after", "modified_before"):
            if name in query:
                q.bounds[name] = cls._date(query[name], name, zone)
        q.statuses = cls._statuses(query.get("status", "any"))
        return q

    @staticmethod
    def _int(query: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
        text = query.get(name, str(default))
        try:
            value = int(text)
        except ValueError:
            raise _invalid_param(name, f"{name} is not of type integer.") from None
        if value < low or (high is not None and value > high):
            why = (
                f"{name} must be between {low} (inclusive) and {high} (inclusive)"
                if high
                else (f"{name} must be greater than or equal to {low}")
            )
            raise _invalid_param(name, why)
        return value

    @staticmethod
    def _date(text: str, name: str, zone: tzinfo) -> int:
        """A date filter. WordPress's date query uses the wall time written and ignores an offset."""
        match = _REST_DATE.match(text.strip())
        if match is None:
            raise _invalid_param(name, "Invalid date.")
        wall = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
        return int(wall.replace(tzinfo=zone).timestamp())

    @staticmethod
    def _statuses(text: str) -> frozenset[str] | None:
        wanted = {part.strip() for part in text.split(",") if part.strip()} or {"any"}
        unknown = wanted - {"any", *STATUSES}
        if unknown:
            raise _invalid_param("status", f"status[0] is not one of any, {', '.join(STATUSES)}.")
        return None if "any" in wanted else frozenset(wanted)

    def run(self, store: Store) -> tuple[list[OrderRecord], int]:
        """The page's orders and the number of matching orders."""
        keys = self._candidates(store)
        records = [store.orders[order_id] for _, order_id in keys]
        matching = [r for r in records if self._matches(r)]
        start = self.offset if self.offset is not None else (self.page - 1) * self.per_page
        return matching[start : start + self.per_page], len(matching)

    def _candidates(self, store: Store) -> list[tuple[int, int]]:
        """Orders in the order asked for, narrowed by the bounds of the sort field."""
        if self.orderby in ("date", "modified"):
            index = store.by_created if self.orderby == "date" else store.by_modified
            low, high = (
                ("after", "before") if self.orderby == "date" else ("modified_after", "modified_before")
            )
            lo = bisect_right(index, (self.bounds[low], math.inf)) if low in self.bounds else 0
            hi = bisect_left(index, (self.bounds[high], -1)) if high in self.bounds else len(index)
            keys = index[lo:hi]
        else:
            keys = [(order_id, order_id) for order_id in sorted(store.orders)]
        return keys[::-1] if self.descending else keys

    def _matches(self, record: OrderRecord) -> bool:
        if self.statuses is None:
            if record.status in HIDDEN_FROM_ANY:
                return False
        elif record.status not in self.statuses:
            return False
        created, modified = int(record.created.timestamp()), int(record.modified.timestamp())
        b = self.bounds
        return (
            ("after" not in b or created > b["after"])
            and ("before" not in b or created < b["before"])
            and ("modified_after" not in b or modified > b["modified_after"])
            and ("modified_before" not in b or modified < b["modified_before"])
        )


_SPEC_KEYS = frozenset(
    {"prices_include_tax", "vat_exempt", "line_items", "shipping_lines", "fee_lines", "coupon_lines"}
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
    total = Decimal(calc.totals["total"])
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
        "refunds": [],
        "payment_url": f"{store.home_url}/checkout/order-pay/{record.id}/"
        f"?pay_for_order=true&key={h['order_key']}",
        "is_editable": h["status"] in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": h["status"] in ("pending", "failed") and total > 0,
        "needs_processing": bool(items),
        "date_created_gmt": gmt(record.created),
        "date_modified_gmt": gmt(record.modified),
        "date_completed_gmt": gmt(record.completed),
        "date_paid_gmt": gmt(record.paid),
        "currency_symbol": CURRENCY_SYMBOLS.get(h["currency"], h["currency"]),
        "_links": {
            "self": [{"href": f"{store.api_url}/orders/{record.id}"}],
            "collection": [{"href": f"{store.api_url}/orders"}],
        },
    }


def _order_row(order: dict[str, Any]) -> tuple[Any, ...]:
    """An order as ``GET orders/{id}`` shows it, as a row of :data:`koppel.sandbox.pages.ORDER_HEADERS`."""
    billing = order["billing"]
    name = " ".join(part for key in ("first_name", "last_name", "company") if (part := billing.get(key)))
    total = f"{order['total']} {order['currency']}"
    return (
        order["id"],
        order["number"],
        order["date_created"],
        name,
        billing.get("email"),
        order["status"],
        total,
    )


SANDBOX = WooCommerceSandbox
