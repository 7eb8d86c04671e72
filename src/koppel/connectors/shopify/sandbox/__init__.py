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
- ``GET orders/{id}/transactions.json`` → ``{"transactions": [...]}``: a cart's ``gift_cards``
  (``[{"amount", "last_characters"}]``) as successful ``gift_card`` sales, the rest through the order's
  other gateway (:mod:`.transactions`); the order then names ``gift_card`` in ``payment_gateway_names``.
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

from .api import AdminApi
from .common import AUTH_MESSAGE, INVALID_CLIENT, RATE_LIMIT_MESSAGE
from .core import ShopifySandbox
from .money import allocate, spread, tax
from .orders import Identity, ShopSettings, build_order
from .state import Shop, ShopKnobs

__all__ = [
    "AUTH_MESSAGE",
    "INVALID_CLIENT",
    "RATE_LIMIT_MESSAGE",
    "SANDBOX",
    "AdminApi",
    "Identity",
    "Shop",
    "ShopKnobs",
    "ShopSettings",
    "ShopifySandbox",
    "allocate",
    "build_order",
    "spread",
    "tax",
]

SANDBOX = ShopifySandbox
