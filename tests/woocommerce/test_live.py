"""WooCommerce → Koppel → Factuursturen over real HTTP: the sandbox shop sends its webhooks to Koppel's live
server (pings, signatures, duplicates, deliveries out of order, a deleted product), the worker books, and
polling finds what no webhook reported."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from koppel.intake.models import WebhookDelivery
from koppel.sync.models import Record, State
from koppel.sync.tasks import poll_connection
from tests.conftest import drain, record_of
from tests.woocommerce.conftest import WooStore, wc_order

D = Decimal


def hook_up(store: WooStore, live_server, connection, secret: str | None = None) -> None:
    store.hook_up(live_server.url + connection.webhook_path, secret or connection.webhook_secret)


def statuses(store: WooStore) -> list[int | None]:
    return [d["status"] for d in store.deliveries() if d["kind"] == "delivery"]


def lines_of(invoice: dict[str, Any]) -> list[tuple[str, Decimal, Any]]:
    return [(x["description"], D(str(x["linetotal"])), x["tax_rate"]) for x in invoice["lines"].values()]


def test_ping_is_answered_200_and_stores_nothing(live_server, store, wc_connection) -> None:
    hook_up(store, live_server, wc_connection)
    pings = store.deliveries()
    assert [(d["kind"], d["status"]) for d in pings] == [("ping", 200), ("ping", 200)]
    assert all(hook["ping_status"] == 200 for hook in store.webhooks())
    assert not WebhookDelivery.objects.exists() and not Record.objects.exists()


def test_signed_webhook_books_the_order(live_server, store, administration, wc_connection) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(
        wc_order(coupon_lines=[{"code": "zomer10", "discount_type": "percent", "amount": "10"}]), notify=True
    )
    store.deliveries(wait_for=3)
    assert statuses(store) == [202]
    drain()
    record = record_of(wc_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert administration.invoice_total(invoice) == D(order["total"]) == D("35.00")
    assert invoice["reference"]["line1"] == order["number"]
    assert lines_of(invoice)[2:4] == [
        ("Korting (zomer10)", D("-2.60"), 21),
        ("Korting (zomer10)", D("-0.74"), 9),
    ]
    [delivery] = WebhookDelivery.objects.filter(connection=wc_connection)
    assert (delivery.event, delivery.order_id, delivery.outcome) == (
        "order.created",
        str(order["id"]),
        "queued",
    )


def test_a_wrong_secret_is_refused_and_woocommerce_counts_the_failure(
    live_server, store, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection, secret="not-the-connections-secret")
    store.place(wc_order(), notify=True)
    store.deliveries(wait_for=3)
    assert statuses(store) == [401]
    assert store.webhooks()[0]["failure_count"] == 1
    assert not Record.objects.exists() and not WebhookDelivery.objects.exists()
    wc_connection.refresh_from_db()
    assert wc_connection.rejected_webhooks == 1


def test_duplicate_delivery_makes_one_record_and_one_invoice(
    live_server, store, administration, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection)
    store.knobs(duplicate_webhooks=2)
    order = store.place(wc_order(), notify=True)
    store.deliveries(wait_for=5)
    assert statuses(store) == [202, 202, 202]
    deliveries = WebhookDelivery.objects.filter(connection=wc_connection).order_by("received_at", "pk")
    assert [d.outcome for d in deliveries] == ["queued", "duplicate", "duplicate"]
    assert len({d.delivery_id for d in deliveries}) == 1
    drain()
    assert Record.objects.filter(connection=wc_connection).count() == 1
    assert record_of(wc_connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_two_orders_delivered_in_one_second_are_both_booked(
    live_server, store, administration, wc_connection
) -> None:
    """WooCommerce gives deliveries of one webhook in the same second the same X-WC-Webhook-Delivery-ID."""
    hook_up(store, live_server, wc_connection)
    ids = store.bulk(count=3, template=wc_order(), notify=True)
    log = store.deliveries(wait_for=5)[2:]
    assert len({d["delivery_id"] for d in log}) == 1 and [d["status"] for d in log] == [202] * 3
    drain()
    assert sorted(Record.objects.values_list("source_order_id", flat=True)) == sorted(map(str, ids))
    assert set(Record.objects.values_list("state", flat=True)) == {State.HANDLED}
    assert len(administration.invoices) == 3


def test_out_of_order_updates_book_the_latest_order(
    live_server, store, administration, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(status="pending"))
    store.knobs(out_of_order_webhooks=True)
    store.update(order["id"], {"status": "on-hold", "billing": {"first_name": "Oud"}})
    latest = store.update(
        order["id"],
        {
            "status": "processing",
            "billing": {"first_name": "Nieuw"},
            "line_items": [{"name": "Mok", "quantity": 3, "price": "12.95"}],
        },
    )
    store.deliveries(wait_for=4)
    bodies = [d["topic"] for d in store.deliveries()[2:]]
    assert bodies == ["order.updated", "order.updated"] and statuses(store) == [202, 202]
    drain()
    record = record_of(wc_connection, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert administration.invoice_total(invoice) == D(latest["total"]) == D("43.80")
    assert invoice["contact"].startswith("Nieuw")


def test_an_update_arriving_after_the_booking_changes_nothing(
    live_server, store, administration, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(status="on-hold"))
    store.knobs(out_of_order_webhooks=True)
    store.update(order["id"], {"customer_note": "oud"})  # held back
    store.knobs(out_of_order_webhooks=False)
    store.update(order["id"], {"status": "completed"})
    store.deliveries(wait_for=3)
    drain()
    assert record_of(wc_connection, order).state == State.HANDLED
    assert httpx.post(f"{store.control}/webhooks/flush").json() == {"sent": 1}
    store.deliveries(wait_for=4)
    assert statuses(store) == [202, 202]
    drain()
    assert record_of(wc_connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_an_order_line_whose_product_was_deleted_is_booked(
    live_server, store, administration, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(status="on-hold"))
    store.delete_product(11)
    store.update(order["id"], {"status": "processing"})
    store.deliveries(wait_for=3)
    drain()
    record = record_of(wc_connection, order)
    assert record.state == State.HANDLED, record.message
    assert (
        record.payload["line_items"][0]["product_id"] == 0 and record.payload["line_items"][0]["sku"] is None
    )
    [invoice] = administration.invoices
    assert lines_of(invoice)[0] == ("Mok Delfts blauw", D("25.90"), 21)
    assert administration.invoice_total(invoice) == D("38.34")


def test_pending_order_waits_until_it_is_paid(live_server, store, administration, wc_connection) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(wc_order(status="pending"), notify=True)
    store.deliveries(wait_for=3)
    drain()
    record = record_of(wc_connection, order)
    assert (record.state, record.error_code) == (State.OPEN, "STATUS_NOT_ELIGIBLE")
    store.update(order["id"], {"status": "processing"})
    store.deliveries(wait_for=4)
    drain()
    assert record_of(wc_connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_belgian_business_without_vat_is_an_intra_community_supply(
    live_server, store, administration, wc_connection
) -> None:
    hook_up(store, live_server, wc_connection)
    order = store.place(
        wc_order(
            vat_exempt=True,
            billing={
                "company": "Brasserie Anvers BV",
                "country": "BE",
                "postcode": "2000",
                "city": "Antwerpen",
            },
            meta_data=[{"key": "_billing_vat_number", "value": "BE0403019261"}],
        ),
        notify=True,
    )
    store.deliveries(wait_for=3)
    drain()
    record = record_of(wc_connection, order)
    assert record.state == State.HANDLED, record.message
    assert record.document["intra_community"] is True
    [invoice] = administration.invoices
    assert administration.invoice_total(invoice) == D(order["total"])
    assert administration.client_vat_number(administration.clients[0]) == "BE0403019261"


def test_polling_books_an_order_whose_webhook_never_came(store, administration, wc_connection) -> None:
    orders = [store.place(wc_order()) for _ in range(2)]
    poll_connection.enqueue(wc_connection.pk)
    drain()
    assert [record_of(wc_connection, o).state for o in orders] == [State.HANDLED, State.HANDLED]
    assert len(administration.invoices) == 2
    # The poll's page delivered the orders; the worker did not fetch them one by one again.
    paths = [entry["path"] for entry in store.requests()]
    assert paths == ["/wp-json/wc/v3/orders"]
    wc_connection.refresh_from_db()
    assert wc_connection.last_poll_error == "" and wc_connection.last_polled_at is not None


def test_a_trashed_order_is_answered_and_ignored(live_server, store, wc_connection) -> None:
    topics = ["order.created", "order.updated", "order.deleted"]
    store.configure(
        webhook_url=live_server.url + wc_connection.webhook_path,
        webhook_secret=wc_connection.webhook_secret,
        topics=topics,
    )
    store.deliveries(wait_for=3)
    order = store.place(wc_order(status="on-hold"))
    assert store.delete(order["id"]).status_code == 200
    [delivery] = store.deliveries(wait_for=4)[3:]
    assert (delivery["topic"], delivery["status"]) == ("order.deleted", 200)
    [stored] = WebhookDelivery.objects.filter(connection=wc_connection)
    assert (stored.outcome, stored.body) == ("ignored", f'{{"id":{order["id"]}}}')
    assert not Record.objects.exists()
