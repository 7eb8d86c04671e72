"""The connection page's buttons, through Django's test client against the sandboxes: ReConnect, the
Profile tab (company details, on/off, delete), Report problem, Ask us and the status the record page follows
after Process."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client

from koppel.accounts.models import Account
from koppel.connections.models import Connection, Health
from koppel.sync.models import Record, State
from tests.conftest import book, connect, make_order


@pytest.fixture
def merchant(account, django_user_model):
    user = django_user_model.objects.create_user("anna@bakkerij.nl", "anna@bakkerij.nl", "x")
    account.members.add(user)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def linked(account, shop, administration, retry_fast):
    return connect(account, shop, administration)


def test_reconnect_keeps_the_old_credentials_when_the_new_ones_are_refused(merchant, linked, shop):
    url = f"/connections/{linked.pk}/reconnect/source/"
    response = merchant.post(url, {"source-url": shop.url, "source-api_key": "wrong"}, follow=True)
    assert "refused the new credentials" in response.content.decode()
    linked.refresh_from_db()
    assert linked.source_credentials["api_key"] == shop.api_key
    assert linked.source_health == Health.FAILED

    response = merchant.post(url, {"source-url": shop.url, "source-api_key": shop.api_key}, follow=True)
    assert "KMO Shops is connected." in response.content.decode()
    linked.refresh_from_db()
    assert linked.source_health == Health.OK


def test_the_profile_tab_saves_company_details_and_refuses_a_bad_vat_number(merchant, linked, account):
    url = f"/connections/{linked.pk}/profile/"
    details = {
        "company_name": "Bakkerij De Witte BV",
        "street": "Kerkstraat 7",
        "postal_code": "3511 LK",
        "city": "Utrecht",
        "country": "nl",
        "shop_country": "NL",
        "vat_number": "NL 0044.95.445.B01",
        "company_number": "12345678",
        "iban": "NL91 ABNA 0417 1643 00",
        "email": "anna@bakkerij.nl",
        "notification_email": "boekhouding@bakkerij.nl",
    }
    merchant.post(url, details)
    account.refresh_from_db()
    assert (account.vat_number, account.iban, account.country) == (
        "NL004495445B01",
        "NL91ABNA0417164300",
        "NL",
    )
    response = merchant.post(url, {**details, "vat_number": "NL123"}, follow=True)
    assert "not a valid EU VAT number" in response.content.decode()
    account.refresh_from_db()
    assert account.vat_number == "NL004495445B01"


def test_switch_off_and_on_and_delete_with_the_name_typed(merchant, linked):
    merchant.post(f"/connections/{linked.pk}/switch/", {})
    assert Connection.objects.get(pk=linked.pk).active is False
    merchant.post(f"/connections/{linked.pk}/switch/", {"active": "on"})
    assert Connection.objects.get(pk=linked.pk).active is True
    merchant.post(f"/connections/{linked.pk}/delete/", {"confirm": "not the name"})
    assert Connection.objects.filter(pk=linked.pk).exists()
    merchant.post(f"/connections/{linked.pk}/delete/", {"confirm": linked.name})
    assert not Connection.objects.filter(pk=linked.pk).exists()


def test_report_problem_gives_a_support_file_without_secrets_and_mails_it(
    merchant, linked, shop, administration, deliver, settings
):
    order = make_order(customer={"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": ""})
    record = book(shop, linked, deliver, order)
    assert record.state == State.ERROR
    download = merchant.get(f"/records/{record.pk}/problem/")
    assert download["Content-Disposition"].startswith("attachment")
    text = download.content.decode()
    bundle = json.loads(text)
    assert bundle["record"]["error_code"] == "ICP_VAT_NUMBER_MISSING"
    assert bundle["attempt_log"] and bundle["payload"]["number"] == order["number"]
    for secret in (shop.api_key, administration.api_key, linked.webhook_secret):
        assert secret not in text

    settings.SUPPORT_EMAIL = "support@koppel.example"
    merchant.post(f"/records/{record.pk}/problem/", {"note": "Het btw-nummer ontbreekt"})
    [sent] = mail.outbox
    assert sent.to == ["support@koppel.example"] and "Het btw-nummer ontbreekt" in sent.body
    assert sent.attachments[0][0] == f"koppel-record-{record.pk}.json"


def test_ask_us_mails_the_question_to_support(merchant, linked, settings):
    settings.SUPPORT_EMAIL = "support@koppel.example"
    merchant.post("/ask/", {"subject": "Factuurlayout", "question": "Hoe kies ik een andere layout?"})
    [sent] = mail.outbox
    assert "Factuurlayout" in sent.subject and "Hoe kies ik" in sent.body
    assert Account.objects.get().name in sent.body


def test_after_process_the_page_follows_the_record_until_it_settles(
    merchant, linked, shop, deliver, settings
):
    record = book(shop, linked, deliver, make_order(status="pending", paid=False))
    assert record.state == State.OPEN
    response = merchant.post(f"/records/{record.pk}/process/")
    assert response["Location"].endswith("?follow=1")
    page = merchant.get(response["Location"]).content.decode()
    assert "data-follow" in page and "follow.js" in page
    status = merchant.get(f"/records/{record.pk}/status/").json()
    assert status == {**status, "state": "queued", "settled": False}
    Record.objects.filter(pk=record.pk).update(state=State.HANDLED)
    assert merchant.get(f"/records/{record.pk}/status/").json()["settled"] is True
