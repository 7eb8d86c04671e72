"""Connecting in the browser, as the manuals describe it: pick a shop and an invoicing system, press Connect
beside each, enter the credentials the connector asks for, and see the dot turn green (or stay red with the
system's own message). The connection is saved once both sides work; ReConnect replaces one side's
credentials later.

Until then the draft lives in the session, its credentials encrypted as they are in the database.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from koppel.accounts.models import Account
from koppel.connections import crypto, health
from koppel.connections.forms import CredentialsForm
from koppel.connections.models import Connection, Health
from koppel.connectors import registry
from koppel.connectors.base import Credentialed
from koppel.connectors.errors import Side
from koppel.intake.subscribe import subscribe_webhook

from .access import merchant_account, visible_connections

DRAFT = "koppel_new_connection"
SIDES: tuple[Side, Side] = ("source", "target")


class SystemsForm(forms.Form):
    """Step one: which shop and which invoicing system, from the registered connectors."""

    source = forms.ChoiceField(label=gettext_lazy("Your shop"), widget=forms.RadioSelect)
    target = forms.ChoiceField(label=gettext_lazy("Your invoicing software"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = sorted((k, c.label) for k, c in registry.sources().items())
        self.fields["target"].choices = sorted((k, c.label) for k, c in registry.targets().items())


def connector_of(side: Side, kind: str) -> type[Credentialed]:
    try:
        return registry.source(kind) if side == "source" else registry.target(kind)
    except LookupError:
        raise Http404(kind) from None


def draft_connection(account: Account, draft: dict[str, Any]) -> Connection:
    """An unsaved connection holding what the draft has so far: what the connection tests run on."""
    target_cls = registry.target(draft["target_kind"])
    connection = Connection(
        account=account,
        name=draft.get("name", ""),
        source_kind=draft["source_kind"],
        target_kind=draft["target_kind"],
        source_url=draft.get("source", {}).get("url", ""),
        target_url=draft.get("target", {}).get("url", "") or target_cls.production_url,
        shop_country=account.shop_country,
    )
    connection.source_credentials_encrypted = draft.get("source", {}).get("credentials", "")
    connection.target_credentials_encrypted = draft.get("target", {}).get("credentials", "")
    return connection


def side_view(
    side: Side,
    cls: type[Credentialed],
    state: dict[str, Any],
    form: CredentialsForm,
    *,
    action: str,
    reconnect: bool = False,
    open_form: bool | None = None,
) -> dict[str, Any]:
    """What the page shows of one side: the system, its dot, the message and the (Re)Connect form."""
    health_now = state.get("health", Health.UNKNOWN)
    return {
        "side": side,
        "label": cls.label,
        "health": health_now,
        "message": state.get("message", ""),
        "checked_at": state.get("checked_at"),
        #: Paused by the breaker: the system stopped answering (see ``connection.pauses_of``).
        "down": state.get("down"),
        "form": form,
        "action": action,
        "reconnect": reconnect,
        "open": (health_now != Health.OK or form.is_bound) if open_form is None else open_form,
    }


@login_required
def new_connection(request: HttpRequest) -> HttpResponse:
    """Choose the two systems (GET ``?source=&target=``), then connect each side (POST ``side=``)."""
    account = merchant_account(request.user)
    if account is None:
        messages.error(request, _("Your login belongs to no account yet; ask the operator to add you."))
        return redirect("dashboard:connections")
    draft = request.session.get(DRAFT)
    systems = SystemsForm(request.GET or None)
    if systems.is_valid():
        chosen = (systems.cleaned_data["source"], systems.cleaned_data["target"])
        if not draft or (draft["source_kind"], draft["target_kind"]) != chosen:
            source_label = registry.source(chosen[0]).label
            target_label = registry.target(chosen[1]).label
            draft = {
                "source_kind": chosen[0],
                "target_kind": chosen[1],
                "name": f"{source_label} → {target_label}",
            }
            request.session[DRAFT] = draft
    if not draft:
        return render(request, "dashboard/connect_choose.html", {"systems": SystemsForm()})

    forms_by_side: dict[str, CredentialsForm] = {}
    for side in SIDES:
        cls = connector_of(side, draft[f"{side}_kind"])
        posted = request.method == "POST" and request.POST.get("side") == side
        initial = {"url": draft.get(side, {}).get("url") or getattr(cls, "production_url", "")}
        forms_by_side[side] = CredentialsForm(
            cls, request.POST if posted else None, prefix=side, initial=initial
        )
    if request.method == "POST":
        side = request.POST.get("side", "")
        if side in SIDES and forms_by_side[side].is_valid():
            form = forms_by_side[side]
            draft[side] = {
                "url": form.cleaned_data["url"],
                "credentials": crypto.encrypt(form.credentials()),
            }
            result = health.try_side(draft_connection(account, draft), side)  # type: ignore[arg-type]
            draft[side]["health"] = Health.OK if result.ok else Health.FAILED
            draft[side]["message"] = result.message
            request.session[DRAFT] = draft
            if all(draft.get(s, {}).get("health") == Health.OK for s in SIDES):
                connection = save_draft(request, account, draft)
                return redirect(connection.get_absolute_url() + "?tab=configuration")
            return redirect("dashboard:connect")
    action = reverse("dashboard:connect")
    sides = [
        side_view(
            side,
            connector_of(side, draft[f"{side}_kind"]),
            draft.get(side, {}),
            forms_by_side[side],
            action=action,
        )
        for side in SIDES
    ]
    return render(request, "dashboard/connect.html", {"sides": sides, "draft": draft})


@login_required
@require_POST
def cancel_new_connection(request: HttpRequest) -> HttpResponse:
    request.session.pop(DRAFT, None)
    return redirect("dashboard:connect")


def save_draft(request: HttpRequest, account: Account, draft: dict[str, Any]) -> Connection:
    """Both sides work: the connection is saved, with the health the tests just gave."""
    connection = draft_connection(account, draft)
    for side in SIDES:
        setattr(connection, f"{side}_health", Health.OK)
    with transaction.atomic():
        webhook_note = set_webhook_secret(connection)
        connection.full_clean(exclude=["source_url", "target_url"])
        connection.save()
    request.session.pop(DRAFT, None)
    request.session[f"webhook_secret_{connection.pk}"] = webhook_note
    messages.success(
        request,
        _("Both systems are connected. Check the settings below and press Save to finish the installation."),
    )
    tell_subscription(request, connection)
    return connection


def tell_subscription(request: HttpRequest, connection: Connection) -> None:
    """Subscribe the webhook address where the platform allows it, and say how that went."""
    subscribed, problem = subscribe_webhook(connection)
    system = connection.source_class.label
    if subscribed:
        messages.info(request, _("Koppel subscribed its webhook address at %(system)s.") % {"system": system})
    elif problem:
        messages.warning(
            request,
            _(
                "%(system)s did not take Koppel's webhook subscription: %(message)s. Orders are still "
                "found by the poll."
            )
            % {"system": system, "message": problem},
        )


def set_webhook_secret(connection: Connection) -> str:
    """A platform that signs webhooks with one of its credentials (Shopify) uses it; otherwise Koppel makes
    a secret for the merchant to paste into the shop. Returns the secret to show once, or ``""``."""
    name = getattr(connection.source_class, "webhook_secret_credential", "")
    credentials = connection.source_credentials
    if name and credentials.get(name):
        connection.webhook_secret = credentials[name]
        return ""
    return connection.new_webhook_secret()


@login_required
@require_POST
def reconnect(request: HttpRequest, pk: int, side: str) -> HttpResponse:
    """ReConnect: new credentials (and address) for one side, tested at once; kept only when they work."""
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    if side not in SIDES:
        raise Http404(side)
    cls = connection.source_class if side == "source" else connection.target_class
    form = CredentialsForm(cls, request.POST, prefix=side)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect(connection.get_absolute_url() + f"?connect={side}")
    trial = Connection.objects.get(pk=connection.pk)
    setattr(trial, f"{side}_url", form.cleaned_data["url"])
    setattr(trial, f"{side}_credentials", form.credentials())
    result = health.try_side(trial, side)  # type: ignore[arg-type]
    if not result.ok:
        health.record_health(connection, side, False, result.message)  # type: ignore[arg-type]
        messages.error(
            request,
            _("%(system)s refused the new credentials: %(message)s")
            % {"system": cls.label, "message": result.message},
        )
        return redirect(connection.get_absolute_url() + f"?connect={side}")
    trial.full_clean(exclude=["source_url", "target_url"])
    fields = [f"{side}_url", f"{side}_credentials_encrypted"]
    if side == "source" and getattr(cls, "webhook_secret_credential", "") in form.credentials():
        set_webhook_secret(trial)
        fields.append("webhook_secret_encrypted")
    trial.save(update_fields=fields)
    health.record_health(trial, side, True)  # type: ignore[arg-type]
    messages.success(request, _("%(system)s is connected.") % {"system": cls.label})
    return redirect(connection.get_absolute_url())


@login_required
@require_POST
def new_webhook_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """A new secret for the shop's webhooks, shown once (the old one stops working)."""
    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    secret = connection.new_webhook_secret()
    connection.save(update_fields=["webhook_secret_encrypted"])
    request.session[f"webhook_secret_{connection.pk}"] = secret
    return redirect(connection.get_absolute_url() + "?tab=configuration")
