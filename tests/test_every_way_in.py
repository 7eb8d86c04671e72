"""A connection can no longer be saved in a state the worker cannot use, whichever way it comes in: the
dashboard's forms, the admin, the REST API and ``koppel add_connection``. Each way is tried with an unknown
connector, missing credentials and invalid settings, and must refuse with a message a person understands,
saving nothing; a valid connection (the sandbox shop and administration, real HTTP) is saved, and where the
way in tests the credentials, a wrong key is refused with the system's own message."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from koppel.accounts.models import ApiToken
from koppel.connections.forms import SETTING_PREFIX, ConfigurationForm, CredentialsForm
from koppel.connections.models import Connection
from koppel.connectors import registry
from tests.conftest import connect


@dataclass
class Case:
    """One way of getting it wrong: the connection's fields changed, and the words a person must see."""

    changes: dict[str, Any]
    words: str


#: The same three mistakes for every way in (API names; each way translates them).
CASES = {
    "unknown connector": Case({"source": "magento"}, "Unknown source 'magento'; known: bol, kmoshops"),
    "missing credentials": Case({"source_credentials": {}}, "API key"),
    "invalid settings": Case({"target_settings": {"send_invoice": "fax"}}, "Send invoice"),
}


@pytest.fixture
def valid(shop, administration) -> dict[str, Any]:
    """A connection between the sandbox shop and administration that works."""
    return {
        "name": "Webshop → Factuursturen",
        "source": "kmoshops",
        "source_url": shop.url,
        "source_credentials": dict(shop.credentials),
        "target": "factuursturen",
        "target_url": administration.url,
        "target_credentials": dict(administration.credentials),
        "target_settings": {"send_invoice": "email"},
    }


# The admin ------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(transactional_db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.nl", "pw"))
    return client


def admin_post(client: Client, account, fields: dict[str, Any]) -> tuple[Any, str]:
    """Post the admin's add form as an operator fills it in; returns the answer and its visible text."""
    data = {
        "account": account.pk,
        "name": fields["name"],
        "active": "on",
        "source_kind": fields["source"],
        "source_url": fields["source_url"],
        "target_kind": fields["target"],
        "target_url": fields["target_url"],
        "target_settings": json.dumps(fields["target_settings"]),
        "shop_country": "NL",
        "eligible_statuses": "[]",
        "start_at_0": "2024-01-01",
        "start_at_1": "00:00:00",
        "poll_minutes": "60",
    }
    for side in ("source", "target"):
        for name, value in fields[f"{side}_credentials"].items():
            data[f"{side}_{fields[side]}__{name}"] = value
    response = client.post("/admin/connections/connection/add/", data)
    return response, html.unescape(response.content.decode())


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_admin_refuses_beside_the_field(admin_client, account, valid, case):
    response, text = admin_post(admin_client, account, {**valid, **CASES[case].changes})
    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    field = {
        "unknown connector": "source_kind",
        "missing credentials": "source_kmoshops__api_key",
        "invalid settings": "target_settings",
    }[case]
    assert any(CASES[case].words in message for message in errors[field]), errors
    assert CASES[case].words in text
    assert not Connection.objects.exists()


def test_the_admin_saves_a_valid_connection_and_shows_the_webhook_secret_once(
    admin_client, account, valid, shop, administration
):
    response, _ = admin_post(admin_client, account, valid)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connection = Connection.objects.get()
    assert connection.source_credentials == shop.credentials
    assert connection.target_credentials == administration.credentials
    page = admin_client.get(response["Location"]).content.decode()
    assert connection.webhook_secret in page  # the message after saving, once
    change = admin_client.get(f"/admin/connections/connection/{connection.pk}/change/").content.decode()
    for secret in (connection.webhook_secret, shop.api_key, administration.api_key):
        assert secret not in change


