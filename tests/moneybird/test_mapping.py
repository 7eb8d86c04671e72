"""The Moneybird bodies as pure functions: tax rates chosen by VAT percentage (0% by what the line is),
the sales and purchase invoice bodies, and the plan ``koppel preview`` shows per document status."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.connectors.moneybird import mapping
from koppel.connectors.moneybird.config import MoneybirdSettings
from koppel.connectors.moneybird.connector import MoneybirdTarget
from koppel.documents.model import build_invoice
from koppel.documents.purchases import PurchaseInvoice, PurchaseLine, Supplier
from tests.conftest import make_order

RATES = [
    {"id": "1", "name": "21% btw", "percentage": "21.0", "tax_rate_type": "sales_invoice", "active": True},
    {"id": "2", "name": "9% btw", "percentage": "9.0", "tax_rate_type": "sales_invoice", "active": True},
    {"id": "3", "name": "Btw verlegd (EU)", "percentage": "0.0", "tax_rate_type": "sales_invoice"},
    {"id": "4", "name": "Geen btw", "percentage": "0.0", "tax_rate_type": "sales_invoice"},
    {"id": "5", "name": "0% btw", "percentage": "0.0", "tax_rate_type": "sales_invoice"},
    {"id": "6", "name": "21% btw", "percentage": "21.0", "tax_rate_type": "purchase_invoice"},
    {"id": "7", "name": "6% oud", "percentage": "6.0", "tax_rate_type": "sales_invoice", "active": False},
]


def invoice_of(**overrides):
    return build_invoice(KmoShopsSource.parse_order(make_order(**overrides)))


@pytest.mark.parametrize(
    ("rate", "intra_community", "expected"),
    [
        (Decimal("21"), False, "1"),
        (Decimal("9.00"), False, "2"),
        (Decimal("0"), False, "5"),  # the plain 0%
        (Decimal("0"), True, "3"),  # an intra-community supply: reverse charge
        (None, False, "4"),  # an exempt line: no VAT
        (Decimal("6"), False, None),  # only an inactive one
    ],
)
def test_the_tax_rate_is_chosen_by_percentage_and_kind(rate, intra_community, expected):
    sales = mapping.usable_rates(RATES, mapping.SALES)
    assert mapping.choose_tax_rate(sales, rate, intra_community=intra_community) == expected


def test_purchase_rates_are_only_the_purchase_ones():
    assert [r["id"] for r in mapping.usable_rates(RATES, mapping.PURCHASES)] == ["6"]


def test_the_sales_invoice_is_the_order_with_a_tax_rate_id_per_line():
    invoice = invoice_of()
    settings = MoneybirdSettings(document_style_id="42", revenue_ledger_account_id="77")
    body = mapping.sales_invoice_body(invoice, "900", {Decimal("21.00"): "1", Decimal("9.00"): "2"}, settings)
    inner = body["sales_invoice"]
    assert (inner["contact_id"], inner["reference"], inner["document_style_id"]) == (
        "900",
        invoice.order_number,
        "42",
    )
    assert inner["prices_are_incl_tax"] is True and inner["currency"] == "EUR"
    assert inner["invoice_date"] == invoice.date.isoformat()
    assert inner["details_attributes"] == [
        {
            "description": "Mok Delfts blauw",
            "price": "12.95",
            "amount": "2",
            "tax_rate_id": "1",
            "ledger_account_id": "77",
        },
        {
            "description": "Thee, losse blad",
            "price": "7.49",
            "amount": "1",
            "tax_rate_id": "2",
            "ledger_account_id": "77",
        },
        {
            "description": "Verzendkosten",
            "price": "4.95",
            "amount": "1",
            "tax_rate_id": "1",
            "ledger_account_id": "77",
        },
    ]


def test_the_purchase_invoice_is_excl_vat_with_one_unit_per_line():
    invoice = PurchaseInvoice(
        reference="INV-1",
        date=date(2025, 3, 31),
        due_date=date(2025, 4, 14),
        currency="EUR",
        supplier=Supplier("bol.com b.v.", vat_number="NL 8167.34.236.B01"),
        lines=(
            PurchaseLine("Commissie", Decimal("12.40"), Decimal("21"), Decimal("2.60"), "55"),
            PurchaseLine("Verzendlabels", Decimal("6.95"), None),
        ),
    )
    body = mapping.purchase_invoice_body(invoice, "300", {Decimal("21"): "6", None: "8"}, MoneybirdSettings())
    inner = body["purchase_invoice"]
    assert inner["prices_are_incl_tax"] is False and inner["due_date"] == "2025-04-14"
    assert inner["details_attributes"] == [
        {
            "description": "Commissie",
            "price": "12.40",
            "amount": "1",
            "tax_rate_id": "6",
            "ledger_account_id": "55",
        },
        {"description": "Verzendlabels", "price": "6.95", "amount": "1", "tax_rate_id": "8"},
    ]
    assert mapping.supplier_body(invoice.supplier)["contact"]["tax_number"] == "NL816734236B01"


@pytest.mark.parametrize(
    ("status", "method", "payment"),
    [("draft", None, False), ("final", "Manual", True), ("final_email", "Email", True)],
)
def test_the_plan_sends_and_pays_as_the_document_status_says(status, method, payment):
    plan = MoneybirdTarget.planned_requests(invoice_of(), {"document_status": status})
    sends = [p for p in plan if p.path.endswith("/send_invoice.json")]
    assert [p.json["sales_invoice_sending"]["delivery_method"] for p in sends] == ([method] if method else [])
    assert any(p.path.endswith("/payments.json") for p in plan) is payment


def test_an_unpaid_order_or_payments_off_registers_no_payment():
    for invoice, settings in ((invoice_of(paid=False), {}), (invoice_of(), {"register_payments": False})):
        plan = MoneybirdTarget.planned_requests(invoice, settings)
        assert not any(p.path.endswith("/payments.json") for p in plan)


def test_ids_in_settings_must_be_ids():
    with pytest.raises(ValueError, match="document_style_id"):
        MoneybirdSettings(document_style_id="Standaard")
