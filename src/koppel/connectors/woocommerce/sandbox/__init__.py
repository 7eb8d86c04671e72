"""A simulated WooCommerce shop: the REST API v3 orders (and webhooks) endpoints and the webhooks the shop
sends, faithful to WooCommerce's documentation and code (research B2, ``shared/specs/woocommerce``).

Several shops ("stores") live in one process. The address Koppel is configured with (WordPress's home
address) is ``{sandbox url}/woocommerce/{store}``; the API is under ``…/{store}/wp-json/wc/v3/``:

- ``GET orders/{id}`` and ``GET orders`` with ``page``, ``per_page`` (1-100, default 10), ``orderby``
  (``date``, ``modified``, ``id``; ties by id), ``order``, ``after``/``before`` (creation) and
  ``modified_after``/``modified_before`` (all exclusive, as WordPress's date queries are), ``dates_are_gmt``
  and ``status`` (comma-separated; ``any`` leaves out ``trash`` and ``checkout-draft``); ``X-WP-Total``,
  ``X-WP-TotalPages`` and ``Link`` headers. ``GET``/``PUT webhooks[/{id}]``.
- With the WooCommerce Gift Cards extension: an order placed with ``gift_cards`` (``[{"code", "amount"}]``)
  shows them as ``gift_cards`` (amounts as JSON numbers) and its ``total`` is what is left after them.
- ``GET``/``POST orders/{id}/refunds`` and ``GET orders/{id}/refunds/{refund_id}`` (:mod:`.refunds`).
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

from .common import php_json
from .core import WooCommerceSandbox
from .settings import Knobs, StoreSettings, TaxRate
from .state import OrderRecord, Store

__all__ = [
    "SANDBOX",
    "Knobs",
    "OrderRecord",
    "Store",
    "StoreSettings",
    "TaxRate",
    "WooCommerceSandbox",
    "php_json",
]

SANDBOX = WooCommerceSandbox
