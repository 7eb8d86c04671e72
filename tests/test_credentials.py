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
        settings.FERNET_KEYS = list(keys)
        crypto.fernet.cache_clear()

    yield use
    crypto.fernet.cache_clear()


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
        "--setting",
        "send_invoice=email",
        "--statuses",
        "paid,shipped",
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
    )
    out = capsys.readouterr().out
    connection = Connection.objects.get()
    assert connection.webhook_secret == "shpss_the-shops-own-key"
    assert "shpss_the-shops-own-key" not in out and "the one you gave" in out
