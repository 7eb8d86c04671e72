"""A bol.com connection made in the browser like every other (Django's test client against the sandbox):
Connect with the client ID and secret, and Koppel subscribes its own webhook address at bol.com."""

from __future__ import annotations

from django.test import Client

from koppel.connections.models import Connection, Health


def test_connecting_bol_in_the_dashboard_subscribes_the_webhook(
    sandbox, bol_shop, administration, transactional_db, settings
):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    signup = {
        "company": "Boekhandel Anna",
        "name": "Anna",
        "email": "anna@boekhandel.nl",
        "shop_country": "NL",
        "password": "een-lang-wachtwoord-42",
        "terms": "on",
    }
    assert client.post("/accounts/signup/", signup).status_code == 302
    page = client.get("/connections/new/?source=bol&target=factuursturen").content.decode()
    assert "Client ID" in page and "https://api.bol.com" in page

    wrong = {"side": "source", "source-url": bol_shop.url, "source-client_id": bol_shop.client_id}
    response = client.post("/connections/new/", {**wrong, "source-client_secret": "nope"}, follow=True)
    assert "dot-failed" in response.content.decode()
    client.post("/connections/new/", {**wrong, "source-client_secret": bol_shop.client_secret})
    response = client.post(
        "/connections/new/",
        {
            "side": "target",
            "target-url": administration.url,
            "target-username": administration.username,
            "target-api_key": administration.api_key,
        },
        follow=True,
    )
    page = response.content.decode()
    connection = Connection.objects.get()
    assert (connection.source_health, connection.target_health) == (Health.OK, Health.OK)
    assert "Koppel subscribed its webhook address at bol.com." in page
    assert 'name="source_setting_environment"' in page and 'name="source_setting_ean_vat_rates"' in page
    subscriptions = bol_shop.api("GET", "/retailer/subscriptions").json()["subscriptions"]
    assert [item["url"] for item in subscriptions] == [connection.webhook_url], subscriptions
