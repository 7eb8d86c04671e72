"""Who sees what: a user sees the connections and records of the accounts they are a member of; superusers
see all. Another account's connection or record is a 404, never a 403."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from koppel.accounts.models import Account
from koppel.connections.models import Connection
from koppel.sync.models import Record


def visible_connections(user: Any) -> QuerySet[Connection]:
    connections = Connection.objects.select_related("account")
    return connections if user.is_superuser else connections.filter(account__in=user.koppel_accounts.all())


def visible_records(user: Any) -> QuerySet[Record]:
    return Record.objects.filter(connection__in=visible_connections(user))


def merchant_account(user: Any) -> Account | None:
    """The account a user's new connections belong to: their first (usually only) one."""
    return user.koppel_accounts.order_by("id").first()
