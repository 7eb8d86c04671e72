"""A Dev Dashboard app's client ID and secret instead of a permanent token: the client credentials grant in
the sandbox, the connector obtaining a token before its first call, sharing it between connectors, renewing
it before it expires and once after a 401, a refused grant as SOURCE_AUTH_FAILED, secrets and tokens kept
out of every log, and ``add_connection`` with either set of credentials."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from koppel.connections.models import Connection
from koppel.connectors.errors import AuthFailed, RateLimited, Unavailable
from koppel.connectors.shopify.auth import AppCredentials, Grant, TokenCache, renew_after
from koppel.connectors.shopify.client import ShopifyClient, TokenRefused
from koppel.connectors.shopify.connector import ShopifySource
from koppel.connectors.shopify.sandbox import AUTH_MESSAGE, INVALID_CLIENT
from koppel.documents.codes import Code
from koppel.sync.models import Attempt, Record, State
from koppel.sync.services import note_order
from tests.conftest import connect, drain, record_of
from tests.shopify.conftest import ShopifyApp, ShopifyStore

TOKEN_CALL = {"method": "POST", "path": "oauth/access_token", "status": 200}


def fetched(shop: ShopifyStore, order: dict[str, Any], **credentials: str) -> list[dict[str, Any]]:
    """Fetch ``order`` with a new connector (as each piece of work does); its call log, without timings."""
    source = shop.source(**credentials)
    try:
        assert source.fetch_order(str(order["id"]))["id"] == order["id"]
    finally:
        source.close()
    return [{k: v for k, v in call.items() if k != "ms"} for call in source.log.calls]


def statuses(shop: ShopifyApp) -> list[tuple[str, str, int]]:
    return [(e["method"], e["path"].rsplit("/", 1)[-1], e["status"]) for e in shop.requests()]


# --- the credential sets ------------------------------------------------------------------------------------


def test_shopify_takes_an_access_token_or_a_client_id_and_secret() -> None:
    assert ShopifySource.credential_sets() == (("access_token",), ("client_id", "client_secret"))
    assert ShopifySource.credentials_complete({"access_token": "shpat_x"})
    assert ShopifySource.credentials_complete({"client_id": "id", "client_secret": "shpss_x"})
    assert not ShopifySource.credentials_complete({"client_id": "id"})
    assert not ShopifySource.credentials_complete({"client_id": "id", "client_secret": ""})
    assert not ShopifySource.credentials_complete({})


def test_a_connector_with_one_set_needs_all_of_it() -> None:
    from koppel.connectors import registry

    factuursturen = registry.target("factuursturen")
    assert factuursturen.credential_sets() == (("username", "api_key"),)
    assert factuursturen.credentials_complete({"username": "u", "api_key": "k"})
    assert not factuursturen.credentials_complete({"username": "u"})


# --- the grant in the sandbox -------------------------------------------------------------------------------


def test_the_grant_issues_a_token_the_admin_api_takes(app_shop: ShopifyApp) -> None:
    response = app_shop.grant()
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"access_token", "scope", "expires_in"}
    assert answer["access_token"].startswith("shpat_") and answer["expires_in"] == 86399
    assert answer["scope"] == "read_orders,read_all_orders"
    assert app_shop.api("orders.json", token=answer["access_token"]).status_code == 200
    assert app_shop.api("orders.json", token="").status_code == 401  # the app's shop has no fixed token
    assert [t["access_token"] for t in app_shop.tokens()] == [answer["access_token"]]
    assert statuses(app_shop) == [
        ("POST", "access_token", 200),
        ("GET", "orders.json", 200),
        ("GET", "orders.json", 401),
    ]
    assert app_shop.client_secret not in json.dumps(app_shop.requests())
    summary = app_shop.configure()
    assert summary["client_id"] == app_shop.client_id and app_shop.client_secret not in json.dumps(summary)


def test_a_json_body_is_taken_too(app_shop: ShopifyApp) -> None:
    body = {"grant_type": "client_credentials", **app_shop.auth()}
    response = httpx.post(f"{app_shop.url}/admin/oauth/access_token", json=body)
    assert response.status_code == 200 and response.json()["access_token"].startswith("shpat_")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_secret": "shpss_wrong"}, "invalid_client"),
        ({"client_id": "another-app"}, "invalid_client"),
        ({"client_secret": ""}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
def test_a_refused_grant_is_a_400_in_oauth_words(
    app_shop: ShopifyApp, form: dict[str, str], error: str
) -> None:
    response = app_shop.grant(**form)
    assert response.status_code == 400
    assert response.json()["error"] == error and response.json()["error_description"]
    assert app_shop.tokens() == []


def test_wrong_client_and_app_not_installed(app_shop: ShopifyApp, store: ShopifyStore) -> None:
    assert app_shop.grant(client_secret="shpss_wrong").json() == {
        "error": "invalid_client",
        "error_description": INVALID_CLIENT,
    }
    app_shop.configure(app_installed=False)
    assert app_shop.grant().json()["error"] == "app_not_installed"
    form = {"grant_type": "client_credentials", **app_shop.auth()}
    refused = httpx.post(f"{store.url}/admin/oauth/access_token", data=form)  # a shop without the app
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"


def test_tokens_expire_after_the_lifetime_and_can_be_revoked(app_shop: ShopifyApp) -> None:
    app_shop.knobs(token_lifetime=1)
    token = app_shop.grant().json()
    assert token["expires_in"] == 1
    assert app_shop.api("orders.json", token=token["access_token"]).status_code == 200
    time.sleep(1.05)
    expired = app_shop.api("orders.json", token=token["access_token"])
    assert (expired.status_code, expired.json()) == (401, {"errors": AUTH_MESSAGE})
    assert app_shop.tokens() == []
    app_shop.knobs(token_lifetime=86399)
    token = app_shop.grant().json()["access_token"]
    app_shop.revoke_tokens()
    assert app_shop.api("orders.json", token=token).status_code == 401


def test_a_new_shop_needs_a_token_or_an_app(sandbox) -> None:
    base = f"{sandbox.url}/_sandbox/shopify/shops"
    refused = httpx.post(base, json={"shop": "half-an-app", "client_id": "id"})
    assert refused.status_code == 400 and "client_secret" in refused.json()["errors"]
    assert httpx.post(base, json={"shop": "bad-app", "client_id": 1, "client_secret": "s"}).status_code == 400


# --- the connector --------------------------------------------------------------------------------------


def test_the_connector_obtains_a_token_before_its_first_call(app_shop: ShopifyApp) -> None:
    order = app_shop.place()
    calls = fetched(app_shop, order)
    assert calls == [TOKEN_CALL, {"method": "GET", "path": f"orders/{order['id']}.json", "status": 200}]
    [token] = app_shop.tokens()
    assert token["access_token"] not in json.dumps(calls) and app_shop.client_secret not in json.dumps(calls)


def test_the_token_is_shared_by_the_connectors_of_the_process(app_shop: ShopifyApp) -> None:
    orders = [app_shop.place() for _ in range(3)]
    logs = [fetched(app_shop, order) for order in orders]
    assert [len(log) for log in logs] == [2, 1, 1]
    assert len(app_shop.token_requests()) == 1 and len(app_shop.tokens()) == 1


def test_connectors_starting_together_ask_for_one_token(app_shop: ShopifyApp) -> None:
    orders = [app_shop.place() for _ in range(6)]
    threads = [threading.Thread(target=fetched, args=(app_shop, order)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(app_shop.token_requests()) == 1
    assert [e["status"] for e in app_shop.requests()].count(200) == 7


def test_a_token_is_renewed_before_it_expires(app_shop: ShopifyApp) -> None:
    """A one-second token is renewed after nine tenths of a second (a real one five minutes early)."""
    app_shop.knobs(token_lifetime=1)
    order = app_shop.place()
    fetched(app_shop, order)
    time.sleep(0.95)
    assert fetched(app_shop, order)[0] == TOKEN_CALL
    assert [status for _, _, status in statuses(app_shop)] == [200, 200, 200, 200]  # never a 401
    assert len(app_shop.token_requests()) == 2


def test_a_revoked_token_answered_401_is_renewed_once(app_shop: ShopifyApp) -> None:
    order = app_shop.place()
    fetched(app_shop, order)
    app_shop.revoke_tokens()
    path = f"orders/{order['id']}.json"
    assert fetched(app_shop, order) == [
        {"method": "GET", "path": path, "status": 401},
        TOKEN_CALL,
        {"method": "GET", "path": path, "status": 200},
    ]
    assert fetched(app_shop, order) == [{"method": "GET", "path": path, "status": 200}]


def test_a_renewed_token_refused_again_is_auth_failed(app_shop: ShopifyApp) -> None:
    order = app_shop.place()
    fetched(app_shop, order)
    app_shop.knobs(fail_next=[401, 401])
    with pytest.raises(AuthFailed) as info:
        fetched(app_shop, order)
    assert info.value.code == Code.SOURCE_AUTH_FAILED
    assert statuses(app_shop)[2:] == [
        ("GET", f"{order['id']}.json", 401),
        ("POST", "access_token", 200),
        ("GET", f"{order['id']}.json", 401),
    ]


def test_a_token_obtained_just_now_and_refused_is_not_renewed(app_shop: ShopifyApp) -> None:
    order = app_shop.place()
    app_shop.knobs(fail_next=[401])
    with pytest.raises(TokenRefused):
        fetched(app_shop, order)
    assert [status for _, _, status in statuses(app_shop)] == [200, 401]


def test_a_wrong_secret_is_auth_failed_in_shopifys_words(app_shop: ShopifyApp) -> None:
    order = app_shop.place()
    fetched(app_shop, order)  # the right secret's token is cached: a wrong secret must not borrow it
    wrong = {"client_id": app_shop.client_id, "client_secret": "shpss_not-the-secret"}
    for _ in range(2):  # a refused grant is not cached either
        with pytest.raises(AuthFailed) as info:
            fetched(app_shop, order, **wrong)
        assert info.value.code == Code.SOURCE_AUTH_FAILED and not info.value.transient
        assert info.value.message == (
            f"Shopify answered 400 to the access token request: invalid_client: {INVALID_CLIENT}"
        )
    assert [e["status"] for e in app_shop.token_requests()] == [200, 400, 400]


def test_an_access_token_is_used_as_before_even_beside_an_app(store: ShopifyStore) -> None:
    order = store.place()
    calls = fetched(store, order, access_token=store.token, client_id="id", client_secret="shpss_x")
    assert calls == [{"method": "GET", "path": f"orders/{order['id']}.json", "status": 200}]


def mock_token_endpoint(status: int, body: Any) -> ShopifyClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/admin/oauth/access_token"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        return httpx.Response(status, json=body)

    app = AppCredentials("id", "shpss_secret")
    transport = httpx.MockTransport(answer)
    return ShopifyClient("https://x.myshopify.com", app=app, transport=transport, tokens=TokenCache())


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (503, {"errors": "Service Unavailable"}, Unavailable),
        (429, {"errors": "Too many requests"}, RateLimited),
        (200, {"scope": "read_orders"}, Unavailable),
        (401, {"error": "invalid_client", "error_description": "secret shpss_secret is wrong"}, AuthFailed),
        (404, {"errors": "Not Found"}, AuthFailed),
    ],
)
def test_what_the_token_endpoint_answers(status: int, body: Any, error: type) -> None:
    client = mock_token_endpoint(status, body)
    with pytest.raises(error) as info:
        client.get_order("1")
    client.close()
    assert type(info.value) is error and "shpss_secret" not in info.value.message
    assert [(c["method"], c["path"], c["status"]) for c in client.log.calls] == [
        ("POST", "oauth/access_token", status)
    ]


# --- the token cache ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_renewed_shortly_before_they_expire() -> None:
    assert renew_after(86399) == 86099  # five minutes early
    assert renew_after(1) == pytest.approx(0.9)  # a tenth of a short lifetime
    clock, grants = Clock(), iter(["t1", "t2", "t3"])
    cache = TokenCache(clock)

    def obtain() -> Grant:
        return Grant(next(grants), 3600)

    assert cache.get(("k",), obtain) == ("t1", True)
    clock.now += 3299
    assert cache.get(("k",), obtain) == ("t1", False)
    clock.now += 2
    assert cache.get(("k",), obtain) == ("t2", True)
    cache.forget(("k",), "t1")  # another thread's old token: the new one stays
    assert cache.get(("k",), obtain) == ("t2", False)
    cache.forget(("k",), "t2")
    assert cache.get(("k",), obtain) == ("t3", True)


def test_the_answer_and_the_credentials_keep_their_secrets() -> None:
    assert Grant.from_answer({"access_token": "shpat_a", "expires_in": 86399}) == Grant("shpat_a", 86399)
    assert Grant.from_answer({"access_token": "shpat_a"}).expires_in == 86399  # Shopify's lifetime
    assert Grant.from_answer({"access_token": ""}) is None
    assert "shpat_a" not in repr(Grant("shpat_a", 1))
    app = AppCredentials("id", "shpss_secret")
    assert "shpss_secret" not in repr(app) and "shpss_secret" not in repr(app.cache_key("https://x"))
    assert app.cache_key("https://X.myshopify.com/") == app.cache_key("https://x.myshopify.com")
    assert app.cache_key("https://x") != AppCredentials("id", "shpss_other").cache_key("https://x")


# --- through the pipeline -----------------------------------------------------------------------------------


def secrets_of(shop: ShopifyApp) -> list[str]:
    return [shop.client_secret, *(t["access_token"] for t in shop.tokens())]


def stored_text(connection: Connection) -> str:
    records = Record.objects.filter(connection=connection).values()
    attempts = Attempt.objects.filter(record__connection=connection).values("message", "calls")
    return json.dumps([*records, *attempts], default=str)


def test_a_wrong_secret_is_source_auth_failed_on_the_record(
    account, app_shop: ShopifyApp, administration, retry_fast, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    order = app_shop.place()
    app_shop.credentials = {"client_id": app_shop.client_id, "client_secret": "shpss_wrong-secret"}
    connection = connect(account, app_shop, administration)
    note_order(connection, str(order["id"]), via="webhook")
    drain()
    record = record_of(connection, order)
    assert (record.state, record.error_code) == (State.ERROR, "SOURCE_AUTH_FAILED")
    assert record.message.startswith("Shopify answered 400 to the access token request: invalid_client")
    [attempt] = record.attempt_log.all()
    assert [(c["method"], c["path"], c["status"]) for c in attempt.calls] == [
        ("POST", "oauth/access_token", 400)
    ]
    for secret in ("shpss_wrong-secret", app_shop.client_secret):
        assert secret not in stored_text(connection) and secret not in caplog.text
    assert administration.invoices == []


def add_connection(*credentials: str, target=None, **options: str) -> str:
    """Run ``koppel add_connection`` for a Shopify shop; what it printed."""
    from io import StringIO

    out = StringIO()
    args = ["--account", "Bakkerij De Witte", "--name", "Shopify → Factuursturen", "--source", "shopify"]
    args += ["--source-url", options.pop("source_url", "https://bakkerij-de-witte.myshopify.com")]
    for credential in credentials:
        args += ["--source-credential", credential]
    args += ["--target", "factuursturen"]
    if target is not None:
        args += ["--target-url", target.url]
        args += [f"--target-credential={k}={v}" for k, v in target.credentials.items()]
    else:
        args += ["--target-credential", "username=bakkerij", "--target-credential", "api_key=fs-key"]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    if "--source-url" in args and "myshopify.com" in args[args.index("--source-url") + 1]:
        args.append("--no-check")  # a made-up shop: nothing to test the credentials against
    call_command("add_connection", *args, stdout=out)
    return out.getvalue()


def test_add_connection_with_a_client_id_and_secret(transactional_db, monkeypatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "shpss_the-app-secret")
    out = add_connection("client_id=0a1b2c3d", "client_secret=-")
    connection = Connection.objects.get()
    assert connection.source_credentials == {"client_id": "0a1b2c3d", "client_secret": "shpss_the-app-secret"}
    assert connection.webhook_secret == "shpss_the-app-secret"  # what Shopify signs the app's webhooks with
    assert "shpss_the-app-secret" not in out
    assert "Webhook secret: your client secret (Shopify signs your app's webhooks with it" in out
    assert connection.webhook_url in out


def test_add_connection_takes_a_given_webhook_secret_over_the_client_secret(
    transactional_db, monkeypatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "shpss_notifications-key")
    out = add_connection("client_id=0a1b2c3d", "client_secret=shpss_app", webhook_secret="-")
    assert Connection.objects.get().webhook_secret == "shpss_notifications-key"
    assert "the one you gave" in out and "shpss_" not in out


def test_add_connection_with_an_access_token_makes_a_webhook_secret(transactional_db) -> None:
    out = add_connection("access_token=shpat_legacy")
    connection = Connection.objects.get()
    assert connection.source_credentials == {"access_token": "shpat_legacy"}
    assert connection.webhook_secret in out and "shpat_legacy" not in out


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        (
            ("client_id=0a1b2c3d",),
            "--source-credential needs access_token, or client_id and client_secret (got client_id)",
        ),
        ((), "--source-credential needs access_token, or client_id and client_secret"),
        (("client_id=0a1b2c3d", "client_secret="), "(got client_id, client_secret)"),
    ],
)
def test_add_connection_refuses_an_incomplete_set(transactional_db, credentials, message: str) -> None:
    with pytest.raises(CommandError) as info:
        add_connection(*credentials)
    assert message in str(info.value)
    assert not Connection.objects.exists()


def test_add_connection_names_a_targets_one_set(transactional_db) -> None:
    with pytest.raises(CommandError, match="--target-credential needs username and api_key"):
        call_command(
            "add_connection",
            *(
                "--account",
                "A",
                "--name",
                "N",
                "--source",
                "shopify",
                "--source-url",
                "https://a.myshopify.com",
            ),
            *("--source-credential", "access_token=shpat_x", "--target", "factuursturen"),
            *("--target-credential", "username=u"),
        )


@pytest.mark.usefixtures("live_server")
def test_an_order_is_booked_through_a_client_credentials_connection(
    live_server, transactional_db, app_shop: ShopifyApp, administration, retry_fast, monkeypatch, caplog
) -> None:
    """Connected with ``add_connection`` and the app's client ID and secret: the shop signs its webhooks
    with the client secret, Koppel obtains one token and books every order with it."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": app_shop.client_secret)
    add_connection(
        f"client_id={app_shop.client_id}",
        "client_secret=-",
        target=administration,
        source_url=app_shop.url,
        start_at="2020-01-01T00:00:00+00:00",
    )
    connection = Connection.objects.get()
    app_shop.configure(webhook_url=live_server.url + connection.webhook_path, topics=["orders/create"])
    orders = [app_shop.place(notify=True) for _ in range(3)]
    assert [d["status"] for d in app_shop.deliveries(wait_for=3)] == [202, 202, 202]
    drain()
    for order in orders:
        record = record_of(connection, order)
        assert record.state == State.HANDLED, record.message
    assert sorted(i["totalintax"] for i in administration.invoices) == ["38.34"] * 3
    # One token: obtained when add_connection tested the credentials, then used by the three orders.
    assert len(app_shop.token_requests()) == 1
    calls = [c for a in Attempt.objects.filter(record__connection=connection) for c in a.calls]
    assert sum(c["path"] == "oauth/access_token" for c in calls) == 0
    for secret in secrets_of(app_shop):
        assert secret not in stored_text(connection) and secret not in caplog.text
