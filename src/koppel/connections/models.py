"""A connection ("koppeling") joins one source account to one target account, with its settings."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError as PydanticValidationError

from koppel.accounts.models import Account
from koppel.connectors import registry
from koppel.connectors.base import Credentialed, SourceConnector, StoredToken, TargetConnector
from koppel.connectors.errors import AuthFailed, CredentialsUnreadable, Side
from koppel.connectors.http import CallLog
from koppel.connectors.vies.cache import cached_check
from koppel.documents.checks import CheckContext
from koppel.documents.countries import country_by_code
from koppel.documents.model import Order
from koppel.documents.vat_rules import policy_for

from . import crypto


def settings_problems(cls: type[Credentialed], values: Any) -> list[str]:
    """The connector's own words on invalid settings, one message per field: ``"Label: message"``."""
    if not isinstance(values, dict):
        return ["Settings must be an object of names and values."]
    try:
        cls.settings_model.model_validate(values)  # type: ignore[attr-defined]
    except PydanticValidationError as exc:
        fields = cls.settings_model.model_fields  # type: ignore[attr-defined]
        messages = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error.get("loc", ())) or "settings"
            field = fields.get(name)
            label = field.title if field is not None and field.title else name
            text = error.get("msg", "invalid").removeprefix("Value error, ")
            if error.get("type") == "extra_forbidden":
                text = f"{cls.label} has no setting {name!r}"
            messages.append(f"{label}: {text}")
        return messages
    return []


class SourceTokenStore:
    """The source's access token in the connection's row (encrypted): one token for every worker process
    of the connection until it expires, renewed by whichever process finds it expired."""

    def __init__(self, connection: Connection) -> None:
        self.connection_id = connection.pk

    def _row(self) -> tuple[str, Any] | None:
        if self.connection_id is None:
            return None
        return (
            Connection.objects.filter(pk=self.connection_id)
            .values_list("source_token_encrypted", "source_token_expires_at")
            .first()
        )

    def get(self) -> StoredToken | None:
        row = self._row()
        if not row or not row[0] or row[1] is None:
            return None
        try:
            value = crypto.decrypt(row[0]).get("token", "")
        except crypto.CredentialsUnreadable:
            return None
        return StoredToken(value=value, expires_at=row[1]) if value else None

    def put(self, token: StoredToken | None) -> None:
        if self.connection_id is None:
            return
        Connection.objects.filter(pk=self.connection_id).update(
            source_token_encrypted=crypto.encrypt({"token": token.value}) if token else "",
            source_token_expires_at=token.expires_at if token else None,
        )


class Health(models.TextChoices):
    UNKNOWN = "unknown", _("Not tested")
    OK = "ok", _("Connected")
    FAILED = "failed", _("Not working")


