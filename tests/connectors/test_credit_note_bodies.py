"""What each target is sent for a credit note, field by field, without a network: the negative amounts, the
credit note's reference, the invoice it credits, and the document status as for invoices."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from koppel.connectors.eenvoudigfactureren import mapping as ef
from koppel.connectors.factuursturen import mapping as fs
from koppel.connectors.factuursturen.connector import FactuursturenTarget
from koppel.connectors.moneybird import mapping as mb
from koppel.connectors.moneybird.config import MoneybirdSettings
from koppel.documents.model import Invoice
from koppel.documents.refunds import Refund, RefundLine, build_credit_note
from tests.connectors.test_target_contract import invoice_of

D = Decimal


def credit(invoice: Invoice, n: int = 1, reason: str = "Retour  ontvangen") -> Invoice:
    """The credit note of a refund of the invoice's first ``n`` lines (2 mugs at 21%, tea at 9%, ...)."""
    lines = invoice.lines[:n]
    refund = Refund(
        source="kmoshops",
        refund_id="55",
        order_id="1",
        created_at=datetime(2024, 5, 2, 10, tzinfo=UTC),
        currency="EUR",
        prices_include_vat=invoice.prices_include_vat,
        lines=tuple(
            RefundLine(x.description, x.quantity, x.gross if x.prices_include_vat else x.net, x.vat_rate)
            for x in lines
        ),
        total=sum((x.gross for x in lines), D(0)),
        reason=reason,
    )
    return build_credit_note(refund, invoice, invoice_number="F20240007", invoice_id="20240007")


def test_factuursturen_a_negative_invoice_naming_the_invoice_it_credits():
    note = credit(invoice_of(number="K500"))
    body = fs.credit_body(note, "12", debtor_prices_include_vat=True, settings=fs.FactuursturenSettings())
    assert body["reference"] == {
        "line1": "K500-CR55",
        "line2": "Creditfactuur voor factuur F20240007",
        "line3": "Retour ontvangen",
    }
    assert body["lines"] == [
        {"amount": "2", "description": "Mok Delfts blauw", "tax_rate": "21.00", "price": "-12.95"}
    ]
    assert (body["clientnr"], body["action"], body["sendmethod"]) == ("12", "send", "mail")
    assert body["sent"] == "2024-05-02" and body["alreadypaid"] == "full"


def test_factuursturen_a_credit_note_excl_vat_and_as_a_draft_in_english():
    note = credit(invoice_of(number="K501", priceincltax=False), n=2)
    settings = fs.FactuursturenSettings(document_status="draft", language="en")
    body = fs.credit_body(note, "12", debtor_prices_include_vat=False, settings=settings)
    assert [line["price"] for line in body["lines"]] == ["-12.95", "-7.49"]
    assert body["reference"]["line2"] == "Credit note for invoice F20240007"
    assert (body["action"], body["savename"]) == ("save", "K501-CR55")
    plan = FactuursturenTarget.planned_credit_requests(note, settings)
    assert [(p.method, p.path) for p in plan] == [
        ("GET", "search/invoices/all/K501-CR55"),
        ("GET", "search/invoices_saved/all/K501-CR55"),
        ("POST", "invoices"),
    ]


def test_eenvoudigfactureren_a_creditnote_document():
    note = credit(invoice_of(number="K600"), n=2)
    body = ef.credit_body(note, 7, ef.EenvoudigFacturerenSettings(invoice_number="order_number"))
    assert body["type"] == "creditnote" and "number" not in body
    assert (body["external_invoice_id"], body["reference"]) == ("K600-CR55", "K600-CR55")
    assert body["remarks"] == "Creditnota voor factuur F20240007: Retour ontvangen"
    assert [item["amount_with_tax"] for item in body["items"]] == ["-12.95", "-7.49"]
    assert [item["quantity"] for item in body["items"]] == ["2", "1"]
    assert body["payments"][0]["remaining_amount"] == "yes"


def test_moneybird_a_partial_credit_invoice_with_negative_amounts():
    note = credit(invoice_of(number="K700"), n=2)
    rates = {D("21"): "r21", D("9"): "r9"}
    body = mb.credit_invoice_body(note, "c1", rates, MoneybirdSettings())["sales_invoice"]
    assert (body["contact_id"], body["reference"], body["invoice_date"]) == ("c1", "K700-CR55", "2024-05-02")
    header, mugs, tea = body["details_attributes"]
    assert header == {
        "description": "Creditfactuur voor factuur F20240007: Retour ontvangen",
        "price": "0.00",
        "amount": "1",
        "tax_rate_id": "r21",
    }
    assert (mugs["amount"], mugs["price"], mugs["tax_rate_id"]) == ("-2", "12.95", "r21")
    assert (tea["amount"], tea["price"], tea["tax_rate_id"]) == ("-1", "7.49", "r9")
    assert mb.credit_update_body(note) == {
        "sales_invoice": {"reference": "K700-CR55", "invoice_date": "2024-05-02"}
    }
