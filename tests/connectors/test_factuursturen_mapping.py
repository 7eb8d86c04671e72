"""The manual's "Field-level specification Factuursturen", field by field, for real orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from koppel.connectors.factuursturen import mapping
from koppel.connectors.factuursturen.connector import NEW_DEBTOR, NEW_INVOICE, FactuursturenTarget
from koppel.connectors.factuursturen.mapping import FactuursturenSettings, country_name, phone_number
from koppel.connectors.kmoshops.mapping import parse_order
from koppel.documents.model import Invoice, build_invoice
from koppel.documents.vat import is_intra_community_supply

D = Decimal


def invoice_of(payload: dict[str, Any], shop_country: str = "NL") -> Invoice:
    order = parse_order(payload)
    return build_invoice(order, intra_community=is_intra_community_supply(order, shop_country))


def settings(**kw: Any) -> FactuursturenSettings:
    return FactuursturenSettings(**kw)


def debtor(payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return mapping.debtor_body(invoice_of(payload), settings(**kw))


def invoice_body(payload: dict[str, Any], *, intax: bool | None = None, **kw: Any) -> dict[str, Any]:
    invoice = invoice_of(payload)
    include = invoice.prices_include_vat if intax is None else intax
    return mapping.invoice_body(invoice, "647", debtor_prices_include_vat=include, settings=settings(**kw))


def customer(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**payload, "customer": {**payload["customer"], **fields}}


def icp_order() -> dict[str, Any]:
    """A Belgian bakery buys an oven from a Dutch shop, 0% with its VAT number, prices excl. VAT."""
    return {
        "id": 2024101,
        "number": "2024101",
        "created_at": "2024-10-01T11:00:00+02:00",
        "status": "paid",
        "priceincltax": False,
        "payment_method": "",
        "paid": False,
        "customer": {
            "firstname": "Pieter",
            "lastname": "Claes",
            "company": "Bakkerij Claes BV",
            "address1": "Meir",
            "house_number": "44",
            "zipcode": "2000",
            "city": "Antwerpen",
            "country": "BE",
            "email": "pieter@claes.be",
            "vatnumber": "be 0403 019 261",
        },
        "lines": [{"description": "Oven", "amount": 1, "price": "1250.00", "tax_rate": "0.00"}],
        "shipping": {"description": "Transport", "price": "45.00", "tax_rate": "0.00"},
        "total": "1295.00",
    }


# --- the debtor (POST clients) -------------------------------------------------------------------------


def test_debtor_of_the_example_order_field_by_field(example: dict[str, Any]) -> None:
    assert debtor(example) == {
        "contact": "Karin de Wit",
        "showcontact": True,
        "company": "Bakery De Witte",
        "address": "Stationstraat 12",
        "zipcode": "1000 AA",
        "city": "Amsterdam",
        "country": "Nederland",
        "phone": "0201234567",
        "mobile": "0632281625",
        "email": "info@example.nl",
        "bankcode": "",
        "taxnumber": "",
        "tax_shifted": False,
        "sendmethod": "mail",
        "paymentmethod": "bank",
        "mailintro": "Geachte Karin de Wit,",
        "reference": {"line1": "Bedankt voor uw bestelling", "line2": "", "line3": ""},
        "notes_on_invoice": False,
        "tax_type": "intax",
    }


@pytest.mark.parametrize(
    ("address1", "address2", "house_number", "address"),
    [
        ("Stationstraat", "", "12", "Stationstraat 12"),
        ("Kerkstraat", "bus 3", "5", "Kerkstraat bus 3 5"),
        ("Kerkstraat 5", "", "", "Kerkstraat 5"),
        ("", "", "", ""),
    ],
)
def test_debtor_address_leaves_empty_parts_out(
    example: dict[str, Any], address1: str, address2: str, house_number: str, address: str
) -> None:
    payload = customer(example, address1=address1, address2=address2, house_number=house_number)
    assert debtor(payload)["address"] == address


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("NL", "Nederland"),
        ("NLD", "Nederland"),
        ("nl", "Nederland"),
        ("", "Nederland"),
        ("BE", "België"),
        ("BEL", "België"),
        ("DE", "Duitsland"),
        ("EL", "Griekenland"),
        ("Belgium", "Belgium"),
        ("Deutschland", "Deutschland"),
        ("XX", "XX"),
    ],
)
def test_debtor_country(example: dict[str, Any], raw: str, name: str) -> None:
    assert debtor(customer(example, country=raw))["country"] == name
    assert country_name(raw) == name


def test_debtor_tax_type_follows_priceincltax(example: dict[str, Any]) -> None:
    assert debtor(example)["tax_type"] == "intax"
    assert debtor({**example, "priceincltax": False})["tax_type"] == "extax"


def test_debtor_sendmethod(example: dict[str, Any]) -> None:
    assert debtor(example)["sendmethod"] == "mail"
    assert debtor(example, send_invoice="manual")["sendmethod"] == "mail"
    assert debtor(example, send_invoice="email")["sendmethod"] == "email"


def test_debtor_in_english(example: dict[str, Any]) -> None:
    body = debtor(example, language="en")
    assert body["mailintro"] == "Dear Karin de Wit,"
    assert body["reference"]["line1"] == "Thank you for your order"


def test_debtor_texts_from_the_settings(example: dict[str, Any]) -> None:
    body = debtor(example, mailintro="Beste {first_name},", client_reference="Klant via de webshop")
    assert body["mailintro"] == "Beste Karin,"
    assert body["reference"]["line1"] == "Klant via de webshop"


def test_mailintro_without_a_first_name(example: dict[str, Any]) -> None:
    assert debtor(customer(example, firstname=""))["mailintro"] == "Geachte de Wit,"


def test_debtor_taxnumber_is_the_vat_number() -> None:
    body = mapping.debtor_body(invoice_of(icp_order()), settings())
    assert body["taxnumber"] == "BE0403019261"


def test_icp_order_with_valid_foreign_vat_number_is_tax_shifted() -> None:
    invoice = invoice_of(icp_order())
    assert invoice.intra_community
    body = mapping.debtor_body(invoice, settings())
    assert (body["tax_shifted"], body["tax_type"], body["country"]) == (True, "extax", "België")


def test_foreign_company_charged_vat_is_not_tax_shifted() -> None:
    payload = icp_order()
    payload["lines"][0]["tax_rate"] = "21.00"
    assert mapping.debtor_body(invoice_of(payload), settings())["tax_shifted"] is False


def test_domestic_company_at_zero_percent_is_not_tax_shifted() -> None:
    payload = customer(icp_order(), country="NL", vatnumber="NL004495445B01")
    assert mapping.debtor_body(invoice_of(payload), settings())["tax_shifted"] is False


def test_same_order_is_domestic_for_a_belgian_shop() -> None:
    assert mapping.debtor_body(invoice_of(icp_order(), shop_country="BE"), settings())["tax_shifted"] is False


def test_long_values_are_cut_to_the_field_lengths(example: dict[str, Any]) -> None:
    payload = customer(
        example,
        firstname="Maximiliaan-Alexander",
        lastname="van der Hoeven-Vandenbroucke-de Ridder",
        company="Koninklijke Bakkerij en Banketbakkerij De Witte en Zonen BV",
        address1="Burgemeester van Nispen tot Sevenaerstraat",
        address2="achterom, tweede verdieping",
        city="Sint-Michielsgestel-aan-de-Dommel-en-de-Aa-en-nog-wat",
        email="k@example.nl",
    )
    body = debtor(payload)
    assert body["contact"] == "Maximiliaan-Alexander van der Hoeven-Vandenbroucke"
    assert len(body["contact"]) == 50
    assert body["company"] == "Koninklijke Bakkerij en Banketbakkerij De Witte en"
    assert len(body["address"]) == 50
    assert body["address"].startswith("Burgemeester van Nispen tot Sevenaerstraat achter")
    assert len(body["city"]) == 50
    assert body["email"] == "k@example.nl"  # short values are untouched
    assert len(body["mailintro"]) <= 128


def test_long_mailintro_is_cut_to_128(example: dict[str, Any]) -> None:
    body = debtor(example, mailintro="Beste {first_name} " + "x" * 200)
    assert len(body["mailintro"]) == 128
    assert body["mailintro"].startswith("Beste Karin xxx")


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("+31 20 123 4567", "+31201234567"),
        ("+32 470 12 34 56", "+32470123456"),
        ("+49 (30) 1234-5678", "+493012345678"),
        ("020-1234567", "0201234567"),
        ("06.32.28.16.25", "0632281625"),
        ("", ""),
    ],
)
def test_phone_numbers_lose_their_spaces(example: dict[str, Any], raw: str, sent: str) -> None:
    body = debtor(customer(example, telnr=raw, mobile=raw))
    assert body["phone"] == sent
    assert body["mobile"] == sent
    assert len(body["phone"]) <= 13


def test_phone_number_function_keeps_digits_and_plus() -> None:
    assert phone_number("+31 (6) 3228 1625") == "+31632281625"


def test_phone_number_longer_than_13_is_cut() -> None:
    assert phone_number("+31 6 3228 1625 22") == "+3163228162522"
    assert debtor_phone("+31 6 3228 1625 22") == "+316322816252"


def test_phone_number_drops_the_trunk_zero_in_brackets() -> None:
    assert phone_number("+31 (0)20 123 4567") == "+31201234567"
    assert phone_number("+32 (0)470 12 34 56") == "+32470123456"


def debtor_phone(raw: str) -> str:
    order = {**icp_order(), "customer": {**icp_order()["customer"], "telnr": raw}}
    return mapping.debtor_body(invoice_of(order), settings())["phone"]


def test_settings_refuse_unknown_values() -> None:
    with pytest.raises(ValidationError):
        FactuursturenSettings(send_invoice="debtorsend")
    with pytest.raises(ValidationError):
        FactuursturenSettings(language="fr")
    with pytest.raises(ValidationError):
        FactuursturenSettings(unknown="x")


# --- the invoice (POST invoices) -----------------------------------------------------------------------


def test_invoice_of_the_example_order_field_by_field(example: dict[str, Any]) -> None:
    assert invoice_body(example) == {
        "clientnr": "647",
        "action": "send",
        "sendmethod": "mail",
        "sent": "2023-02-13",
        "reference": {"line1": "367439", "line2": "Betaalmethode: Credit card", "line3": ""},
        "lines": [
            {"amount": "1", "description": "Bed Boxspring", "tax_rate": "21.00", "price": "249.00"},
            {"amount": "2", "description": "Hoofdkussen", "tax_rate": "21.00", "price": "19.99"},
            {"amount": "1", "description": "Slaapgids (boek)", "tax_rate": "9.00", "price": "12.50"},
            {"amount": "1", "description": "Verzendkosten", "tax_rate": "21.00", "price": "6.95"},
        ],
        "alreadypaid": "full",
        "alreadypaidmethod": "Credit card",
    }


def test_invoice_lines_for_an_extax_debtor_are_converted_excl_vat(example: dict[str, Any]) -> None:
    lines = invoice_body(example, intax=False)["lines"]
    assert [(x["amount"], x["tax_rate"], x["price"]) for x in lines] == [
        ("1", "21.00", "205.7851"),
        ("2", "21.00", "16.5207"),
        ("1", "9.00", "11.4679"),
        ("1", "21.00", "5.7438"),
    ]


def test_excl_vat_order_for_an_extax_debtor_keeps_its_prices() -> None:
    lines = invoice_body(icp_order(), intax=False)["lines"]
    assert [(x["description"], x["tax_rate"], x["price"]) for x in lines] == [
        ("Oven", "0.00", "1250.00"),
        ("Transport", "0.00", "45.00"),
    ]


def test_excl_vat_order_for_an_intax_debtor_is_converted_incl_vat() -> None:
    payload = icp_order()
    payload["lines"][0]["tax_rate"] = "21.00"
    payload["shipping"]["tax_rate"] = "9.00"
    lines = invoice_body(payload, intax=True)["lines"]
    assert [(x["tax_rate"], x["price"]) for x in lines] == [("21.00", "1512.50"), ("9.00", "49.05")]


def test_invoice_sent_is_the_order_date_in_the_shops_offset(example: dict[str, Any]) -> None:
    late = {**example, "created_at": "2023-02-13T23:55:00+01:00"}
    assert invoice_body(late)["sent"] == "2023-02-13"


def test_invoice_profile_only_when_set(example: dict[str, Any]) -> None:
    assert "profile" not in invoice_body(example)
    assert invoice_body(example, profile="3")["profile"] == "3"


def test_invoice_sendmethod_email(example: dict[str, Any]) -> None:
    assert invoice_body(example, send_invoice="email")["sendmethod"] == "email"


def test_unpaid_invoice_has_no_alreadypaid(example: dict[str, Any]) -> None:
    body = invoice_body({**example, "paid": False})
    assert "alreadypaid" not in body
    assert "alreadypaidmethod" not in body
    assert body["reference"]["line2"] == "Betaalmethode: Credit card"


def test_paid_without_payment_method(example: dict[str, Any]) -> None:
    body = invoice_body({**example, "payment_method": ""})
    assert body["alreadypaid"] == "full"
    assert "alreadypaidmethod" not in body
    assert body["reference"]["line2"] == ""


def test_alreadypaidmethod_is_cut_to_32_characters(example: dict[str, Any]) -> None:
    method = "Achteraf betalen via Klarna in drie termijnen"
    body = invoice_body({**example, "payment_method": method})
    assert body["alreadypaidmethod"] == method[:32]
    assert body["reference"]["line2"] == f"Betaalmethode: {method}"


def test_invoice_in_english(example: dict[str, Any]) -> None:
    assert invoice_body(example, language="en")["reference"]["line2"] == "Payment method: Credit card"


def test_free_shipping_is_not_invoiced(example: dict[str, Any]) -> None:
    payload = {**example, "shipping": {"description": "Gratis", "price": "0.00", "tax_rate": "21.00"}}
    assert [x["description"] for x in invoice_body(payload)["lines"]] == [
        "Bed Boxspring",
        "Hoofdkussen",
        "Slaapgids (boek)",
    ]


def test_intax_invoice_lines_add_up_to_what_the_customer_paid(example: dict[str, Any]) -> None:
    body = invoice_body(example)
    total = sum(D(x["amount"]) * D(x["price"]) for x in body["lines"])
    assert total == D(example["total"])


# --- the planned requests (what `koppel preview` shows) ------------------------------------------------


def test_planned_requests_for_a_new_debtor(example: dict[str, Any]) -> None:
    plan = FactuursturenTarget.planned_requests(invoice_of(example), {"send_invoice": "email"})
    assert [(r.method, r.path) for r in plan] == [
        ("GET", "search/invoices/all/367439"),
        ("GET", "search/clients/email/info%40example.nl"),
        ("POST", "clients"),
        ("POST", "invoices"),
        ("GET", f"invoices/{NEW_INVOICE}"),  # read back for its number
    ]
    client, invoice = plan[2].json, plan[3].json
    assert client is not None and invoice is not None
    assert (client["sendmethod"], invoice["sendmethod"]) == ("email", "email")
    assert invoice["clientnr"] == NEW_DEBTOR
    assert [x["price"] for x in invoice["lines"]] == ["249.00", "19.99", "12.50", "6.95"]


def test_planned_requests_without_email_skip_the_debtor_search(example: dict[str, Any]) -> None:
    plan = FactuursturenTarget.planned_requests(invoice_of(customer(example, email="")), {})
    assert [r.path for r in plan] == [
        "search/invoices/all/367439",
        "clients",
        "invoices",
        f"invoices/{NEW_INVOICE}",
    ]


def test_planned_requests_for_an_excl_vat_order_keep_excl_prices() -> None:
    plan = FactuursturenTarget.planned_requests(invoice_of(icp_order()), {})
    client, invoice = (request.json for request in plan if request.method == "POST")
    assert client is not None and client["tax_type"] == "extax"
    assert invoice is not None and [x["price"] for x in invoice["lines"]] == ["1250.00", "45.00"]


def test_extax_debtor_invoice_adds_up_to_what_the_customer_paid() -> None:
    payload = {
        "id": 31,
        "created_at": "2024-02-01T12:00:00+01:00",
        "status": "paid",
        "paid": True,
        "customer": {"firstname": "Els", "lastname": "Smit", "email": "els@example.nl", "country": "NL"},
        "lines": [{"description": "Theedoek", "amount": 3, "price": "9.99", "tax_rate": "21.00"}],
        "total": "29.97",
    }
    line = invoice_body(payload, intax=False)["lines"][0]
    net = (D(line["amount"]) * D(line["price"])).quantize(D("0.01"))
    vat = (net * D(line["tax_rate"]) / 100).quantize(D("0.01"))
    assert net + vat == D("29.97")


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ({}, "final"),
        ({"send_invoice": "email"}, "final_email"),  # connections made before the document status
        ({"document_status": "final", "send_invoice": "email"}, "final_email"),
        ({"document_status": "final_email"}, "final_email"),
        ({"document_status": "draft"}, "draft"),
        ({"document_status": "draft", "send_invoice": "email"}, "draft"),  # a draft is never e-mailed
    ],
)
def test_document_status_with_the_older_send_invoice(given: dict[str, Any], status: str) -> None:
    assert mapping.document_status(settings(**given)) == status


def test_each_document_status_maps_onto_action_and_sendmethod(example: dict[str, Any]) -> None:
    final = invoice_body(example)
    assert (final["action"], final["sendmethod"]) == ("send", "mail") and "savename" not in final
    emailed = invoice_body(example, document_status="final_email")
    assert (emailed["action"], emailed["sendmethod"]) == ("send", "email")
    assert debtor(example, document_status="final_email")["sendmethod"] == "email"
    draft = invoice_body(example, document_status="draft")
    assert (draft["action"], draft["savename"], draft["sendmethod"]) == ("save", "367439", "mail")
    assert draft["lines"] == final["lines"] and draft["reference"] == final["reference"]
    with pytest.raises(ValidationError):
        FactuursturenSettings(document_status="concept")


def test_a_savename_fits_twenty_characters_and_stays_apart() -> None:
    assert mapping.savename("K1001") == "K1001"
    assert mapping.savename("x" * 20) == "x" * 20
    long_one, other = (
        mapping.savename("1234567890123 / 987654321"),
        mapping.savename("1234567890123 / 987654322"),
    )
    assert len(long_one) == len(other) == 20 and long_one != other
    assert long_one.startswith("123456789012-")


def test_planned_requests_for_a_draft_search_saved_invoices_and_read_nothing_back(
    example: dict[str, Any],
) -> None:
    plan = FactuursturenTarget.planned_requests(invoice_of(example), {"document_status": "draft"})
    assert [(r.method, r.path) for r in plan] == [
        ("GET", "search/invoices/all/367439"),
        ("GET", "search/invoices_saved/all/367439"),
        ("GET", "search/clients/email/info%40example.nl"),
        ("POST", "clients"),
        ("POST", "invoices"),
    ]
    assert plan[4].json is not None and plan[4].json["action"] == "save"
