"""Forms built from what a connector declares, so a new connector needs no form of its own:

- :class:`CredentialsForm`: the Connect popup of one side (address, a choice between credential sets where a
  connector accepts several, write-only secrets);
- :class:`ConfigurationForm`: the Configuration tab (the connection's statuses, start date and country, and
  every field of the target's settings model: choices, checkboxes, texts, lists fetched from the system).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any, Literal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from koppel.connectors.base import Credentialed, SourceConnector

from .models import Connection, settings_problems

SETTING_PREFIX = "setting_"
SOURCE_SETTING_PREFIX = "source_setting_"
#: The shop countries offered first (Koppel's merchants), then the rest of the EU.
SHOP_COUNTRIES = [("NL", gettext_lazy("Netherlands")), ("BE", gettext_lazy("Belgium"))]


class CredentialsForm(forms.Form):
    """The credentials of one side of a connection, as the connector declares them. Secrets are write-only:
    their inputs never carry a value, and a reconnect without a new value is refused."""

    url = forms.URLField(assume_scheme="https", max_length=500)

    def __init__(
        self, connector: type[Credentialed], *args: Any, known: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.fields["url"].label = _(connector.url_label)
        self.fields["url"].help_text = _(connector.url_help)
        sets = connector.credential_sets()
        if len(sets) > 1:
            labels = list(connector.credential_set_labels) or [" + ".join(s) for s in sets]
            self.fields["credential_set"] = forms.ChoiceField(
                label=_("How do you connect?"),
                choices=[(str(i), _(label)) for i, label in enumerate(labels)],
                initial="0",
                widget=forms.RadioSelect,
            )
        known = known or {}
        for name in dict.fromkeys(name for fields in sets for name in fields):
            spec = connector.credential_field(name)
            widget = forms.PasswordInput(attrs={"autocomplete": "new-password"}) if spec.secret else None
            self.fields[name] = forms.CharField(
                label=_(spec.label),
                help_text=_(spec.help) if spec.help else "",
                required=False,
                strip=True,
                widget=widget,
                initial=None if spec.secret else known.get(name, ""),
            )

    def chosen_set(self) -> tuple[str, ...]:
        sets = self.connector.credential_sets()
        index = self.cleaned_data.get("credential_set", "0") if "credential_set" in self.fields else "0"
        return sets[int(index)] if str(index).isdigit() and int(index) < len(sets) else sets[0]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.chosen_set():
            if not data.get(name):
                self.add_error(name, _("Enter the %(field)s.") % {"field": self.fields[name].label})
        return data

    def credentials(self) -> dict[str, str]:
        """The credentials of the chosen set, as the connection stores them."""
        return {name: self.cleaned_data[name] for name in self.chosen_set()}


def _choices_of(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is Literal:
        return [str(value) for value in typing.get_args(annotation)]
    return None


def setting_field(name: str, info: Any, fetched: Sequence[tuple[str, str]] | None) -> forms.Field:
    """A form field for one setting of a connector's settings model."""
    extra = info.json_schema_extra or {}
    label = _(info.title) if info.title else name.replace("_", " ").capitalize()
    help_text = _(info.description) if info.description else ""
    if info.annotation is bool:
        return forms.BooleanField(label=label, help_text=help_text, required=False)
    if values := _choices_of(info.annotation):
        names = extra.get("choice_labels", {})
        return forms.ChoiceField(
            label=label, help_text=help_text, choices=[(v, _(names.get(v, v))) for v in values]
        )
    if info.annotation is int:
        return forms.IntegerField(label=label, help_text=help_text)
    if extra.get("choices_from"):
        if fetched is not None:
            choices = [("", _("Default"))] + [(str(key), text) for key, text in fetched]
            return forms.ChoiceField(label=label, help_text=help_text, choices=choices, required=False)
        help_text = " ".join(filter(None, [help_text, _("The list could not be fetched; enter the id.")]))
    return forms.CharField(label=label, help_text=help_text, required=False, strip=True)


