"""A gift card redeemed is a payment: on the canonical invoice, in each target's body and in the UBL
e-invoice the full sale stays the invoice and the gift card's part is what is already paid."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from lxml import etree

from koppel.connectors.eenvoudigfactureren.mapping import EenvoudigFacturerenSettings
from koppel.connectors.eenvoudigfactureren.mapping import invoice_body as ef_body
from koppel.connectors.factuursturen.mapping import FactuursturenSettings
from koppel.connectors.factuursturen.mapping import invoice_body as fs_body
from koppel.connectors.moneybird.mapping import payment_bodies
from koppel.connectors.shopify import mapping as shopify
from koppel.connectors.woocommerce.mapping import parse_order
from koppel.documents.checks import invoice_for
from koppel.documents.model import Invoice, prepaid_note
from koppel.documents.ubl import Seller, invoice_ubl
from tests.conftest import SHARED, shared_file
from tests.documents.einvoice import NS, SELLER_JSON, expected_fatal, validate

WOO_GIFT_CARD = SHARED / "specs" / "external-orders" / "woocommerce-ios-459-gift-card.json"


def woo_invoice(**changes: object) -> Invoice:
    if not WOO_GIFT_CARD.exists():
        pytest.skip("../shared/specs/external-orders is not available")
    data = json.loads(WOO_GIFT_CARD.read_text(encoding="utf-8"))
    return invoice_for(parse_order({**data, **changes}), "NL")


UNPAID = {"status": "on-hold", "date_paid": None, "date_paid_gmt": None}


def test_the_invoice_is_the_full_sale_with_the_gift_cards_prepaid() -> None:
    invoice = woo_invoice()
    assert (invoice.gross, invoice.prepaid_amount, invoice.payable) == (
        Decimal("28.00"),
        Decimal("24.00"),
        Decimal("4.00"),  # WooCommerce's own total
    )
    assert [p.description for p in invoice.prepaid] == [
        "Cadeaubon SU9F-MGB5-KS5V-EZFT",
        "Cadeaubon NZR8-BMP8-XJZ2-ZKS9",
    ]
    assert prepaid_note(invoice) == "USD 24.00 paid with 2 gift cards"


def test_factuursturen_gets_the_gift_card_part_as_already_paid() -> None:
    settings = FactuursturenSettings()
    unpaid = fs_body(woo_invoice(**UNPAID), "7", debtor_prices_include_vat=False, settings=settings)
    assert (unpaid["alreadypaid"], unpaid["alreadypaidmethod"]) == ("24.00", "Cadeaubon")
    assert unpaid["reference"]["line3"] == "Betaald met cadeaubon: 24.00"
    paid = fs_body(woo_invoice(), "7", debtor_prices_include_vat=False, settings=settings)
    assert paid["alreadypaid"] == "full"


def test_eenvoudigfactureren_and_moneybird_register_each_card_then_the_rest() -> None:
    invoice = woo_invoice()
    body = ef_body(invoice, 7, EenvoudigFacturerenSettings())
    assert [(p.get("amount"), p.get("remaining_amount")) for p in body["payments"]] == [
        ("20.00", None),
        ("4.00", None),
        (None, "yes"),
    ]
    assert [b["payment"]["price"] for b in payment_bodies(invoice)] == ["20.00", "4.00", "4.00"]
    assert [b["payment"]["price"] for b in payment_bodies(woo_invoice(**UNPAID))] == ["20.00", "4.00"]


def test_the_e_invoice_has_the_gift_cards_prepaid_and_the_rest_payable() -> None:
    invoice = woo_invoice(**UNPAID)
    document = invoice_ubl(invoice, Seller.from_json(SELLER_JSON))
    [total] = etree.fromstring(document).xpath("cac:LegalMonetaryTotal", namespaces=NS)
    amounts = {etree.QName(e).localname: e.text for e in total}
    assert (amounts["TaxInclusiveAmount"], amounts["PrepaidAmount"], amounts["PayableAmount"]) == (
        "28.00",
        "24.00",
        "4.00",
    )
    assert validate(document) == expected_fatal(invoice)


def test_a_shopify_gift_card_is_read_from_the_orders_transactions() -> None:
    order = json.loads(shared_file("specs/shopify/order-rest-fixture.json").read_text(encoding="utf-8"))
    order = shopify.unwrap(order)
    order = {**order, "payment_gateway_names": ["gift_card", "shopify_payments"]}
    assert shopify.needs_transactions(order)
    order["transactions"] = [
        {
            "kind": "sale",
            "status": "success",
            "gateway": "gift_card",
            "amount": "25.00",
            "receipt": {"gift_card_id": 1, "gift_card_last_characters": "x9k2"},
        },
        {"kind": "sale", "status": "failure", "gateway": "gift_card", "amount": "5.00", "receipt": {}},
        {"kind": "sale", "status": "success", "gateway": "shopify_payments", "amount": "1.00"},
    ]
    assert not shopify.needs_transactions(order)
    parsed = shopify.parse_order(order)
    assert [(p.amount, p.description) for p in parsed.prepaid] == [(Decimal("25.00"), "Cadeaubon •••• x9k2")]
    assert parsed.total == Decimal(order["total_price"])  # Shopify's total is the full sale
