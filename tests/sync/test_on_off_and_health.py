"""The on/off switch (off: webhooks kept, nothing fetched or booked) and the dots the worker keeps."""

from __future__ import annotations

from django.core import mail

from koppel.connections.models import Connection, Health
from koppel.intake.models import WebhookDelivery
from koppel.intake.onoff import set_active
from koppel.sync.models import Record, State
from tests.conftest import book, drain, make_order, record_of


def test_off_keeps_the_webhooks_and_books_nothing_until_switched_on(
    shop, administration, connection, deliver
):
    set_active(connection, False)
    order = make_order()
    shop.place(order)
    response = deliver(connection, order["id"])
    assert response.status_code == 202 and response.json()["held"] is True
    drain()
    assert WebhookDelivery.objects.get().outcome == "held (connection off)"
    assert not Record.objects.exists()
    assert administration.invoices == []

    set_active(connection, True)
    drain()
    assert record_of(connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_an_order_queued_before_the_switch_waits_under_open_and_is_booked_after(
    shop, administration, connection, deliver
):
    order = make_order()
    shop.place(order)
    deliver(connection, order["id"])
    Connection.objects.filter(pk=connection.pk).update(active=False)
    drain()
    record = record_of(connection, order)
    assert (record.state, record.error_code) == (State.OPEN, "CONNECTION_OFF")
    connection.refresh_from_db()
    set_active(connection, True)
    drain()
    assert record_of(connection, order).state == State.HANDLED


def test_refused_credentials_turn_the_dot_red_and_send_one_e_mail(shop, administration, connection, deliver):
    connection.account.email = "anna@bakkerij.nl"
    connection.account.save()
    connection.target_credentials = {**administration.credentials, "api_key": "expired"}
    connection.save()
    for _ in range(3):
        record = book(shop, connection, deliver, make_order())
        assert record.error_code == "TARGET_AUTH_FAILED"
    connection.refresh_from_db()
    assert connection.target_health == Health.FAILED
    assert "401" in connection.target_health_message or connection.target_health_message
    assert len(mail.outbox) == 1
    assert "Factuursturen" in mail.outbox[0].subject

    connection.target_credentials = dict(administration.credentials)
    connection.save()
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED
    connection.refresh_from_db()
    assert connection.target_health == Health.OK and connection.failure_notified_at is None
