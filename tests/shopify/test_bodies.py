"""Shopify's order webhooks carry the order: Koppel books the body it was sent, newer than what it has by
``updated_at``, without a GET of the order; an older body arriving late changes nothing (real HTTP: the
sandbox signs and sends the webhooks to Koppel's live server; its request log counts the GETs)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from koppel.intake.models import WebhookDelivery
from koppel.sync.models import State
from tests.conftest import drain, record_of
from tests.shopify.conftest import ShopifyStore, make_cart

pytestmark = pytest.mark.usefixtures("live_server")


@pytest.fixture
def hooked(live_server, store: ShopifyStore, shopify_connection) -> ShopifyStore:
    store.configure(
        webhook_url=live_server.url + shopify_connection.webhook_path,
        webhook_secret=shopify_connection.webhook_secret,
        topics=["orders/create", "orders/updated"],
        knobs={"webhook_tries": 1},
    )
    return store


def order_gets(store: ShopifyStore, order: dict[str, Any]) -> list[dict[str, Any]]:
    """The shop's log of ``GET orders/{id}.json`` for the order."""
    return [r for r in store.requests() if r["method"] == "GET" and f"/orders/{order['id']}" in r["path"]]


def later(order: dict[str, Any], seconds: int = 5) -> str:
    return (datetime.fromisoformat(order["updated_at"]) + timedelta(seconds=seconds)).isoformat()


def ready_tasks() -> int:
    return DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()


def test_an_order_is_booked_from_its_webhook_without_a_get(hooked, shopify_connection, administration):
    order = hooked.place(notify=True)
    hooked.deliveries(wait_for=1)
    drain()
    record = record_of(shopify_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["totalintax"] == order["total_price"] == "38.34"
    assert order_gets(hooked, order) == []


def test_a_newer_webhook_replaces_the_order_of_a_queued_record(hooked, shopify_connection, administration):
    order = hooked.place(notify=True)
    hooked.deliveries(wait_for=1)
    hooked.update(order["id"], {"email": "nieuw.adres@example.nl", "updated_at": later(order)}, notify=True)
    hooked.deliveries(wait_for=2)
    record = record_of(shopify_connection, order)
    assert record.state == State.QUEUED and record.payload["email"] == "nieuw.adres@example.nl"
    assert ready_tasks() == 1  # replaced in place: no second task
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["email"] == "nieuw.adres@example.nl"
    assert order_gets(hooked, order) == []


def test_an_older_webhook_arriving_last_changes_nothing(hooked, shopify_connection, administration):
    hooked.configure(knobs={"out_of_order_webhooks": True, "webhook_tries": 1})
    order = hooked.place(make_cart(financial_status="pending"), notify=True)
    changes = {"financial_status": "paid", "email": "nieuw.adres@example.nl", "updated_at": later(order)}
    hooked.update(order["id"], changes, notify=True)
    hooked.knobs(out_of_order_webhooks=False)
    assert [d["topic"] for d in hooked.deliveries(wait_for=2)] == ["orders/updated", "orders/create"]
    record = record_of(shopify_connection, order)
    assert record.payload["financial_status"] == "paid"  # the stale body, which came last, was not kept
    stale = WebhookDelivery.objects.order_by("received_at").last()
    assert stale.event == "orders/create" and stale.outcome == "noted (queued)"
    drain()
    [invoice] = administration.invoices
    assert invoice["email"] == "nieuw.adres@example.nl" and invoice["open"] == "0.00"
    assert order_gets(hooked, order) == []


def test_another_body_of_the_same_second_is_fetched(hooked, shopify_connection, administration):
    """Two different bodies with one ``updated_at`` cannot be put in order: the order is fetched."""
    order = hooked.place(notify=True)
    hooked.deliveries(wait_for=1)
    same_second = {"email": "nieuw.adres@example.nl", "updated_at": order["updated_at"]}
    hooked.update(order["id"], same_second, notify=True)
    hooked.deliveries(wait_for=2)
    assert record_of(shopify_connection, order).payload_fetched_at is None
    drain()
    [invoice] = administration.invoices
    assert invoice["email"] == "nieuw.adres@example.nl"
    assert len(order_gets(hooked, order)) == 1


def test_an_open_order_paid_later_is_booked_from_the_newer_body(hooked, shopify_connection, administration):
    order = hooked.place(make_cart(financial_status="pending"), notify=True)
    hooked.deliveries(wait_for=1)
    drain()
    assert record_of(shopify_connection, order).state == State.OPEN
    hooked.update(order["id"], {"financial_status": "paid", "updated_at": later(order)}, notify=True)
    hooked.deliveries(wait_for=2)
    drain()
    record = record_of(shopify_connection, order)
    assert record.state == State.HANDLED, record.message
    assert len(administration.invoices) == 1
    assert order_gets(hooked, order) == []
