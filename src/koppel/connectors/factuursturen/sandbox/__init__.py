"""A simulated Factuursturen REST API v1, after research A1 and the recorded responses in
``specs/factuursturen/``.

Koppel's base URL for it is ``{sandbox url}/factuursturen/api/v1`` (real: https://www.factuursturen.nl/api/v1).
Several accounts live side by side, each with its clients, invoices, hourly call budget and fault knobs;
the control API is mounted at ``/_sandbox/factuursturen``. For people, ``/_sandbox/factuursturen/page``
lists the accounts and ``.../accounts/{username}/page`` shows an account's invoices (with their PDFs),
debtors, VAT rates (with an "Add VAT rate" form) and profiles (:mod:`koppel.sandbox.pages`).

Faithful to the real API where it is known:

- HTTP Basic ``username:api_key``; errors are plain-text bodies; ``POST`` answers 201 with the new id as
  plain text; single objects come wrapped (``{"client": {...}}``), lists as bare arrays.
- Top-level scalars are strings (``"clientnr":"1"``, ``"showcontact":"true"``, ``"tax":"0.00"``). Inside
  ``lines`` and ``taxes`` the recorded invoice has JSON *numbers* (``"amount":1``, ``"tax_rate":21``,
  ``"rate":21``) next to string sums (``"sum":"0.00"``); the sandbox copies that mix exactly, so clients
  must read both.
- ``X-RateLimit-Remaining`` on every authenticated response; an exhausted hourly budget answers 403 with
  ``X-RateLimit-Remaining: 0``.

Choices where nothing is known (documented so tests can rely on them):

- Only JSON is spoken. ``Accept`` naming XML but not JSON answers 406; request bodies must be JSON (the
  real API also takes form-encoded bodies, which Koppel does not send).
- ``GET taxes`` follows the shape the public client libraries deserialize (``percentage``, ``type``
  H/L/N, ``default``, ``country``), stringified like every other scalar; ``GET profiles`` gives
  ``id``/``name``/``default``; ``GET countrylist[/nl|/en]`` gives ``id``/``name`` sorted by name, with ids
  assigned in alpha-2 order except the Netherlands, fixed at "146" as in the recorded client.
- Invoice totals: line total = amount × price × (1 − discount_pct/100), rounded half-up to the cent. For an
  ``extax`` client, per VAT rate ``sum_of`` is the sum of the line totals and ``sum`` the VAT over it; for
  an ``intax`` client the line totals include VAT and ``sum`` = gross × rate / (100 + rate), ``sum_of`` =
  gross − sum. ``tax_shifted`` is copied onto the invoice but does not change the computation; an
  invoice-level ``discount`` is not simulated.
- Search is a case-insensitive "contains" on the string value; unknown fields answer 400.
- ``action`` save makes a saved invoice (a draft: research A1, "``GET invoices_saved/``,
  ``GET|DELETE invoices_saved/{id}`` ... drafts (``action=save``)", saved-invoices-api.html): it has no
  invoice number, is listed by ``GET invoices_saved`` (a bare array), read by ``GET invoices_saved/{id}``
  (wrapped as ``{"invoice": {...}}``, like an invoice), found by ``search/invoices_saved/{field}/{query}``
  (its reference lines and ``savename`` included), and never by ``GET invoices`` or
  ``search/invoices/...``. Its ids count from 1, apart from the invoices'. ``savename`` need not be unique;
  with ``overwrite_if_exist`` true a save replaces the saved invoice of the same name (keeping its id).
  The control API's ``POST .../saved/{id}/send`` is the merchant sending it from Factuursturen's screens:
  it becomes a numbered invoice with the data it was saved with and leaves the saved list. ``repeat``
  invoices are validated and kept apart; searching ``invoices_repeated`` or ``products`` gives ``[]``.
- An invoice records its ``sendmethod`` and, in its history, how it went out: "Factuur verstuurd" for
  ``mail`` (the merchant sends it), "Factuur per e-mail verstuurd naar {email}" for ``email``. A client
  with sendmethod ``email`` must have an address (400 otherwise); an invoice with sendmethod ``email`` for
  a client without one is booked all the same, its history saying it was not e-mailed.

All state is touched from the server's event loop only.
"""

from __future__ import annotations

from .app import FactuursturenSandbox
from .state import Account, AccountKnobs

SANDBOX = FactuursturenSandbox

__all__ = ["SANDBOX", "Account", "AccountKnobs", "FactuursturenSandbox"]
