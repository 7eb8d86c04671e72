"""The installation in the browser, through Django's test client against the sandboxes: sign up, connect
each side (a wrong key first), configure, and run the connection from its page."""

from __future__ import annotations

import pytest
from django.core import mail

from koppel.accounts.models import Account, Invitation
from koppel.connections.models import Connection, Health
from koppel.sync.models import Record, State
from tests.conftest import drain, make_order, signed, webhook_body


@pytest.fixture
def client():
    """A browser that asks for English pages (the dashboard's default language is Dutch)."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")


def sign_up(client, email="anna@bakkerij.nl", **extra):
    data = {
        "company": "Bakkerij Anna",
        "name": "Anna de Vries",
        "email": email,
        "shop_country": "NL",
        "password": "een-lang-wachtwoord-42",
        "terms": "on",
        **extra,
    }
    return client.post("/accounts/signup/", data)


def test_sign_up_makes_an_account_and_a_login(client, db):
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/connections/new/"
    account = Account.objects.get()
    assert (account.name, account.shop_country, account.email) == ("Bakkerij Anna", "NL", "anna@bakkerij.nl")
    assert account.terms_accepted_at is not None
    assert client.get("/connections/new/").status_code == 200


def test_sign_up_refuses_without_the_terms_and_with_a_taken_address(client, db):
    response = sign_up(client, terms="")
    assert response.status_code == 200
    assert "Accept the terms" in response.content.decode()
    sign_up(client)
    client.logout()
    response = sign_up(client)
    assert "already a login with this e-mail" in response.content.decode()
    assert Account.objects.count() == 1


def test_closed_sign_up_takes_invitations_only(client, db, settings):
    settings.SIGNUP_OPEN = False
    assert client.get("/accounts/signup/").status_code == 404
    invitation, code = Invitation.issue("piet@winkel.be")
    response = sign_up(client, email="ignored@example.nl", invitation=code)
    assert response.status_code == 302
    assert Account.objects.get().members.get().username == "piet@winkel.be"
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    client.logout()
    assert client.get(f"/accounts/signup/?invitation={code}").status_code == 410


def connect_both(client, shop, administration, *, wrong_first=True):
    assert client.get("/connections/new/?source=kmoshops&target=factuursturen").status_code == 200
    if wrong_first:
        response = client.post(
            "/connections/new/",
            {"side": "source", "source-url": shop.url, "source-api_key": "not-the-key"},
            follow=True,
        )
        page = response.content.decode()
        assert "dot-failed" in page and "KMO Shops answered 401: Invalid API key" in page
    response = client.post(
        "/connections/new/",
        {"side": "source", "source-url": shop.url, "source-api_key": shop.api_key},
        follow=True,
    )
    assert "dot-ok" in response.content.decode()
    response = client.post(
        "/connections/new/",
        {
            "side": "target",
            "target-url": administration.url,
            "target-username": administration.username,
            "target-api_key": administration.api_key,
        },
    )
    assert response.status_code == 302, response.content.decode()
    return Connection.objects.get(), response


def as_posted(connection) -> dict:
    """What the browser posts for an untouched Configuration tab."""
    from koppel.connections.forms import ConfigurationForm

    form = ConfigurationForm(connection)
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value if isinstance(value, list) else str(value)
    return data


def test_connect_both_sides_then_configure_and_book(client, sandbox, shop, administration, transactional_db):
    sign_up(client)
    connection, response = connect_both(client, shop, administration)
    assert response["Location"] == f"/connections/{connection.pk}/?tab=configuration"
    assert (connection.source_health, connection.target_health) == (Health.OK, Health.OK)
    page = client.get(response["Location"]).content.decode()
    assert connection.webhook_url in page
    assert connection.webhook_secret in page  # shown once ...
    assert connection.webhook_secret not in client.get(response["Location"]).content.decode()  # ... only
    assert 'name="setting_profile"' in page  # the layouts fetched from Factuursturen

    form = {**as_posted(connection), "name": "Mijn winkel", "start_date": "2020-01-01"}
    form |= {"eligible_statuses": ["paid", "completed"], "setting_send_invoice": "email"}
    response = client.post(f"/connections/{connection.pk}/configure/", form)
    assert response.status_code == 302, response.content.decode()
    connection.refresh_from_db()
    assert connection.name == "Mijn winkel" and connection.target_settings["send_invoice"] == "email"

    order = make_order()
    shop.place(order)
    body = webhook_body(order["id"])
    client.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_X_KMO_SIGNATURE=signed(body, connection.webhook_secret),
    )
    drain()
    record = Record.objects.get()
    assert record.state == State.HANDLED
    report = client.get(f"/connections/{connection.pk}/?tab=report").content.decode()
    assert order["number"] in report
    pdf = client.get(f"/records/{record.pk}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_invalid_settings_are_refused_beside_the_field(
    client, sandbox, shop, administration, transactional_db
):
    sign_up(client)
    connection, _response = connect_both(client, shop, administration, wrong_first=False)
    form = {"name": "", "shop_country": "NL", "eligible_statuses": [], "start_date": "not a date"}
    response = client.post(f"/connections/{connection.pk}/configure/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count('class="field-error"') >= 3


@pytest.mark.parametrize("tab", ["report", "errors", "open", "queued", "skipped", "configuration", "profile"])
def test_every_tab_renders(client, sandbox, shop, administration, transactional_db, tab):
    sign_up(client)
    connection, _response = connect_both(client, shop, administration, wrong_first=False)
    response = client.get(f"/connections/{connection.pk}/?tab={tab}")
    assert response.status_code == 200


def test_a_second_merchant_never_sees_the_first(client, sandbox, shop, administration, transactional_db):
    sign_up(client)
    connection, _response = connect_both(client, shop, administration, wrong_first=False)
    client.logout()
    sign_up(client, email="bert@anderewinkel.nl", company="Bert")
    assert client.get(f"/connections/{connection.pk}/").status_code == 404
    assert connection.name not in client.get("/connections/").content.decode()


def test_a_failing_connection_sends_one_e_mail(client, sandbox, shop, administration, transactional_db):
    from koppel.connections import health

    sign_up(client)
    connection, _response = connect_both(client, shop, administration, wrong_first=False)
    health.record_health(connection, "target", False, "Factuursturen answered 401")
    health.record_health(connection, "target", False, "Factuursturen answered 401")
    assert len(mail.outbox) == 1
    assert "anna@bakkerij.nl" in mail.outbox[0].to


def test_where_is_my_order_explains_and_fetches_an_order_koppel_has_not_seen(
    client, sandbox, shop, administration, transactional_db
):
    sign_up(client)
    connection, _response = connect_both(client, shop, administration, wrong_first=False)
    connection.start_at = connection.start_at.replace(year=2020)
    connection.save()
    order = make_order()
    shop.place(order)  # no webhook: Koppel has not seen it
    page = client.get(f"/where/?connection={connection.pk}&number={order['number']}").content.decode()
    assert "Fetch and book it now" in page
    response = client.post(f"/connections/{connection.pk}/fetch/", {"order": str(order["id"])})
    assert response.status_code == 302 and "follow=1" in response["Location"]
    drain()
    page = client.get(f"/where/?number={order['number']}").content.decode()
    assert Record.objects.get().state == State.HANDLED
    assert Record.objects.get().target_invoice_number in page
    assert "verdict-booked" in page
    assert "verdict-not_in_shop" in client.get("/where/?number=NOPE-1").content.decode()


def test_a_reason_written_by_the_worker_reads_in_dutch_on_a_dutch_page(
    sandbox, shop, administration, transactional_db
):
    """The worker writes the reason once; the page shows it in the merchant's language."""
    from django.test import Client

    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    sign_up(english)
    connection, _response = connect_both(english, shop, administration, wrong_first=False)
    connection.start_at = connection.start_at.replace(year=2020)
    connection.save()
    order = make_order(lines=[{"description": "Boek", "amount": 1, "price": "10.00", "tax_rate": "6.00"}])
    shop.place(order)
    body = webhook_body(order["id"])
    english.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_X_KMO_SIGNATURE=signed(body, connection.webhook_secret),
    )
    drain()
    record = Record.objects.get()
    assert record.error_code == "VAT_CODE_MISSING"
    assert "has no VAT rate 6.00%" in record.message
    dutch = Client(HTTP_ACCEPT_LANGUAGE="nl")
    dutch.force_login(Account.objects.get().members.get())
    page = dutch.get(f"/records/{record.pk}/").content.decode()
    assert "heeft geen btw-tarief 6.00%" in page
    assert "has no VAT rate" not in page
    assert "has no VAT rate 6.00%" in english.get(f"/records/{record.pk}/").content.decode()
