"""Connections through the REST API as an integrator sees them: made with credentials tested against the
sandboxes (real HTTP), read without secrets, changed, switched off and on, tested, removed; and the staff
endpoints for accounts and tokens."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from koppel.accounts.models import Account, ApiToken
from koppel.connections.models import Connection, Health
from koppel.sync.models import State
from tests.factories import make_record

from .conftest import bearer


def post(client: Client, path: str, body: dict, **params: str):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(path + query, json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: dict, **params: str):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.patch(path + query, json.dumps(body), content_type="application/json")


# Create ---------------------------------------------------------------------------------------------------
def test_create_tests_both_sides_and_returns_the_webhook_secret_once(api, account, connection_body, shop):
    response = post(api, "/api/connections", connection_body)
    assert response.status_code == 201, response.content
    body = response.json()
    connection = Connection.objects.get(pk=body["id"])
    assert connection.account == account
    assert body["webhook_url"].endswith(f"/webhooks/kmoshops/{connection.pk}")
    assert body["webhook_secret"] == connection.webhook_secret and len(body["webhook_secret"]) == 64
    assert body["health"]["source"]["status"] == "ok" and body["health"]["target"]["status"] == "ok"
    assert body["target_settings"] == {"send_invoice": "email"}
    assert body["eligible_statuses"] == ["paid", "shipped"]
    assert connection.target_credentials == connection_body["target_credentials"]
    # The shop and the administration were really asked.
    assert any(r["method"] == "GET" for r in shop.requests())
    # Never again: the secret is not in the detail, and no credential value is anywhere.
    detail = api.get(f"/api/connections/{connection.pk}").content
    for secret in (connection.webhook_secret, shop.api_key, connection_body["target_credentials"]["api_key"]):
        assert secret.encode() not in detail
    assert b"webhook_secret" not in detail


def test_a_wrong_key_is_refused_with_the_systems_message_and_nothing_is_saved(api, connection_body):
    connection_body["target_credentials"] = {**connection_body["target_credentials"], "api_key": "wrong"}
    response = post(api, "/api/connections", connection_body)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "TARGET_CHECK_FAILED"
    # Factuursturen's own words, e.g. "Factuursturen answered 401: Unauthorized: invalid username or API key"
    assert body["message"].startswith("Factuursturen") and "401" in body["message"]
    assert "wrong" not in body["message"]
    assert not Connection.objects.exists()


def test_a_wrong_shop_key_is_source_check_failed(api, connection_body):
    connection_body["source_credentials"] = {"api_key": "not-the-key"}
    response = post(api, "/api/connections", connection_body)
    assert response.status_code == 422
    assert response.json()["error"] == "SOURCE_CHECK_FAILED"
    assert response.json()["message"].startswith("KMO Shops") and "401" in response.json()["message"]
    assert not Connection.objects.exists()


def test_check_false_saves_without_testing(api, connection_body, shop):
    connection_body["source_credentials"] = {"api_key": "not-the-key"}
    before = len(shop.requests())
    response = post(api, "/api/connections", connection_body, check="false")
    assert response.status_code == 201, response.content
    assert response.json()["health"]["source"]["status"] == "unknown"
    assert len(shop.requests()) == before
    assert Connection.objects.get().source_credentials == {"api_key": "not-the-key"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"source": "magento"}, "source", "Unknown source 'magento'; known: bol, kmoshops, shopify"),
        ({"target": "exact"}, "target", "known: eenvoudigfactureren, factuursturen"),
        ({"source_credentials": {}}, "source_credentials", "KMO Shops needs API key."),
        (
            {"target_credentials": {"username": "u"}},
            "target_credentials",
            "Factuursturen needs Username and API key",
        ),
        (
            {"source_credentials": {"apikey": "x"}},
            "source_credentials",
            "KMO Shops has no credential 'apikey'",
        ),
        ({"target_settings": {"send_invoice": "fax"}}, "target_settings", "Send invoice: Input should be"),
        ({"target_settings": {"colour": "red"}}, "target_settings", "Factuursturen has no setting 'colour'"),
        ({"eligible_statuses": ["booked"]}, "eligible_statuses", "Unknown status booked"),
        ({"shop_country": "XX"}, "shop_country", "Unknown country code 'XX'"),
        ({"source_url": "myshop.example"}, "source_url", "http:// or https://"),
    ],
)
def test_what_the_worker_could_not_use_is_connection_invalid(api, connection_body, change, field, words):
    response = post(api, "/api/connections", {**connection_body, **change})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "CONNECTION_INVALID"
    assert any(words in message for message in body["problems"][field]), body
    assert words.rstrip(".") in body["message"]
    assert not Connection.objects.exists()


def test_a_shopify_app_signs_with_its_client_secret_which_is_never_returned(api, administration):
    body = {
        "name": "Shopify → Factuursturen",
        "source": "shopify",
        "source_url": "https://bakkerij.myshopify.com",
        "source_credentials": {"client_id": "app-1", "client_secret": "shpss_app-secret"},
        "target": "factuursturen",
        "target_url": administration.url,
        "target_credentials": dict(administration.credentials),
    }
    response = post(api, "/api/connections", body, check="false")
    assert response.status_code == 201, response.content
    assert response.json()["webhook_secret"] is None
    assert response.json()["source_credentials"]["public"] == {"client_id": "app-1"}
    assert b"shpss_app-secret" not in response.content
    assert Connection.objects.get().webhook_secret == "shpss_app-secret"


def test_an_unknown_field_is_a_validation_error(api, connection_body):
    response = post(api, "/api/connections", {**connection_body, "colour": "red"})
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"
    assert "colour" in response.json()["message"]


# Read, change, on/off, test, delete -----------------------------------------------------------------------
@pytest.fixture
def made(api, connection_body) -> dict:
    response = post(api, "/api/connections", connection_body)
    assert response.status_code == 201, response.content
    return response.json()


def test_read_hides_secrets_but_says_which_are_set(api, made, administration):
    body = api.get(f"/api/connections/{made['id']}").json()
    assert body["source_credentials"] == {"set": ["api_key"], "public": {}, "complete": True, "problem": ""}
    assert body["target_credentials"]["public"] == {"username": administration.username}
    assert body["target_credentials"]["set"] == ["api_key", "username"]
    assert administration.api_key not in json.dumps(body)
    assert body["counts"] == {"open": 0, "queued": 0, "handled": 0, "error": 0, "skipped": 0}


def test_another_accounts_connection_does_not_exist(made, transactional_db):
    other = bearer(ApiToken.issue(Account.objects.create(name="Other"), "t")[1])
    for method in ("get", "delete"):
        assert getattr(other, method)(f"/api/connections/{made['id']}").status_code == 404
    assert patch(other, f"/api/connections/{made['id']}", {"active": False}).status_code == 404
    assert other.post(f"/api/connections/{made['id']}/test").status_code == 404
    assert Connection.objects.get(pk=made["id"]).active


def test_patch_changes_only_what_is_given(api, made):
    response = patch(
        api, f"/api/connections/{made['id']}", {"name": "Renamed", "target_settings": {"language": "en"}}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["target_settings"] == {"send_invoice": "email", "language": "en"}
    assert body["eligible_statuses"] == ["paid", "shipped"]


def test_patch_switches_off_and_on(api, made):
    assert patch(api, f"/api/connections/{made['id']}", {"active": False}).json()["active"] is False
    assert Connection.objects.get(pk=made["id"]).active is False
    assert patch(api, f"/api/connections/{made['id']}", {"active": True}).json()["active"] is True


def test_patch_with_a_wrong_key_changes_nothing(api, made, administration):
    response = patch(api, f"/api/connections/{made['id']}", {"target_credentials": {"api_key": "wrong"}})
    assert response.status_code == 422
    assert response.json()["error"] == "TARGET_CHECK_FAILED"
    assert Connection.objects.get(pk=made["id"]).target_credentials == administration.credentials


def test_patch_merges_a_single_new_credential_and_tests_it(api, made, administration, sandbox):
    # A new key for the same user: the username is kept; the new key works in the sandbox.
    new_key = "fskey-rotated"
    body = {"username": administration.username, "api_key": new_key, "hourly_limit": 100_000}
    import httpx

    assert httpx.post(f"{sandbox.url}/_sandbox/factuursturen/accounts", json=body).status_code in (200, 201)
    response = patch(api, f"/api/connections/{made['id']}", {"target_credentials": {"api_key": new_key}})
    assert response.status_code == 200, response.content
    assert Connection.objects.get(pk=made["id"]).target_credentials == {
        "username": administration.username,
        "api_key": new_key,
    }


def test_patch_refuses_invalid_settings_and_kinds(api, made):
    response = patch(api, f"/api/connections/{made['id']}", {"target_settings": {"send_invoice": "fax"}})
    assert response.status_code == 422 and response.json()["error"] == "CONNECTION_INVALID"
    assert "target_settings" in response.json()["problems"]
    response = patch(api, f"/api/connections/{made['id']}", {"source": "shopify"})
    assert response.status_code == 422 and response.json()["error"] == "VALIDATION_ERROR"
    assert Connection.objects.get(pk=made["id"]).target_settings == {"send_invoice": "email"}


def test_the_test_endpoint_runs_both_sides_and_stores_the_dots(api, made, administration):
    Connection.objects.filter(pk=made["id"]).update(source_health=Health.UNKNOWN)
    body = api.post(f"/api/connections/{made['id']}/test").json()
    assert body["ok"] is True
    assert body["source"]["status"] == "ok" and body["target"]["status"] == "ok"
    connection = Connection.objects.get(pk=made["id"])
    connection.target_credentials = {**administration.credentials, "api_key": "revoked"}
    connection.save()
    body = api.post(f"/api/connections/{made['id']}/test").json()
    assert body["ok"] is False
    assert body["target"]["status"] == "failed" and body["target"]["message"]
    assert Connection.objects.get(pk=made["id"]).target_health == Health.FAILED


def test_delete_removes_the_connection_and_its_records(api, made):
    make_record(Connection.objects.get(pk=made["id"]), "1001", State.ERROR, 1)
    response = api.delete(f"/api/connections/{made['id']}")
    assert response.status_code == 204
    assert not Connection.objects.exists()
    assert api.get(f"/api/connections/{made['id']}").status_code == 404


def test_wrong_methods_name_the_allowed_ones(api, made):
    response = api.put(f"/api/connections/{made['id']}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, PATCH, DELETE, OPTIONS"


# Staff ----------------------------------------------------------------------------------------------------
def test_staff_makes_an_account_and_a_token_that_works(staff_api):
    response = post(staff_api, "/api/accounts", {"name": "Fietsen Willems", "email": "info@willems.be"})
    assert response.status_code == 201, response.content
    account_id = response.json()["id"]
    assert any(a["name"] == "Fietsen Willems" for a in staff_api.get("/api/accounts").json())
    response = post(staff_api, f"/api/accounts/{account_id}/tokens", {"name": "erp"})
    assert response.status_code == 201
    created = response.json()
    assert created["token"].startswith("kp_") and created["hint"] == created["token"][:10]
    merchant = bearer(created["token"])
    assert merchant.get("/api/connections").json() == []
    listed = staff_api.get(f"/api/accounts/{account_id}/tokens").json()
    assert [t["name"] for t in listed] == ["erp"] and "token" not in listed[0]
    assert created["token"] not in staff_api.get(f"/api/accounts/{account_id}/tokens").content.decode()
    assert staff_api.delete(f"/api/tokens/{created['id']}").status_code == 204
    assert merchant.get("/api/connections").status_code == 401
    assert staff_api.delete(f"/api/tokens/{created['id']}").status_code == 404


def test_staff_endpoints_refuse_a_merchants_token(api, account):
    calls = [
        api.get("/api/accounts"),
        post(api, "/api/accounts", {"name": "Sneaky"}),
        post(api, f"/api/accounts/{account.pk}/tokens", {"name": "more"}),
        api.get(f"/api/accounts/{account.pk}/tokens"),
        api.delete(f"/api/tokens/{ApiToken.objects.get().pk}"),
    ]
    for response in calls:
        assert response.status_code == 403
        assert response.json()["error"] == "FORBIDDEN"
    assert not Account.objects.filter(name="Sneaky").exists()
    assert ApiToken.objects.count() == 1


def test_a_staff_member_does_not_make_a_merchant_account_staff(account, transactional_db):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    account.members.add(users.create_user("merchant", "m@example.nl", "x"))
    account.members.add(users.create_user("support", "s@example.nl", "x", is_staff=True))
    client = bearer(ApiToken.issue(account, "t")[1])
    assert client.get("/api/accounts").status_code == 403


# OpenAPI --------------------------------------------------------------------------------------------------
def test_openapi_documents_the_new_operations_and_their_errors(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    create = paths["/api/connections"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "422"}  # 400: a body that is no JSON
    assert "webhook_secret" in json.dumps(schema["components"]["schemas"]["ConnectionCreatedOut"])
    assert "problems" in schema["components"]["schemas"]["InvalidOut"]["properties"]
    assert {p["name"] for p in create["parameters"]} == {"check"}
    assert set(paths["/api/connections/{connection_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/connections/{connection_id}"]["delete"]["responses"]) == {
        "204",
        "401",
        "404",
        "422",
    }
    assert "403" in paths["/api/accounts"]["post"]["responses"]
    assert "403" in paths["/api/tokens/{token_id}"]["delete"]["responses"]
    out = schema["components"]["schemas"]["ConnectionOut"]["properties"]
    assert "webhook_secret" not in out and not any("encrypted" in name for name in out)
