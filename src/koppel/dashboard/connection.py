"""One connection's page, with the manual's tabs: Report, Errors, Open (and Queued, Skipped), Configuration
and Profile; above them the two dots, the connection's health and the picture of the last 30 days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from koppel.accounts.forms import ProfileForm
from koppel.connections.forms import ConfigurationForm, CredentialsForm
from koppel.connections.models import Connection, Health
from koppel.connectors.errors import ConnectorError
from koppel.documents.codes import REMEDIES, explained
from koppel.intake.onoff import set_active
from koppel.sync import backfill as backfills
from koppel.sync.models import Record, State
from koppel.sync.services import reprocess

from . import charts
from .access import visible_connections
from .connect import side_view, tell_subscription
from .forms import BackfillForm
from .views import PAGE_SIZE, search

RECORD_TABS = [
    ("report", State.HANDLED, gettext_lazy("Report")),
    ("errors", State.ERROR, gettext_lazy("Errors")),
    ("open", State.OPEN, gettext_lazy("Open")),
    ("queued", State.QUEUED, gettext_lazy("Queued")),
    ("skipped", State.SKIPPED, gettext_lazy("Skipped")),
]
OTHER_TABS = [("configuration", gettext_lazy("Configuration")), ("profile", gettext_lazy("Profile"))]
STATE_OF_TAB = {tab: state for tab, state, _label in RECORD_TABS}


class PeriodForm(forms.Form):
    """The search of every record tab: a period of order dates, and an order number or customer."""

    q = forms.CharField(required=False, label=gettext_lazy("Order number or customer"))
    since = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False,
        label=gettext_lazy("Up to and including"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def apply(self, records: QuerySet[Record]) -> QuerySet[Record]:
        if not self.is_valid():
            return records
        data = self.cleaned_data
        records = records.annotate(placed=Coalesce("order_created_at", "created_at"))
        if data.get("since"):
            records = records.filter(placed__gte=start_of(data["since"]))
        if data.get("until"):
            records = records.filter(placed__lt=start_of(data["until"] + timedelta(days=1)))
        if term := (data.get("q") or "").strip():
            records = search(records, term)
        return records


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def fetched_choices(connection: Connection) -> dict[str, list[tuple[str, str]] | None]:
    """Choices that live in the target (invoice layouts; a bookkeeping target's ledger accounts); ``None``
    when they cannot be fetched now."""
    books = connection.target_class.books_purchases
    unknown: dict[str, list[tuple[str, str]] | None] = {"layouts": None, "ledger_accounts": None}
    try:
        target = connection.target()
    except ConnectorError:
        return unknown
    try:
        choices = {"layouts": [(layout.id, layout.name or layout.id) for layout in target.layouts()]}
        if books:
            accounts = target.ledger_accounts()
            choices["ledger_accounts"] = [
                (a.id, f"{a.name} ({a.code})" if a.code else a.name) for a in accounts
            ]
        return choices
    except ConnectorError:
        return unknown
    finally:
        target.close()


def health_facts(connection: Connection) -> dict[str, Any]:
    """What the Health box shows beside the dots: pauses, the last failure in plain words, the webhook."""
    now = timezone.now()
    failures = [
        f"{cls.label}: {message}"
        for cls, state, message in (
            (connection.source_class, connection.source_health, connection.source_health_message),
            (connection.target_class, connection.target_health, connection.target_health_message),
        )
        if state == Health.FAILED and message
    ]
    if connection.last_poll_error:
        failures.append(f"{connection.source_class.label}: {connection.last_poll_error}")
    source = connection.source_class
    return {
        "last_failure": "; ".join(failures),
        "webhook_steps": _(source.webhook_steps) if getattr(source, "webhook_steps", "") else "",
        "signed_by_platform": bool(getattr(source, "webhook_secret_credential", "")),
        "pauses": pauses_of(connection, now),
    }


def pauses_of(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    """The sides paused now, and why: a rate limit, or a system that stopped answering (the breaker)."""
    paused = []
    for side, cls in (("source", connection.source_class), ("target", connection.target_class)):
        until = getattr(connection, f"{side}_paused_until")
        if until is None or until <= now:
            continue
        failures = getattr(connection, f"{side}_failures")
        down = failures >= settings.BREAKER_THRESHOLD
        paused.append(
            {
                "side": side,
                "label": cls.label,
                "until": until,
                "down_since": getattr(connection, f"{side}_down_since") if down else None,
                "failures": failures if down else 0,
            }
        )
    return paused


@login_required
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    tab = request.GET.get("tab", "report")
    if tab not in STATE_OF_TAB and tab not in dict(OTHER_TABS):
        tab = "report"
    records = Record.objects.filter(connection=connection)
    period = PeriodForm(request.GET or None)
    found = period.apply(records)
    counts = {row["state"]: row["n"] for row in found.order_by().values("state").annotate(n=Count("id"))}
    context: dict[str, Any] = {
        "connection": connection,
        "source": connection.source_class,
        "target": connection.target_class,
        "tab": tab,
        "record_tabs": [
            {"tab": name, "label": label, "count": counts.get(state, 0)} for name, state, label in RECORD_TABS
        ],
        "other_tabs": [{"tab": name, "label": label} for name, label in OTHER_TABS],
        "period": period,
        "webhook_secret": request.session.pop(f"webhook_secret_{connection.pk}", None),
        "connect": request.GET.get("connect", ""),
        "chart": charts.last_days(connection),
        "page": None,
        **health_facts(connection),
    }
    context |= reconnect_forms(connection, request.GET.get("connect", ""))
    if tab in STATE_OF_TAB:
        state = STATE_OF_TAB[tab]
        listed = found.filter(state=state).order_by("-created_at", "-id")
        page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
        for record in page:
            record.state_label = record.get_state_display()
        context |= {"page": page, "state": state}
        if state == State.ERROR:
            by_code = listed.order_by().values("error_code").annotate(n=Count("id")).order_by("-n")
            context["error_codes"] = [
                {**row, **dict(zip(("meaning", "remedy"), explained(row["error_code"]), strict=True))}
                for row in by_code
                if row["error_code"] in REMEDIES
            ]
    elif tab == "configuration":
        context["form"] = ConfigurationForm(connection, fetched=fetched_choices(connection))
        context["backfill_form"] = BackfillForm(prefix=f"c{connection.pk}")
        context["backfills"] = [
            backfills.progress(b) for b in connection.backfills.order_by("-created_at")[:5]
        ]
    else:
        context["profile_form"] = ProfileForm(instance=connection.account)
    return render(request, "dashboard/connection.html", context)


def reconnect_forms(connection: Connection, open_side: str = "") -> dict[str, Any]:
    """Both sides as the page shows them: the dot, the last message and the ReConnect form."""
    sides = []
    down = {pause["side"]: pause for pause in pauses_of(connection, timezone.now()) if pause["failures"]}
    for side in ("source", "target"):
        cls = connection.source_class if side == "source" else connection.target_class
        form = CredentialsForm(
            cls,
            prefix=side,
            known=public_values(connection, side),
            initial={"url": getattr(connection, f"{side}_url")},
        )
        state = {
            "health": getattr(connection, f"{side}_health"),
            "message": getattr(connection, f"{side}_health_message"),
            "checked_at": getattr(connection, f"{side}_checked_at"),
            "down": down.get(side),
        }
        action = reverse("dashboard:reconnect", args=[connection.pk, side])
        sides.append(
            side_view(side, cls, state, form, action=action, reconnect=True, open_form=open_side == side)
        )
    return {"sides": sides}


def public_values(connection: Connection, side: str) -> dict[str, str]:
    """The credentials that are no secret (a user name), to fill in on ReConnect."""
    cls = connection.source_class if side == "source" else connection.target_class
    try:
        stored = connection.source_credentials if side == "source" else connection.target_credentials
    except Exception:
        return {}
    return {name: value for name, value in stored.items() if name in cls.public_credentials}


@login_required
@require_POST
def connection_configure(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    form = ConfigurationForm(connection, request.POST, fetched=fetched_choices(connection))
    if form.is_valid():
        before = dict(connection.source_settings)
        form.save()
        messages.success(request, _("The configuration is saved."))
        if connection.source_settings != before:
            tell_subscription(request, connection)
        return redirect(connection.get_absolute_url() + "?tab=configuration")
    context = {
        "connection": connection,
        "source": connection.source_class,
        "target": connection.target_class,
        "tab": "configuration",
        "record_tabs": [{"tab": name, "label": label, "count": None} for name, _s, label in RECORD_TABS],
        "other_tabs": [{"tab": name, "label": label} for name, label in OTHER_TABS],
        "form": form,
        "backfill_form": BackfillForm(prefix=f"c{connection.pk}"),
        "chart": charts.last_days(connection),
        "page": None,
        **reconnect_forms(connection),
        **health_facts(connection),
    }
    return render(request, "dashboard/connection.html", context, status=400)


@login_required
@require_POST
def account_profile(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    form = ProfileForm(request.POST, instance=connection.account)
    if form.is_valid():
        form.save()
        messages.success(request, _("Your company details are saved."))
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
    return redirect(connection.get_absolute_url() + "?tab=profile")


@login_required
@require_POST
def connection_switch(request: HttpRequest, pk: int) -> HttpResponse:
    """The on/off switch: off, nothing is fetched or booked; webhooks are still stored."""
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    set_active(connection, request.POST.get("active") == "on")
    if connection.active:
        messages.success(request, _("The connection is on: orders are booked again."))
    else:
        messages.warning(
            request, _("The connection is off: nothing is fetched or booked until you switch it on.")
        )
    return redirect(connection.get_absolute_url() + "?tab=profile")


@login_required
@require_POST
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    if request.POST.get("confirm") != connection.name:
        messages.error(request, _("Type the connection's name to delete it."))
        return redirect(connection.get_absolute_url() + "?tab=profile")
    name = connection.name
    connection.delete()
    messages.success(request, _("Connection %(name)s and its credentials are deleted.") % {"name": name})
    return redirect("dashboard:connections")


@login_required
@require_POST
def process_code(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Process all with this code", after the cause is fixed (e.g. the VAT rate was added)."""
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    code = request.POST.get("code", "")
    failed = Record.objects.filter(connection=connection, state=State.ERROR, error_code=code)
    queued = 0
    for record in failed.iterator():
        reprocess(record)
        queued += 1
    messages.success(
        request,
        ngettext(
            "%(count)s order with %(code)s is queued for processing.",
            "%(count)s orders with %(code)s are queued for processing.",
            queued,
        )
        % {"count": queued, "code": code},
    )
    return redirect(connection.get_absolute_url() + "?tab=errors")
