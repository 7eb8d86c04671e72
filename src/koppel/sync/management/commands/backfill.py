"""``koppel backfill CONNECTION --since DATE [--until DATE]``: book a shop's past orders.

Reads the source page by page at the source's pace, with a progress bar; every new order gets a record and
is booked by the worker(s). Ctrl-C pauses it; the same command resumes where it stopped. Orders that were
booked (or explained) before are left as they are. ``--wait`` stays until every new record is settled.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as day_time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from koppel.connections.models import Connection
from koppel.sync import backfill as backfills
from koppel.sync.identity import worker_id
from koppel.sync.models import Backfill

BAR_WIDTH = 30


def moment(text: str, *, end_of_day: bool = False) -> datetime:
    """``2024-01-31`` (a day in Koppel's time zone; with ``end_of_day`` the moment after it) or an ISO
    date-time."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None
        return reasonable(text, value if value.tzinfo else timezone.make_aware(value))
    try:
        start = timezone.make_aware(datetime.combine(day, day_time()))
        return reasonable(text, start + timedelta(days=1) if end_of_day else start)
    except OverflowError:  # 9999-12-31, the day after it
        raise CommandError(f"{text!r}: {backfills.OUTSIDE}") from None


def reasonable(text: str, value: datetime) -> datetime:
    try:
        return backfills.within_reason(value)
    except ValueError as exc:
        raise CommandError(f"{text!r}: {exc}") from None


def find_connection(key: str) -> Connection:
    is_id = key.isascii() and key.isdigit() and len(key) < 19  # '²' is a digit too; ids fit in a bigint
    found = Connection.objects.filter(pk=int(key)) if is_id else Connection.objects.none()
    found = found or Connection.objects.filter(name=key)
    if len(found) != 1:
        raise CommandError(f"No single connection with id or name {key!r}")
    return found[0]


class ProgressBar:
    """One line, redrawn in place on a terminal; a line every ten pages otherwise (logs, CI)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.started = stream, time.monotonic()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, item: Backfill) -> None:
        if not self.tty and item.pages_read % 10:
            return
        self.stream.write(("\r" if self.tty else "") + self.line(item) + ("" if self.tty else "\n"))
        self.stream.flush()

    def line(self, item: Backfill) -> str:
        rate = item.orders_seen / max(time.monotonic() - self.started, 0.001)
        counts = f"{item.orders_seen:,} orders read ({item.orders_new:,} new, {item.orders_known:,} known)"
        tail = f", {item.pages_read} pages, {rate:,.0f} orders/s"
        if not item.orders_total:
            return counts + tail
        done = min(1.0, item.orders_seen / item.orders_total)
        bar = "#" * int(done * BAR_WIDTH)
        return f"[{bar:<{BAR_WIDTH}}] {done:4.0%} {counts} of {item.orders_total:,}{tail}"

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Book a shop's past orders (placed from --since up to and including --until)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="connection id or name")
        parser.add_argument("--since", required=True, help="first day (YYYY-MM-DD) or an ISO date-time")
        parser.add_argument("--until", default="", help="last day, included (default: up to now)")
        parser.add_argument("--wait", action="store_true", help="stay until every new order is settled")

    def handle(self, *args, **options) -> None:
        connection = find_connection(options["connection"])
        since = moment(options["since"])
        until = moment(options["until"], end_of_day=True) if options["until"] else None
        if until is not None and until <= since:
            raise CommandError("--until must not be before --since")
        item, resumed = backfills.start(connection, since, until)
        verb = "Resuming" if resumed else "Starting"
        self.stdout.write(f"{verb} backfill {item.pk} of {connection.name!r} from {since:%Y-%m-%d %H:%M}")
        bar = ProgressBar(self.stdout)
        stop = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            item = backfills.run(item.pk, f"cli-{worker_id()}", listener=bar, stop=stop)
        except backfills.Interrupted:
            bar.end()
            self.stdout.write(f"Paused backfill {item.pk}; run the same command to resume.")
            sys.exit(130)
        finally:
            signal.signal(signal.SIGINT, previous)
        bar.end()
        self.report(item)
        if options["wait"] and item.status == Backfill.Status.DONE:
            self.wait(item)

    def report(self, item: Backfill) -> None:
        item.refresh_from_db()
        if item.status == Backfill.Status.RUNNING:
            raise CommandError(f"Backfill {item.pk} is being run elsewhere (leased until {item.lease_until})")
        if item.status != Backfill.Status.DONE:
            raise CommandError(f"Backfill {item.pk} {item.status}: {item.message}")
        self.stdout.write(
            f"Read {item.orders_seen:,} orders in {item.pages_read} pages: {item.orders_new:,} queued for "
            f"booking, {item.orders_known:,} already known and left as they are."
        )

    def wait(self, item: Backfill) -> None:
        while True:
            info = backfills.progress(item)
            line = ", ".join(f"{n:,} {state}" for state, n in info["records"].items() if n)
            self.stdout.write(
                f"\r{info['settled']:,}/{item.orders_new:,} settled ({line or 'none'})  ", ending=""
            )
            self.stdout.flush()
            if info["settled"] >= item.orders_new:
                self.stdout.write("")
                return
            time.sleep(1)
