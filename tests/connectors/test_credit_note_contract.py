"""The contract every target keeps for credit notes, run against each target's sandbox over real HTTP.

A refund of a booked order is booked as a credit note of the order's invoice, in the target's own way
(Factuursturen: a negative invoice; EenvoudigFactureren: a document of type ``creditnote``; Moneybird: a
credit invoice). What the pipeline relies on:

- ``find_credit_note`` finds what ``create_credit_note`` booked, and a credit note booked by hand with the
  credit note's reference, so a credit note is booked once;
- the credit note is the original debtor's, refers to the invoice it credits, and its total is minus what
  was credited, to the cent (part of the invoice, one line at its VAT rate; or all of it);
- it is sent as the connection's document status says; its PDF is a PDF;
- ``planned_credit_requests`` is exactly what is sent;
- failures are classified as for invoices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from koppel.connectors.base import BookedInvoice, Debtor, TargetConnector
from koppel.connectors.errors import Rejected, Unavailable
from koppel.documents.model import Invoice, InvoiceLine
from koppel.documents.refunds import Refund, RefundLine, build_credit_note
from tests.connectors.test_target_contract import invoice_of, is_placeholder, same, unwrap


@pytest.fixture
def connector(target):
    item = target.connector()
    yield item
    item.close()


def book(connector: TargetConnector, invoice: Invoice) -> tuple[Debtor, BookedInvoice]:
    """The order's invoice, booked as the pipeline books it."""
    assert connector.find_invoice(invoice) is None
    debtor = connector.find_debtor(invoice.customer) or connector.create_debtor(invoice)
    return debtor, connector.create_invoice(invoice, debtor)


def refund_line(line: InvoiceLine) -> RefundLine:
    amount = line.gross if line.prices_include_vat else line.net
    return RefundLine(line.description, line.quantity, amount, line.vat_rate, line.kind, line.sku)


def credit_of(
    invoice: Invoice, booked: BookedInvoice, lines: list[InvoiceLine], refund_id: str = "9001"
) -> Invoice:
    """The credit note of a refund of ``lines`` of the booked ``invoice``."""
    refunded = tuple(refund_line(line) for line in lines)
    refund = Refund(
        source="kmoshops",
        refund_id=refund_id,
        order_id="1",
        created_at=datetime.now(UTC),
        currency=invoice.currency,
        prices_include_vat=invoice.prices_include_vat,
        lines=refunded,
        total=sum((line.gross for line in lines), Decimal(0)),
        reason="Retour ontvangen",
    )
    return build_credit_note(refund, invoice, invoice_number=booked.number, invoice_id=booked.id)


def book_credit(connector: TargetConnector, credit: Invoice, debtor: Debtor) -> BookedInvoice:
    """What the pipeline does for a refund: look for the credit note, book it only when there is none."""
    return connector.find_credit_note(credit) or connector.create_credit_note(credit, debtor)


@pytest.mark.parametrize("overrides", [{}, {"priceincltax": False}], ids=["incl", "excl"])
def test_a_credit_note_of_one_line_credits_it_at_its_rate_and_is_booked_once(target, connector, overrides):
    invoice = invoice_of(**overrides)
    debtor, booked = book(connector, invoice)
    tea = next(line for line in invoice.lines if line.vat_rate == Decimal("9"))
    credit = credit_of(invoice, booked, [tea])
    assert connector.find_credit_note(credit) is None
    created = book_credit(connector, credit, debtor)
    assert created.id and not created.draft
    again = book_credit(connector, credit, debtor)  # the refund's notice comes twice: found, not booked
    assert again.id == created.id
    [note] = target.credit_notes
    assert target.invoice_total(note) == -credit.gross == -tea.gross
    assert target.invoice_client(note) == debtor.id
    assert target.credit_reference(note) == credit.order_number
    assert target.credit_refers_to(note, booked.number, booked.id)
    # The original invoice is still found as the order's invoice, and is not taken for the credit note.
    assert connector.find_invoice(invoice).id == booked.id


def test_a_credit_note_of_the_whole_invoice_totals_minus_the_invoice(target, connector):
    invoice = invoice_of()
    debtor, booked = book(connector, invoice)
    credit = credit_of(invoice, booked, list(invoice.lines))
    created = book_credit(connector, credit, debtor)
    found = connector.find_credit_note(credit)
    assert found is not None and found.id == created.id
    [note] = target.credit_notes
    assert target.invoice_total(note) == -invoice.gross
    assert target.invoice_client(note) == debtor.id
    assert target.credit_reference(note) == credit.order_number
    assert target.credit_refers_to(note, booked.number, booked.id)


