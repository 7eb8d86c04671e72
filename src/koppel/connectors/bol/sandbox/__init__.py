"""A simulated bol.com Retailer API v10, faithful to the official OpenAPI specs (``retailer.json``,
``shared.json``) and to the recorded answers of the real API.

Everything is under ``{sandbox}/bol``; the shop (retailer account) is the one whose token is sent, as on
api.bol.com, so there is no shop in the path:

- ``POST /bol/token`` stands in for ``https://login.bol.com/token``: HTTP Basic auth with the client id and
  secret, form body ``grant_type=client_credentials`` → ``{"access_token": "<RS256 JWT>", "token_type":
  "Bearer", "expires_in": 299, "scope": "RETAILER"}``. Wrong credentials: 401 ``{"error":
  "invalid_client", "error_description": "Bad client credentials"}``; token parameters in the query string:
  400 ``invalid_request`` (bol refuses them since 2025); another grant type: 400
  ``unsupported_grant_type``; more than ``token_requests_per_minute`` token requests of one client in a
  minute: 429 with ``Retry-After`` (bol blocks IPs that ask too often; its exact answer is not documented).
- ``/bol/retailer/...`` and ``/bol/shared/...`` (production), ``/bol/retailer-demo/...`` and
  ``/bol/shared-demo/...`` (the demo environment). Every call needs ``Authorization: Bearer <token>``
  (missing or unknown: 401 problem; expired, after 1 s of allowed clock skew: the recorded 401 ``{"title":
  "Expired JWT", "status": 401, "detail": "JWT expired at …Z. Current time: …Z, a difference of …
  milliseconds.
  Allowed clock skew: 1000 milliseconds."}``) and ``Accept: application/vnd.retailer.v10+json`` (missing or
  another type: 406 problem). JSON bodies must be sent as ``application/vnd.retailer.v10+json`` (else 415).
  Answers are ``application/vnd.retailer.v10+json;charset=UTF-8``; errors are ``Problem`` bodies
  (``type: https://api.bol.com/problems``, ``title``, ``status``, ``detail``, ``host``, ``instance`` and, for
  validation errors, ``violations: [{"name", "reason"}]``); 5xx faults are nginx's one line of HTML.
- Orders: ``GET /retailer/orders`` (``page`` 50 a page, ``fulfilment-method`` FBR (default) / FBB / ALL,
  ``status`` OPEN (default) / SHIPPED / ALL, ``change-interval-minute`` 1-60, ``latest-change-date``
  YYYY-MM-DD within 3 months, ``vvb-only``) → ``ReducedOrders``, oldest order first, each with the order
  items that match; a handled item (shipped or cancelled) stays listed 48 hours after its last change
  (with ``latest-change-date`` the items changed on that day, 3 months back); an empty page is ``{ }``.
  ``GET /retailer/orders/{order-id}`` → the full v10 ``Order``. ``PUT /retailer/orders/cancellation``
  (``{"orderItems": [{"orderItemId", "reasonCode"}]}``) → 202 ``ProcessStatus`` CANCEL_ORDER.
- Shipments: ``GET /retailer/shipments`` (``page``, ``fulfilment-method`` FBR (default) / FBB, ``order-id``
  (then no default method)) → ``ShipmentsResponse``, newest first, 3 months back; ``GET
  /retailer/shipments/{shipment-id}`` → ``Shipment`` (items with ``quantity`` = the order item's quantity and
  ``quantityShipped`` = what this shipment holds, ``unitPrice``, their share of ``commission``; billing
  details); ``POST /retailer/shipments`` (``ShipmentRequest``; the v10 successor of ``PUT
  /orders/shipment``) → 202 CREATE_SHIPMENT; FBB items cannot be shipped by the retailer (FAILURE).
- Returns (:mod:`.returns`, :mod:`.return_state`): ``GET /retailer/returns`` (``page`` 50 a page,
  ``handled`` true/false (Spring's booleans: also 1/0, yes/no, on/off; none: both), ``fulfilment-method``
  FBR (default) / FBB) → ``ReturnsResponse``, handled returns newest registration first, unhandled ones
  oldest first, each with the return items that match ``handled`` (an empty page is ``{ }``); ``GET
  /retailer/returns/{return-id}`` → ``Return`` (items with ``title``, ``trackAndTrace``,
  ``transporterName``, ``customerDetails``; unknown: 404); ``PUT /retailer/returns/{rma-id}``
  (``{"handlingResult", "quantityReturned"}``) → 202 HANDLE_RETURN_ITEM, then the item is handled with
  bol's processing result: ACCEPTED for RETURN_RECEIVED, STILL_APPROVED, EXCHANGE_PRODUCT and
  REPAIR_PRODUCT, REJECTED for RETURN_DOES_NOT_MEET_CONDITIONS and CUSTOMER_KEEPS_PRODUCT_PAID (handled
  again: the new result replaces the old); an unknown RMA id or a quantity above the expected one ends
  FAILURE; ``POST /retailer/returns`` (``{"orderItemId", "quantityReturned", "handlingResult"}``, no
  STILL_APPROVED) → 202 CREATE_RETURN_ITEM: a return of a shipped item, handled at once, its return id the
  process status's entity id (more than was shipped and not yet returned: FAILURE). v10 has no RETURN
  push notification resource (its subscriptions take PROCESS_STATUS, SHIPMENT, the offer events and
  ORDER), so returns are found by polling.
- Process status: writes answer 202 ``ProcessStatus`` PENDING; after ``process_delay_ms`` the change is made
  and the status is SUCCESS (or FAILURE with ``errorMessage``, e.g. more shipped than is open, an unknown
  order item). ``GET /shared/process-status/{id}``, ``GET /shared/process-status?entity-id&event-type``,
  ``POST /shared/process-status`` (bulk). The entity id is the order item id (shipment, cancellation), the
  shipment id (invoice upload) or the subscription id.
- Invoice requests: ``GET /retailer/shipments/invoices/requests`` (``shipment-id``, ``page``, ``state`` OPEN
  (default: INVOICE_REQUESTED) / UPLOAD_ERROR (INVOICE_INCORRECT, INVOICE_VIRUS_DETECTED) / ALL);
  ``POST /retailer/shipments/invoices/{shipment-id}``, ``multipart/form-data`` with the file in part
  ``invoice`` (another Content-Type: 415; no part: 400; not a PDF or over ``invoice_max_bytes``, 2 MB: 400)
  → 202 UPLOAD_INVOICE, then SUCCESS (the request becomes INVOICE_UPLOADED) or, for a PDF without
  ``%%EOF`` or with ``fail_invoice_uploads``, FAILURE (INVOICE_INCORRECT).
- bol's own invoices to the retailer (:mod:`.retailer_invoices`, :mod:`.invoice_state`,
  :mod:`.invoice_documents`): ``GET /retailer/invoices`` (``period-start-date`` and ``period-end-date``,
  ISO dates, both or neither (400); the last 4 weeks by default; longer than 31 days, both included:
  400) → ``{"invoiceListItems": [{"invoiceId", "invoiceMediaTypes": {"availableMediaTypes"},
  "invoiceType": ALL_IN_ONE | ADVERTISING_VIA_BOL, "issueDate", "invoicePeriod": {"startDate",
  "endDate"}, "legalMonetaryTotal": {"lineExtensionAmount", "payableAmount", "taxExclusiveAmount",
  "taxInclusiveAmount": {"amount", "currencyID"}}, "specificationMediaTypes"}], "period":
  "…T00:00:00+01:00/…"}``, the invoices issued in the period, with ISO 8601 dates (the v5-era sample
  had epoch seconds and milliseconds); ``GET /retailer/invoices/{invoice-id}`` with ``Accept``
  ``application/vnd.retailer.v10+pdf`` (a PDF), ``…+xml`` (SI-UBL 2.1 as bol's sample writes it:
  supplier Bol.com B.V., KvK 32147382, VAT NL820471616B01; the retailer as customer; an ``InvoiceLine``
  per line type and VAT rate with ``Item/Name`` the line type; ``TaxTotal``; ``LegalMonetaryTotal``) or
  ``…+json`` (the same tree: objects, leaves ``{"value", ...attributes}``); ``GET
  /retailer/invoices/{invoice-id}/specification`` (``page``, ``specification_page_size`` lines a page)
  → ``{"invoiceSpecification": [{"id": "order#EAN#LINE_TYPE", "invoiceLineRef": "invoice#LINE_TYPE",
  "invoicedQuantity", "lineExtensionAmount", "taxTotal": {"TaxAmount"}, "item": {"Name", "Description",
  "AdditionalItemProperty": [{"Name": "Bestelnummer" | "EAN" | "Track and Trace" | "Casenummer" | ...,
  "Value"}], "ClassifiedTaxCategory"}, "price"}]}`` (a page past the end: ``{ }``) or, as
  ``…+openxmlformats-officedocument.spreadsheetml.sheet``, a workbook with six rows about the invoice,
  the headers in row 7 and a transaction a row; no specification: 404. Unknown invoice: 404; another
  ``Accept``: 406. Amounts have bol's sign: costs positive, turnover and compensations negative;
  ``payableAmount`` > 0 the retailer pays, < 0 bol pays out.
- Push notifications: ``GET/POST /retailer/subscriptions``, ``GET/PUT/DELETE
  /retailer/subscriptions/{id}``, ``POST /retailer/subscriptions/test/{id}``, ``GET
  /retailer/subscriptions/signature-keys`` → ``{"signatureKeys": [{"id": "0", "type": "RSA", "publicKey":
  "<Base64 DER SubjectPublicKeyInfo>"}]}``. Each enabled WEBHOOK subscription to a resource is POSTed
  ``{"retailerId": 1234567, "timestamp": "…+02:00", "event": {"resource", "type", "resourceId"}}`` with
  ``Content-Type: application/json`` and ``Signature: keyId=0, algorithm="rsa-sha256", signature=<Base64>``
  (RSA PKCS#1 v1.5 with SHA-256 over the raw body). Events: ORDER ORDER_CREATED and
  ORDER_ITEM_CANCELLATION_REQUEST (resourceId the order id; the v11 event names, v10 documents none),
  SHIPMENT UPDATE_TRANSPORT_EVENT (the shipment id), PROCESS_STATUS SUCCESS/FAILURE (the process status
  id), TEST TEST (the subscription id). A notification is tried ``push_tries`` times; one that failed
  every try disables its subscription, as bol does. GCP_PUBSUB and AWS_SQS subscriptions are kept but
  nothing is delivered to them.
- Rate limits, per account and bucket (bol's published table): GET orders 25/min, GET orders/* 25/s, GET
  shipments 25/min, POST shipments 25/s, GET shipments/* 50/min (also invoice requests), GET and POST
  returns 20/min, GET and PUT returns/* 20/min, GET invoices 24/min, GET invoices/* 24/min (invoice and
  specification), bulk process status 2/s, everything else 25/s; the demo one generic 20/s bucket. Every
  answer past authentication has ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset`` (seconds until the window ends); an empty bucket answers the recorded 429 with
  ``Retry-After`` (see :mod:`.ratelimit`).
- The demo environment serves one fixed data set to every account (bol's demo ids: orders 1042823870 (FBB),
  7616222700 and 7616222250 (FBR, shipped as shipment 914587795, which has an open invoice request));
  writes are validated and answered with a mocked process status (``"This is a mocked process status."``,
  SUCCESS at once) and change nothing.

Control API (``/_sandbox/bol``): ``POST /shops`` (``{"shop", "client_id"?, "client_secret"?, "retailer_id"?,
"active"?, "knobs"?}`` → 201 the shop's summary with its credentials and URLs; again: 200, changed);
``POST /signature-keys/rotate``; under ``/shops/{shop}``: ``GET ""``, ``POST orders`` (the body of
:mod:`.build`; ``?notify=false`` sends no push) → 201 ``{"order": <v10 Order>}``, ``GET orders/{id}``,
``POST orders/{id}/ship`` (``{"items": [{"order_item_id", "quantity"}]?, "shipped_at"?,
"shipment_reference"?, "transporter_code"?, "track_and_trace"?}``; FBB or FBR, all that is open by default)
→ 201 ``{"shipment": <v10 Shipment>}``, ``POST orders/{id}/cancel`` (``{"items": [...]?,
"request_only"?, "at"?}``: the customer cancels, or only asks to) → ``{"order"}``, ``POST
orders/{id}/return`` (``{"items": [{"order_item_id", "quantity"}]?, "reason"?, "detailed_reason"?,
"comments"?, "registered_at"?, "handle"?: {"handling_result", "quantity"?, "at"?}}``: the customer returns
shipped items, everything shipped by default; ``handle`` handles them at once) → 201 ``{"return"}``, ``POST
returns/{rma_id}/handle`` (``{"handling_result", "quantity"?, "at"?}``: the retailer or, for FBB, bol's
warehouse handles a return item) → ``{"return"}``, ``GET returns/{return_id}``, ``GET shipments/{id}``,
``POST shipments/{id}/invoice-request`` (``{"requested_at"?, "customer_account_number"?}``) → 201
``{"invoice_request"}``, ``GET invoices`` (uploads: shipment id, file name, size, sha256, status), ``GET
invoices/{shipment_id}`` (the PDF), ``POST invoices`` (bol issues its own invoice for a period, from the
shipments and cancellations in it and/or explicit lines: the body of :mod:`.invoice_state`) → 201
``{"invoice"}``, ``GET invoices/issued`` (those invoices and their transactions), ``GET|POST knobs``,
``GET|DELETE requests`` (method, path, query, status; no headers or bodies), ``GET|DELETE deliveries``
(push attempts, ``?wait_for=N&timeout=5``), ``GET|DELETE tokens``, ``GET processes``; for people ``GET
/page`` and ``GET /shops/{shop}/page``.

Knobs (per shop, :class:`.state.BolKnobs`): ``latency_ms``, ``error_rate`` (500/503), ``fail_next``,
``token_lifetime`` (299), ``token_requests_per_minute`` (20), ``rate_limits`` (on), ``rate_limit_scale``
(1.0), ``force_429`` (the next N calls), ``retry_after`` (of a forced 429), ``process_delay_ms`` (500),
``push_enabled``, ``push_tries`` (3), ``https_only`` (off), ``invoice_max_bytes`` (2 MB),
``fail_invoice_uploads``, ``specification_page_size`` (25,000), ``rate_limit_window_scale`` (1.0: a
bucket's window times this).

Not simulated: offers, shipping labels, the code flow of intermediaries, commission calculation
(15% of the item's total by default), VAT (bol sends none).
Ids come from a seeded generator (deterministic for a given sequence of calls): order ids 10 digits
starting 1, order item ids starting 6, shipment ids 9 digits starting 5, bol's invoice ids 13 digits
starting 45, return ids 8 digits starting 1, RMA ids 8 digits starting 8. The demo serves bol's demo
invoice 4500022543921 (the demo shipments, a compensation) for any period; it has no returns.
"""

from __future__ import annotations

from .app import BolSandbox

SANDBOX = BolSandbox

__all__ = ["SANDBOX", "BolSandbox"]
