"""Help around one record, as the manuals describe it: its status while it is being processed (the page
follows it after Process), Report problem (a support bundle without secrets: downloaded, and e-mailed to
the operator when a support address is set), the invoice PDF from the target, and Ask us."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from koppel.connections import crypto
from koppel.connectors.base import BookedInvoice
from koppel.connectors.errors import ConnectorError
from koppel.sync.models import Record, State

from .access import merchant_account, visible_records

#: States a record rests in; a queued one is still on its way.
SETTLED = {State.HANDLED, State.ERROR, State.OPEN, State.SKIPPED}
REDACTED = "[removed]"


@login_required
def record_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the record page polls after Process, until the record has settled."""
    record = get_object_or_404(visible_records(request.user), pk=pk)
    return JsonResponse(
        {
            "state": record.state,
            "state_label": str(record.get_state_display()),
            "settled": record.state in SETTLED,
            "error_code": record.error_code,
            "message": record.message,
            "invoice_number": record.target_invoice_number,
        }
    )


def secrets_of(record: Record) -> list[str]:
    """Every secret the connection holds, to be sure none slips into a bundle (say, in an echoed URL)."""
    connection = record.connection
    values: list[str] = []
    for reader in (
        lambda: connection.source_credentials,
        lambda: connection.target_credentials,
        lambda: {"secret": connection.webhook_secret},
    ):
        try:
            values += [str(v) for v in reader().values() if v and len(str(v)) >= 4]
        except crypto.CredentialsUnreadable:
            continue
    return values


def support_bundle(record: Record) -> dict[str, Any]:
    """The record, its attempts with their calls (method, path, status; never headers) and the order as the
    shop sent it. No credential or webhook secret of the connection is in it, nor any string equal to one."""
    connection = record.connection
    bundle = {
        "koppel_support_bundle": 1,
        "made_at": timezone.now().isoformat(),
        "connection": {
            "id": connection.pk,
            "name": connection.name,
            "source": connection.source_kind,
            "source_url": connection.source_url,
            "target": connection.target_kind,
            "target_url": connection.target_url,
            "shop_country": connection.shop_country,
            "target_settings": connection.target_settings,
        },
        "record": {
            "id": record.pk,
            "source_order_id": record.source_order_id,
            "order_number": record.order_number,
            "state": record.state,
            "error_code": record.error_code,
            "message": record.message,
            "attempts": record.attempts,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "target_invoice_id": record.target_invoice_id,
            "target_invoice_number": record.target_invoice_number,
        },
        "attempt_log": [
            {
                "started_at": attempt.started_at.isoformat(),
                "outcome": attempt.outcome,
                "error_code": attempt.error_code,
                "message": attempt.message,
                "calls": attempt.calls,
            }
            for attempt in record.attempt_log.all()
        ],
        "payload": record.payload,
        "document": record.document,
    }
    text = json.dumps(bundle, default=str)
    for secret in secrets_of(record):
        text = text.replace(json.dumps(secret)[1:-1], REDACTED)
    return json.loads(text)


@login_required
def report_problem(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: download the bundle. POST: e-mail it to the operator (when a support address is set), then
    download it."""
    record = get_object_or_404(visible_records(request.user).select_related("connection"), pk=pk)
    bundle = json.dumps(support_bundle(record), indent=2, ensure_ascii=False)
    filename = f"koppel-record-{record.pk}.json"
    if request.method == "POST":
        if not settings.SUPPORT_EMAIL:
            messages.warning(
                request, _("No support address is set up here: send the downloaded file yourself.")
            )
            return redirect("dashboard:record", pk=record.pk)
        note = request.POST.get("note", "").strip()[:5000]
        mail = EmailMessage(
            subject=f"Koppel: problem with order {record.order_number or record.source_order_id}",
            body=f"Reported by {request.user.get_username()}.\n\n{note}",
            to=[settings.SUPPORT_EMAIL],
            reply_to=[request.user.email] if request.user.email else None,
        )
        mail.attach(filename, bundle, "application/json")
        mail.send()
        messages.success(request, _("The problem is reported. We answer by e-mail."))
        return redirect("dashboard:record", pk=record.pk)
    response = HttpResponse(bundle, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The booked invoice's PDF, as the invoicing software makes it."""
    record = get_object_or_404(visible_records(request.user).select_related("connection"), pk=pk)
    if record.state != State.HANDLED or not (record.target_invoice_id or record.target_invoice_number):
        return HttpResponse(_("This order has no invoice yet."), status=404, content_type="text/plain")
    booked = BookedInvoice(id=record.target_invoice_id, number=record.target_invoice_number)
    try:
        target = record.connection.target()
        try:
            pdf = target.invoice_pdf(booked)
        finally:
            target.close()
    except ConnectorError as exc:
        return HttpResponse(
            _("The invoicing software did not give the PDF: %(message)s") % {"message": exc.message},
            status=502,
            content_type="text/plain",
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = record.target_invoice_number or record.target_invoice_id
    response["Content-Disposition"] = f'inline; filename="invoice-{name}.pdf"'
    return response


@login_required
def invoice_ubl(request: HttpRequest, pk: int) -> HttpResponse:
    """The booked invoice or credit note as a UBL / Peppol BIS 3.0 e-invoice."""
    from koppel.documents.ubl import UblError
    from koppel.sync import einvoice

    record = get_object_or_404(visible_records(request.user).select_related("connection__account"), pk=pk)
    try:
        body = einvoice.einvoice(record)
    except (einvoice.NoEInvoice, UblError) as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    return einvoice.download(record, body)


class QuestionForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    question = forms.CharField(label=gettext_lazy("Your question"), widget=forms.Textarea, max_length=5000)


@login_required
def ask_us(request: HttpRequest) -> HttpResponse:
    """Ask us: a question to the operator's support address."""
    form = QuestionForm(request.POST or None, initial={"subject": request.GET.get("subject", "")})
    if request.method == "POST" and form.is_valid() and settings.SUPPORT_EMAIL:
        account = merchant_account(request.user)
        EmailMessage(
            subject=f"Koppel question: {form.cleaned_data['subject']}",
            body=f"From {request.user.get_username()} ({account.name if account else '-'}):\n\n"
            f"{form.cleaned_data['question']}",
            to=[settings.SUPPORT_EMAIL],
            reply_to=[request.user.email] if request.user.email else None,
        ).send()
        messages.success(request, _("Your question is sent. We answer by e-mail."))
        return redirect("dashboard:connections")
    return render(
        request,
        "dashboard/ask_us.html",
        {"form": form, "support_email": settings.SUPPORT_EMAIL},
    )
