"""``koppel marketplace_invoices CONNECTION [--since DATE] [--until DATE]``: fetch the marketplace's own
invoices (bol.com's commission, labels, advertising) of a connection, by default those of the last 40
days, for a backfill any past months (read in windows of at most 31 days). Each new invoice is kept with
its PDF, UBL and specification and queued to be booked as a purchase invoice by the worker(s)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from koppel.connectors.errors import ConnectorError
from koppel.marketplace import fetching
from koppel.sync.management.commands.backfill import find_connection


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Fetch a connection's marketplace invoices (bol.com) and queue them to be booked."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="The connection's id or name.")
        parser.add_argument(
            "--since", type=day, help="First day of the periods to read (default: 40 days ago)."
        )
        parser.add_argument("--until", type=day, help="Last day (default: today).")

    def handle(self, *args, **options) -> None:
        connection = find_connection(options["connection"])
        if not fetching.supplies_invoices(connection):
            raise CommandError(f"{connection.source_class.label} sends no invoices of its own")
        since, until = fetching.daily_range()
        since, until = options["since"] or since, options["until"] or until
        if since > until or until > timezone.localdate():
            raise CommandError("--since must lie before --until, and --until not in the future")
        if timezone.localdate() - since > fetching.BACKFILL_LIMIT:
            raise CommandError("bol.com keeps invoices for a limited time: read at most 3 years back")
        try:
            summary = fetching.fetch(connection, since, until, via="backfill" if options["since"] else "poll")
        except ConnectorError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(
            f"{summary.seen} invoices from {since} to {until}: {summary.new} new, "
            f"{summary.files} with their files fetched; the worker books them."
        )
