"""Purchase invoices in the Moneybird sandbox through real HTTP: the supplier found by VAT number or name,
else created; the invoice booked once, excl. VAT, its lines on their ledger accounts with the purchase tax
rates (an exempt line on "Geen btw"); its attachment uploaded; found again by reference and supplier."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from koppel.connectors.errors import Rejected
from koppel.documents.purchases import Attachment, PurchaseInvoice, PurchaseLine, Supplier
from koppel.sandbox.pdf import text_pdf

BOL = Supplier(
    "bol.com b.v.",
    vat_number="NL816734236B01",
    company_number="32121206",
    street="Papendorpseweg 100",
    zipcode="3528 BJ",
    city="Utrecht",
    iban="NL32 INGB 0123 4567 89",
)


def ledger(moneybird, name: str) -> str:
    return next(a["id"] for a in moneybird.state()["ledger_accounts"] if a["name"] == name)


def purchase(moneybird, reference: str = "1234567890", supplier: Supplier = BOL) -> PurchaseInvoice:
    return PurchaseInvoice(
        reference=reference,
        date=date(2025, 3, 31),
        due_date=date(2025, 4, 14),
        currency="EUR",
        supplier=supplier,
        lines=(
            PurchaseLine(
                "Commissie maart",
                Decimal("120.00"),
                Decimal("21"),
                Decimal("25.20"),
                ledger(moneybird, "Kosten verkoopprovisie"),
                "COMMISSION",
            ),
            PurchaseLine(
                "Verzendlabels PostNL",
                Decimal("13.90"),
                None,
                Decimal("0"),
                ledger(moneybird, "Verzendkosten"),
                "SHIPPING_LABEL",
            ),
            PurchaseLine(
                "Sponsored products",
                Decimal("-5.00"),
                Decimal("21"),
                Decimal("-1.05"),
                ledger(moneybird, "Advertentiekosten"),
                "ADVERTISING",
            ),
        ),
        attachments=(
            Attachment("factuur-1234567890.pdf", "application/pdf", text_pdf([(12, "bol.com factuur")])),
        ),
    )


def test_the_target_books_purchases_and_lists_its_ledger_accounts(moneybird, connect_to):
    connector = connect_to()
    assert connector.books_purchases
    accounts = {a.name: a for a in connector.ledger_accounts()}
    assert {"Omzet", "Kosten verkoopprovisie", "Verzendkosten", "Advertentiekosten", "Te rubriceren"} <= set(
        accounts
    )
    assert (accounts["Verzendkosten"].code, accounts["Verzendkosten"].account_type) == ("4610", "expenses")


def test_a_purchase_invoice_is_booked_once_with_its_attachment(moneybird, connect_to):
    connector = connect_to()
    invoice = purchase(moneybird)
    assert connector.find_purchase_invoice(invoice) is None
    booked = connector.create_purchase_invoice(invoice)
    assert (booked.reference, booked.note) == ("1234567890", "")

    [stored] = moneybird.state()["purchase_invoices"]
    [supplier] = moneybird.clients
    assert supplier["tax_number"] == "NL816734236B01" and supplier["bank_account"] == "NL32INGB0123456789"
    assert (stored["id"], stored["contact_id"], stored["reference"]) == (
        booked.id,
        supplier["id"],
        "1234567890",
    )
    assert (stored["date"], stored["due_date"], stored["prices_are_incl_tax"]) == (
        "2025-03-31",
        "2025-04-14",
        False,
    )
    lines = [
        (d["description"], d["price"], d["tax_rate_id"], d["ledger_account_id"]) for d in stored["details"]
    ]
    assert lines == [
        (
            "Commissie maart",
            "120.00",
            moneybird.tax_rate_id("21% btw", "purchase_invoice"),
            ledger(moneybird, "Kosten verkoopprovisie"),
        ),
        (
            "Verzendlabels PostNL",
            "13.90",
            moneybird.tax_rate_id("Geen btw (vrijgesteld)", "purchase_invoice"),
            ledger(moneybird, "Verzendkosten"),
        ),
        (
            "Sponsored products",
            "-5.00",
            moneybird.tax_rate_id("21% btw", "purchase_invoice"),
            ledger(moneybird, "Advertentiekosten"),
        ),
    ]
    assert Decimal(stored["total_price_incl_tax"]) == invoice.gross == Decimal("153.05")
    [attachment] = stored["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == (
        "factuur-1234567890.pdf",
        "application/pdf",
    )
    assert attachment["size"] == len(invoice.attachments[0].data)

    found = connector.find_purchase_invoice(invoice)
    assert found is not None and found.id == booked.id
    # Another invoice of the same supplier is not mistaken for it; the supplier is reused.
    assert connector.find_purchase_invoice(purchase(moneybird, "1234567891")) is None
    connector.create_purchase_invoice(purchase(moneybird, "1234567891"))
    assert len(moneybird.clients) == 1 and len(moneybird.state()["purchase_invoices"]) == 2


def test_a_supplier_without_vat_number_is_found_by_name(moneybird, connect_to):
    connector = connect_to()
    supplier = Supplier("PostNL Pakketten")
    first = purchase(moneybird, "P-1", supplier)
    connector.create_purchase_invoice(first)
    assert connector.find_purchase_invoice(first) is not None
    connector.create_purchase_invoice(purchase(moneybird, "P-2", Supplier("postnl pakketten")))
    assert len(moneybird.clients) == 1


def test_moneybird_refuses_the_same_reference_twice(moneybird, connect_to):
    connector = connect_to()
    connector.create_purchase_invoice(purchase(moneybird))
    with pytest.raises(Rejected, match="reference has already been taken"):
        connector.create_purchase_invoice(purchase(moneybird))


def test_a_failed_attachment_is_a_note(moneybird, connect_to):
    moneybird.knobs(fail_attachments_next=1)
    booked = connect_to().create_purchase_invoice(purchase(moneybird))
    assert "attaching factuur-1234567890.pdf" in booked.note and "attach it in Moneybird" in booked.note
    assert moneybird.state()["purchase_invoices"][0]["attachments"] == []
