"""The connection's marketplace invoices in the dashboard: the list with a chart per period, one invoice
with its costs and reconciliation, the downloads, fetching (also past months), the ledger account per line
type, and "fetch and book" for an order the marketplace paid for that Koppel never booked."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from koppel.connections.models import Connection
from koppel.connectors.errors import ConnectorError
from koppel.dashboard.access import visible_connections

from . import charts, downloads, fetching, ledgers, reconcile


class FetchForm(forms.Form):
    since = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        today = timezone.localdate()
        if since and until:
            if since > until:
                raise forms.ValidationError(_("The first day lies after the last."))
            if until > today:
                raise forms.ValidationError(_("The last day lies in the future."))
            if today - since > fetching.BACKFILL_LIMIT:
                raise forms.ValidationError(_("Koppel reads at most three years back."))
        return data


def marketplace_connection(request: HttpRequest, pk: int) -> Connection:
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    if not fetching.supplies_invoices(connection):
        raise Http404("this source sends no invoices of its own")
    return connection


@login_required
def invoice_list(request: HttpRequest, pk: int) -> HttpResponse:
    connection = marketplace_connection(request, pk)
    invoices = list(connection.marketplace_invoices.select_related("record"))
    results = reconcile.reconcile_all(invoices)
    since, until = fetching.daily_range()
    context = {
        "connection": connection,
        "source": connection.source_class,
        "target": connection.target_class,
        "rows": results,
        "chart": charts.periods(results, get_language() or "nl"),
        "fetch_form": FetchForm(initial={"since": since, "until": until}),
    }
    return render(request, "marketplace/invoices.html", context)


@login_required
def invoice_detail(request: HttpRequest, pk: int, invoice_id: str) -> HttpResponse:
    connection = marketplace_connection(request, pk)
    invoice = get_object_or_404(
        connection.marketplace_invoices.select_related("record"), invoice_id=invoice_id
    )
    result = reconcile.reconcile(invoice)
    language = get_language() or "nl"
    source = connection.source_class
    context = {
        "connection": connection,
        "source": source,
        "invoice": invoice,
        "result": result,
        "costs": [(charts.group_label(group, language), amount) for group, amount in result.costs.items()],
        "record": invoice.record,
        "document": invoice.record.document if invoice.record else None,
        "lines": [(line, source.line_type(line.code).label(language)) for line in invoice.lines[:500]],
        "line_count": len(invoice.specification),
        "unknown": invoice.unknown_types,
    }
    return render(request, "marketplace/invoice.html", context)


@login_required
def download(request: HttpRequest, pk: int, invoice_id: str, what: str) -> HttpResponse:
    connection = marketplace_connection(request, pk)
    invoice = get_object_or_404(connection.marketplace_invoices, invoice_id=invoice_id)
    if what not in downloads.DOWNLOADS:
        raise Http404("no such download")
    response = downloads.response(invoice, what)
    if response is None:
        raise Http404("Koppel has not fetched this file (yet)")
    return response


@login_required
@require_POST
def fetch_now(request: HttpRequest, pk: int) -> HttpResponse:
    from .tasks import fetch_marketplace_invoices

    connection = marketplace_connection(request, pk)
    form = FetchForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("__all__", []) or [_("Give a first and a last day.")]:
            messages.error(request, error)
        return redirect("marketplace:invoices", pk=pk)
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    fetch_marketplace_invoices.enqueue(connection.pk, since.isoformat(), until.isoformat())
    messages.success(
        request,
        _("Koppel fetches the invoices from %(since)s to %(until)s; they appear here within moments.")
        % {"since": since, "until": until},
    )
    return redirect("marketplace:invoices", pk=pk)


@login_required
def ledger_settings(request: HttpRequest, pk: int) -> HttpResponse:
    connection = marketplace_connection(request, pk)
    if not connection.target_class.books_purchases:
        messages.info(
            request, _("%(target)s books no purchase invoices.") % {"target": connection.target_class.label}
        )
        return redirect("marketplace:invoices", pk=pk)
    target = connection.target()
    try:
        accounts = target.ledger_accounts()
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return redirect("marketplace:invoices", pk=pk)
    finally:
        target.close()
    codes = line_type_codes(connection)
    language = get_language() or "nl"
    choices = ledgers.chosen(connection)
    if request.method == "POST":
        known = {a.id for a in accounts}
        wanted = {code: request.POST.get(f"ledger-{code}", "") for code in codes}
        ledgers.save_choices(connection, {c: (v if v in known else "") for c, v in wanted.items()})
        messages.success(request, _("The ledger accounts are saved."))
        return redirect(reverse("marketplace:ledgers", args=[pk]))
    rows = []
    for code in codes:
        line_type = connection.source_class.line_type(code)
        default = ledgers.default_account(accounts, line_type)
        rows.append(
            {
                "code": code,
                "label": line_type.label(language),
                "group": line_type.group,
                "known": line_type.known,
                "chosen": choices.get(code, ""),
                "default": default,
            }
        )
    context = {
        "connection": connection,
        "source": connection.source_class,
        "rows": rows,
        "accounts": accounts,
    }
    return render(request, "marketplace/ledgers.html", context)


def line_type_codes(connection: Connection) -> list[str]:
    """Every line type the connector knows, and any unknown one seen on this connection's invoices."""
    source = connection.source_class
    codes = list(source.line_type_codes())
    for invoice in connection.marketplace_invoices.only("unknown_types"):
        codes += [code for code in invoice.unknown_types if code not in codes]
    return codes


@login_required
@require_POST
def fetch_order(request: HttpRequest, pk: int, invoice_id: str) -> HttpResponse:
    """An order bol paid for that Koppel never booked: fetch it from the shop and book it now."""
    from koppel.sync.services import note_order

    connection = marketplace_connection(request, pk)
    number = request.POST.get("order", "").strip()[:100]
    back = reverse("marketplace:invoice", args=[pk, invoice_id])
    source = connection.source()
    try:
        payload = source.find_order_by_number(number, None)
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    finally:
        source.close()
    if payload is None:
        messages.error(
            request, _("%(shop)s has no order %(number)s.") % {"shop": source.label, "number": number}
        )
        return redirect(back)
    record, _queued = note_order(
        connection, connection.source_class.order_id(payload), via="manual", payload=payload
    )
    messages.success(request, _("The order is fetched and queued for booking."))
    return redirect(f"{record.get_absolute_url()}?follow=1")
