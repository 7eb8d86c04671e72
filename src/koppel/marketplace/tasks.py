"""The marketplace's invoices as background tasks: the daily fetch and backfills of past months."""

from __future__ import annotations

import logging
from datetime import date

from django_tasks import task

from koppel.connections.models import Connection
from koppel.connectors.errors import ConnectorError

logger = logging.getLogger("koppel.marketplace")


@task()
def fetch_marketplace_invoices(connection_id: int, since_text: str = "", until_text: str = "") -> str:
    """Read the connection's marketplace invoices (the daily range, or ``[since, until]`` for a backfill)."""
    from . import fetching

    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None or not fetching.supplies_invoices(connection):
        return "no-invoices"
    since, until = fetching.daily_range()
    if since_text:
        since = date.fromisoformat(since_text)
    if until_text:
        until = date.fromisoformat(until_text)
    try:
        summary = fetching.fetch(connection, since, until, via="backfill" if since_text else "poll")
    except ConnectorError as exc:  # the next run (or the record's retries) asks again
        logger.warning("Marketplace invoices of connection %s not read: %s", connection_id, exc.message)
        return "not-read"
    return f"seen {summary.seen}, new {summary.new}, files {summary.files}"
