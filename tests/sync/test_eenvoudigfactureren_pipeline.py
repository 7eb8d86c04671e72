"""Orders through webhook → worker → the EenvoudigFactureren sandbox: what is particular to this target (its
exact requests, sending, the invoice number and reference settings, its rate limit). What every target
does alike, each error code included, is in ``test_every_target.py``."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from koppel.sync.models import Attempt, State
from tests.conftest import book, connect, make_order, shared_file


@pytest.fixture
def ef_connection(account, shop, eenvoudigfactureren, retry_fast):
    return connect(account, shop, eenvoudigfactureren)


def test_example_order_sends_exactly_the_previewed_requests(
    shop, eenvoudigfactureren, ef_connection, deliver
):
    from koppel.preview import preview

    example = json.loads(shared_file("specs/kmoshops/order-example.json").read_text())
    record = book(shop, ef_connection, deliver, example)

    assert record.state == State.HANDLED, record.message
    [client] = eenvoudigfactureren.clients
    [invoice] = eenvoudigfactureren.invoices
    assert record.target_debtor_id == str(client["client_id"])
    assert record.target_invoice_id == str(invoice["invoice_id"])
    assert record.target_invoice_number == invoice["number"] != ""
    assert Decimal(invoice["total_with_tax"]) == Decimal("308.43")
    assert (invoice["reference"], invoice["date"], invoice["expiry_date"]) == (
        "367439",
        "2023-02-13",
        "2023-02-27",
    )
    assert invoice["status"] == "paid"
    assert (client["name"], client["attention"]) == ("Bakery De Witte", "Karin de Wit")
    assert eenvoudigfactureren.emails == []  # sending is off by default

    planned = preview(example, source="kmoshops", target="eenvoudigfactureren")["requests"]
    sent = [r for r in eenvoudigfactureren.requests() if r["method"] == "POST"]
    assert [r["path"] for r in sent] == ["/api/v1/clients", "/api/v1/invoices"]
    assert sent[0]["json"] == planned[3]["json"]
    assert sent[1]["json"] == {**planned[4]["json"], "client_id": client["client_id"]}


def test_send_invoice_emails_it_after_booking(shop, eenvoudigfactureren, ef_connection, deliver):
    ef_connection.target_settings = {"send_invoice": True}
    ef_connection.save()
    order = make_order()
    record = book(shop, ef_connection, deliver, order)
    assert record.state == State.HANDLED
    assert "e-mailed to the customer" in record.message
    [invoice] = eenvoudigfactureren.invoices
    [email] = eenvoudigfactureren.emails
    assert email["invoice_id"] == invoice["invoice_id"]
    assert email["to"] == order["customer"]["email"]


def test_a_failed_sending_keeps_the_invoice_and_says_so(shop, eenvoudigfactureren, ef_connection, deliver):
    ef_connection.target_settings = {"send_invoice": True}
    ef_connection.save()
    record = book(shop, ef_connection, deliver, make_order(customer={"email": ""}))
    assert record.state == State.HANDLED
    assert "e-mailing it to the customer failed" in record.message
    assert "send it from EenvoudigFactureren" in record.message
    assert len(eenvoudigfactureren.invoices) == 1
    assert eenvoudigfactureren.emails == []


def test_invoice_number_and_reference_follow_the_settings(shop, eenvoudigfactureren, ef_connection, deliver):
    ef_connection.target_settings = {
        "invoice_number": "order_number",
        "reference": "{order_number} / {payment_method}",
        "layout_id": "2",
    }
    ef_connection.save()
    order = make_order(payment_method="Bancontact")
    record = book(shop, ef_connection, deliver, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = eenvoudigfactureren.invoices
    assert invoice["number"] == order["number"] == record.target_invoice_number
    assert invoice["reference"] == f"{order['number']} / Bancontact"
    assert int(invoice["layout_id"]) == 2


def test_amounts_excluding_vat_total_what_the_customer_paid(
    shop, eenvoudigfactureren, ef_connection, deliver
):
    ef_connection.target_settings = {"amounts_include_vat": False}
    ef_connection.save()
    order = make_order(
        lines=[{"description": "Mok", "amount": 3, "price": "9.99", "tax_rate": "21"}], shipping=None
    )
    record = book(shop, ef_connection, deliver, order)
    assert record.state == State.HANDLED
    [invoice] = eenvoudigfactureren.invoices
    assert invoice["tax_included"] == "no"
    assert Decimal(invoice["total_with_tax"]) == Decimal("29.97")


def test_rate_limit_pauses_the_connection_and_books_after_the_wait(
    shop, eenvoudigfactureren, ef_connection, deliver
):
    eenvoudigfactureren.knobs(rate_limit_burst=1)
    record = book(shop, ef_connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    [only] = Attempt.objects.filter(record=record)  # a 1-second wait is waited out, in the same attempt
    assert only.outcome == "handled" and "after waiting 1.0 s for a rate limit" in only.message
    assert any(call["status"] == 429 for call in only.calls)
    assert record.attempts == 0
    ef_connection.refresh_from_db()
    assert ef_connection.target_paused_until is not None
    assert len(eenvoudigfactureren.invoices) == 1


def test_a_restricted_api_key_is_target_auth_failed(shop, sandbox, account, deliver, retry_fast):
    from tests.conftest import new_eenvoudigfactureren_account

    restricted = new_eenvoudigfactureren_account(sandbox, taxes=["21", "9"], scopes=["invoices", "layouts"])
    connection = connect(account, shop, restricted)
    record = book(shop, connection, deliver, make_order())
    assert (record.state, record.error_code) == (State.ERROR, "TARGET_AUTH_FAILED")
    assert "403" in record.message
