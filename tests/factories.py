"""Rows for tests that need records without running orders through the pipeline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from koppel.accounts.models import Account
from koppel.connections.models import Connection
from koppel.sync.models import Record

#: The credentials every factory connection carries; no response, page or log may ever show them.
SOURCE_KEY, TARGET_KEY = "SECRET-KEY-1", "SECRET-KEY-2"


def make_connection(account: Account, name: str) -> Connection:
    connection = Connection(
        account=account,
        name=name,
        source_kind="kmoshops",
        source_url="http://127.0.0.1:9/kmoshops/shop",
        target_kind="factuursturen",
        target_url="http://127.0.0.1:9/factuursturen/api/v1",
    )
    connection.source_credentials = {"api_key": SOURCE_KEY}
    connection.target_credentials = {"username": "u", "api_key": TARGET_KEY}
    connection.new_webhook_secret()
    connection.save()
    return connection


def make_record(connection: Connection, number: str, state: str, hours_ago: float, **fields) -> Record:
    values = {
        "source_order_id": f"src-{number}",
        "order_number": number,
        "state": state,
        "order_created_at": timezone.now() - timedelta(hours=hours_ago, minutes=5),
        "total": Decimal("121.00"),
        "currency": "EUR",
        "customer_name": "Anna de Vries",
        "customer_email": "anna@example.nl",
        "created_at": timezone.now() - timedelta(hours=hours_ago),
        "payload": {"id": f"src-{number}", "number": number, "total": "121.00", "note": "payload-marker"},
    }
    values.update(fields)
    return Record.objects.create(connection=connection, **values)
