"""The seller's details, and the invoices the golden samples do not show: exempt (E) and not subject (O)
sales, a credit note of shipping only, negative fees, the rounding line, large quantities incl. VAT, paid
invoices, an order without country; and the contradictions that cannot be an e-invoice."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from koppel.documents.model import Invoice, LineKind, OrderLine, Party, build_invoice
from koppel.documents.refunds import Refund, RefundLine, build_credit_note
from koppel.documents.ubl import Seller, SellerInvalid, UblError, invoice_ubl, vat_id
from tests.documents.einvoice import (
    BUYER_ENDPOINT_RULE,
    SELLER_JSON,
    assert_totals_are_the_invoices,
    endpoints,
    essentials,
    expected_fatal,
    validate_many,
)
from tests.documents.test_ubl import ISSUED, KLANT_NL, domestic, order, product

D = Decimal
SELLER = Seller.from_json(SELLER_JSON)
BE_SELLER = {
    **SELLER_JSON,
    "vat_number": "BE0403019261",
    "coc_number": "",
    "country": "BE",
    "city": "Brussel",
    "postal_code": "1000",
    "street": "Wetstraat 16",
    "iban": "BE71 0961 2345 6769",
}


# --- the seller ------------------------------------------------------------------------------------------


def test_the_seller_is_read_and_normalized() -> None:
    seller = Seller.from_json(
        {**SELLER_JSON, "vat_number": "nl 0044.95445.b01", "iban": "nl91 abna 0417 1643 00", "country": "NL"}
    )
    assert (seller.vat_number, seller.iban, seller.coc_number) == (
        "NL004495445B01",
        "NL91ABNA0417164300",
        "12345678",
    )


def test_a_belgian_sellers_enterprise_number_is_its_vat_number() -> None:
    seller = Seller.from_json(BE_SELLER)
    assert (seller.country, seller.coc_number) == ("BE", "0403019261")
    document = invoice_ubl(domestic(), seller)
    assert endpoints(document)["seller"] == ("9925", "BE0403019261")
    assert b'<cbc:CompanyID schemeID="0208">0403019261</cbc:CompanyID>' in document


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iban": "NL91ABNA0417164301"}, "iban: 'NL91ABNA0417164301' is not a valid IBAN"),
        ({"vat_number": "NL123456789B01"}, "vat_number: 'NL123456789B01' is not a valid EU VAT number"),
        ({"vat_number": "BE0403019261"}, "is not a VAT number of Netherlands"),
        ({"coc_number": ""}, "coc_number: a Dutch seller needs its KvK number (8 digits)"),
        ({"coc_number": "1234"}, "coc_number: a Dutch seller needs its KvK number"),
        ({"country": "Atlantis"}, "country: 'Atlantis' is not a country"),
        ({"city": "  "}, "city: missing"),
        ({"name": 12}, "name: expected a string, got int"),
        ({"kvk": "12345678"}, "unknown field 'kvk'"),
        ({"vat_number": "DK13585628", "country": "DK"}, "no electronic address scheme for VAT numbers of DK"),
    ],
)
def test_a_wrong_seller_field_is_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SellerInvalid, match=r"^seller: ") as raised:
        Seller.from_json({**SELLER_JSON, **changes})
    assert message in str(raised.value)


def test_every_missing_field_is_named_at_once() -> None:
    with pytest.raises(SellerInvalid) as raised:
        Seller.from_json({"name": "Shop"})
    for name in ("vat_number", "street", "postal_code", "city", "country", "iban"):
        assert f"{name}: missing" in str(raised.value)
    with pytest.raises(SellerInvalid, match="must be a JSON object"):
        Seller.from_json(["not", "an", "object"])


def test_vat_ids_carry_their_country_prefix() -> None:
    assert (vat_id("gr 094259216"), vat_id("BE403019261"), vat_id("DE 123.456.789")) == (
        "EL094259216",
        "BE0403019261",
        "DE123456789",
    )


# --- invoices the samples do not show ---------------------------------------------------------------------


def exempt() -> Invoice:
    lines = [product("Cursus boekhouden", 1, "250.00", "0", "E")]
    invoice = build_invoice(order("WEB-E", KLANT_NL, lines, total="250.00"))
    return replace(invoice, vat_note="Vrijgesteld van btw, art. 11 lid 1 onderdeel o Wet OB 1968")


def not_subject() -> Invoice:
    return build_invoice(order("WEB-O", KLANT_NL, [product("Donatie", 1, "25.00", "0", "O")], total="25.00"))


def shipping_refund() -> Invoice:
    refund = Refund(
        source="kmoshops",
        refund_id="7",
        order_id="WEB-2026-0001",
        created_at=ISSUED,
        currency="EUR",
        prices_include_vat=True,
        lines=(RefundLine("Verzendkosten", D(1), D("6.05"), D(21), LineKind.SHIPPING),),
        total=D("6.05"),
    )
    return build_credit_note(refund, domestic(), invoice_number="", invoice_id="inv-81")


def negative_fee_and_rounding() -> Invoice:
    lines = [
        product("Mok", 3, "12.95", "21"),
        OrderLine("Korting als kosten", D(1), D("-2.50"), D(21), LineKind.FEE),
    ]
    placed = order("WEB-F", KLANT_NL, lines, incl=True, total="36.36")
    return build_invoice(placed, rounding_tolerance=D("0.01"))


def many_incl_vat() -> Invoice:
    lines = [product("Schroef", 2500, "0.19", "21"), product("Boek", 999, "9.99", "9")]
    return replace(build_invoice(order("WEB-Q", KLANT_NL, lines, incl=True, total="10455.01")), paid=True)


def without_country() -> Invoice:
    customer = Party(first_name="Anoniem", street="Dorpsstraat 1", zipcode="1234 AB", city="Ergens")
    lines = [product("Mok", 1, "12.95", "21")]
    return build_invoice(order("WEB-X", customer, lines, incl=True, total="12.95"))


CASES = {
    "exempt": exempt,
    "not subject": not_subject,
    "shipping refund": shipping_refund,
    "negative fee and rounding": negative_fee_and_rounding,
    "many incl. VAT": many_incl_vat,
    "without country": without_country,
}


@pytest.fixture(scope="module")
def made() -> dict[str, tuple[Invoice, bytes]]:
    return {name: (invoice := make(), invoice_ubl(invoice, SELLER)) for name, make in CASES.items()}


@pytest.fixture(scope="module")
def verdicts(made: dict[str, tuple[Invoice, bytes]]) -> dict[str, list[str]]:
    return dict(zip(made, validate_many([document for _, document in made.values()]), strict=True))


@pytest.mark.parametrize("name", CASES)
def test_the_case_is_a_valid_e_invoice_with_the_invoices_totals(
    name: str, made: dict[str, tuple[Invoice, bytes]], verdicts: dict[str, list[str]]
) -> None:
    invoice, document = made[name]
    assert_totals_are_the_invoices(document, invoice)
    assert verdicts[name] == expected_fatal(invoice)


def test_an_exempt_sale_states_the_vat_note_as_its_reason(made: dict[str, tuple[Invoice, bytes]]) -> None:
    [subtotal] = essentials(made["exempt"][1])["subtotals"]
    assert subtotal == ("E", D(0), D("250.00"), D("0.00"), None, exempt().vat_note)


def test_a_sale_not_subject_to_vat_has_no_vat_numbers(made: dict[str, tuple[Invoice, bytes]]) -> None:
    found = essentials(made["not subject"][1])
    assert (found["seller_vat"], found["buyer_vat"]) == ([], [])
    assert found["subtotals"] == [("O", None, D("25.00"), D("0.00"), "VATEX-EU-O", found["subtotals"][0][5])]


def test_a_credit_note_of_shipping_only_books_it_as_a_line(made: dict[str, tuple[Invoice, bytes]]) -> None:
    found = essentials(made["shipping refund"][1])
    assert (found["kind"], found["credits"], found["charges"]) == ("CreditNote", ["inv-81"], [])
    assert found["lines"] == [("Verzendkosten", D(1), D(5), D("5.00"), "S", D(21))]


def test_a_negative_line_has_a_negative_quantity_and_a_positive_price(
    made: dict[str, tuple[Invoice, bytes]],
) -> None:
    invoice, document = made["negative fee and rounding"]
    assert invoice.lines[-1].kind == LineKind.ROUNDING and invoice.rounding_difference == D("0.01")
    lines = essentials(document)["lines"]
    # The net unit price keeps four decimals (as the targets get it): -1 × 2.0661 is -2.07 within a cent.
    assert lines[1] == ("Korting als kosten", D(-1), D("2.0661"), D("-2.07"), "S", D(21))
    assert lines[2] == ("Afrondingsverschil", D(1), D("0.01"), D("0.01"), "Z", D(0))


def test_a_paid_invoice_has_nothing_left_to_pay(made: dict[str, tuple[Invoice, bytes]]) -> None:
    totals = essentials(made["many incl. VAT"][1])["totals"]
    assert (totals["PrepaidAmount"], totals["PayableAmount"]) == (D("10455.01"), D("0.00"))


def test_an_order_without_country_is_billed_in_the_sellers(made: dict[str, tuple[Invoice, bytes]]) -> None:
    assert essentials(made["without country"][1])["buyer_country"] == "NL"
    assert expected_fatal(made["without country"][0]) == [BUYER_ENDPOINT_RULE]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (product("Koffiemachine", 1, "50.00", "21", "K"), "category K cannot carry VAT"),
        (product("Koffiemachine", 1, "50.00", "0", "S"), "category S needs a VAT rate above 0%"),
    ],
)
def test_a_category_that_contradicts_the_rate_is_refused(line: OrderLine, message: str) -> None:
    invoice = build_invoice(order("WEB-BAD", KLANT_NL, [line], total="60.50"))
    with pytest.raises(UblError, match=message):
        invoice_ubl(invoice, SELLER)
