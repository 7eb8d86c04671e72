"""WooCommerce's order webhooks carry the order (the REST v3 body, with ``date_modified_gmt``): Koppel books
it without a GET of the order, and a newer order arriving while a worker holds the record is booked
instead of the one the worker had, once (real HTTP: the sandbox sends the webhooks to Koppel's live
server; its request log counts the GETs)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from django.db import connection as db_connection

from koppel.sync import pipeline
from koppel.sync.models import Attempt, Record, State
from tests.conftest import drain, record_of
from tests.sync.test_intake_and_worker import wait_for
from tests.woocommerce.conftest import WooStore, wc_order


def hook_up(store: WooStore, live_server, connection) -> None:
    store.hook_up(live_server.url + connection.webhook_path, connection.webhook_secret)


def order_gets(store: WooStore, order: dict[str, Any]) -> list[dict[str, Any]]:
    """The shop's log of ``GET orders/{id}`` for the order."""
    return [r for r in store.requests() if r["method"] == "GET" and f"/orders/{order['id']}" in r["path"]]


def later(order: dict[str, Any], seconds: int = 5) -> str:
    return (datetime.fromisoformat(order["date_modified_gmt"]) + timedelta(seconds=seconds)).isoformat()


def test_an_order_is_booked_from_its_webhook_without_a_get(live_server, store, wc_connection, administration):
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(), notify=True)
    store.deliveries(wait_for=3)  # the two pings and order.created
    drain()
    record = record_of(wc_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["totalintax"] == "38.34"
    assert order_gets(store, order) == []


def test_an_older_webhook_changes_nothing(live_server, store, wc_connection, administration):
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(), notify=False)
    store.knobs(out_of_order_webhooks=True)
    store.update(order["id"], {"billing": {"first_name": "Oud"}, "date_modified_gmt": later(order, 1)})
    store.update(order["id"], {"billing": {"first_name": "Nieuw"}, "date_modified_gmt": later(order, 2)})
    store.deliveries(wait_for=4)  # the newer first, then the older
    assert record_of(wc_connection, order).payload["billing"]["first_name"] == "Nieuw"
    drain()
    [invoice] = administration.invoices
    assert "Nieuw" in str(invoice)
    assert order_gets(store, order) == []


def test_a_newer_order_while_a_worker_holds_the_record_is_booked_once(
    live_server, store, wc_connection, administration
):
    """The worker is held in the middle (the target answers slowly) while the shop changes the order: the
    webhook takes the record back, the held worker books nothing, and the next attempt books the newer
    order. One invoice, of the newer data, and no GET of the order."""
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(), notify=True)
    store.deliveries(wait_for=3)
    record = record_of(wc_connection, order)
    administration.knobs(latency_ms=1000)

    def held() -> None:
        try:
            pipeline.process(record.pk, "held-worker", "test")
        finally:
            db_connection.close()

    worker = threading.Thread(target=held)
    worker.start()
    try:
        wait_for(lambda: Record.objects.filter(pk=record.pk, lease_owner="held-worker").exists())
        three_mugs = [{"name": "Mok", "quantity": 3, "price": "12.95"}]
        newer = store.update(order["id"], {"line_items": three_mugs, "date_modified_gmt": later(order)})
        store.deliveries(wait_for=4)
        record.refresh_from_db()
        assert record.payload["total"] == newer["total"] != order["total"] and record.lease_owner == ""
    finally:
        worker.join(60)
        administration.knobs(latency_ms=0)
    assert Attempt.objects.get(record=record, worker="held-worker").outcome == "lease-lost"
    assert administration.invoices == []  # the held worker booked nothing
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["totalintax"] == newer["total"]
    assert order_gets(store, order) == []
