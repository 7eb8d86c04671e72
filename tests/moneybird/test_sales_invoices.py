"""Sales invoices in the Moneybird sandbox through real HTTP: sent (and so numbered) or left a draft as the
document status says, e-mailed only when asked, the payment of a paid order registered, failures after the
invoice exists as notes, the PDF through Moneybird's redirect, and exactly the requests previewed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from koppel.connectors.errors import AuthFailed, RateLimited, Rejected
from tests.moneybird.conftest import book, invoice_of


def test_final_is_sent_manually_numbered_and_paid(moneybird, connect_to):
    invoice = invoice_of()
    booked = book(connect_to(), invoice)
    [stored] = moneybird.invoices
    assert (stored["state"], stored["reference"]) == ("paid", invoice.order_number)
    assert booked.number == stored["invoice_id"] and stored["invoice_id"].endswith("-0001")
    assert not booked.draft and booked.note == ""
    assert Decimal(stored["total_paid"]) == invoice.gross == Decimal("38.34")
    assert stored["payments"][0]["manual_payment_action"] == "payment_without_proof"
    assert moneybird.state()["emails"] == []
    [send] = [r for r in moneybird.requests() if r["method"] == "PATCH"]
    assert send["json"] == {"sales_invoice_sending": {"delivery_method": "Manual"}}


def test_final_email_is_emailed_by_moneybird(moneybird, connect_to):
    invoice = invoice_of()
    booked = book(connect_to(document_status="final_email"), invoice)
    [mail] = moneybird.state()["emails"]
    assert mail["to"] == invoice.customer.email and mail["invoice_id"] == booked.number
    assert booked.note == "e-mailed to the customer by Moneybird"


def test_a_draft_is_not_sent_and_not_paid(moneybird, connect_to):
    connector = connect_to(document_status="draft")
    invoice = invoice_of()
    booked = book(connector, invoice)
    [stored] = moneybird.invoices
    assert (stored["state"], stored["invoice_id"], stored["payments"]) == ("draft", None, [])
    assert booked.draft and booked.number == "" and "draft" in booked.note
    assert not [
        r for r in moneybird.requests() if r["method"] == "PATCH" or r["path"].endswith("payments.json")
    ]
    found = connector.find_invoice(invoice)
    assert found is not None and found.id == booked.id and found.draft
    assert connector.invoice_pdf(found).startswith(b"%PDF-")  # Moneybird shows a draft's PDF too


def test_an_unpaid_order_is_sent_but_left_open(moneybird, connect_to):
    book(connect_to(), invoice_of(paid=False, status="shipped"))
    [stored] = moneybird.invoices
    assert stored["state"] == "open" and stored["payments"] == []


def test_a_failed_sending_leaves_a_draft_with_a_note(moneybird, connect_to):
    moneybird.knobs(fail_send_next=1)
    booked = book(connect_to(), invoice_of())
    assert booked.draft and "sending it failed" in booked.note and "send it from Moneybird" in booked.note
    [stored] = moneybird.invoices
    assert stored["state"] == "draft" and stored["payments"] == []


def test_a_failed_payment_is_a_note_on_a_booked_invoice(moneybird, connect_to):
    moneybird.knobs(fail_payments_next=1)
    booked = book(connect_to(), invoice_of())
    assert booked.number and not booked.draft
    assert "registering the payment failed" in booked.note
    assert moneybird.invoices[0]["state"] == "open"


def test_an_intra_community_supply_gets_the_reverse_charge_rate(moneybird, connect_to):
    invoice = invoice_of(
        customer={"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "BE0403019261"},
        lines=[{"description": "Koffiemolen", "amount": 2, "price": "80.00", "tax_rate": "0"}],
        shipping=None,
        priceincltax=False,
        total="160.00",
    )
    book(connect_to(), invoice)
    [stored] = moneybird.invoices
    assert [d["tax_rate_id"] for d in stored["details"]] == [moneybird.tax_rate_id("Btw verlegd (EU)")]


def test_a_vat_rate_moneybird_lacks_is_refused_before_anything_is_sent(moneybird, connect_to):
    invoice = invoice_of(lines=[{"description": "Stoel", "amount": 1, "price": "50.00", "tax_rate": "6"}])
    connector = connect_to()
    debtor = connector.create_debtor(invoice)
    with pytest.raises(Rejected, match="no sales tax rate of 6%"):
        connector.create_invoice(invoice, debtor)
    assert moneybird.invoices == []


def test_a_validation_error_carries_moneybirds_own_message(moneybird, connect_to):
    with pytest.raises(Rejected) as caught:
        connect_to().create_debtor(invoice_of(customer={"email": "sanne@@example"}))
    assert "Moneybird answered 422: send_invoices_to_email is invalid" in caught.value.message
    assert not caught.value.transient


def test_the_rate_limit_of_the_window_says_how_long(moneybird, connect_to):
    moneybird.knobs(rate_limit=2, rate_limit_window=300)
    connector = connect_to()
    connector.layouts()
    connector.layouts()
    with pytest.raises(RateLimited) as caught:
        connector.layouts()
    assert 290 <= caught.value.retry_after <= 300
    assert "150 requests per 5 minutes" in caught.value.message
    [refused] = [r for r in moneybird.requests() if r["status"] == 429]
    assert refused["path"].endswith("/document_styles.json")


def test_an_administration_the_token_cannot_use_is_auth_failed(moneybird):
    from koppel.connectors.moneybird.connector import MoneybirdTarget

    connector = MoneybirdTarget(
        url=moneybird.url, credentials={**moneybird.credentials, "administration_id": "1"}
    )
    with pytest.raises(AuthFailed, match="no access to administration 1"):
        connector.test_connection()
    connector.close()


def test_the_pdf_comes_through_the_redirect_without_the_token(moneybird, connect_to):
    connector = connect_to()
    booked = book(connector, invoice_of())
    pdf = connector.invoice_pdf(booked)  # the file host refuses an Authorization header
    assert pdf.startswith(b"%PDF-") and booked.number.encode() in pdf
    assert moneybird.api_key not in repr(connector.log.calls)


def test_the_requests_are_exactly_the_plan(moneybird, connect_to):
    """The contract suite's check, one level down: Moneybird wraps each body in the resource's name and
    the plan cannot know the tax rate ids, so those two are compared as placeholders."""
    connector = connect_to()
    invoice = invoice_of(customer={"company": "Bakkerij De Witte"})
    plan = connector.planned_requests(invoice, connector.settings)
    assert connector.find_invoice(invoice) is None
    debtor = connector.find_debtor(invoice.customer) or connector.create_debtor(invoice)
    connector.create_invoice(invoice, debtor)
    sent = [r for r in moneybird.requests()]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in sent] == [
        (p.method, p.path.split("?")[0].rsplit("/", 1)[-1]) for p in plan
    ]
    ids = {r["id"]: mapping_placeholder(r) for r in moneybird.state()["tax_rates"]}
    [planned_invoice] = [p.json for p in plan if p.path == "sales_invoices.json"]
    sent_invoice = next(r["json"] for r in sent if r["path"].endswith("/sales_invoices.json") and r["json"])
    sent_invoice["sales_invoice"]["contact_id"] = "<id from POST contacts.json>"
    for detail in sent_invoice["sales_invoice"]["details_attributes"]:
        detail["tax_rate_id"] = ids[detail["tax_rate_id"]]
    assert sent_invoice == planned_invoice
    assert sent[2]["json"] == plan[2].json  # the contact


def mapping_placeholder(rate: dict) -> str:
    from koppel.connectors.moneybird.mapping import placeholder_rate

    return placeholder_rate(Decimal(rate["percentage"]))
