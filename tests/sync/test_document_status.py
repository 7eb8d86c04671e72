"""The document status (the seed's Draft / Finalize / Finalize and e-mail) on each target, through real
HTTP: order → webhook → worker → the target's sandbox, checked as the administration shows it (saved or
sent, e-mailed or not) and as the record tells it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from koppel.connectors.base import BookedInvoice
from koppel.connectors.eenvoudigfactureren.mapping import NO_DRAFTS
from koppel.connectors.errors import NotFound, Rejected
from koppel.sync.models import Record, State
from tests.conftest import book, connect, drain, make_order, record_of


def fs_connection(account, shop, administration, **target_settings: Any):
    return connect(account, shop, administration, target_settings=target_settings)


def history(invoice: dict[str, Any]) -> list[str]:
    return [item["description"] for item in invoice["history"].values()]


# -- Factuursturen ----------------------------------------------------------------------------------------


def test_factuursturen_draft_is_a_saved_invoice(account, shop, administration, deliver, retry_fast):
    connection = fs_connection(account, shop, administration, document_status="draft")
    order = make_order()
    record = book(shop, connection, deliver, order)

    assert record.state == State.HANDLED, record.message
    state = administration.state()
    assert state["invoices"] == []  # nothing numbered or sent
    [saved] = state["saved_invoices"]
    assert saved["savename"] == order["number"] and saved["reference"]["line1"] == order["number"]
    assert saved["totalintax"] == "38.34"
    assert record.target_invoice_id == f"saved:{saved['id']}" and record.target_invoice_number == ""
    assert record.message.startswith("Saved in Factuursturen as a draft (saved:")
    assert "saved as a draft, not final: finalise it in Factuursturen" in record.message
    [post] = administration.invoice_posts()
    assert (post["json"]["action"], post["json"]["savename"]) == ("save", order["number"])
    page = httpx.get(f"{administration.control}/page").text
    assert "Saved invoices (drafts)" in page and order["number"] in page

    # A draft has no PDF yet; the connector says so rather than fetching a wrong one.
    target = administration.connector({"document_status": "draft"})
    with pytest.raises(Rejected, match="is a draft"):
        target.invoice_pdf(BookedInvoice(record.target_invoice_id))


def test_factuursturen_final_is_sent_by_the_merchant(account, shop, administration, deliver, retry_fast):
    connection = fs_connection(account, shop, administration, document_status="final")
    record = book(shop, connection, deliver, make_order())

    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert invoice["sendmethod"] == "mail" and "Factuur verstuurd" in history(invoice)
    assert not any("e-mail" in line for line in history(invoice))
    assert administration.state()["saved_invoices"] == []
    assert record.message == f"Booked as Factuursturen invoice {invoice['invoicenr']}"
    [post] = administration.invoice_posts()
    assert (post["json"]["action"], post["json"]["sendmethod"]) == ("send", "mail")


@pytest.mark.parametrize(
    "target_settings",
    [{"document_status": "final_email"}, {"send_invoice": "email"}],
    ids=["status", "legacy"],
)
def test_factuursturen_final_email_is_emailed(
    account, shop, administration, deliver, retry_fast, target_settings
):
    connection = fs_connection(account, shop, administration, **target_settings)
    order = make_order()
    record = book(shop, connection, deliver, order)

    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    [client] = administration.clients
    assert invoice["sendmethod"] == "email" and client["sendmethod"] == "email"
    assert f"Factuur per e-mail verstuurd naar {order['customer']['email']}" in history(invoice)
    assert record.message.endswith("; e-mailed to the customer by Factuursturen")


def test_factuursturen_draft_status_wins_over_send_invoice(
    account, shop, administration, deliver, retry_fast
):
    connection = fs_connection(account, shop, administration, document_status="draft", send_invoice="email")
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    assert administration.invoices == [] and len(administration.state()["saved_invoices"]) == 1


def test_factuursturen_draft_found_again_after_a_crash(account, shop, administration, deliver, retry_fast):
    """The sandbox stores the saved invoice and answers 502: the retry finds the draft, books nothing."""
    connection = fs_connection(account, shop, administration, document_status="draft")
    administration.knobs(fail_after_commit_next=1)
    record = book(shop, connection, deliver, make_order())

    assert record.state == State.HANDLED, record.message
    assert "after an interrupted attempt" in record.message
    [saved] = administration.state()["saved_invoices"]
    assert record.target_invoice_id == f"saved:{saved['id']}"
    assert len(administration.invoice_posts()) == 1
    searched = [r["path"] for r in administration.requests() if "/search/invoices_saved/" in r["path"]]
    assert len(searched) >= 2  # before the create, and again on the retry


def test_factuursturen_draft_is_not_booked_twice(account, shop, administration, deliver, retry_fast):
    connection = fs_connection(account, shop, administration, document_status="draft")
    order = make_order()
    shop.place(order)
    for event in ("order.created", "order.created", "order.updated"):
        assert deliver(connection, order["id"], event).status_code == 202
    drain()
    assert Record.objects.filter(connection=connection).count() == 1
    assert record_of(connection, order).state == State.HANDLED
    assert len(administration.state()["saved_invoices"]) == 1 and administration.invoices == []
    assert len(administration.invoice_posts()) == 1


def test_factuursturen_draft_made_by_hand_is_found(account, shop, administration, deliver, retry_fast):
    """A bookkeeper saved a draft for the order already: Koppel finds it and books nothing."""
    connection = fs_connection(account, shop, administration, document_status="draft")
    order = make_order()
    client = administration.add_client({"company": "Handmatig", "email": "hand@example.nl"})["client"]
    body = {
        "clientnr": client["clientnr"],
        "action": "save",
        "savename": "met de hand",
        "reference": {"line1": order["number"]},
        "lines": [{"amount": 1, "description": "Handmatig", "tax_rate": 21, "price": "10.00"}],
    }
    assert administration.create_invoice(body)
    record = book(shop, connection, deliver, order)
    assert (record.state, record.error_code) == (State.SKIPPED, "ALREADY_PROCESSED"), record.message
    assert len(administration.state()["saved_invoices"]) == 1


def test_factuursturen_draft_finalised_in_factuursturen(account, shop, administration, deliver, retry_fast):
    """Once the merchant sends the draft from Factuursturen, it is an invoice with a number and its PDF."""
    connection = fs_connection(account, shop, administration, document_status="draft")
    order = make_order()
    record = book(shop, connection, deliver, order)
    saved_id = record.target_invoice_id.removeprefix("saved:")
    response = httpx.post(f"{administration.control}/saved/{saved_id}/send")
    assert response.status_code == 201, response.text
    [invoice] = administration.invoices
    assert invoice["reference"]["line1"] == order["number"] and invoice["invoicenr"]
    assert administration.state()["saved_invoices"] == []
    target = administration.connector({"document_status": "draft"})
    with pytest.raises(NotFound):
        target.invoice_pdf(BookedInvoice(record.target_invoice_id))
    found = target.find_invoice(_invoice_of(order))
    assert found is not None and found.number == invoice["invoicenr"]


def _invoice_of(order: dict[str, Any]):
    from koppel.connectors.kmoshops.mapping import parse_order
    from koppel.documents.model import build_invoice

    return build_invoice(parse_order(order))


# -- EenvoudigFactureren ----------------------------------------------------------------------------------


def test_eenvoudigfactureren_final_is_not_emailed(account, shop, eenvoudigfactureren, deliver, retry_fast):
    connection = connect(account, shop, eenvoudigfactureren, target_settings={"document_status": "final"})
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    [invoice] = eenvoudigfactureren.invoices
    assert invoice["sent"] == "no" and invoice["number"]
    assert eenvoudigfactureren.emails == []
    assert record.message == f"Booked as EenvoudigFactureren invoice {invoice['number']}"


def test_eenvoudigfactureren_final_email_is_emailed(account, shop, eenvoudigfactureren, deliver, retry_fast):
    connection = connect(
        account, shop, eenvoudigfactureren, target_settings={"document_status": "final_email"}
    )
    order = make_order()
    record = book(shop, connection, deliver, order)
    assert record.state == State.HANDLED, record.message
    [invoice] = eenvoudigfactureren.invoices
    assert invoice["sent"] == "yes"
    [email] = eenvoudigfactureren.emails
    assert order["customer"]["email"] in str(email)
    assert record.message.endswith("; e-mailed to the customer")


def test_eenvoudigfactureren_refuses_draft_in_the_form(account, shop, eenvoudigfactureren):
    from django.utils import translation

    with translation.override("en"):  # the form in English (the default language is Dutch)
        refuses_draft_in_english(account, shop, eenvoudigfactureren)


def refuses_draft_in_english(account, shop, eenvoudigfactureren):
    from koppel.connections.forms import ConfigurationForm
    from koppel.connections.models import settings_problems

    connection = connect(account, shop, eenvoudigfactureren)
    form = ConfigurationForm(connection)
    assert "cannot make drafts" in str(form["setting_document_status"].help_text)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value if isinstance(value, list) else str(value)
    data["start_date"] = "2020-01-01"
    data["setting_document_status"] = "draft"
    posted = ConfigurationForm(connection, data=data)
    assert not posted.is_valid()
    assert posted.errors["setting_document_status"] == [NO_DRAFTS]
    assert NO_DRAFTS.startswith("EenvoudigFactureren cannot make draft invoices through its API")
    assert settings_problems(connection.target_class, {"document_status": "draft"}) == [
        f"Document status: {NO_DRAFTS}"
    ]
    data["setting_document_status"] = "final_email"
    assert ConfigurationForm(connection, data=data).is_valid()
