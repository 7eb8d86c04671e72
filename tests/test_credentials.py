"""Credentials are encrypted at rest, survive a key rotation and never show in a repr or a log."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from koppel.connections import crypto
from koppel.connections.models import Connection


@pytest.fixture
def fresh_keys(settings):
    def use(*keys: str) -> None:
        settings.FERNET_KEYS = list(keys)  # the keys are part of the cache key: no cache to clear

    return use


def raw_row(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT source_credentials_encrypted, target_credentials_encrypted, webhook_secret_encrypted "
            "FROM connections_connection WHERE id = %s",
            [pk],
        )
        return " ".join(cursor.fetchone())


def test_credentials_are_not_stored_in_clear(connection, shop, administration):
    row = raw_row(connection.pk)
    assert shop.api_key not in row
    assert administration.api_key not in row
    assert connection.webhook_secret not in row
    assert Connection.objects.get(pk=connection.pk).source_credentials["api_key"] == shop.api_key


def test_key_rotation_keeps_credentials_readable(connection, fresh_keys, shop, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    fresh_keys(old)
    connection.source_credentials = {"api_key": shop.api_key}
    connection.target_credentials = {"username": "u", "api_key": "target-secret"}
    secret = connection.new_webhook_secret()
    connection.save()
    fresh_keys(new, old)
    call_command("rotate_keys")
    assert "1 connection" in capsys.readouterr().out
    fresh_keys(new)  # the old key is gone
    rotated = Connection.objects.get(pk=connection.pk)
    assert rotated.source_credentials["api_key"] == shop.api_key
    assert rotated.target_credentials["api_key"] == "target-secret"
    assert rotated.webhook_secret == secret
    fresh_keys(old)
    with pytest.raises(crypto.CredentialsUnreadable):
        Connection.objects.get(pk=connection.pk).source_credentials  # noqa: B018


def test_rotation_refuses_when_a_key_is_missing(connection, fresh_keys):
    from django.core.management.base import CommandError

    fresh_keys(Fernet.generate_key().decode())
    with pytest.raises(CommandError, match=f"Connection {connection.pk}"):
        call_command("rotate_keys")


def test_secrets_never_show_in_repr_or_logs(connection, shop, caplog, deliver, run_queue):
    from tests.conftest import make_order

    credentials = connection.source_credentials
    assert shop.api_key not in repr(credentials) and shop.api_key not in str(credentials)
    caplog.set_level(logging.DEBUG)
    connection.source_credentials = {"api_key": "wrong-key-visible-nowhere"}
    connection.save()
    order = make_order()
    shop.place(order)
    deliver(connection, order["id"])
    run_queue()
    assert "wrong-key-visible-nowhere" not in caplog.text
    assert shop.api_key not in caplog.text


def test_add_connection_command_prints_webhook_details(transactional_db, capsys):
    call_command(
        "add_connection",
        "--account",
        "Fietsenwinkel Zwolle",
        "--name",
        "Shop → Factuursturen",
        "--source",
        "kmoshops",
        "--source-url",
        "https://fietsen.example.be",
        "--source-credential",
        "api_key=abc123",
        "--target",
        "factuursturen",
        "--target-credential",
        "username=fietsen",
        "--target-credential",
        "api_key=xyz789",
        "--target-setting",
        "send_invoice=email",
        "--statuses",
        "paid,shipped",
        "--no-check",  # made-up systems: nothing to test the credentials against
    )
    out = capsys.readouterr().out
    connection = Connection.objects.get()
    assert connection.webhook_url in out
    assert connection.webhook_secret in out
    assert connection.target_url == "https://www.factuursturen.nl/api/v1"
    assert connection.statuses_to_book == {"paid", "shipped"}
    assert connection.target_credentials == {"username": "fietsen", "api_key": "xyz789"}
    assert "abc123" not in out and "xyz789" not in out


def test_add_connection_takes_the_shops_own_webhook_secret(transactional_db, capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "shpss_the-shops-own-key")
    call_command(
        "add_connection",
        "--account",
        "Fietsenwinkel Zwolle",
        "--name",
        "Shopify → EenvoudigFactureren",
        "--source",
        "shopify",
        "--source-url",
        "https://fietsen.myshopify.com",
        "--source-credential",
        "access_token=shpat_abc",
        "--target",
        "eenvoudigfactureren",
        "--target-credential",
        "api_key=ef-xyz",
        "--webhook-secret",
        "-",
        "--no-check",
    )
    out = capsys.readouterr().out
    connection = Connection.objects.get()
    assert connection.webhook_secret == "shpss_the-shops-own-key"
    assert "shpss_the-shops-own-key" not in out and "the one you gave" in out


# -- a process without the keys ---------------------------------------------------------------------------


def test_credentials_a_worker_cannot_read_are_a_retryable_error_with_a_remedy(
    shop, administration, connection, deliver, settings
):
    from tests.conftest import drain, make_order, record_of

    order = make_order()
    shop.place(order)
    assert deliver(connection, order["id"]).status_code == 202
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # the worker has other keys than the web
    drain()
    record = record_of(connection, order)
    assert record.state == "error"
    assert record.error_code == "CREDENTIALS_UNREADABLE"
    assert "KOPPEL_FERNET_KEYS" in record.message
    assert record.attempt_log.count() == settings.RETRY_MAX_ATTEMPTS  # retried, not given up at once
    assert administration.invoices == []


def test_a_webhook_whose_secret_cannot_be_read_is_answered_503_to_be_sent_again(connection, client, settings):
    from tests.conftest import signed, webhook_body

    body = webhook_body(123)
    signature = signed(body, connection.webhook_secret)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    response = client.post(
        connection.webhook_path, body, content_type="application/json", HTTP_X_KMO_SIGNATURE=signature
    )
    assert response.status_code == 503
    assert response.json()["error"] == "CREDENTIALS_UNREADABLE"


@pytest.mark.slow
def test_a_worker_without_the_keys_does_not_start(connection, tmp_path):
    """The worker would otherwise make up a key of its own and fail every order it took."""
    import os
    import subprocess
    import sys

    from tests.sync.test_intake_and_worker import database_url

    environment = {**os.environ, "DATABASE_URL": database_url(), "KOPPEL_DATA_DIR": str(tmp_path)}
    environment.pop("KOPPEL_FERNET_KEYS", None)
    run = subprocess.run(
        [sys.executable, "-m", "koppel.cli", "worker", "--batch"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "not started" in run.stderr and "KOPPEL_FERNET_KEYS" in run.stderr
    assert not (tmp_path / "fernet.key").exists()

    other = {**environment, "KOPPEL_FERNET_KEYS": Fernet.generate_key().decode()}
    run = subprocess.run(
        [sys.executable, "-m", "koppel.cli", "worker", "--batch"],
        env=other,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "read none of the 2 stored credentials" in run.stderr
