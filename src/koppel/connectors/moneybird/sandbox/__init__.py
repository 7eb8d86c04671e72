"""A simulated Moneybird API v2, after Moneybird's public documentation (developer.moneybird.com).

Koppel's base URL for it is ``{sandbox url}/moneybird/api/v2`` (real: https://moneybird.com/api/v2); a
resource is ``/{administration_id}/{resource}.json``. Several administrations live side by side, each
with its API token, data, request log and knobs; the control API is ``/_sandbox/moneybird``
(:mod:`.control`).

Faithful where the documentation says:

- ``Authorization: Bearer <token>``; a token that is not the administration's: 401 ``{"error": ...}`` with
  ``WWW-Authenticate``; a known token for another administration: 404. ``GET /administrations.json``
  lists the token's administrations.
- Bodies carry the resource under its name (``{"contact": {...}}``, ``{"sales_invoice": {...}}``,
  ``{"sales_invoice_sending": {...}}``, ``{"payment": {...}}``, ``{"purchase_invoice": {...}}``); a missing
  or empty one answers 400 ``param is missing or the value is empty: contact``. Validation errors answer
  422 ``{"error": {"field": ["message"]}, "symbolic": {"field": ["code"]}}``; a refusal of the whole
  document 422 ``{"error": "..."}``; an unknown record 404 ``{"error": "record not found"}``.
- Sales invoices are drafts until ``PATCH send_invoice`` (delivery methods Email, Manual, Post; Peppol
  and Simplerinvoicing are refused in the sandbox), which numbers them ``YYYY-NNNN`` per year; payments
  only on a sent invoice; ``download_pdf`` answers 302 to a file address valid for a minute that refuses
  an ``Authorization`` header. Tax rates are per type (``sales_invoice``, ``purchase_invoice``): a detail
  with a rate of the other type, or none, is refused (422).
- The rate limit: 150 requests per 5 minutes per token (:mod:`.gate`), 429 with ``Retry-After`` and the
  ``RateLimit-*`` headers.

Choices where nothing is documented (so tests can rely on them): ids are 18-digit strings; money is
written as strings with two decimals (prices as given); a detail's VAT is rounded per detail
(:mod:`.totals`); lists default to every state and period, 50 a page (``per_page`` at most 100), newest
first; the ``reference`` filter is exact; attributes the sandbox does not know answer 400 ``found
unpermitted parameter: x`` (strict on purpose: a mapping's typo shows); a purchase invoice's reference is
unique per contact (422 "has already been taken"); ``GET contacts.json?query=`` matches when every term
occurs in the contact's names, address, e-mail addresses, VAT or KvK number or customer id.

Knobs (per administration, :class:`.state.Knobs`): ``latency_ms``, ``error_rate``, ``fail_next``,
``rate_limit`` (150), ``rate_limit_window`` (300 s), ``rate_limit_burst`` (+ ``_retry_after``),
``fail_after_commit_next``, ``fail_before_commit_next``, ``save_late_next`` (+ ``save_late_seconds``),
``fail_send_next``, ``fail_payments_next``, ``fail_attachments_next``.

Not simulated: OAuth, webhooks, products, projects, workflows, recurring invoices, estimates, financial
accounts and mutations, Peppol. All state is touched from the server's event loop only.
"""

from __future__ import annotations

from .app import MoneybirdSandbox

SANDBOX = MoneybirdSandbox

__all__ = ["SANDBOX", "MoneybirdSandbox"]
