"""Koppel's invoices as UBL 2.1: the golden samples of ../shared/einvoice/samples reproduced from orders and
invoices (the same totals, VAT categories, exemption reasons, parties), each valid for EN 16931 and Peppol
BIS Billing 3.0 (a consumer's invoice for all but the buyer's electronic address)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from koppel.documents.model import Invoice, LineKind, Order, OrderLine, Party, build_invoice
from koppel.documents.refunds import Refund, RefundLine, build_credit_note
from koppel.documents.ubl import Seller, invoice_ubl
from tests.documents.einvoice import (
    BUYER_ENDPOINT_RULE,
    SAMPLES,
    SELLER_JSON,
    assert_totals_are_the_invoices,
    delivery_country,
    endpoints,
    essentials,
    validate_many,
)

D = Decimal
ISSUED = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
SELLER = Seller.from_json(SELLER_JSON)
KLANT_NL = Party(
    company="Klant B.V.",
    street="Coolsingel",
    house_number="40",
    zipcode="3011 AD",
    city="Rotterdam",
    country_raw="NL",
    vat_number="NL000099998B57",
    company_number="87654321",
)
KLANT_BE = Party(
    company="Klant BV",
    street="Wetstraat",
    house_number="16",
    zipcode="1000",
    city="Brussel",
    country_raw="België",
    vat_number="BE 0403.019.261",
)
KUNDE_CH = Party(
    company="Kunde AG",
    street="Bahnhofstrasse",
    house_number="1",
    zipcode="8001",
    city="Zuerich",
    country_raw="CH",
    company_number="CHE-116.281.710",
)
CONSUMER_DE = Party(
    first_name="Max",
    last_name="Mustermann",
    street="Unter den Linden",
    house_number="5",
    zipcode="10117",
    city="Berlin",
    country_raw="Duitsland",
    email="max@example.de",
)


def order(
    number: str,
    customer: Party,
    lines: list[OrderLine],
    *,
    shipping: OrderLine | None = None,
    incl: bool = False,
    total: str,
) -> Order:
    return Order(
        source="kmoshops",
        source_id=number,
        number=number,
        created_at=ISSUED,
        status="paid",
        currency="EUR",
        prices_include_vat=incl,
        payment_method="bank",
        paid=False,
        customer=customer,
        lines=tuple(lines),
        shipping=shipping,
        total=D(total),
    )


def product(name: str, quantity: int, price: str, rate: str, category: str = "") -> OrderLine:
    return OrderLine(name, D(quantity), D(price), D(rate), vat_category=category)


def domestic(*, incl: bool = False) -> Invoice:
    """S at 21% and 9% with shipping; incl. VAT the same amounts (60.50 is 50.00 + 21%)."""
    prices = ("60.50", "10.90", "6.05") if incl else ("50.00", "10.00", "5.00")
    lines = [product("Koffiemachine", 2, prices[0], "21"), product("Koffiebonen 1 kg", 3, prices[1], "9")]
    shipping = OrderLine("Verzendkosten", D(1), D(prices[2]), D(21), LineKind.SHIPPING)
    placed = order("WEB-2026-0001", KLANT_NL, lines, shipping=shipping, incl=incl, total="159.75")
    return build_invoice(placed)


def credit_note() -> Invoice:
    refund = Refund(
        source="kmoshops",
        refund_id="1",
        order_id="WEB-2026-0001",
        created_at=ISSUED,
        currency="EUR",
        prices_include_vat=True,
        lines=(RefundLine("Koffiemachine (retour)", D(1), D("60.50"), D(21)),),
        total=D("60.50"),
        reason="Retour",
    )
    return build_credit_note(refund, domestic(), invoice_number="2026-0001")


def intra_community() -> Invoice:
    lines = [product("Koffiemachine", 2, "50.00", "0", "K")]
    return build_invoice(order("WEB-2026-0002", KLANT_BE, lines, total="100.00"), intra_community=True)


def export() -> Invoice:
    lines = [product("Koffiemachine", 2, "50.00", "0", "G")]
    return build_invoice(order("WEB-2026-0003", KUNDE_CH, lines, total="100.00"))


def reverse_charge() -> Invoice:
    lines = [product("Installatie en configuratie", 2, "100.00", "0", "AE")]
    invoice = build_invoice(order("WEB-2026-0004", KLANT_BE, lines, total="200.00"))
    return replace(invoice, vat_note="Btw verlegd / Reverse charge")


def oss_b2c() -> Invoice:
    lines = [product("Koffiemachine", 2, "50.00", "19", "S")]
    return build_invoice(order("WEB-2026-0005", CONSUMER_DE, lines, total="119.00"))


#: sample file → (the invoice that makes it, its number, the buyer's endpoint Koppel gives it).
GOLDEN: dict[str, tuple[Callable[[], Invoice], str, tuple[str, str] | None]] = {
    "nl-domestic-S-21-9.xml": (domestic, "2026-0001", ("9944", "NL000099998B57")),
    "nl-domestic-creditnote-S.xml": (credit_note, "2026-C001", ("9944", "NL000099998B57")),
    "nl-be-icl-K.xml": (intra_community, "2026-0002", ("9925", "BE0403019261")),
    "nl-ch-export-G.xml": (export, "2026-0003", ("0183", "CHE116281710")),
    "nl-be-reverse-AE.xml": (reverse_charge, "2026-0004", ("9925", "BE0403019261")),
    "nl-de-oss-b2c-S-19.xml": (oss_b2c, "2026-0005", None),
}


@pytest.fixture(scope="module")
def documents() -> dict[str, bytes]:
    made = {name: invoice_ubl(make(), SELLER, number=number) for name, (make, number, _) in GOLDEN.items()}
    made["incl. VAT"] = invoice_ubl(domestic(incl=True), SELLER, number="2026-0001")
    return made


@pytest.fixture(scope="module")
def verdicts(documents: dict[str, bytes]) -> dict[str, list[str]]:
    """The fatal rules of every document, validated in one run."""
    return dict(zip(documents, validate_many(list(documents.values())), strict=True))


def golden(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"the golden sample {path} is not available (../shared is absent)")
    return path.read_bytes()


@pytest.mark.parametrize("name", GOLDEN)
def test_the_golden_sample_is_reproduced(name: str, documents: dict[str, bytes]) -> None:
    ours, theirs = essentials(documents[name]), essentials(golden(name))
    assert ours == theirs
    make, _, buyer = GOLDEN[name]
    assert endpoints(documents[name]) == {"seller": ("9944", "NL004495445B01"), "buyer": buyer}
    assert_totals_are_the_invoices(documents[name], make())
    if (country := delivery_country(golden(name))) is not None:
        assert delivery_country(documents[name]) == country


@pytest.mark.parametrize("name", GOLDEN)
def test_the_golden_cases_are_valid(name: str, verdicts: dict[str, list[str]]) -> None:
    # The OSS sale is to a consumer: no Peppol endpoint, the document is EN 16931 and not Peppol.
    expected = [BUYER_ENDPOINT_RULE] if name == "nl-de-oss-b2c-S-19.xml" else []
    assert verdicts[name] == expected


def test_the_golden_samples_themselves_pass_as_the_tests_expect() -> None:
    verdicts = validate_many([golden(name) for name in GOLDEN])
    assert verdicts == [[BUYER_ENDPOINT_RULE] if "b2c" in name else [] for name in GOLDEN]


def test_prices_incl_vat_give_the_same_document(
    documents: dict[str, bytes], verdicts: dict[str, list[str]]
) -> None:
    assert essentials(documents["incl. VAT"]) == essentials(documents["nl-domestic-S-21-9.xml"])
    assert verdicts["incl. VAT"] == []


def test_a_credit_note_references_the_invoice_with_positive_amounts(documents: dict[str, bytes]) -> None:
    found = essentials(documents["nl-domestic-creditnote-S.xml"])
    assert (found["kind"], found["type"], found["credits"]) == ("CreditNote", "381", ["2026-0001"])
    assert found["totals"]["PayableAmount"] == D("60.50")
    assert b"<cbc:Note>Retour</cbc:Note>" in documents["nl-domestic-creditnote-S.xml"]


def test_the_vat_note_is_the_exemption_reason(documents: dict[str, bytes]) -> None:
    [subtotal] = essentials(documents["nl-be-reverse-AE.xml"])["subtotals"]
    assert subtotal[4:] == ("VATEX-EU-AE", "Btw verlegd / Reverse charge")
