"""The merchant's dashboard: records per tab, one record with its attempts, the connections and their
backfills.

A user sees the records of the accounts they are a member of; superusers see all. Another account's
record is a 404, never a 403.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from koppel.documents.codes import explained
from koppel.sync import backfill as backfills
from koppel.sync.models import Record, State
from koppel.sync.services import AlreadyHandled, reprocess

from .access import visible_connections, visible_records
from .forms import BackfillForm

PAGE_SIZE = 50
#: The connection page's tab of each state.
TAB_OF_STATE = {
    State.HANDLED: "report",
    State.ERROR: "errors",
    State.OPEN: "open",
    State.QUEUED: "queued",
    State.SKIPPED: "skipped",
}
#: Backfills listed per connection on the connections page, newest first.
BACKFILLS_SHOWN = 5

#: The tabs, in the manual's order: (state, label).
TABS = [
    (State.HANDLED, gettext_lazy("Report")),
    (State.ERROR, gettext_lazy("Errors")),
    (State.OPEN, gettext_lazy("Open")),
    (State.QUEUED, gettext_lazy("Queued")),
    (State.SKIPPED, gettext_lazy("Skipped")),
]


def count_by_state(records: QuerySet[Record]) -> dict[str, int]:
    rows = records.order_by().values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


def search(records: QuerySet[Record], term: str) -> QuerySet[Record]:
    return records.filter(
        Q(order_number__icontains=term)
        | Q(source_order_id__icontains=term)
        | Q(customer_name__icontains=term)
        | Q(customer_email__icontains=term)
    )


@login_required
def record_list(request: HttpRequest) -> HttpResponse:
    connections = list(visible_connections(request.user).order_by("name", "id"))
    records = visible_records(request.user)
    connection_id = request.GET.get("connection", "")
    if connection_id.isascii() and connection_id.isdigit() and len(connection_id) < 19:
        records = records.filter(connection_id=int(connection_id))
    else:
        connection_id = ""
    term = request.GET.get("q", "").replace("\x00", "").strip()  # no database searches for a NUL byte
    if term:
        records = search(records, term)
    state = request.GET.get("state", "")
    if state not in State.values:
        state = State.HANDLED
    counts = count_by_state(records)
    tabs = [{"state": value, "label": label, "count": counts.get(value, 0)} for value, label in TABS]
    page = Paginator(
        records.filter(state=state).select_related("connection").order_by("-created_at", "-id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for record in page:
        record.state_label = record.get_state_display()
    return render(
        request,
        "dashboard/records.html",
        {
            "tabs": tabs,
            "state": state,
            "page": page,
            "connections": connections,
            "connection_id": connection_id,
            "q": term,
            "show_target": state == State.HANDLED,
            "show_multiple_connections": len(connections) > 1,
        },
    )


def pretty(data: Any) -> str:
    return "" if data is None else json.dumps(data, indent=2, ensure_ascii=False, default=str)


@login_required
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(visible_records(request.user).select_related("connection"), pk=pk)
    meaning, fix = explained(record.error_code)
    return render(
        request,
        "dashboard/record_detail.html",
        {
            "record": record,
            "state_label": record.get_state_display(),
            "meaning": meaning,
            "remedy": fix,
            "attempts": record.attempt_log.all(),
            "payload": pretty(record.payload),
            "document": pretty(record.document),
            "can_process": record.state != State.HANDLED,
            "follow": request.GET.get("follow") == "1" and record.state == State.QUEUED,
            "support_email": settings.SUPPORT_EMAIL,
            "has_pdf": record.state == State.HANDLED
            and bool(record.target_invoice_id or record.target_invoice_number),
            "tab_of_state": TAB_OF_STATE.get(record.state, "report"),
        },
    )


@login_required
@require_POST
def record_process(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(visible_records(request.user), pk=pk)
    order = record.order_number or record.source_order_id
    try:
        reprocess(record)
    except AlreadyHandled:
        messages.error(
            request, _("Order %(order)s is booked already; it cannot be processed again.") % {"order": order}
        )
    else:
        messages.success(request, _("Order %(order)s is queued for processing.") % {"order": order})
        return redirect(record.get_absolute_url() + "?follow=1")
    return redirect("dashboard:record", pk=record.pk)


@login_required
def connection_list(request: HttpRequest) -> HttpResponse:
    connections = list(visible_connections(request.user).order_by("name", "id"))
    per_connection: dict[int, dict[str, int]] = {}
    rows = Record.objects.filter(connection__in=connections).order_by().values("connection_id", "state")
    for row in rows.annotate(n=Count("id")):
        per_connection.setdefault(row["connection_id"], {})[row["state"]] = row["n"]
    for connection in connections:
        counts = per_connection.get(connection.pk, {})
        connection.tab_counts = [
            {"state": value, "label": label, "count": counts.get(value, 0)} for value, label in TABS
        ]
        recent = connection.backfills.order_by("-created_at")[:BACKFILLS_SHOWN]
        connection.recent_backfills = [backfills.progress(item) for item in recent]
        connection.backfill_form = BackfillForm(prefix=f"c{connection.pk}")
    return render(request, "dashboard/connections.html", {"connections": connections})


@login_required
@require_POST
def backfill_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Book the shop's past orders of a range of days (a worker reads them at the shop's pace)."""
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    form = BackfillForm(request.POST, prefix=f"c{connection.pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("dashboard:connections")
    since, until = form.range()
    item, resumed = backfills.start_in_background(connection, since, until)
    text = _("Backfill %(id)s resumed.") if resumed else _("Backfill %(id)s started.")
    messages.success(request, text % {"id": item.pk})
    return redirect("dashboard:connections")
