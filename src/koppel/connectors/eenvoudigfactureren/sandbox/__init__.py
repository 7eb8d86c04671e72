"""A simulated EenvoudigFactureren REST API v1 (the platform also sold as SimplyBooks), after research A2
and the behaviour of the vendor's WooCommerce plugin.

Koppel's base URL for it is ``{sandbox url}/eenvoudigfactureren/api/v1`` (real:
https://eenvoudigfactureren.be/api/v1). Several accounts live side by side, each with its clients,
invoices, sent e-mails, request log and fault knobs; the control API is mounted at
``/_sandbox/eenvoudigfactureren``. For people, ``/_sandbox/eenvoudigfactureren/page`` lists the accounts
and ``.../accounts/{name}/page`` shows an account's invoices (with their PDFs), clients, e-mails, VAT rates
(with an "Add VAT rate" form) and layouts (:mod:`koppel.sandbox.pages`).

Faithful to the real API where it is known:

- ``X-API-Key: <key>`` selects the account; HTTP Basic ``email:password`` (legacy) works for accounts
  that have both. A key can be limited to some domains (scopes); a call to another domain answers 403.
- XML unless JSON is asked for: ``format=json``, or ``Accept``/``Content-Type`` naming
  ``application/json``; ``format=xml`` forces XML. Every error is an object with an ``error`` property
  (``<error>...</error>`` in XML). Lists are ``<clients><client>...``, nested lists ``<items><item>``.
- ``POST`` on a collection creates (201 with the whole object); ``POST`` on an object changes only the
  fields given, ``PUT`` replaces it (fields not given go back to their defaults); ``DELETE`` removes.
- Lists take ``search``, ``filter`` (``field=value`` operators ``= != <= >= < > =~`` and the vendor's own
  ``field__eq__value`` form; conditions separated by commas must all hold; top-level fields only),
  ``fields`` and ``sort`` (``status+-date``). Text equality ignores case, as MySQL's collation does.
- The client and invoice fields and maximum lengths of research A2; ``payments`` with
  ``remaining_amount: yes`` pay what is still open, which is how the vendor's plugin marks an order paid;
  ``GET settings?fields=taxes`` gives ``taxes.tax1.rate`` ...; ``sendemail`` and ``send`` (e-mail).

Choices where nothing is known (documented so tests can rely on them):

- Ids are integers counted per account from 1. In JSON and XML alike, money and rates are strings with
  two decimals, unit prices up to four (``"19.99"``, ``"8.2562"``), quantities plain decimal strings and
  flags ``"yes"``/``"no"``. Requests may send numbers or numeric strings, and true/false, yes/no, 1/0.
- Unknown fields answer 400 ``Unknown field: x`` (strict on purpose: it catches a typo in a mapping).
  Read-only fields (ids, ``uri``, totals, ``status``, ``sent``, ``created``, ``modified``) are accepted
  and ignored, so an object that was read can be sent back; ``type`` only as the total's sign makes it.
- Item totals are rounded half-up to the cent per item: with ``tax_included`` the gross is quantity x
  ``amount_with_tax`` and the net is derived from it, otherwise the net is quantity x ``amount`` and the
  VAT is derived; the invoice totals are the sums. The unit price that does not count is derived from
  the one that does and rounded to 4 decimals. An item without ``tax_rate`` gets the account's first
  rate; an item with neither price costs nothing (a text line).
- Invoice numbers ``YYYY-NNNN`` count per year of the invoice date, skipping numbers given by hand; a
  given number must be unique in the account (ignoring case). Client numbers count from ``1001`` when the
  account's ``auto_client_number`` is on; a client keeps its number when an update leaves it empty.
- Paging: ``limit`` (default 100, at most 500) and ``offset``; ``X-Total-Count`` is the count before paging.
- Request bodies: JSON, form-encoded (flat fields) and XML (any root element, ``items/item``,
  ``contacts/contact`` and ``payments/payment`` as lists), XML read without entities, DTDs or network.
- Formats other than json, xml and pdf (csv, html, ubl ...) answer 400; pdf only for one invoice.
- Rate limits are not documented. ``rate_limit_per_minute`` turns on a sliding one-minute window per
  account (429 with ``Retry-After`` and ``{"error": "Too many requests"}`` when full, and
  ``X-RateLimit-Limit``/``-Remaining`` on every answer); 401 and 403 answers do not count against it.
- The request log keeps the parsed body of any accepted format under ``json``, and masks query
  parameters whose name suggests a secret; it never sees headers, so no API key or password is in it.
- ``send`` with a ``peppol`` method answers 400: there is no Peppol network in the sandbox.
- No draft (concept) invoices: research A2 and the vendor's plugin know none, so every invoice is final
  and numbered when it is created, ``sent`` "no" until it is e-mailed; a ``draft`` or ``concept`` field is
  an unknown field (400) like any other.

All state is touched from the server's event loop only.
"""

from __future__ import annotations

from .app import EenvoudigFacturerenSandbox
from .state import Account, AccountKnobs

SANDBOX = EenvoudigFacturerenSandbox

__all__ = ["SANDBOX", "Account", "AccountKnobs", "EenvoudigFacturerenSandbox"]
