"""A KMO Shops order booked into Moneybird through the whole pipeline: signed webhook → worker → the
Moneybird sandbox, checked as the administration and the record show it."""

from __future__ import annotations

from decimal import Decimal

from koppel.sync.models import State
from tests.conftest import book, connect, drain, make_order


def test_an_order_is_booked_emailed_and_paid(account, shop, moneybird, deliver, retry_fast):
    connection = connect(account, shop, moneybird, target_settings={"document_status": "final_email"})
    order = make_order()
    record = book(shop, connection, deliver, order)

    assert record.state == State.HANDLED, record.message
    [invoice] = moneybird.invoices
    [contact] = moneybird.clients
    assert (invoice["state"], invoice["reference"]) == ("paid", order["number"])
    assert Decimal(invoice["total_price_incl_tax"]) == Decimal(order["total"])
    assert record.target_invoice_id == invoice["id"] and record.target_invoice_number == invoice["invoice_id"]
    assert (
        record.target_debtor_id == contact["id"]
        and contact["send_invoices_to_email"] == order["customer"]["email"]
    )
    assert record.message == (
        f"Booked as Moneybird invoice {invoice['invoice_id']}; e-mailed to the customer by Moneybird"
    )
    [mail] = moneybird.state()["emails"]
    assert mail["to"] == order["customer"]["email"]


def test_a_draft_is_saved_and_the_order_is_not_booked_twice(account, shop, moneybird, deliver, retry_fast):
    connection = connect(account, shop, moneybird, target_settings={"document_status": "draft"})
    order = make_order()
    record = book(shop, connection, deliver, order)
    assert record.state == State.HANDLED, record.message
    assert record.message.startswith("Saved in Moneybird as a draft")
    [invoice] = moneybird.invoices
    assert invoice["state"] == "draft" and record.target_invoice_number == ""

    deliver(connection, order["id"], "order.updated")
    drain()
    assert len(moneybird.invoices) == 1


def test_a_rate_limited_booking_waits_and_is_booked_once(account, shop, moneybird, deliver, retry_fast):
    connection = connect(account, shop, moneybird)
    moneybird.knobs(rate_limit_burst=2, rate_limit_burst_retry_after=1)
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    assert len(moneybird.invoices) == 1
    assert [r["status"] for r in moneybird.requests()][:2] == [429, 429]
