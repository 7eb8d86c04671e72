"""Every booked invoice as an e-invoice: the record's UBL document, from the dashboard and the API, made
from the order as booked and the merchant's company details, valid for EN 16931 and Peppol BIS 3.0 (but
for the consumer's missing Peppol address)."""

from __future__ import annotations

from django.test import Client
from lxml import etree

from koppel.accounts.models import ApiToken
from tests.conftest import book, make_order
from tests.documents.einvoice import BUYER_ENDPOINT_RULE, validate

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def complete_profile(account) -> None:
    account.company_name = "Bakkerij De Witte BV"
    account.vat_number = "NL004495445B01"
    account.company_number = "12345678"
    account.street, account.postal_code, account.city, account.country = "Markt 1", "3511 AB", "Utrecht", "NL"
    account.iban, account.email = "NL91ABNA0417164300", "info@dewitte.nl"
    account.save()


def test_a_booked_invoice_downloads_as_a_valid_e_invoice(shop, connection, deliver, account) -> None:
    complete_profile(account)
    record = book(shop, connection, deliver, make_order())
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(account, 'integration')[1]}")
    response = api.get(f"/api/records/{record.pk}/ubl")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/xml"
    root = etree.fromstring(response.content)
    assert root.findtext(f"{{{CBC}}}ID") == record.target_invoice_number
    payable = root.find(f".//{{{CBC}}}TaxInclusiveAmount")
    assert payable is not None and payable.text == f"{record.total:.2f}"
    assert validate(response.content) == [BUYER_ENDPOINT_RULE]  # a consumer has no Peppol address


def test_without_company_details_the_e_invoice_says_what_is_missing(
    shop, connection, deliver, account, django_user_model
) -> None:
    record = book(shop, connection, deliver, make_order())
    user = django_user_model.objects.create_user("anna@dewitte.nl", password="x")
    account.members.add(user)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    page = client.get(record.get_absolute_url()).content.decode()
    assert "E-invoice (UBL)" in page
    response = client.get(f"/records/{record.pk}/invoice.xml")
    assert response.status_code == 409
    assert "Profile" in response.content.decode()
