"""The picture of a connection: its orders of the last 30 days by outcome, and the totals booked per day.
The numbers are computed here; the page draws them with Chart.js, served from the app's own static files."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from koppel.connections.models import Connection
from koppel.sync.models import Record, State

DAYS = 30
#: The outcomes drawn, in stacking order, with their colours (the dashboard's state colours).
OUTCOMES = [
    (State.HANDLED, "#2e7d32"),
    (State.ERROR, "#c62828"),
    (State.OPEN, "#f9a825"),
    (State.SKIPPED, "#78909c"),
]


def last_days(connection: Connection, days: int = DAYS) -> dict[str, Any]:
    """``labels`` (one per day, in the locale's short format), one dataset per outcome, and the total
    booked per day, for the orders placed in the last ``days`` days."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    records = (
        Record.objects.filter(connection=connection)
        .annotate(day=TruncDate(Coalesce("order_created_at", "created_at")))
        .filter(day__gte=first)
        .order_by()
    )
    counts: dict[tuple[Any, str], int] = {}
    for row in records.values("day", "state").annotate(n=Count("id")):
        counts[(row["day"], row["state"])] = row["n"]
    booked: dict[Any, Decimal] = {}
    for row in records.filter(state=State.HANDLED).values("day").annotate(total=Sum("total")):
        booked[row["day"]] = row["total"] or Decimal(0)
    day_list = [first + timedelta(days=i) for i in range(days)]
    labels = {
        State.HANDLED: _("Booked"),
        State.ERROR: _("Error"),
        State.OPEN: _("Open"),
        State.SKIPPED: _("Skipped"),
    }
    return {
        "labels": [formats.date_format(day, "SHORT_DATE_FORMAT") for day in day_list],
        "datasets": [
            {
                "label": str(labels[state]),
                "color": color,
                "data": [counts.get((d, state), 0) for d in day_list],
            }
            for state, color in OUTCOMES
        ],
        "booked": {"label": _("Total booked"), "data": [float(booked.get(d, 0)) for d in day_list]},
        "orders": sum(counts.values()),
    }
