"""A gift card redeemed is a payment, not a discount: end to end from the WooCommerce and Shopify sandboxes
into the targets' sandboxes, the invoice is the full sale, its VAT what the shop charged, and the part the
gift card paid is registered as paid (the rest open until the order is paid); the record says so."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from koppel.sync.models import Kind, Record, State
from koppel.sync.services import note_order
from tests.conftest import connect, drain
from tests.shopify.conftest import ShopifyStore, make_cart
from tests.woocommerce.conftest import new_store, wc_order

GIFT_CARD = Decimal("25.00")
UNPAID_WOO = {"status": "on-hold", "payment_method": "bacs", "payment_method_title": "Bankoverschrijving"}


@pytest.fixture
def woo(sandbox):
    return new_store(sandbox)


@pytest.fixture
def shopify_store(sandbox) -> ShopifyStore:
    item = ShopifyStore(sandbox, f"shop-{uuid.uuid4().hex[:10]}", f"shpat_{uuid.uuid4().hex}")
    item.configure(webhook_url=None, webhook_secret="")
    return item


def booked(connection, order_id: str) -> Record:
    note_order(connection, order_id, via="webhook")
    drain()
    record = Record.objects.get(connection=connection, kind=Kind.ORDER, source_order_id=order_id)
    assert record.state == State.HANDLED, record.message
    return record


def woo_gift_card_order(woo, **overrides):
    placed = woo.place(
        wc_order(gift_cards=[{"code": "KADO-2024-XK9P", "amount": str(GIFT_CARD)}], **overrides)
    )
    assert [card["code"] for card in placed["gift_cards"]] == ["KADO-2024-XK9P"]
    sale = Decimal(placed["total"]) + GIFT_CARD  # WooCommerce's total is what is left after the card
    return placed, sale


def test_woocommerce_gift_card_order_in_factuursturen_is_the_full_sale_with_the_card_paid(
    account, woo, administration, retry_fast
) -> None:
    placed, sale = woo_gift_card_order(woo, **UNPAID_WOO)
    connection = connect(account, woo, administration, eligible_statuses=["on-hold", "processing"])
    record = booked(connection, str(placed["id"]))
    without = woo.place(wc_order(**UNPAID_WOO))  # the same order, no gift card
    booked(connection, str(without["id"]))

    invoice, plain = administration.invoices
    assert Decimal(invoice["totalintax"]) == sale == Decimal("38.34") == Decimal(plain["totalintax"])
    assert invoice["tax"] == plain["tax"]  # the card changes no VAT
    assert Decimal(invoice["open"]) == sale - GIFT_CARD  # the card's part is paid, the rest open
    assert "€ 25.00 paid with a gift card" in record.message


def test_woocommerce_gift_card_order_in_eenvoudigfactureren_registers_the_card_as_a_payment(
    account, woo, eenvoudigfactureren, retry_fast
) -> None:
    placed, sale = woo_gift_card_order(woo, **UNPAID_WOO)
    connection = connect(account, woo, eenvoudigfactureren, eligible_statuses=["on-hold"])
    booked(connection, str(placed["id"]))

    (invoice,) = eenvoudigfactureren.invoices
    assert Decimal(str(invoice["total_with_tax"])) == sale
    assert [(p["amount"], p["description"]) for p in invoice["payments"]] == [
        ("25.00", "Cadeaubon KADO-2024-XK9P")
    ]
    assert Decimal(str(invoice["paid_amount"])) == GIFT_CARD


def test_a_paid_woocommerce_gift_card_order_registers_the_card_and_the_rest(
    account, woo, eenvoudigfactureren, retry_fast
) -> None:
    placed, sale = woo_gift_card_order(woo)  # processing, paid with iDEAL
    booked(connect(account, woo, eenvoudigfactureren), str(placed["id"]))

    (invoice,) = eenvoudigfactureren.invoices
    assert [(p["amount"], p["description"]) for p in invoice["payments"]] == [
        ("25.00", "Cadeaubon KADO-2024-XK9P"),
        (f"{sale - GIFT_CARD:.2f}", "iDEAL"),
    ]
    assert Decimal(str(invoice["paid_amount"])) == sale


def test_shopify_gift_card_order_in_factuursturen_reads_the_transactions(
    account, shopify_store, administration, retry_fast
) -> None:
    cart = make_cart(
        financial_status="partially_paid", gift_cards=[{"amount": "25.00", "last_characters": "x9k2"}]
    )
    placed = shopify_store.place(cart)
    assert "gift_card" in placed["payment_gateway_names"]
    connection = connect(account, shopify_store, administration, eligible_statuses=["partially_paid", "paid"])
    record = booked(connection, str(placed["id"]))

    (invoice,) = administration.invoices
    sale = Decimal(placed["total_price"])  # Shopify's total is the full sale, the card included
    assert Decimal(invoice["totalintax"]) == sale
    assert Decimal(invoice["open"]) == sale - GIFT_CARD == Decimal(placed["total_outstanding"])
    assert "€ 25.00 paid with a gift card" in record.message
    paths = [r["path"] for r in shopify_store.requests()]
    assert any(path.endswith(f"orders/{placed['id']}/transactions.json") for path in paths)


def test_shopify_paid_gift_card_order_in_moneybird_has_two_payments(
    account, shopify_store, moneybird, retry_fast
) -> None:
    placed = shopify_store.place(make_cart(gift_cards=[{"amount": "25.00", "last_characters": "x9k2"}]))
    connection = connect(account, shopify_store, moneybird)
    booked(connection, str(placed["id"]))
    without = shopify_store.place(make_cart())  # the same order, no gift card
    booked(connection, str(without["id"]))

    invoice, plain = sorted(moneybird.invoices, key=lambda i: len(i["payments"]), reverse=True)
    sale = Decimal(placed["total_price"])
    assert Decimal(invoice["total_price_incl_tax"]) == sale == Decimal(plain["total_price_incl_tax"])
    assert invoice["total_tax"] == plain["total_tax"]  # the card changes no VAT
    assert [Decimal(p["price"]) for p in invoice["payments"]] == [GIFT_CARD, sale - GIFT_CARD]
    assert (invoice["state"], Decimal(invoice["total_paid"])) == ("paid", sale)


def test_an_order_without_a_gift_card_asks_for_no_transactions(
    account, shopify_store, administration, retry_fast
) -> None:
    placed = shopify_store.place(make_cart())
    booked(connect(account, shopify_store, administration), str(placed["id"]))
    assert not any("transactions" in r["path"] for r in shopify_store.requests())


def test_a_polled_shopify_gift_card_order_is_fetched_with_its_transactions(
    account, shopify_store, administration, retry_fast
) -> None:
    """A poll page's order has no transactions: the worker fetches the order (and them) before booking."""
    placed = shopify_store.place(make_cart(gift_cards=[{"amount": "25.00", "last_characters": "x9k2"}]))
    connection = connect(account, shopify_store, administration)
    note_order(connection, str(placed["id"]), via="poll", payload=placed)
    drain()
    record = Record.objects.get(connection=connection, kind=Kind.ORDER)
    assert record.state == State.HANDLED, record.message
    assert "€ 25.00 paid with a gift card" in record.message
    assert any(r["path"].endswith("/transactions.json") for r in shopify_store.requests())
