"""Webhook intake: verify the signature over the raw body, store the delivery, note the order, answer fast.
A platform that sends the whole order in its signed webhook (WooCommerce, Shopify) hands it on with its
modification time, and the worker books it without fetching it; for the others the worker fetches the order.

A platform's unsigned "is this URL alive" ping (WooCommerce, when a webhook is created) is answered 200. A
delivery whose id was seen before (platforms retry, and send the same delivery twice) is stored as a
duplicate and changes nothing; the record's unique constraint would make it harmless anyway, but this keeps
the worker from fetching the order again and shows the duplicate on the dashboard.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from koppel.connections import crypto
from koppel.connections.models import Connection
from koppel.connectors.base import SourceConnector, WebhookNotice
from koppel.connectors.errors import ConnectorError
from koppel.sync.services import note_order

from .models import HELD, WebhookDelivery

logger = logging.getLogger("koppel.intake")


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /webhooks/ (a negative or non-numeric connection id, a typo)."""
    return problem(404, "CONNECTION_UNKNOWN", "There is no connection at this webhook address")


def problem(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, source_kind: str, connection_id: int) -> JsonResponse:
    if connection_id > BIGGEST_ID:
        return problem(404, "CONNECTION_UNKNOWN", f"No {source_kind} connection {connection_id}")
    connection = Connection.objects.filter(pk=connection_id, source_kind=source_kind).first()
    if connection is None:
        return problem(404, "CONNECTION_UNKNOWN", f"No {source_kind} connection {connection_id}")
    source = connection.source_class
    body = request.body
    headers = {key.lower(): value for key, value in request.headers.items()}
    if source.is_ping(body, headers):
        logger.info("Webhook ping for connection %s", connection.pk)
        return JsonResponse({"ping": True}, status=200)
    try:
        secret = connection.webhook_secret
    except crypto.CredentialsUnreadable:
        logger.error("Webhook for connection %s: the webhook secret cannot be decrypted", connection.pk)
        return problem(
            503,
            "CREDENTIALS_UNREADABLE",
            "Koppel cannot read this connection's webhook secret right now; send it again later",
        )
    try:
        matches = signature_matches(connection, body, headers, secret)
    except ConnectorError as exc:
        logger.warning("Webhook for connection %s not checked: %s", connection.pk, exc.message)
        return problem(503, "SIGNATURE_NOT_CHECKED", f"The signature cannot be checked now: {exc.message}")
    if not matches:
        # Stored nowhere: an unsigned request could be anyone's. Only counted, to show on the dashboard.
        Connection.objects.filter(pk=connection.pk).update(rejected_webhooks=F("rejected_webhooks") + 1)
        logger.warning("Webhook for connection %s rejected: bad signature", connection.pk)
        return problem(
            401, "SIGNATURE_INVALID", "The webhook signature does not match the connection's secret"
        )
    seen_webhook(connection)
    delivery = stored_delivery(connection, body)
    try:
        notice = source.parse_webhook(body, headers)
        if notice is not None:
            check_notice_fits(notice)
    except (ValueError, TypeError, RecursionError) as exc:
        reason = str(exc) if not isinstance(exc, RecursionError) else "the JSON is nested too deeply"
        delivery.outcome, delivery.message = "invalid", clean_text(reason)[:1000]
        delivery.save()
        return problem(400, "WEBHOOK_INVALID", f"The notification is not understood: {clean_text(reason)}")
    if notice is None:  # understood, but nothing to book: answered 2xx so the platform does not retry
        delivery.outcome = "ignored"
        delivery.save()
        return JsonResponse({"ignored": True}, status=200)
    delivery.event, delivery.order_id, delivery.delivery_id = (
        notice.event,
        notice.order_id,
        notice.delivery_id,
    )
    if notice.delivery_id and already_received(connection, notice.delivery_id):
        return duplicate(connection, delivery, notice.order_id)
    if not connection.active:  # kept, and noted when the connection is switched on again
        delivery.outcome = HELD
        delivery.save()
        return JsonResponse({"record": None, "state": "", "queued": False, "held": True}, status=202)
    try:
        with transaction.atomic():
            record, queued = note_order(
                connection,
                notice.order_id,
                via="webhook",
                payload=notice.payload,
                modified_at=notice.modified_at,
            )
            delivery.outcome = "queued" if queued else f"noted ({record.state})"
            delivery.save()
    except IntegrityError:  # the same delivery, arriving at the same moment, was stored first
        delivery.pk = None
        return duplicate(connection, delivery, notice.order_id)
    return JsonResponse({"record": record.pk, "state": record.state, "queued": queued}, status=202)