def test_the_admin_keeps_stored_credentials_left_empty(admin_client, account, valid, administration):
    admin_post(admin_client, account, valid)
    connection = Connection.objects.get()
    form = (
        admin_client.get(f"/admin/connections/connection/{connection.pk}/change/").context["adminform"].form
    )
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        {
            "account": account.pk,
            "active": "on",
            "name": "Renamed",
            "start_at_0": "2024-01-01",
            "start_at_1": "00:00:00",
            "target_settings": json.dumps({"send_invoice": "manual"}),
            "eligible_statuses": "[]",
        }
    )
    data = {k: v for k, v in data.items() if k != "start_at"}
    response = admin_client.post(f"/admin/connections/connection/{connection.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.target_settings == {"send_invoice": "manual"}
    assert connection.target_credentials == administration.credentials


# The REST API ---------------------------------------------------------------------------------------------
@pytest.fixture
def api(account) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(account, 'tests')[1]}")


def api_post(client: Client, body: dict[str, Any]):
    return client.post("/api/connections", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_api_refuses_with_the_problems_per_field(api, valid, case):
    response = api_post(api, {**valid, **CASES[case].changes})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "CONNECTION_INVALID"
    field = {"unknown connector": "source", "missing credentials": "source_credentials"}.get(
        case, "target_settings"
    )
    assert any(CASES[case].words in message for message in body["problems"][field]), body
    assert not Connection.objects.exists()


def test_the_api_saves_a_valid_connection_and_refuses_a_wrong_key(api, valid):
    wrong = api_post(api, {**valid, "source_credentials": {"api_key": "not-the-key"}})
    assert wrong.status_code == 422
    assert wrong.json()["error"] == "SOURCE_CHECK_FAILED"
    assert wrong.json()["message"].startswith("KMO Shops") and "401" in wrong.json()["message"]
    assert not Connection.objects.exists()
    response = api_post(api, valid)
    assert response.status_code == 201, response.content
    assert Connection.objects.get().target_settings == {"send_invoice": "email"}


# The command ----------------------------------------------------------------------------------------------
def command_args(fields: dict[str, Any]) -> list[str]:
    args = ["--account", "Bakkerij De Witte", "--name", fields["name"], "--no-input"]
    args += ["--source", fields["source"], "--source-url", fields["source_url"]]
    args += ["--target", fields["target"], "--target-url", fields["target_url"]]
    for side in ("source", "target"):
        for name, value in fields[f"{side}_credentials"].items():
            args += [f"--{side}-credential", f"{name}={value}"]
    for name, value in fields["target_settings"].items():
        args += ["--target-setting", f"{name}={value}"]
    return args


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_command_refuses_with_a_clear_error(transactional_db, valid, case):
    with pytest.raises(CommandError) as refused:
        call_command("add_connection", *command_args({**valid, **CASES[case].changes}))
    message = str(refused.value)
    assert CASES[case].words in message
    assert "nothing was saved" in message
    option = {
        "unknown connector": "--source: ",
        "missing credentials": "--source-credential needs api_key — KMO Shops: API key",
    }.get(case, "--target-setting: ")
    assert option in message
    assert not Connection.objects.exists()


def test_the_command_saves_a_valid_connection_and_refuses_a_wrong_key(transactional_db, valid, capsys):
    wrong = {**valid, "target_credentials": {**valid["target_credentials"], "api_key": "wrong-key"}}
    with pytest.raises(
        CommandError, match=r"The connection test of Factuursturen failed: Factuursturen answered 401"
    ):
        call_command("add_connection", *command_args(wrong))
    assert not Connection.objects.exists()
    call_command("add_connection", *command_args(valid))
    out = capsys.readouterr().out
    connection = Connection.objects.get()
    assert "both systems accepted the credentials" in out
    assert connection.webhook_url in out and connection.webhook_secret in out
    assert connection.source_health == connection.target_health == "ok"


def test_the_command_asks_for_missing_credentials_by_system_and_label(transactional_db, valid, monkeypatch):
    prompts: list[str] = []
    answers = {"KMO Shops API key: ": valid["source_credentials"]["api_key"]}
    monkeypatch.setattr(
        "getpass.getpass", lambda prompt="": prompts.append(prompt) or answers.get(prompt, "")
    )
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    args = [arg for arg in command_args({**valid, "source_credentials": {}}) if arg != "--no-input"]
    call_command("add_connection", *args)
    assert prompts == ["KMO Shops API key: "]
    assert Connection.objects.get().source_credentials == valid["source_credentials"]


def test_the_old_setting_option_says_its_new_name(transactional_db, valid):
    with pytest.raises(CommandError, match="--setting is now --target-setting"):
        call_command("add_connection", *command_args(valid), "--setting", "send_invoice=email")


# The dashboard's forms ------------------------------------------------------------------------------------
def test_the_forms_cannot_be_made_for_an_unknown_connector(account, valid):
    draft = Connection(account=account, name="x", source_kind="magento", target_kind="factuursturen")
    with pytest.raises(LookupError, match=CASES["unknown connector"].words):
        ConfigurationForm(draft)
    with pytest.raises(LookupError, match=CASES["unknown connector"].words):
        CredentialsForm(registry.source("magento"), {"url": valid["source_url"]})


def test_the_credentials_form_refuses_missing_credentials_beside_the_field(valid):
    with translation.override("en"):
        form = CredentialsForm(
            registry.source("kmoshops"), {"source-url": valid["source_url"]}, prefix="source"
        )
        assert not form.is_valid()
        assert form.errors["api_key"] == ["Enter the API key."]
    with translation.override("nl"):  # the dashboard's own language
        form = CredentialsForm(
            registry.source("kmoshops"), {"source-url": valid["source_url"]}, prefix="source"
        )
        assert not form.is_valid()
        assert "API-sleutel" in form.errors["api_key"][0]


def test_the_configuration_form_refuses_invalid_settings_and_saves_nothing(account, shop, administration):
    connection = connect(account, shop, administration)
    data = {
        "name": "Renamed",
        "shop_country": "NL",
        "eligible_statuses": ["paid"],
        "start_date": "2024-01-01",
        f"{SETTING_PREFIX}send_invoice": "fax",
        f"{SETTING_PREFIX}language": "nl",
    }
    form = ConfigurationForm(connection, data)
    assert not form.is_valid()
    assert "fax" in form.errors[f"{SETTING_PREFIX}send_invoice"][0]
    connection.refresh_from_db()
    assert connection.name != "Renamed" and connection.target_settings == {}


def test_the_configuration_form_refuses_what_the_settings_model_refuses(account, shop, eenvoudigfactureren):
    connection = connect(account, shop, eenvoudigfactureren)
    data = {
        "name": "Webshop → EenvoudigFactureren",
        "shop_country": "NL",
        "eligible_statuses": ["paid"],
        "start_date": "2024-01-01",
        f"{SETTING_PREFIX}invoice_number": "automatic",
        f"{SETTING_PREFIX}reference": "Bestelling",
    }
    form = ConfigurationForm(connection, data)
    assert not form.is_valid()
    assert "{order_number}" in form.errors[f"{SETTING_PREFIX}reference"][0]
    connection.refresh_from_db()
    assert connection.target_settings == {}


def test_the_credentials_form_takes_a_working_key_and_the_test_names_a_wrong_one(account, valid, shop):
    from koppel.connections import health

    form = CredentialsForm(
        registry.source("kmoshops"),
        {"source-url": valid["source_url"], "source-api_key": "not-the-key"},
        prefix="source",
    )
    assert form.is_valid(), form.errors
    draft = Connection(account=account, source_kind="kmoshops", source_url=form.cleaned_data["url"])
    draft.source_credentials = form.credentials()
    result = health.try_side(draft, "source")
    assert not result.ok and "401" in result.message
    draft.source_credentials = dict(shop.credentials)
    assert health.try_side(draft, "source").ok
