"""The on/off switch of a connection. Off: nothing is fetched or booked, the shop's notifications are
still stored (held). On again: the held notifications are noted, the orders that waited because the
connection was off are queued, and the shop is polled for whatever changed meanwhile."""

from __future__ import annotations

from koppel.connections.models import Connection
from koppel.documents.codes import Code
from koppel.sync.models import Record, State
from koppel.sync.services import note_order, requeue
from koppel.sync.tasks import poll_connection

from .models import HELD, WebhookDelivery


def set_active(connection: Connection, active: bool) -> int:
    """Switch the connection; returns how many orders were queued by switching it on."""
    was_active = connection.active
    connection.active = active
    connection.save(update_fields=["active"])
    if not active or was_active:
        return 0
    queued = release_held(connection)
    waiting = Record.objects.filter(connection=connection, state=State.OPEN, error_code=Code.CONNECTION_OFF)
    for record in waiting.iterator():
        queued += requeue(record, trigger="switch-on")
    poll_connection.enqueue(connection.pk)
    return queued


def release_held(connection: Connection) -> int:
    """The deliveries held while the connection was off are noted, as if they arrived now."""
    noted = 0
    for delivery in WebhookDelivery.objects.filter(connection=connection, outcome=HELD).order_by("pk"):
        if delivery.order_id:
            _record, queued = note_order(connection, delivery.order_id, via="webhook")
            noted += int(queued)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(outcome="queued (after switch-on)")
    return noted