class ConfigurationForm(forms.Form):
    """The Configuration tab: what the connection books and how the target books it."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    shop_country = forms.ChoiceField(
        label=gettext_lazy("Shop country"),
        help_text=gettext_lazy("The country your shop sells from: its VAT rules apply."),
        choices=SHOP_COUNTRIES,
    )
    eligible_statuses = forms.MultipleChoiceField(
        label=gettext_lazy("Book orders with status"),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Orders in another status wait under Open until their status changes."),
    )
    start_date = forms.DateField(
        label=gettext_lazy("Start date"),
        help_text=gettext_lazy("Orders placed before this day are not booked (past orders: Backfill)."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    oss_declared = forms.BooleanField(
        label=gettext_lazy("I declare OSS (EU One Stop Shop)"),
        required=False,
        help_text=gettext_lazy(
            "On: consumers in another EU country pay their own country's VAT (Germany 19%, a reduced rate "
            "becomes that country's reduced rate); an order the shop charged otherwise is stopped with "
            "VAT_RATE_MISMATCH. Off: your own country's VAT for every EU consumer."
        ),
    )
    vies_check = forms.BooleanField(
        label=gettext_lazy("Check VAT numbers in VIES"),
        required=False,
        help_text=gettext_lazy(
            "Ask the EU's VIES whether a business customer's VAT number is registered before booking it "
            "VAT-free. When VIES cannot be asked, the order is booked on the check of the number's format, "
            "and the invoice line says so."
        ),
    )
    credit_notes = forms.BooleanField(
        label=gettext_lazy("Turn refunds into credit notes"),
        required=False,
        help_text=gettext_lazy("A refund in the shop is booked as a credit note on the order's invoice."),
    )

    def __init__(
        self,
        connection: Connection,
        *args: Any,
        fetched: Mapping[str, Sequence[tuple[str, str]] | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.connection = connection
        source: type[SourceConnector] = connection.source_class
        target = connection.target_class
        initial = {
            "name": connection.name,
            "shop_country": connection.shop_country,
            "eligible_statuses": sorted(connection.statuses_to_book),
            "start_date": timezone.localtime(connection.start_at).date(),
            "oss_declared": connection.oss_declared,
            "vies_check": connection.vies_check,
            "credit_notes": connection.credit_notes,
        }
        current = target.load_settings(connection.target_settings)
        initial |= {
            SETTING_PREFIX + name: getattr(current, name) for name in target.settings_model.model_fields
        }
        current_source = source.load_settings(connection.source_settings)
        initial |= {
            SOURCE_SETTING_PREFIX + name: getattr(current_source, name)
            for name in source.settings_model.model_fields
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["eligible_statuses"].choices = [(s, s) for s in source.statuses]
        fetched = fetched or {}
        for name, info in source.settings_model.model_fields.items():
            self.fields[SOURCE_SETTING_PREFIX + name] = setting_field(name, info, None)
        for name, info in target.settings_model.model_fields.items():
            source_name = (info.json_schema_extra or {}).get("choices_from", "")
            self.fields[SETTING_PREFIX + name] = setting_field(name, info, fetched.get(source_name))
        self.target_label = target.label

    def setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(SETTING_PREFIX)]

    def clean_start_date(self) -> Any:
        day = self.cleaned_data["start_date"]
        if not 2000 <= day.year < 2100:
            raise forms.ValidationError(_("Choose a day between the years 2000 and 2099."))
        return day

    def source_setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(SOURCE_SETTING_PREFIX)]

    def connection_fields(self) -> list[forms.BoundField]:
        prefixes = (SETTING_PREFIX, SOURCE_SETTING_PREFIX)
        return [self[name] for name in self.fields if not name.startswith(prefixes)]

    def source_settings(self) -> dict[str, Any]:
        return {
            name.removeprefix(SOURCE_SETTING_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SOURCE_SETTING_PREFIX)
        }

    def target_settings(self) -> dict[str, Any]:
        return {
            name.removeprefix(SETTING_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SETTING_PREFIX)
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._settings_errors(self.connection.target_class, self.target_settings(), SETTING_PREFIX)
        self._settings_errors(self.connection.source_class, self.source_settings(), SOURCE_SETTING_PREFIX)
        return data

    def _settings_errors(self, cls: type[Credentialed], values: dict[str, Any], prefix: str) -> None:
        """The connector's own words on invalid settings, beside the field they concern."""
        fields = cls.settings_model.model_fields
        labels = {(_(info.title) if info.title else name): name for name, info in fields.items()}
        english = {info.title: name for name, info in fields.items() if info.title}
        for problem in settings_problems(cls, values):
            label, _sep, message = problem.partition(": ")
            name = english.get(label) or labels.get(label) or label
            field = prefix + name
            self.add_error(field if field in self.fields else None, message or problem)

    def save(self) -> Connection:
        connection = self.connection
        connection.name = self.cleaned_data["name"]
        connection.shop_country = self.cleaned_data["shop_country"]
        connection.eligible_statuses = sorted(self.cleaned_data["eligible_statuses"])
        start = datetime.combine(self.cleaned_data["start_date"], time())
        connection.start_at = timezone.make_aware(start)
        for name in ("oss_declared", "vies_check", "credit_notes"):
            setattr(connection, name, self.cleaned_data[name])
        connection.target_settings = {**connection.target_settings, **self.target_settings()}
        connection.source_settings = {**connection.source_settings, **self.source_settings()}
        connection.full_clean(exclude=["source_url", "target_url"])
        connection.save()
        return connection
