"""bol.com orders and shipments booked in Factuursturen through the whole pipeline, against the sandboxes:
signed pushes (bad ones refused, duplicates booked once), the poll as safety net, a partial shipment and
the rest, a cancellation, a 429 storm, and one token for every connector of a connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol import signatures
from koppel.sync.models import Record, State
from tests.bol.conftest import make_order
from tests.conftest import connect, drain


@pytest.fixture(autouse=True)
def fresh_process_state():
    bol_client.BUCKETS.clear()
    signatures.KEYS.clear()
    yield


def bol_connection(account, bol_shop, administration, source: str = "shipment", **settings: Any):
    item = connect(account, bol_shop, administration, source_settings={"source": source, **settings})
    connector = item.source()
    try:
        connector.register_webhook(item.webhook_url)  # as the dashboard does when it is saved
    finally:
        connector.close()
    return item


def push(client, sandbox, connection, resource: str, resource_id: str, *, signature: str | None = None):
    """A push notification as bol sends it, signed with the sandbox's key (or ``signature``)."""
    body = json.dumps(
        {
            "retailerId": 1234567,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "event": {"resource": resource, "type": "X", "resourceId": resource_id},
        },
        separators=(",", ":"),
    ).encode()
    header = signature if signature is not None else sandbox.app.bol.core.keys.signature_header(body)
    return client.post(connection.webhook_path, body, content_type="application/json", HTTP_SIGNATURE=header)


def records(connection) -> list[Record]:
    return list(Record.objects.filter(connection=connection).order_by("id"))


def invoice_total(invoice: dict[str, Any]) -> Decimal:
    return Decimal(str(invoice["totalintax"]))


