"""Connections in the admin. What the worker could not use is refused, beside the field it concerns: the
form runs the model's ``full_clean`` (so :meth:`Connection.problems`), the systems are chosen from the
registered connectors, and the target's settings are checked by its settings model.

Credentials are write-only here: one input per credential the chosen connector declares (secrets as
password inputs that never carry a value), empty on every page; leaving them empty on a change keeps the
stored ones. No page decrypts or shows a credential or the webhook secret; the ``*_encrypted`` fields are
excluded. A new connection's webhook secret is shown once, in the message after saving.

The systems of a saved connection are fixed (its webhook URL, records and debtors belong to them): make a
new connection for another shop platform or invoicing system.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.http import HttpRequest

from koppel.connectors import registry
from koppel.connectors.base import Credentialed
from koppel.connectors.errors import Side

from . import crypto
from .models import Connection, Health

SECRET_FIELDS = ("source_credentials_encrypted", "target_credentials_encrypted", "webhook_secret_encrypted")
SIDES: tuple[Side, Side] = ("source", "target")
KEEP_HELP = "Leave empty to keep the stored value."
#: Every field an operator may edit: not the encrypted ones, which have inputs of their own.
EDITABLE = tuple(
    f.name
    for f in Connection._meta.concrete_fields
    if f.editable and not f.primary_key and f.name not in SECRET_FIELDS
)


def connectors(side: Side) -> dict[str, type[Credentialed]]:
    return dict(registry.sources() if side == "source" else registry.targets())


def credential_input(side: Side, kind: str, name: str) -> str:
    """The form field of one credential of one connector (several connectors may ask for an ``api_key``)."""
    return f"{side}_{kind}__{name}"


def credential_names(cls: type[Credentialed]) -> list[str]:
    return list(dict.fromkeys(name for fields in cls.credential_sets() for name in fields))


def credential_fields(cls: type[Credentialed], side: Side, *, change: bool) -> dict[str, forms.Field]:
    """Write-only inputs for every credential ``cls`` declares."""
    fields: dict[str, forms.Field] = {}
    for name in credential_names(cls):
        spec = cls.credential_field(name)
        widget = (
            forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            if spec.secret
            else forms.TextInput(attrs={"autocomplete": "off"})
        )
        help_text = " ".join(filter(None, [spec.help, KEEP_HELP if change else ""]))
        fields[credential_input(side, cls.kind, name)] = forms.CharField(
            label=f"{cls.label}: {spec.label}", help_text=help_text, required=False, strip=True, widget=widget
        )
    return fields


def kind_field(side: Side) -> forms.ChoiceField:
    known = connectors(side)
    return forms.ChoiceField(
        choices=[("", "---------"), *sorted((kind, cls.label) for kind, cls in known.items())],
        label=f"{side.capitalize()} system",
        error_messages={
            "invalid_choice": f"Unknown {side} %(value)r; known: {', '.join(sorted(known))}.",
        },
    )


class ConnectionAdminForm(forms.ModelForm):
    """The base of the form :meth:`ConnectionAdmin.get_form` builds for the connectors in question."""

    #: ``(side, connector)`` pairs whose credential inputs the form has; set by :func:`form_for`.
    offered: tuple[tuple[Side, type[Credentialed]], ...] = ()

    class Meta:
        model = Connection
        fields = EDITABLE
        # An address typed without a scheme is https (the ModelAdmin's formfield_overrides say the same;
        # this covers the fields made when the base form class is built).
        formfield_callback = staticmethod(
            lambda field, **kwargs: field.formfield(
                **({"assume_scheme": "https"} if isinstance(field, models.URLField) else {}), **kwargs
            )
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.changed_sides: list[Side] = []
        for side in SIDES:
            kind = getattr(self.instance, f"{side}_kind") if self.instance.pk else data.get(f"{side}_kind")
            cls = connectors(side).get(kind or "")
            if cls is not None:
                self.take_credentials(side, cls, data)
        return data

    def _update_errors(self, errors: ValidationError) -> None:
        """The model's refusals beside their fields; one about a field the form does not have (a saved
        connection's system, now uninstalled) above the form. A field whose own input was already refused
        keeps that message alone (the model would repeat it about the empty value)."""
        if hasattr(errors, "error_dict"):
            placed: dict[str, list[Any]] = {}
            for field, items in errors.error_dict.items():
                if field in self.errors and field != NON_FIELD_ERRORS:
                    continue
                placed.setdefault(field if field in self.fields else NON_FIELD_ERRORS, []).extend(items)
            errors = ValidationError(placed)
        super()._update_errors(errors)

    def given(self, side: Side, cls: type[Credentialed], data: dict[str, Any]) -> dict[str, str]:
        return {
            name: data[credential_input(side, cls.kind, name)]
            for name in credential_names(cls)
            if data.get(credential_input(side, cls.kind, name))
        }

    def take_credentials(self, side: Side, cls: type[Credentialed], data: dict[str, Any]) -> None:
        """Put the credentials given on the instance (complete ones replace the stored ones, a part is
        merged in), so ``full_clean`` judges what will be saved; say beside each input what is missing."""
        given = self.given(side, cls, data)
        if not given and self.instance.pk:
            return  # kept as stored; full_clean still says when they are incomplete or unreadable
        credentials = dict(given)
        if self.instance.pk and not cls.credentials_complete(given):
            # Stored ones that cannot be read are lost: what was given must then be complete by itself.
            with contextlib.suppress(crypto.CredentialsUnreadable):
                credentials = {**getattr(self.instance, f"{side}_credentials"), **given}
        setattr(self.instance, f"{side}_credentials", credentials)
        self.changed_sides.append(side)
        if not cls.credentials_complete(credentials):
            for name in closest_set(cls, credentials):
                if not credentials.get(name):
                    label = cls.credential_field(name).label
                    self.add_error(credential_input(side, cls.kind, name), f"Enter the {label}.")


def closest_set(cls: type[Credentialed], credentials: dict[str, str]) -> tuple[str, ...]:
    """The credential set most of whose fields are given (the primary one when none is)."""
    return max(cls.credential_sets(), key=lambda fields: sum(bool(credentials.get(n)) for n in fields))


def form_for(obj: Connection | None) -> type[ConnectionAdminForm]:
    """The admin form with the kind choices (a new connection) and the credential inputs of every
    connector that may be chosen (a new connection) or of the connection's own two (a change)."""
    attrs: dict[str, Any] = {}
    offered: list[tuple[Side, type[Credentialed]]] = []
    for side in SIDES:
        if obj is None:
            attrs[f"{side}_kind"] = kind_field(side)
            choices = list(connectors(side).values())
        else:
            own = connectors(side).get(getattr(obj, f"{side}_kind"))
            choices = [own] if own is not None else []
        for cls in sorted(choices, key=lambda c: c.kind):
            attrs.update(credential_fields(cls, side, change=obj is not None))
            offered.append((side, cls))
    attrs["offered"] = tuple(offered)
    return type("ConnectionAdminForm", (ConnectionAdminForm,), attrs)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "account",
        "source_kind",
        "target_kind",
        "active",
        "source_health",
        "target_health",
        "last_polled_at",
        "rejected_webhooks",
    )
    list_filter = ("active", "source_kind", "target_kind", "account")
    search_fields = ("name", "source_url", "target_url", "account__name")
    form = ConnectionAdminForm
    exclude = SECRET_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = (
        "webhook_url",
        "source_health",
        "source_health_message",
        "source_checked_at",
        "target_health",
        "target_health_message",
        "target_checked_at",
        "poll_cursor",
        "next_poll_at",
        "last_polled_at",
        "last_poll_error",
        "rejected_webhooks",
        "target_paused_until",
        "source_paused_until",
        "target_vat_rates",
        "target_vat_rates_at",
        "failure_notified_at",
        "last_webhook_at",
        "created_at",
    )

    def get_form(self, request: HttpRequest, obj: Connection | None = None, change: bool = False, **kwargs):
        kwargs["form"] = form_for(obj)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> tuple[str, ...]:
        fixed = ("source_kind", "target_kind") if obj is not None else ()
        return (*fixed, *self.readonly_fields)

    def get_fieldsets(self, request: HttpRequest, obj: Connection | None = None) -> list[tuple[Any, dict]]:
        """The connection's fields, then one section of write-only credentials per connector."""
        form = form_for(obj)
        (_, options), *_ = super().get_fieldsets(request, obj)
        credential_inputs = {name for name in form.base_fields if "__" in name}
        main = [name for name in options["fields"] if name not in credential_inputs]
        sections: list[tuple[Any, dict]] = [(None, {"fields": main})]
        for side, cls in form.offered:
            names = [credential_input(side, cls.kind, n) for n in credential_names(cls)]
            description = (
                f"Only used when {cls.label} is the chosen {side}."
                if obj is None
                else f"Write-only: the stored values are never shown. {KEEP_HELP}"
            )
            title = f"{cls.label} credentials ({side})"
            sections.append((title, {"fields": names, "description": description}))
        return sections

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        for side in getattr(form, "changed_sides", []):  # new credentials: not tested yet
            setattr(obj, f"{side}_health", Health.UNKNOWN)
            setattr(obj, f"{side}_health_message", "")
            setattr(obj, f"{side}_checked_at", None)
        note = "" if change else self.new_webhook_secret(obj)
        super().save_model(request, obj, form, change)
        if note:
            messages.warning(request, note)

    @staticmethod
    def new_webhook_secret(obj: Connection) -> str:
        """The platform's signing credential when it has one (Shopify's client secret), else a new secret;
        returns what to tell the operator, the new secret shown this once."""
        name = getattr(obj.source_class, "webhook_secret_credential", "")
        credentials = obj.source_credentials
        if name and credentials.get(name):
            obj.webhook_secret = credentials[name]
            return f"Webhooks are checked against the {name.replace('_', ' ')}."
        secret = obj.new_webhook_secret()
        return f"The webhook secret to enter in the shop (copy it now, it is not shown again): {secret}"

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        return obj.webhook_url if obj.pk else "–"
