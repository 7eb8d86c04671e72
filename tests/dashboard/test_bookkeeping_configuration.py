"""A bookkeeping target's settings that name its ledger accounts are offered as a choice of the
administration's accounts (read from Moneybird's sandbox), not typed as ids."""

from __future__ import annotations

from django.test import Client

from tests.conftest import connect


def test_the_ledger_account_settings_offer_the_administrations_accounts(
    account, shop, moneybird, django_user_model
) -> None:
    connection = connect(account, shop, moneybird)
    user = django_user_model.objects.create_user("boekhouder@example.nl", password="x")
    account.members.add(user)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    page = client.get(f"{connection.get_absolute_url()}?tab=configuration").content.decode()
    revenue = page.split('name="setting_revenue_ledger_account_id"')[1].split("</select>")[0]
    names = {a["name"] for a in moneybird.state()["ledger_accounts"]}
    assert all(name in revenue for name in names)
    assert "Omzet webshop (8010)" in revenue