def test_order_source_books_the_order_from_its_push(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    response = push(client, sandbox, connection, "ORDER", order["orderId"])
    assert response.status_code == 202, response.content
    drain()
    (record,) = records(connection)
    assert record.state == State.HANDLED, record.message
    assert record.order_number == order["orderId"]
    (invoice,) = administration.invoices
    assert invoice_total(invoice) == Decimal("49.93")  # 2 x 12.99 - 1.00 + 24.95
    assert invoice["reference"]["line1"] == order["orderId"]


def test_a_bad_signature_is_refused_and_counted(client, sandbox, account, bol_shop, administration) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    forged = 'keyId=0, algorithm="rsa-sha256", signature=' + "A" * 344
    assert push(client, sandbox, connection, "ORDER", order["orderId"], signature=forged).status_code == 401
    assert push(client, sandbox, connection, "ORDER", order["orderId"], signature="").status_code == 401
    connection.refresh_from_db()
    assert connection.rejected_webhooks == 2 and not records(connection)


def test_duplicate_pushes_book_once(client, sandbox, account, bol_shop, administration, retry_fast) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    body = json.dumps(
        {"retailerId": 1, "timestamp": "2026-05-01T10:00:00+02:00",
         "event": {"resource": "ORDER", "type": "ORDER_CREATED", "resourceId": order["orderId"]}}
    ).encode()  # fmt: skip
    header = sandbox.app.bol.core.keys.signature_header(body)
    for _ in range(3):
        answer = client.post(
            connection.webhook_path, body, content_type="application/json", HTTP_SIGNATURE=header
        )
        assert answer.status_code == 202
    drain()
    assert [r.state for r in records(connection)] == [State.HANDLED]
    assert len(administration.invoices) == 1
    assert [d.outcome for d in connection.webhook_deliveries.order_by("id")][1:] == ["duplicate", "duplicate"]


def test_a_partial_shipment_invoices_what_shipped_and_the_rest_when_it_ships(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    order = bol_shop.place(notify=False)
    mug, _teapot = (item["orderItemId"] for item in order["orderItems"])
    first = bol_shop.ship(order["orderId"], items=[{"order_item_id": mug, "quantity": 1}])
    assert push(client, sandbox, connection, "SHIPMENT", first["shipmentId"]).status_code == 202
    drain()
    (record,) = records(connection)
    assert record.state == State.HANDLED, record.message
    assert record.order_number == f"{order['orderId']}-{first['shipmentId']}"
    (invoice,) = administration.invoices
    assert invoice_total(invoice) == Decimal("12.49")  # one mug, half its discount
    rest = bol_shop.ship(order["orderId"])
    assert push(client, sandbox, connection, "SHIPMENT", rest["shipmentId"]).status_code == 202
    drain()
    assert [r.state for r in records(connection)] == [State.HANDLED, State.HANDLED]
    totals = sorted(invoice_total(i) for i in administration.invoices)
    assert totals == [Decimal("12.49"), Decimal("37.44")] and sum(totals) == Decimal("49.93")
    described = [line["description"] for line in administration.invoices[-1]["lines"].values()]
    assert "Theepot" in described and "Mok Delfts blauw" in described


def test_a_cancelled_order_is_not_booked(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    bol_shop.cancel(order["orderId"])
    assert push(client, sandbox, connection, "ORDER", order["orderId"]).status_code == 202
    drain()
    (record,) = records(connection)
    assert (record.state, record.error_code) == (State.SKIPPED, "ORDER_CANCELLED")
    assert record.order_status == "cancelled"
    assert not administration.invoices


def test_a_partly_cancelled_order_invoices_the_rest(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    teapot = order["orderItems"][1]["orderItemId"]
    bol_shop.cancel(order["orderId"], items=[teapot])
    push(client, sandbox, connection, "ORDER", order["orderId"])
    drain()
    assert [r.state for r in records(connection)] == [State.HANDLED]
    assert [invoice_total(i) for i in administration.invoices] == [Decimal("24.98")]


def test_a_polled_order_whose_push_never_came(account, bol_shop, administration, retry_fast) -> None:
    from koppel.sync.tasks import poll_connection

    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    connection.poll_cursor = datetime.now(UTC) - timedelta(minutes=2)
    connection.save(update_fields=["poll_cursor"])
    assert poll_connection.call(connection.pk) == 1
    drain()
    (record,) = records(connection)
    assert record.state == State.HANDLED and record.received_via == "poll"
    assert record.source_order_id == order["orderId"]


def test_the_daily_sweep_books_an_order_that_left_the_order_list(
    account, bol_shop, administration, retry_fast
) -> None:
    """Koppel was away for four days: the order shipped three days ago is no longer in the order list (48
    hours), but its shipment is; the nightly sweep over the shipments books it, once."""
    from koppel.sync.housekeeping import NIGHTLY, schedule_nightly
    from koppel.sync.models import Schedule
    from koppel.sync.tasks import poll_connection

    connection = bol_connection(account, bol_shop, administration, source="order")
    away = datetime.now(UTC) - timedelta(days=4)
    old = bol_shop.place(make_order(placed_at=away.isoformat()), notify=False)
    bol_shop.ship(old["orderId"], shipped_at=(away + timedelta(days=1)).isoformat())
    fresh = bol_shop.place(notify=False)
    connection.poll_cursor = away
    connection.save(update_fields=["poll_cursor"])
    assert poll_connection.call(connection.pk) == 1  # the order list holds only the fresh order
    drain()
    assert [r.source_order_id for r in records(connection)] == [fresh["orderId"]]

    Schedule.objects.update_or_create(
        name=NIGHTLY, defaults={"next_run_at": datetime.now(UTC), "last_run_at": away}
    )
    assert schedule_nightly() >= 1
    drain()
    booked = {r.source_order_id: r for r in records(connection)}
    assert set(booked) == {old["orderId"], fresh["orderId"]}
    assert booked[old["orderId"]].state == State.HANDLED
    assert booked[old["orderId"]].received_via == "sweep"
    assert len(administration.invoices) == 2

    Schedule.objects.filter(name=NIGHTLY).update(next_run_at=datetime.now(UTC))
    schedule_nightly()  # the next night finds nothing new
    drain()
    assert len(records(connection)) == 2 and len(administration.invoices) == 2


def test_an_fbb_shipment_nobody_saw_open_is_booked_with_the_billing_details(
    account, bol_shop, administration, retry_fast
) -> None:
    from koppel.sync.tasks import poll_connection

    connection = bol_connection(account, bol_shop, administration)
    order = bol_shop.place(make_order(fulfilment="FBB"), notify=False)
    shipment = bol_shop.ship(order["orderId"])
    assert poll_connection.call(connection.pk) == 1
    drain()
    (record,) = records(connection)
    assert record.state == State.HANDLED and record.source_order_id == shipment["shipmentId"]
    assert record.customer_name == "Post BV"
    assert any("Post BV" in json.dumps(c) for c in administration.clients)


def test_a_429_storm_books_everything_with_no_order_in_error(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    orders = [bol_shop.place(notify=False) for _ in range(6)]
    bol_shop.knobs(force_429=8, retry_after=1)
    for order in orders:
        assert push(client, sandbox, connection, "ORDER", order["orderId"]).status_code == 202
    drain(timeout=90)
    states = [r.state for r in records(connection)]
    assert states == [State.HANDLED] * 6, [(r.state, r.message) for r in records(connection)]
    assert len(administration.invoices) == 6
    assert any(r["status"] == 429 for r in bol_shop.requests())


def test_one_token_for_every_connector_of_a_connection(account, bol_shop, administration) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    for _ in range(3):
        connector = connection.source()
        connector.fetch_order(order["orderId"])
        connector.close()
    tokens = httpx.get(f"{bol_shop.control}/tokens").json()
    assert tokens["token_requests_last_minute"] == 1
    connection.refresh_from_db()
    assert connection.source_token_expires_at is not None and connection.source_token_encrypted


FETCH_IN_ANOTHER_PROCESS = """
import sys, django
django.setup()
from koppel.connections.models import Connection
connector = Connection.objects.get(pk=int(sys.argv[1])).source()
print(connector.fetch_order(sys.argv[2])["orderId"])
connector.close()
"""


@pytest.mark.slow
def test_one_token_across_worker_processes(account, bol_shop, administration) -> None:
    import os
    import subprocess
    import sys

    from django.db import connection as db_connection

    if db_connection.vendor != "sqlite":
        pytest.skip("the processes share the test database through its SQLite file")
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_connection.settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": "koppel.settings",
    }
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", FETCH_IN_ANOTHER_PROCESS, str(connection.pk), order["orderId"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == order["orderId"]
    tokens = httpx.get(f"{bol_shop.control}/tokens").json()
    assert tokens["token_requests_last_minute"] == 1  # the token register_webhook got, reused by both


def test_where_is_an_unshipped_or_cancelled_order_of_the_shipment_source(
    account, bol_shop, administration, settings
) -> None:
    from django.utils import translation

    from koppel.sync.explain import explain_order

    settings.LANGUAGE_CODE = "en"
    connection = bol_connection(account, bol_shop, administration)
    waiting = bol_shop.place(notify=False)
    cancelled = bol_shop.place(notify=False)
    bol_shop.cancel(cancelled["orderId"])
    with translation.override("en"):
        unshipped = explain_order([connection], waiting["orderId"])
        gone = explain_order([connection], cancelled["orderId"])
        unknown = explain_order([connection], "1999999999")
    assert unshipped.verdict == "not_shipped" and "has not shipped yet" in unshipped.message
    assert gone.verdict == "cancelled" and "cancelled before anything shipped" in gone.message
    assert unknown.verdict == "not_in_shop"
