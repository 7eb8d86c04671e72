"""Refunds and returns become credit notes, end to end against the sandboxes: a Shopify partial refund
(its refunds/create webhook), a WooCommerce full refund (its order.updated webhook), a bol.com return (the
poll) and a bol.com cancellation after invoicing each become one credit note in each target, referencing
the order's invoice, totalling what was refunded to the cent; a refund before its order's invoice waits;
replays book nothing twice; a connection with credit notes off keeps the refund unbooked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from koppel.documents.codes import Code
from koppel.sync.models import Kind, Record, State
from koppel.sync.services import note_order
from koppel.sync.tasks import poll_connection
from tests.bol.conftest import BolShop
from tests.conftest import connect, drain
from tests.shopify.conftest import ShopifyStore, make_cart
from tests.woocommerce.conftest import new_store, wc_order


@pytest.fixture
def shopify_store(sandbox) -> ShopifyStore:
    item = ShopifyStore(sandbox, f"shop-{uuid.uuid4().hex[:10]}", f"shpat_{uuid.uuid4().hex}")
    item.configure(webhook_url=None, webhook_secret="")
    return item


@pytest.fixture
def bol_shop(sandbox) -> BolShop:
    return BolShop(sandbox, f"bol-{uuid.uuid4().hex[:10]}")


def refunds_of(connection) -> list[Record]:
    return list(Record.objects.filter(connection=connection, kind=Kind.REFUND).order_by("id"))


def order_record(connection) -> Record:
    return Record.objects.get(connection=connection, kind=Kind.ORDER)


def book_order(connection, order_id: str) -> Record:
    note_order(connection, order_id, via="webhook")
    drain()
    record = order_record(connection)
    assert record.state == State.HANDLED, record.message
    return record


def the_credit_note(target, invoice: Record, refunded: Decimal) -> dict:
    (note,) = target.credit_notes
    assert target.invoice_total(note) == -refunded  # to the cent
    assert target.credit_refers_to(note, invoice.target_invoice_number, invoice.target_invoice_id)
    return note


def test_a_shopify_partial_refund_becomes_one_credit_note(
    live_server,
    account,
    shopify_store,
    target,
    retry_fast,
) -> None:
    connection = connect(account, shopify_store, target)
    shopify_store.configure(
        webhook_url=live_server.url + connection.webhook_path, webhook_secret=connection.webhook_secret
    )
    order = shopify_store.place(make_cart())
    invoice = book_order(connection, str(order["id"]))
    tea = next(line["id"] for line in order["line_items"] if line["sku"] == "TEA-9")
    body = {"refund_line_items": [{"line_item_id": tea, "quantity": 1}], "shipping": {"full_refund": True}}
    response = httpx.post(
        f"{shopify_store.control}/orders/{order['id']}/refunds", json=body, params={"notify": "true"}
    )
    assert response.status_code == 201, response.text
    shopify_store.deliveries(wait_for=2)  # refunds/create and orders/updated, both naming the order
    drain()
    (refund,) = refunds_of(connection)
    assert refund.state == State.HANDLED, refund.message
    assert refund.total == Decimal("12.44")  # the tea (9%) and the shipping (21%)
    the_credit_note(target, invoice, Decimal("12.44"))
    rates = {line["vat_rate"] for line in refund.document["lines"]}
    assert rates == {"9.00", "21.00"} and refund.document["credit_for"] == invoice.target_invoice_number


def test_a_woocommerce_full_refund_becomes_one_credit_note(sandbox, account, target, retry_fast) -> None:
    store = new_store(sandbox)
    connection = connect(account, store, target)
    order = store.place(wc_order())
    invoice = book_order(connection, str(order["id"]))
    response = httpx.post(f"{store.control}/orders/{order['id']}/refunds", json={"full": True})
    assert response.status_code in (200, 201), response.text
    note_order(connection, str(order["id"]), via="webhook")  # the order.updated webhook
    drain()
    (refund,) = refunds_of(connection)
    assert refund.state == State.HANDLED, refund.message
    assert refund.total == invoice.total
    the_credit_note(target, invoice, invoice.total)


def bol_connection(account, bol_shop, target, **settings):
    connection = connect(account, bol_shop, target, source_settings={"source": "order", **settings})
    return connection


def test_a_bol_return_becomes_one_credit_note_and_a_replay_books_nothing(
    account,
    bol_shop,
    target,
    retry_fast,
) -> None:
    connection = bol_connection(account, bol_shop, target)
    order = bol_shop.place(notify=False)
    invoice = book_order(connection, order["orderId"])
    bol_shop.ship(order["orderId"])
    teapot = next(i for i in order["orderItems"] if i["product"]["ean"] == "8712345678913")
    response = httpx.post(
        f"{bol_shop.control}/orders/{order['orderId']}/return",
        json={
            "items": [{"order_item_id": teapot["orderItemId"], "quantity": 1}],
            "handle": {"handling_result": "RETURN_RECEIVED"},
        },
    )
    assert response.status_code in (200, 201), response.text
    connection.poll_cursor = datetime.now(UTC) - timedelta(minutes=10)
    connection.save(update_fields=["poll_cursor"])
    poll_connection.call(connection.pk)
    drain()
    poll_connection.call(connection.pk)  # the next poll sees the same return: nothing new
    drain()
    (refund,) = refunds_of(connection)
    assert refund.state == State.HANDLED, refund.message
    assert refund.total == Decimal("24.95")
    the_credit_note(target, invoice, Decimal("24.95"))


def test_a_bol_cancellation_after_invoicing_is_credited(account, bol_shop, target, retry_fast) -> None:
    connection = bol_connection(account, bol_shop, target)
    order = bol_shop.place(notify=False)
    invoice = book_order(connection, order["orderId"])
    teapot = next(i for i in order["orderItems"] if i["product"]["ean"] == "8712345678913")
    bol_shop.cancel(order["orderId"], items=[{"order_item_id": teapot["orderItemId"]}])
    note_order(connection, order["orderId"], via="webhook")  # bol's ORDER push for the cancellation
    drain()
    (refund,) = refunds_of(connection)
    assert refund.source_order_id == f"cancel-{teapot['orderItemId']}"
    assert refund.state == State.HANDLED, refund.message
    the_credit_note(target, invoice, Decimal("24.95"))


def test_a_refund_before_its_orders_invoice_waits_then_is_booked(
    account,
    shopify_store,
    administration,
    retry_fast,
) -> None:
    from koppel.sync.refunds import note_refund

    connection = connect(account, shopify_store, administration)
    order = shopify_store.place(make_cart())
    tea = next(line["id"] for line in order["line_items"] if line["sku"] == "TEA-9")
    httpx.post(
        f"{shopify_store.control}/orders/{order['id']}/refunds",
        json={"refund_line_items": [{"line_item_id": tea, "quantity": 1}]},
    ).raise_for_status()
    source = connection.source()
    (early,) = source.fetch_refunds(str(order["id"]))
    source.close()
    note_refund(connection, early, via="webhook")  # the refund's webhook came first
    drain()
    (refund,) = refunds_of(connection)
    assert (refund.state, refund.error_code) == (State.OPEN, Code.REFUND_ORDER_NOT_BOOKED)
    assert administration.credit_notes == []
    book_order(connection, str(order["id"]))
    drain()
    refund.refresh_from_db()
    assert refund.state == State.HANDLED, refund.message
    assert len(administration.credit_notes) == 1


@pytest.mark.parametrize("switched_on", [False])
def test_credit_notes_switched_off_keep_the_refund(
    account,
    shopify_store,
    administration,
    retry_fast,
    switched_on,
) -> None:
    connection = connect(account, shopify_store, administration)
    connection.credit_notes = switched_on
    connection.save()
    order = shopify_store.place(make_cart())
    book_order(connection, str(order["id"]))
    httpx.post(
        f"{shopify_store.control}/orders/{order['id']}/refunds", json={"shipping": {"full_refund": True}}
    ).raise_for_status()
    note_order(connection, str(order["id"]), via="webhook")
    drain()
    assert refunds_of(connection) == [] and administration.credit_notes == []
