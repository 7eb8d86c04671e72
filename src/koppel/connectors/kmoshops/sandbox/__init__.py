"""A simulated KMO Shops, faithful to the interface in ``specs/kmoshops/README.md``.

Several shops live in one process, each under ``/kmoshops/{shop}``: the shop URL Koppel is configured
with is ``{sandbox url}/kmoshops/{shop}``. The shop API (``GET api/v1/orders[/{id}]``) checks the
``X-Api-Key`` header, applies a sliding 60-second rate limit per shop and the fault knobs, and answers
JSON errors ``{"error": ..., "message": ...}``. Orders are created and changed through the control API
(mounted at ``/_sandbox/kmoshops``), which also sends the signed webhooks the real shop would send. For
people, ``/_sandbox/kmoshops/page`` lists the shops and ``.../shops/{shop}/page`` shows a shop's orders and
a "Place order" form (:mod:`koppel.sandbox.pages`).

Assumptions where the README is silent (documented so tests can rely on them):

- ``updated_at`` (ISO 8601 with the Europe/Amsterdam offset, whole seconds) is added to every order; the
  list is ordered by it, then by id. ``updated_since`` without an offset means Amsterdam local time; a
  ``+`` in an offset must be URL-encoded (``%2B``), as any real server would demand.
- ``rate_limit_per_minute = 0`` switches the rate limit off (for benchmarks).
- Requests answered 429 do not count towards the window; every other API request does.
- A webhook goes to the shop's ``webhook_url`` once per event, plus ``duplicate_webhooks`` copies sent
  concurrently; a delivery is retried on connection errors and 5xx answers. ``DELETE`` sends no event.

All state is touched from the server's event loop only; reading it from another thread (tests reaching
``SandboxServer.app``) is fine while no requests are in flight.
"""

from __future__ import annotations

from .common import AMSTERDAM, EVENTS, error, now_local, order_total
from .core import KmoShopsSandbox
from .state import Shop, ShopKnobs

__all__ = [
    "AMSTERDAM",
    "EVENTS",
    "SANDBOX",
    "KmoShopsSandbox",
    "Shop",
    "ShopKnobs",
    "error",
    "now_local",
    "order_total",
]

SANDBOX = KmoShopsSandbox