#: ``last_webhook_at`` is written at most this often (seconds): not one extra write per webhook.
LAST_WEBHOOK_RESOLUTION = 60


BIGGEST_ID = 2**63 - 1
#: What a delivery's columns hold; longer values are refused, never cut (a cut id could collide).
ORDER_ID_MAX = WebhookDelivery._meta.get_field("order_id").max_length
DELIVERY_ID_MAX = WebhookDelivery._meta.get_field("delivery_id").max_length
EVENT_MAX = WebhookDelivery._meta.get_field("event").max_length


def signature_matches(connection: Connection, body: bytes, headers: dict[str, str], secret: str) -> bool:
    """The connector's check, where a header it cannot even compare (non-ASCII text makes
    ``hmac.compare_digest`` raise) is simply no match. A platform that signs with keys behind its API
    (bol.com) checks through the connection's connector; the others with the static check, which costs no
    connector. A ``ConnectorError`` (the keys could not be read) is the caller's to answer."""
    cls = connection.source_class
    try:
        if cls.check_webhook is SourceConnector.check_webhook:
            return bool(cls.verify_webhook(body, headers, secret))
        source = connection.source()
        try:
            return bool(source.check_webhook(body, headers, secret))
        finally:
            source.close()
    except (TypeError, ValueError, UnicodeError):
        return False


def clean_text(text: str) -> str:
    """Text a database column takes: no NUL, no lone surrogate."""
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def stored_delivery(connection: Connection, body: bytes) -> WebhookDelivery:
    """The delivery as it will be stored: its text, and its exact bytes when the text is not them."""
    text = clean_text(body.decode("utf-8", errors="replace"))
    raw = None if text.encode("utf-8") == body else body
    return WebhookDelivery(connection=connection, body=text, raw_body=raw)


def check_notice_fits(notice: WebhookNotice) -> None:
    """An order id, delivery id or event too long for its column, or with control characters, is refused
    (a value cut to fit could name another order)."""
    for value, limit, what in (
        (notice.order_id, ORDER_ID_MAX, "order id"),
        (notice.delivery_id, DELIVERY_ID_MAX, "delivery id"),
        (notice.event, EVENT_MAX, "event"),
    ):
        if len(value) > limit:
            raise ValueError(f"the {what} is longer than {limit} characters")
        if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in value):
            raise ValueError(f"the {what} contains control characters")


def seen_webhook(connection: Connection) -> None:
    now = timezone.now()
    last = connection.last_webhook_at
    if last is None or (now - last).total_seconds() > LAST_WEBHOOK_RESOLUTION:
        Connection.objects.filter(pk=connection.pk).update(last_webhook_at=now)


def already_received(connection: Connection, delivery_id: str) -> bool:
    return WebhookDelivery.objects.filter(connection=connection, delivery_id=delivery_id).exists()


def duplicate(connection: Connection, delivery: WebhookDelivery, order_id: str) -> JsonResponse:
    """A delivery seen before: stored as such, nothing else happens."""
    delivery.outcome = "duplicate"
    delivery.save()
    record = connection.records.filter(kind="order", source_order_id=order_id).first()
    return JsonResponse(
        {
            "record": record.pk if record else None,
            "state": record.state if record else "",
            "queued": False,
            "duplicate": True,
        },
        status=202,
    )