class Connection(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    source_kind = models.CharField(max_length=40)
    source_url = models.URLField(
        max_length=500, help_text="The shop's address, e.g. https://myshop.kmoshops.be"
    )
    source_credentials_encrypted = models.TextField(blank=True, default="")
    target_kind = models.CharField(max_length=40)
    target_url = models.URLField(max_length=500)
    target_credentials_encrypted = models.TextField(blank=True, default="")
    target_settings = models.JSONField(default=dict, blank=True)
    source_settings = models.JSONField(default=dict, blank=True)
    #: An access token the source's credentials obtained (encrypted), shared by every worker process, so a
    #: platform that blocks clients asking for a token per call (bol.com) sees one token until it expires.
    source_token_encrypted = models.TextField(blank=True, default="", editable=False)
    source_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, default="")

    shop_country = models.CharField(max_length=2, default="NL", help_text="Country the shop sells from.")
    eligible_statuses = models.JSONField(default=list, blank=True, help_text="Empty: the source's default.")
    start_at = models.DateTimeField(default=timezone.now, help_text="Orders placed before this are skipped.")
    poll_minutes = models.PositiveIntegerField(default=60)
    #: The VAT rules of the connection (koppel.documents.vat_rules): distance sales at the destination's
    #: rates, and VAT numbers checked in VIES.
    oss_declared = models.BooleanField(
        default=False, help_text="The merchant declares distance sales to EU consumers through OSS."
    )
    vies_check = models.BooleanField(
        default=False, help_text="Check business customers' VAT numbers in the EU's VIES."
    )
    credit_notes = models.BooleanField(default=True, help_text="Turn refunds into credit notes.")

    # Bookkeeping of the intake and the scheduler.
    poll_cursor = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_poll_error = models.CharField(max_length=500, blank=True, default="")
    rejected_webhooks = models.PositiveIntegerField(default=0)
    target_paused_until = models.DateTimeField(null=True, blank=True)
    #: The shop asked us to wait (rate limit): no order is fetched from it before then.
    source_paused_until = models.DateTimeField(null=True, blank=True)
    #: When a task is planned to release the orders parked behind a pause (one per pause, see sync.pauses).
    target_release_at = models.DateTimeField(null=True, blank=True, editable=False)
    source_release_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: The circuit breaker (see sync.breaker): unavailable answers in a row on each side, and since when.
    target_failures = models.PositiveIntegerField(default=0, editable=False)
    source_failures = models.PositiveIntegerField(default=0, editable=False)
    target_down_since = models.DateTimeField(null=True, blank=True, editable=False)
    source_down_since = models.DateTimeField(null=True, blank=True, editable=False)
    target_vat_rates = models.JSONField(null=True, blank=True)
    target_vat_rates_at = models.DateTimeField(null=True, blank=True)

    # Health: the two dots. Set by the connection test and by every call that finds the credentials
    # refused; ``failure_notified_at`` makes one e-mail per failure, not one per order.
    source_health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    source_health_message = models.CharField(max_length=500, blank=True, default="")
    source_checked_at = models.DateTimeField(null=True, blank=True)
    target_health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    target_health_message = models.CharField(max_length=500, blank=True, default="")
    target_checked_at = models.DateTimeField(null=True, blank=True)
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dashboard:connection", args=[self.pk])

    # Credentials ---------------------------------------------------------------------------------------
    @property
    def source_credentials(self) -> crypto.Secrets:
        return crypto.Secrets(crypto.decrypt(self.source_credentials_encrypted))

    @source_credentials.setter
    def source_credentials(self, value: dict[str, str]) -> None:
        self.source_credentials_encrypted = crypto.encrypt(dict(value))

    @property
    def target_credentials(self) -> crypto.Secrets:
        return crypto.Secrets(crypto.decrypt(self.target_credentials_encrypted))

    @target_credentials.setter
    def target_credentials(self, value: dict[str, str]) -> None:
        self.target_credentials_encrypted = crypto.encrypt(dict(value))

    @property
    def webhook_secret(self) -> str:
        return crypto.decrypt(self.webhook_secret_encrypted).get("secret", "")

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt({"secret": value})

    def new_webhook_secret(self) -> str:
        self.webhook_secret = secrets.token_hex(32)
        return self.webhook_secret

    def rotate_keys(self) -> None:
        for name in (
            "source_credentials_encrypted",
            "target_credentials_encrypted",
            "webhook_secret_encrypted",
        ):
            setattr(self, name, crypto.rotate(getattr(self, name)))

    # Connectors ----------------------------------------------------------------------------------------
    @property
    def source_class(self) -> type[SourceConnector]:
        return registry.source(self.source_kind)

    @property
    def target_class(self) -> type[TargetConnector]:
        return registry.target(self.target_kind)

    def source(self, log: CallLog | None = None) -> SourceConnector:
        credentials = self._usable_credentials("source", self.source_class)
        return self.source_class(
            url=self.source_url,
            credentials=credentials,
            log=log,
            settings=self.source_settings,
            token_store=SourceTokenStore(self),
        )

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        """The source's payload as a canonical order, read with this connection's source settings."""
        return self.source_class.parse_order(payload, self.source_class.load_settings(self.source_settings))

    def target(self, log: CallLog | None = None) -> TargetConnector:
        credentials = self._usable_credentials("target", self.target_class)
        return self.target_class(
            url=self.target_url, credentials=credentials, settings=self.target_settings, log=log
        )

    def _usable_credentials(self, side: Side, cls: type[Credentialed]) -> crypto.Secrets:
        """The side's credentials, or ``AuthFailed`` saying what is missing (never a ``KeyError`` in the
        worker: a connection stored before credentials were checked must explain itself)."""
        try:
            credentials = self.source_credentials if side == "source" else self.target_credentials
        except crypto.CredentialsUnreadable as exc:
            raise CredentialsUnreadable(
                f"The stored {cls.label} credentials {exc}. Start every Koppel process with the same "
                f"KOPPEL_FERNET_KEYS; if the key is lost, connect {cls.label} again.",
                side=side,
            ) from None
        missing = cls.missing_credentials(credentials)
        if missing:
            raise AuthFailed(f"The {cls.label} connection {missing}; connect {cls.label} again", side=side)
        return credentials

    # Validation: what every way in (dashboard, admin, API, command) refuses ------------------------------
    def problems(self) -> dict[str, list[str]]:
        """Why the worker could not use this connection, by model field (``__all__`` for credentials);
        empty when it can."""
        problems: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            problems.setdefault(field, []).append(message)

        source_cls = target_cls = None
        try:
            source_cls = self.source_class
        except LookupError as exc:
            add("source_kind", str(exc.args[0]))
        try:
            target_cls = self.target_class
        except LookupError as exc:
            add("target_kind", str(exc.args[0]))
        for side, cls in (("source", source_cls), ("target", target_cls)):
            if cls is None:
                continue
            try:
                cls_credentials = self.source_credentials if side == "source" else self.target_credentials
            except crypto.CredentialsUnreadable as exc:
                add(NON_FIELD_ERRORS, f"{cls.label}: the stored credentials {exc}")
                continue
            if missing := cls.missing_credentials(cls_credentials):
                add(NON_FIELD_ERRORS, f"{cls.label} {missing}.")
        if source_cls is not None:
            for message in settings_problems(source_cls, self.source_settings):
                add("source_settings", message)
            statuses = self.eligible_statuses
            if not isinstance(statuses, list) or not all(isinstance(item, str) for item in statuses):
                add("eligible_statuses", "A list of statuses is expected.")
            elif unknown := sorted(set(statuses) - set(source_cls.statuses)):
                add(
                    "eligible_statuses",
                    f"Unknown status {', '.join(unknown)}; {source_cls.label} knows "
                    f"{', '.join(source_cls.statuses)}.",
                )
        if target_cls is not None:
            for message in settings_problems(target_cls, self.target_settings):
                add("target_settings", message)
        if country_by_code(self.shop_country or "") is None:
            add("shop_country", f"Unknown country code {self.shop_country!r}.")
        return problems

    def clean(self) -> None:
        super().clean()
        if problems := self.problems():
            raise ValidationError(problems)

    @property
    def statuses_to_book(self) -> frozenset[str]:
        return frozenset(self.eligible_statuses or self.source_class.default_eligible_statuses)

    def check_context(
        self, *, vat_rates: frozenset[Decimal] | None, existing: str | None = None
    ) -> CheckContext:
        return CheckContext(
            shop_country=self.shop_country,
            eligible_statuses=self.statuses_to_book,
            start_at=self.start_at,
            target_name=self.target_class.label,
            target_vat_rates=vat_rates,
            existing_booking=existing,
            cancelled_statuses=frozenset(self.source_class.cancelled_statuses),
            vat_policy=policy_for(
                self.shop_country,
                oss=self.oss_declared,
                vies=self.vies_check,
                source_settings=self.source_class.load_settings(self.source_settings),
            ),
            vies=cached_check if self.vies_check else None,
        )

    def cached_vat_rates(self, max_age: timedelta = timedelta(minutes=10)) -> frozenset[Decimal] | None:
        if self.target_vat_rates is None or self.target_vat_rates_at is None:
            return None
        if timezone.now() - self.target_vat_rates_at > max_age:
            return None
        return frozenset(Decimal(rate) for rate in self.target_vat_rates)

    def remember_vat_rates(self, rates: frozenset[Decimal]) -> None:
        self.target_vat_rates = sorted(str(rate) for rate in rates)
        self.target_vat_rates_at = timezone.now()
        Connection.objects.filter(pk=self.pk).update(
            target_vat_rates=self.target_vat_rates, target_vat_rates_at=self.target_vat_rates_at
        )

    @property
    def webhook_path(self) -> str:
        return reverse("intake:webhook", args=[self.source_kind, self.pk])

    @property
    def webhook_url(self) -> str:
        return settings.PUBLIC_URL + self.webhook_path

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "name": self.name,
            "active": self.active,
            "source": self.source_kind,
            "source_url": self.source_url,
            "target": self.target_kind,
            "shop_country": self.shop_country,
            "eligible_statuses": sorted(self.statuses_to_book),
            "start_at": self.start_at.isoformat(),
            "poll_minutes": self.poll_minutes,
            "webhook_url": self.webhook_url,
            "last_polled_at": self.last_polled_at.isoformat() if self.last_polled_at else None,
            "rejected_webhooks": self.rejected_webhooks,
        }