def test_two_refunds_of_one_order_are_two_credit_notes(target, connector):
    invoice = invoice_of()
    debtor, booked = book(connector, invoice)
    first, second = invoice.lines[0], invoice.lines[1]
    one = book_credit(connector, credit_of(invoice, booked, [first], "1"), debtor)
    two = book_credit(connector, credit_of(invoice, booked, [second], "2"), debtor)
    assert one.id != two.id
    totals = sorted(target.invoice_total(note) for note in target.credit_notes)
    assert totals == sorted([-first.gross, -second.gross])


def test_a_credit_note_booked_by_hand_with_the_reference_is_found(target, connector):
    invoice = invoice_of()
    _, booked = book(connector, invoice)
    credit = credit_of(invoice, booked, [invoice.lines[0]])
    target.book_credit_by_hand(reference=credit.order_number)
    found = connector.find_credit_note(credit)
    assert found is not None and found.id
    # Another refund of the same order is not mistaken for it.
    assert connector.find_credit_note(credit_of(invoice, booked, [invoice.lines[0]], "9002")) is None


def test_the_pdf_of_a_credit_note_is_a_pdf(target, connector):
    invoice = invoice_of()
    debtor, booked = book(connector, invoice)
    created = book_credit(connector, credit_of(invoice, booked, [invoice.lines[0]]), debtor)
    assert connector.invoice_pdf(created).startswith(b"%PDF-")


def test_a_credit_note_is_e_mailed_when_the_connection_e_mails(target):
    connector = target.connector({"document_status": "final_email"})
    try:
        invoice = invoice_of()
        debtor, booked = book(connector, invoice)
        created = book_credit(connector, credit_of(invoice, booked, [invoice.lines[0]]), debtor)
    finally:
        connector.close()
    assert "e-mailed" in created.note and not created.draft


def test_a_credit_note_is_a_draft_when_the_connection_makes_drafts(target):
    if target.kind == "eenvoudigfactureren":
        pytest.skip("EenvoudigFactureren makes no drafts through its API")
    connector = target.connector({"document_status": "draft"})
    try:
        invoice = invoice_of()
        debtor, booked = book(connector, invoice)
        credit = credit_of(invoice, booked, [invoice.lines[0]])
        created = book_credit(connector, credit, debtor)
        found = connector.find_credit_note(credit)
    finally:
        connector.close()
    assert created.draft and found is not None and found.id == created.id


def test_planned_credit_requests_are_exactly_what_is_sent(target, connector):
    invoice = invoice_of(customer={"company": "Bakkerij De Witte"})
    debtor, booked = book(connector, invoice)
    credit = credit_of(invoice, booked, [invoice.lines[0]])
    before = len(target.requests())
    fresh = target.connector()  # a new worker: nothing read before
    try:
        fresh.create_credit_note(credit, debtor) if fresh.find_credit_note(credit) is None else None
    finally:
        fresh.close()
    sent = target.requests()[before:]
    plan = connector.planned_credit_requests(credit, connector.settings)
    writes = [r for r in sent if r["method"] != "GET"]
    planned = [p for p in plan if p.method != "GET"]
    assert [(r["method"], r["path"].rstrip("/").rsplit("/", 1)[-1]) for r in writes] == [
        (p.method, p.path.rsplit("/", 1)[-1]) for p in planned
    ]
    assert same(writes[0]["json"], planned[0].json)
    body, plan_body = unwrap(writes[0]["json"]), unwrap(planned[0].json)
    debtor_field = next(key for key, value in plan_body.items() if is_placeholder(value))
    assert str(body[debtor_field]) == debtor.id
    assert len([r for r in sent if r["method"] == "GET"]) == len([p for p in plan if p.method == "GET"])


def test_a_server_error_while_booking_a_credit_note_is_unavailable(target, connector):
    invoice = invoice_of()
    debtor, booked = book(connector, invoice)
    credit = credit_of(invoice, booked, [invoice.lines[0]])
    target.knobs(fail_next=[503])
    with pytest.raises(Unavailable) as caught:
        connector.create_credit_note(credit, debtor)
    assert caught.value.transient
    assert target.credit_notes == []


def test_a_credit_at_a_rate_the_administration_lacks_is_refused(target, connector):
    invoice = invoice_of()
    debtor, booked = book(connector, invoice)
    line = invoice.lines[0]
    odd = InvoiceLine(
        line.description,
        line.quantity,
        line.unit_price,
        line.prices_include_vat,
        Decimal("13"),
        line.net,
        line.vat,
        line.gross,
    )
    credit = credit_of(invoice, booked, [odd])
    with pytest.raises(Rejected) as caught:
        connector.create_credit_note(credit, debtor)
    assert caught.value.code == "TARGET_REJECTED" and not caught.value.transient
    assert target.credit_notes == []
