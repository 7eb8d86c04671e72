""" "Where is order X?": every order number a merchant types is explained, from Koppel's record or, when
Koppel has none, from what the shop says (KMO Shops sandbox, Factuursturen sandbox, real HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from koppel.sync.explain import explain_order, fetch_and_book
from koppel.sync.models import Record, State
from tests.conftest import book, drain, in_past, make_order

VAT_7 = {
    "lines": [{"description": "Kinderstoel", "amount": 1, "price": "50.00", "tax_rate": "7.00"}],
    "shipping": None,
    "total": "50.00",
}


@pytest.fixture(autouse=True)
def in_english(settings):
    """The explanations are read in English here (the default language is Dutch; a request through the
    test client activates the default again, so the default is what changes)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def test_a_booked_order_names_its_invoice_number(shop, administration, connection, deliver):
    order = make_order()
    record = book(shop, connection, deliver, order)
    [invoice] = administration.invoices

    calls = len(shop.requests())
    found = explain_order([connection], order["number"].lower())  # in any case

    assert (found.verdict, found.record_id, found.connection_id) == ("booked", record.pk, connection.pk)
    assert found.number == order["number"].lower()
    assert found.source_order_id == str(order["id"]) and not found.can_fetch
    assert f"booked as Factuursturen invoice {invoice['invoicenr_full']}" in found.message
    assert len(shop.requests()) == calls  # Koppel's record answers: the shop is not asked


def test_an_order_in_error_says_the_code_and_the_reason(shop, connection, deliver):
    order = make_order(**VAT_7)
    book(shop, connection, deliver, order)

    found = explain_order([connection], order["number"])

    assert found.verdict == "error" and not found.can_fetch
    assert "VAT_CODE_MISSING" in found.message and "has no VAT rate 7.00%" in found.message


def test_an_open_order_says_when_it_is_booked(shop, connection, deliver):
    order = make_order(status="pending", paid=False)
    book(shop, connection, deliver, order)

    found = explain_order([connection], order["number"])

    assert found.verdict == "open"
    assert "pending" in found.message and "booked when its status changes" in found.message


def test_the_shops_order_id_finds_the_record_too(shop, connection, deliver):
    order = make_order(status="pending", paid=False)
    book(shop, connection, deliver, order)
    assert explain_order([connection], str(order["id"]), ask_source=False).verdict == "open"


def test_an_order_not_polled_yet_is_offered_and_booked_on_request(shop, administration, connection):
    order = make_order()
    shop.place(order)  # no webhook
    connection.next_poll_at = datetime.now(UTC) + timedelta(minutes=40)
    connection.save()

    found = explain_order([connection], order["number"])

    assert (found.verdict, found.can_fetch, found.record_id) == ("not_polled_yet", True, None)
    assert (found.source_order_id, found.connection_id) == (str(order["id"]), connection.pk)
    assert found.next_poll_at == connection.next_poll_at
    assert "has not reached Koppel yet" in found.message and "next poll" in found.message

    record = fetch_and_book(connection, found.source_order_id)
    assert (record.state, record.received_via) == (State.QUEUED, "manual")
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert record.target_invoice_number == invoice["invoicenr_full"]
    assert explain_order([connection], order["number"]).verdict == "booked"
    assert fetch_and_book(connection, found.source_order_id).pk == record.pk  # pressing again adds nothing
    drain()
    assert len(administration.invoices) == 1


def test_an_order_numbered_by_its_id_is_found_with_one_call(shop, connection):
    order = make_order()
    order["number"] = str(order["id"])
    shop.place(order)

    found = explain_order([connection], order["number"])

    assert found.verdict == "not_polled_yet"
    assert [r["path"].rsplit("/", 1)[-1] for r in shop.requests()] == [str(order["id"])]


def test_an_order_before_the_start_date_says_how_to_book_it(shop, connection):
    connection.start_at = datetime.now(UTC) - timedelta(days=1)
    connection.save()
    order = make_order(created_at=in_past(5))
    shop.place(order)

    found = explain_order([connection], order["number"])

    assert (found.verdict, found.can_fetch) == ("before_start_date", False)
    assert found.source_order_id == str(order["id"])
    assert "before the start date" in found.message and "backfill" in found.message
    assert not Record.objects.exists()  # explaining changes nothing


def test_an_order_the_shop_does_not_know(shop, connection):
    shop.place(make_order())

    found = explain_order([connection], "K-DOES-NOT-EXIST")

    assert (found.verdict, found.can_fetch, found.record_id) == ("not_in_shop", False, None)
    assert "KMO Shops" in found.message and "K-DOES-NOT-EXIST" in found.message


def test_a_shop_refusing_the_key_is_said_with_its_message(shop, connection):
    shop.place(make_order())
    connection.source_credentials = {"api_key": "not-the-key"}
    connection.save()

    found = explain_order([connection], "K123")

    assert (found.verdict, found.connection_id, found.can_fetch) == ("shop_unreachable", connection.pk, False)
    assert "could not ask KMO Shops" in found.message and "401" in found.message
    assert "not-the-key" not in found.message


def test_another_connections_shop_that_has_the_order_wins_over_one_that_refuses(
    shop, connection, account, administration, sandbox
):
    from tests.conftest import Shop, connect

    broken = Shop(sandbox, "shop-gone", "kmo-gone")  # never configured: the sandbox answers 404/401
    other = connect(account, broken, administration)
    order = make_order()
    shop.place(order)

    found = explain_order([other, connection], order["number"])

    assert (found.verdict, found.connection_id) == ("not_polled_yet", connection.pk)


def test_without_asking_the_shop_an_unknown_number_is_not_found(shop, connection):
    found = explain_order([connection], "K999", ask_source=False)
    assert found.verdict == "not_found" and shop.requests() == []


# -- the other shops' lookups (connector level, against their sandboxes) -----------------------------------


def test_woocommerce_finds_an_order_by_its_number(sandbox):
    from tests.woocommerce.conftest import new_store, wc_order

    store = new_store(sandbox)
    placed = store.place(wc_order())
    source = store.connector()
    try:
        found = source.find_order_by_number(str(placed["number"]))
        assert found is not None and found["id"] == placed["id"]
        assert source.find_order_by_number("999999") is None
        assert source.find_order_by_number("K-NO-SUCH") is None  # the search answers, nothing matches
    finally:
        source.close()


def test_shopify_finds_an_order_by_its_name_with_or_without_the_hash(sandbox):
    from tests.shopify.conftest import ShopifyStore

    store = ShopifyStore(sandbox, f"shop-{uuid.uuid4().hex[:10]}", f"shpat_{uuid.uuid4().hex}")
    store.configure(webhook_url=None, webhook_secret="")
    placed = store.place()
    source = store.source()
    try:
        assert placed["name"].startswith("#")
        for typed in (placed["name"], placed["name"].lstrip("#")):
            found = source.find_order_by_number(typed)
            assert found is not None and found["id"] == placed["id"]
        assert source.find_order_by_number("#999999") is None
        names = [r["query"].get("name") for r in store.requests() if r["path"].endswith("orders.json")]
        assert placed["name"].lstrip("#") in names  # asked with Shopify's name filter
    finally:
        source.close()
