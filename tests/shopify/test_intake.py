"""Shopify's webhooks through real HTTP: the sandbox signs and sends them to Koppel's live server, the worker
fetches the order and books it in the Factuursturen sandbox."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from koppel.connectors.shopify.connector import ShopifySource, sign
from koppel.documents.checks import invoice_for
from koppel.intake.models import WebhookDelivery
from koppel.sync.models import Record, State
from tests.conftest import connect, drain, record_of
from tests.shopify.conftest import ShopifyStore, make_cart

pytestmark = pytest.mark.usefixtures("live_server")


@pytest.fixture
def hooked(live_server, store: ShopifyStore, shopify_connection) -> ShopifyStore:
    """The shop sends its webhooks to the connection's URL, signed with the connection's webhook secret (in
    real life the app's client secret, which the merchant enters in Koppel)."""
    store.configure(
        webhook_url=live_server.url + shopify_connection.webhook_path,
        webhook_secret=shopify_connection.webhook_secret,
        knobs={"webhook_tries": 1},
    )
    return store


def lines(invoice: dict[str, Any]) -> list[str]:
    return [line["description"] for line in invoice["lines"].values()]


def test_a_paid_order_is_booked_once_from_create_and_paid(hooked, shopify_connection, administration) -> None:
    order = hooked.place(notify=True)
    deliveries = hooked.deliveries(wait_for=2)
    assert sorted((d["topic"], d["status"]) for d in deliveries) == [
        ("orders/create", 202),
        ("orders/paid", 202),
    ]
    drain()
    record = record_of(shopify_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["totalintax"] == order["total_price"] == "38.34"
    assert invoice["email"] == order["email"]
    assert invoice["reference"]["line1"] == "#1001"
    assert lines(invoice)[:2] == ["Mok Delfts blauw - Groot", "Thee, losse blad"]
    stored = WebhookDelivery.objects.filter(connection=shopify_connection).order_by("event")
    assert [(d.event, d.order_id) for d in stored] == [
        ("orders/create", str(order["id"])),
        ("orders/paid", str(order["id"])),
    ]
    assert len({d.delivery_id for d in stored}) == 2


def test_a_wrong_signature_is_refused_and_nothing_is_stored(hooked, shopify_connection) -> None:
    hooked.configure(webhook_secret="the-secret-of-another-app")
    hooked.place(make_cart(financial_status="pending"), notify=True)
    assert [d["status"] for d in hooked.deliveries(wait_for=1)] == [401]
    assert not Record.objects.exists() and not WebhookDelivery.objects.exists()
    shopify_connection.refresh_from_db()
    assert shopify_connection.rejected_webhooks == 1


def test_an_unsigned_request_is_not_a_ping(live_server, shopify_connection) -> None:
    """Shopify sends no "is this URL alive" request; an unsigned one is refused like any forgery."""
    response = httpx.post(live_server.url + shopify_connection.webhook_path, content=b"webhook_id=1")
    assert response.status_code == 401 and response.json()["error"] == "SIGNATURE_INVALID"


def test_a_duplicate_delivery_changes_nothing(hooked, shopify_connection, administration) -> None:
    hooked.configure(topics=["orders/create"], knobs={"duplicate_webhooks": 1})
    order = hooked.place(notify=True)
    first, again = hooked.deliveries(wait_for=2)
    assert first["webhook_id"] == again["webhook_id"] and (first["status"], again["status"]) == (202, 202)
    drain()
    assert Record.objects.filter(connection=shopify_connection).count() == 1
    assert record_of(shopify_connection, order).state == State.HANDLED
    outcomes = list(WebhookDelivery.objects.order_by("received_at").values_list("outcome", flat=True))
    assert outcomes[1] == "duplicate"
    resent = httpx.post(
        f"{hooked.control}/webhooks/resend", json={"order_id": order["id"], "topic": "orders/create"}
    )
    assert resent.json()["webhook_id"] == first["webhook_id"]
    hooked.deliveries(wait_for=3)
    drain()
    assert WebhookDelivery.objects.filter(outcome="duplicate").count() == 2
    assert len(administration.invoices) == 1


def test_out_of_order_webhooks_book_the_latest_data(hooked, shopify_connection, administration) -> None:
    """The newest webhook comes first and the oldest (a pending order, the old e-mail) last: Koppel books
    what Shopify says now: a body older than the one it has changes nothing (and two bodies of the same
    second send it to fetch the order)."""
    hooked.configure(topics=["orders/create", "orders/updated"], knobs={"out_of_order_webhooks": True})
    order = hooked.place(make_cart(financial_status="pending"), notify=True)
    hooked.update(order["id"], {"financial_status": "paid", "email": "nieuw.adres@example.nl"}, notify=True)
    hooked.knobs(out_of_order_webhooks=False)
    deliveries = hooked.deliveries(wait_for=2)
    assert [d["topic"] for d in deliveries] == ["orders/updated", "orders/create"]
    last_body = json.loads(WebhookDelivery.objects.order_by("received_at").last().body)
    assert last_body["financial_status"] == "pending"  # the stale one arrived last
    drain()
    record = record_of(shopify_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["email"] == "nieuw.adres@example.nl"
    assert invoice["open"] == "0.00"  # booked as paid


def test_a_pending_order_waits_until_it_is_paid(hooked, shopify_connection, administration) -> None:
    order = hooked.place(make_cart(financial_status="pending"), notify=True)
    hooked.deliveries(wait_for=1)
    drain()
    assert record_of(shopify_connection, order).state == State.OPEN
    hooked.update(order["id"], {"financial_status": "paid"}, notify=True)
    hooked.deliveries(wait_for=3)  # orders/updated and orders/paid
    drain()
    assert record_of(shopify_connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_an_order_whose_product_was_deleted(hooked, shopify_connection, administration) -> None:
    order = hooked.place(notify=False)
    product = order["line_items"][0]["product_id"]
    assert httpx.delete(f"{hooked.control}/products/{product}").json() == {"orders_changed": 1}
    httpx.post(f"{hooked.control}/webhooks/resend", json={"order_id": order["id"], "topic": "orders/updated"})
    hooked.deliveries(wait_for=1)
    drain()
    record = record_of(shopify_connection, order)
    assert record.state == State.HANDLED, record.message
    assert record.payload["line_items"][0]["product_exists"] is False
    [invoice] = administration.invoices
    assert lines(invoice)[0] == "Mok Delfts blauw - Groot"
    assert invoice["totalintax"] == "38.34"


def test_shopifys_test_notification_names_an_order_the_shop_does_not_have(
    live_server, shopify_connection, test_notification
) -> None:
    """ "Send test notification" in the Shopify admin posts order #9999, which does not exist: the record
    says so."""
    body = json.dumps(test_notification).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(body, shopify_connection.webhook_secret),
        "X-Shopify-Webhook-Id": "a6f4d6a1-0000-4000-8000-000000000001",
    }
    response = httpx.post(live_server.url + shopify_connection.webhook_path, content=body, headers=headers)
    assert response.status_code == 202
    drain()
    record = Record.objects.get(connection=shopify_connection, source_order_id="820982911946154508")
    assert (record.state, record.error_code) == (State.ERROR, "SOURCE_ORDER_NOT_FOUND")


def test_a_deleted_order_is_answered_200_and_ignored_and_a_refund_names_its_order(
    live_server, hooked, shopify_connection
) -> None:
    """Shopify retries anything but a 2xx and may drop the subscription: a deleted order gives Koppel
    nothing to do; a refund (``refunds/create``) is taken as a notice of its order, whose refunds become
    credit notes."""
    hooked.configure(topics=["orders/create", "orders/delete"])
    order = hooked.place(make_cart(financial_status="pending"), notify=True)
    hooked.deliveries(wait_for=1)
    httpx.delete(f"{hooked.control}/orders/{order['id']}")  # notifies orders/delete
    assert [d["status"] for d in hooked.deliveries(wait_for=2)] == [202, 200]
    body = json.dumps({"id": 1, "order_id": order["id"], "refund_line_items": []}).encode()
    headers = {
        "X-Shopify-Topic": "refunds/create",
        "X-Shopify-Hmac-Sha256": sign(body, shopify_connection.webhook_secret),
    }
    response = httpx.post(live_server.url + shopify_connection.webhook_path, content=body, headers=headers)
    assert response.status_code == 202, response.content
    outcomes = list(WebhookDelivery.objects.order_by("received_at").values_list("outcome", flat=True))
    assert outcomes[1] == "ignored" and outcomes[2] != "ignored"


def test_a_topic_koppel_does_not_know_is_stored_and_refused(live_server, shopify_connection) -> None:
    body = json.dumps({"id": 632910392, "title": "IPod Nano"}).encode()
    headers = {
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Hmac-Sha256": sign(body, shopify_connection.webhook_secret),
    }
    response = httpx.post(live_server.url + shopify_connection.webhook_path, content=body, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "WEBHOOK_INVALID"
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.outcome == "invalid" and "products/update" in delivery.message
    assert not Record.objects.exists()


def test_every_target_finds_the_order_name_it_booked(account, store, target, retry_fast, live_server) -> None:
    """Shopify's order names start with "#": each target books "#1001" and finds it again by it (the
    exactly-once lookup before any invoice is created)."""
    connection = connect(account, store, target)
    store.configure(
        webhook_url=live_server.url + connection.webhook_path,
        webhook_secret=connection.webhook_secret,
        topics=["orders/create"],
    )
    order = store.place(notify=True)
    store.deliveries(wait_for=1)
    drain()
    record = record_of(connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = target.invoices
    assert target.invoice_total(invoice) == Decimal(order["total_price"])
    booked = target.connector().find_invoice(invoice_for(ShopifySource.parse_order(order), "NL"))
    assert booked is not None


def test_the_same_delivery_arriving_at_once_is_acted_on_once(live_server, hooked, shopify_connection) -> None:
    """Shopify may deliver one webhook twice at the same moment: one copy is acted on, the others are
    stored as duplicates (a unique constraint decides, not a read-then-write race)."""
    from concurrent.futures import ThreadPoolExecutor

    order = hooked.place(make_cart(financial_status="pending"))
    body = json.dumps({"id": order["id"]}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": sign(body, shopify_connection.webhook_secret),
        "X-Shopify-Webhook-Id": "b1c2d3e4-0000-4000-8000-000000000042",
    }
    url = live_server.url + shopify_connection.webhook_path

    def send(_: int) -> httpx.Response:
        return httpx.post(url, content=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {a.status_code for a in answers} == {202}
    assert sum(not a.json().get("duplicate") for a in answers) == 1
    outcomes = list(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 8 and outcomes.count("duplicate") == 7
    assert Record.objects.filter(connection=shopify_connection).count() == 1


def test_a_burst_beyond_the_bucket_is_booked_without_using_up_tries(
    live_server, hooked, shopify_connection, administration, retry_fast
) -> None:
    """More orders at once than Shopify's bucket holds (16 calls leaking 0.8 a second: Shopify's own ratio,
    scaled down): Koppel paces its fetches by the bucket it last saw and waits as Shopify asks when a call
    still bounces (the connection pauses fetching; a 429 uses up none of an order's tries), so every order
    is booked and none gives up. (The webhooks' orders carry an ``updated_at`` without an offset here,
    which Koppel cannot place, so it fetches each: a body it can date is booked without a fetch.)"""
    from koppel.connections.models import Connection

    hooked.configure(
        topics=["orders/create"], knobs={"bucket_size": 16, "leak_rate": 0.8, "webhook_tries": 1}
    )
    created = hooked.bulk(
        orders=[make_cart(raw={"updated_at": "2026-01-01T00:00:00"}) for _ in range(20)], notify=True
    )
    hooked.deliveries(wait_for=20, timeout=30)
    drain(timeout=120)
    records = Record.objects.filter(connection=shopify_connection)
    assert records.count() == created["created"] == 20
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert set(records.values_list("attempts", flat=True)) == {0}
    assert len(administration.invoices) == 20
    fetches = [r for r in hooked.requests() if r["path"].endswith(".json") and "/orders/" in r["path"]]
    refused = [r for r in fetches if r["status"] == 429]
    # The client paces itself by the bucket it last saw; what still bounced paused the connection.
    assert len(refused) < len(fetches) // 2
    if refused:
        assert Connection.objects.get(pk=shopify_connection.pk).source_paused_until is not None
