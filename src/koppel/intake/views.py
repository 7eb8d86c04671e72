"""Webhook intake: verify the signature over the raw body, store the delivery, note the order, answer fast.
The order itself is fetched by the worker.

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
from koppel.sync.services import note_order

from .models import HELD, WebhookDelivery

logger = logging.getLogger("koppel.intake")


def problem(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, source_kind: str, connection_id: int) -> JsonResponse:
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
    if not source.verify_webhook(body, headers, secret):
        # Stored nowhere: an unsigned request could be anyone's. Only counted, to show on the dashboard.
        Connection.objects.filter(pk=connection.pk).update(rejected_webhooks=F("rejected_webhooks") + 1)
        logger.warning("Webhook for connection %s rejected: bad signature", connection.pk)
        return problem(
            401, "SIGNATURE_INVALID", "The webhook signature does not match the connection's secret"
        )
    seen_webhook(connection)
    delivery = WebhookDelivery(connection=connection, body=body.decode("utf-8", errors="replace"))
    try:
        notice = source.parse_webhook(body, headers)
    except ValueError as exc:
        delivery.outcome, delivery.message = "invalid", str(exc)[:1000]
        delivery.save()
        return problem(400, "WEBHOOK_INVALID", f"The notification is not understood: {exc}")
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
            record, queued = note_order(connection, notice.order_id, via="webhook")
            delivery.outcome = "queued" if queued else f"noted ({record.state})"
            delivery.save()
    except IntegrityError:  # the same delivery, arriving at the same moment, was stored first
        delivery.pk = None
        return duplicate(connection, delivery, notice.order_id)
    return JsonResponse({"record": record.pk, "state": record.state, "queued": queued}, status=202)


#: ``last_webhook_at`` is written at most this often (seconds): not one extra write per webhook.
LAST_WEBHOOK_RESOLUTION = 60


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
    record = connection.records.filter(source_order_id=order_id).first()
    return JsonResponse(
        {
            "record": record.pk if record else None,
            "state": record.state if record else "",
            "queued": False,
            "duplicate": True,
        },
        status=202,
    )
