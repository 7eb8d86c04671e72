"""The field-level specification of the KMO Shops → EenvoudigFactureren manual, checked on what
``koppel preview --target eenvoudigfactureren`` shows (the exact requests), without any network."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from koppel.connectors.eenvoudigfactureren.mapping import EenvoudigFacturerenSettings, client_body
from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.documents.model import build_invoice
from koppel.preview import EXIT_OK, main, preview
from tests.conftest import make_order, shared_file


def requests_for(order: dict[str, Any], **settings: Any) -> dict[str, Any]:
    result = preview(order, source="kmoshops", target="eenvoudigfactureren", target_settings=settings)
    return {f"{r['method']} {r['path'].split('?')[0]}": r for r in result["requests"]}


def test_example_order_previews_to_the_manuals_mapping(example):
    result = preview(example, source="kmoshops", target="eenvoudigfactureren")
    assert all(check["passed"] for check in result["checks"])
    assert result["document"]["totals"]["gross"] == "308.43"
    paths = [f"{r['method']} {r['path']}" for r in result["requests"]]
    assert paths == [
        "GET invoices?filter=external_invoice_id%3D367439",
        "GET invoices?search=367439",
        "GET clients?filter=email_address%3Dinfo%40example.nl&limit=10",
        "POST clients",
        "POST invoices",
    ]
    client, invoice = result["requests"][3]["json"], result["requests"][4]["json"]
    # The customer block: the company as name, the person to its attention; address, e-mail, phone; contact.
    assert client == {
        "name": "Bakery De Witte",
        "attention": "Karin de Wit",
        "street": "Stationstraat 12",
        "street2": "",
        "postal_code": "1000 AA",
        "city": "Amsterdam",
        "country_code": "NL",
        "email_address": "info@example.nl",
        "phone_number": "0201234567",
        "mobile_number": "0632281625",
        "tax_code": "",
        "contacts": [
            {"name": "Karin de Wit", "email_address": "info@example.nl", "phone_number": "0201234567"}
        ],
    }
    # No invoice number (EenvoudigFactureren numbers it), reference = order number, date = order date,
    # 14 days to pay, amounts incl. VAT, one item per line plus shipping; the paid order is marked paid.
    assert "number" not in invoice
    assert invoice == {
        "client_id": "<client_id from POST clients>",
        "external_invoice_id": "367439",
        "date": "2023-02-13",
        "expiry_date": "2023-02-27",
        "reference": "367439",
        "tax_included": True,
        "items": [
            {"description": "Bed Boxspring", "quantity": "1", "amount_with_tax": "249.00", "tax_rate": "21"},
            {"description": "Hoofdkussen", "quantity": "2", "amount_with_tax": "19.99", "tax_rate": "21"},
            {"description": "Slaapgids (boek)", "quantity": "1", "amount_with_tax": "12.50", "tax_rate": "9"},
            {"description": "Verzendkosten", "quantity": "1", "amount_with_tax": "6.95", "tax_rate": "21"},
        ],
        "payments": [{"date": "2023-02-13", "remaining_amount": "yes", "description": "Credit card"}],
    }


def test_the_cli_previews_for_eenvoudigfactureren(example, capsys):
    path = shared_file("specs/kmoshops/order-example.json")
    code = main(["--source", "kmoshops", "--target", "eenvoudigfactureren", str(path)])
    result = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert result["requests"][-1]["json"]["reference"] == "367439"


def test_without_a_company_the_name_is_the_person_and_there_is_no_attention():
    order = KmoShopsSource.parse_order(make_order())
    body = client_body(build_invoice(order))
    assert (body["name"], body["attention"]) == ("Sanne Jansen", "")
    assert body["street"] == "Kerkstraat 7"


def test_the_order_number_can_be_the_invoice_number():
    invoice = requests_for(make_order(number="K-2024-0042"), invoice_number="order_number")["POST invoices"]
    assert invoice["json"]["number"] == "K-2024-0042"


def test_the_reference_follows_its_template():
    order = make_order(number="K77", payment_method="Bancontact")
    sent = requests_for(order, reference="{order_number} / {payment_method}")["POST invoices"]["json"]
    assert sent["reference"] == "K77 / Bancontact"
    # Without a payment method the separator goes too.
    sent = requests_for(
        make_order(number="K78", payment_method=""), reference="{order_number} / {payment_method}"
    )
    assert sent["POST invoices"]["json"]["reference"] == "K78"


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{payment_method}", "must contain {order_number}"),
        ("{order_number} {colour}", "unknown placeholder(s) colour"),
        ("{order_number", "malformed"),
    ],
)
def test_a_reference_template_that_cannot_work_is_refused(template, words):
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        EenvoudigFacturerenSettings(reference=template)


def test_amounts_excluding_vat_still_add_up_to_what_the_customer_paid():
    # 3 × 9.99 incl. 21% = 29.97; excl. VAT the unit price needs four decimals to give that back.
    order = make_order(
        lines=[{"description": "Mok", "amount": 3, "price": "9.99", "tax_rate": "21"}],
        shipping=None,
        total="29.97",
    )
    invoice = requests_for(order, amounts_include_vat=False)["POST invoices"]["json"]
    assert invoice["tax_included"] is False
    [item] = invoice["items"]
    assert item == {"description": "Mok", "quantity": "3", "amount": "8.2562", "tax_rate": "21"}
    net = (Decimal(item["quantity"]) * Decimal(item["amount"])).quantize(Decimal("0.01"))
    assert net + (net * Decimal("0.21")).quantize(Decimal("0.01")) == Decimal("29.97")


def test_sending_and_the_layout_are_settings():
    planned = requests_for(make_order(), send_invoice=True, layout_id="2")
    assert planned["POST invoices"]["json"]["layout_id"] == 2
    send = planned["POST invoices/<invoice_id from POST invoices>/sendemail"]
    assert send["json"] == {"recipient": "main_contact"}
    assert not any(key.endswith("sendemail") for key in requests_for(make_order()))


def test_an_unpaid_order_is_not_marked_paid():
    invoice = requests_for(make_order(status="pending", paid=False))["POST invoices"]["json"]
    assert "payments" not in invoice


def test_an_intra_community_supply_carries_the_special_status():
    order = make_order(
        customer={"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "BE0403019261"},
        lines=[{"description": "Koffiemolen", "amount": 2, "price": "80.00", "tax_rate": "0"}],
        shipping=None,
        priceincltax=False,
        total="160.00",
    )
    planned = requests_for(order)
    assert planned["POST clients"]["json"]["tax_code"] == "BE0403019261"
    [item] = planned["POST invoices"]["json"]["items"]
    assert (item["tax_rate"], item["tax_rate_special_status"]) == ("0", "ICL")


def test_long_customer_fields_are_cut_to_what_eenvoudigfactureren_takes():
    order = KmoShopsSource.parse_order(make_order(customer={"company": "B" * 90, "zipcode": "12345-67890-X"}))
    body = client_body(build_invoice(order))
    assert len(body["name"]) == 75 and len(body["postal_code"]) == 10


def test_unknown_settings_are_refused():
    with pytest.raises(ValidationError):
        EenvoudigFacturerenSettings.model_validate({"send_invoice": True, "profile": "2"})
    with pytest.raises(ValidationError, match="layout_id must be a number"):
        EenvoudigFacturerenSettings(layout_id="standaard")


@pytest.mark.parametrize(
    ("settings", "emailed"),
    [
        ({}, False),
        ({"document_status": "final"}, False),
        ({"document_status": "final_email"}, True),
        ({"send_invoice": True}, True),  # a connection made before the document status keeps e-mailing
        ({"document_status": "final", "send_invoice": True}, True),
    ],
)
def test_the_document_status_decides_the_sendemail(settings, emailed):
    planned = requests_for(make_order(), **settings)
    assert any(key.endswith("sendemail") for key in planned) is emailed


def test_a_draft_is_refused_in_eenvoudigfactureren_words():
    from koppel.connectors.eenvoudigfactureren.mapping import NO_DRAFTS

    with pytest.raises(ValidationError) as raised:
        EenvoudigFacturerenSettings.model_validate({"document_status": "draft"})
    [error] = raised.value.errors()
    assert error["loc"] == ("document_status",)
    assert NO_DRAFTS in error["msg"]
    assert NO_DRAFTS.startswith("EenvoudigFactureren cannot make draft invoices through its API")
    assert EenvoudigFacturerenSettings().document_status == "final"
