"""Credit invoices in the Moneybird sandbox through real HTTP: a credit of the whole invoice made by
Moneybird's ``duplicate_creditinvoice`` (linked by ``original_sales_invoice_id``, then given the credit
note's reference), a partial one posted with negative amounts and a first detail naming the invoice; sent as
the document status says; the sandbox's own endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from koppel.connectors.moneybird import mapping
from koppel.documents.model import Invoice, InvoiceLine
from koppel.documents.refunds import Refund, RefundLine, build_credit_note
from tests.moneybird.conftest import invoice_of


def credit_of(invoice: Invoice, booked, lines: list[InvoiceLine], refund_id: str = "7") -> Invoice:
    refund = Refund(
        source="kmoshops",
        refund_id=refund_id,
        order_id="1",
        created_at=datetime.now(UTC),
        currency=invoice.currency,
        prices_include_vat=invoice.prices_include_vat,
        lines=tuple(RefundLine(x.description, x.quantity, x.gross, x.vat_rate) for x in lines),
        total=sum((x.gross for x in lines), Decimal(0)),
    )
    return build_credit_note(refund, invoice, invoice_number=booked.number, invoice_id=booked.id)


def booked_with_debtor(connector, invoice: Invoice):
    debtor = connector.find_debtor(invoice.customer) or connector.create_debtor(invoice)
    return debtor, connector.create_invoice(invoice, debtor)


def test_a_whole_credit_is_moneybirds_duplicate_of_the_invoice(moneybird, connect_to):
    connector = connect_to()
    invoice = invoice_of()
    debtor, booked = booked_with_debtor(connector, invoice)
    credit = credit_of(invoice, booked, list(invoice.lines))
    created = connector.create_credit_note(credit, debtor)
    stored = {i["id"]: i for i in moneybird.invoices}
    note, original = stored[created.id], stored[booked.id]
    assert note["original_sales_invoice_id"] == booked.id
    assert note["reference"] == credit.order_number and note["state"] == "open"
    assert Decimal(note["total_price_incl_tax"]) == -invoice.gross
    assert [d["amount"] for d in note["details"]] == [f"-{d['amount']}" for d in original["details"]]
    patches = [r["path"].rsplit("/", 1)[-1] for r in moneybird.requests() if r["method"] == "PATCH"]
    assert patches[-3:] == ["duplicate_creditinvoice.json", f"{created.id}.json", "send_invoice.json"]
    assert created.number == note["invoice_id"] and not created.note  # no payment registered


def test_a_partial_credit_is_a_sales_invoice_with_negative_amounts(moneybird, connect_to):
    connector = connect_to()
    invoice = invoice_of()
    debtor, booked = booked_with_debtor(connector, invoice)
    credit = credit_of(invoice, booked, [invoice.lines[0]])
    created = connector.create_credit_note(credit, debtor)
    note = next(i for i in moneybird.invoices if i["id"] == created.id)
    assert note["original_sales_invoice_id"] is None
    header, line = note["details"]
    assert header["description"].startswith(f"Creditfactuur voor factuur {booked.number}")
    assert Decimal(header["total_price_incl_tax_with_discount"]) == 0
    assert line["amount"] == "-2" and line["price"] == "12.95"
    assert Decimal(note["total_price_incl_tax"]) == -Decimal("25.90")


def test_a_credit_of_an_invoice_that_is_gone_is_posted(moneybird, connect_to):
    connector = connect_to()
    invoice = invoice_of()
    debtor, booked = booked_with_debtor(connector, invoice)
    credit = credit_of(invoice, booked, list(invoice.lines))
    gone = Invoice(**{**{f: getattr(credit, f) for f in credit.__dataclass_fields__}, "credit_for_id": "1"})
    created = connector.create_credit_note(gone, debtor)
    note = next(i for i in moneybird.invoices if i["id"] == created.id)
    assert note["original_sales_invoice_id"] is None
    assert Decimal(note["total_price_incl_tax"]) == -invoice.gross


def test_a_draft_connection_leaves_the_credit_invoice_a_draft(moneybird, connect_to):
    connector = connect_to(document_status="draft")
    invoice = invoice_of()
    debtor, booked = booked_with_debtor(connect_to(), invoice)
    created = connector.create_credit_note(credit_of(invoice, booked, list(invoice.lines)), debtor)
    note = next(i for i in moneybird.invoices if i["id"] == created.id)
    assert created.draft and note["state"] == "draft" and note["original_sales_invoice_id"] == booked.id


def test_the_plan_of_a_credit_is_what_a_partial_credit_sends(moneybird, connect_to):
    invoice = invoice_of()
    _, booked = booked_with_debtor(connect_to(), invoice)
    credit = credit_of(invoice, booked, [invoice.lines[1]])
    plan = connect_to().planned_credit_requests(credit, {})
    assert [(p.method, p.path.split("?")[0]) for p in plan] == [
        ("GET", "sales_invoices.json"),
        ("GET", f"sales_invoices/{booked.id}.json"),
        ("GET", "tax_rates.json"),
        ("POST", "sales_invoices.json"),
        ("PATCH", "sales_invoices/<id from POST sales_invoices.json>/send_invoice.json"),
    ]
    body = plan[3].json["sales_invoice"]
    assert body["reference"] == credit.order_number and body["contact_id"].startswith("<")
    assert body["details_attributes"][1]["amount"] == "-1"


def test_whole_credit_is_recognised_by_total_currency_and_state():
    invoice = invoice_of()
    credit = credit_of(invoice, type("B", (), {"number": "2024-0001", "id": "5"})(), list(invoice.lines))
    final = {"state": "open", "currency": "EUR", "total_price_incl_tax": str(invoice.gross)}
    assert mapping.credits_all_of(credit, final)
    assert not mapping.credits_all_of(credit, {**final, "state": "draft"})
    assert not mapping.credits_all_of(credit, {**final, "total_price_incl_tax": "1.00"})
    assert not mapping.credits_all_of(credit, {**final, "original_sales_invoice_id": "9"})


def test_the_sandbox_refuses_to_credit_a_draft_and_changes_only_drafts_details(moneybird, connect_to):
    invoice = invoice_of()
    draft = connect_to(document_status="draft")
    debtor = draft.create_debtor(invoice)
    booked = draft.create_invoice(invoice, debtor)
    response = moneybird.api("PATCH", f"sales_invoices/{booked.id}/duplicate_creditinvoice.json", json={})
    assert response.status_code == 422
    rate = moneybird.tax_rate_id("21% btw")
    details = [{"description": "Nieuw", "price": "5.00", "amount": "1", "tax_rate_id": rate}]
    body = {"sales_invoice": {"reference": "X1", "details_attributes": details}}
    response = moneybird.api("PATCH", f"sales_invoices/{booked.id}.json", json=body)
    assert response.status_code == 200 and response.json()["total_price_incl_tax"] == "5.00"
    sending = {"sales_invoice_sending": {"delivery_method": "Manual"}}
    sent = moneybird.api("PATCH", f"sales_invoices/{booked.id}/send_invoice.json", json=sending)
    assert sent.status_code == 200
    response = moneybird.api("PATCH", f"sales_invoices/{booked.id}.json", json=body)
    assert response.status_code == 422
    pdf = httpx.get(f"{moneybird.control}/invoices/{booked.id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
