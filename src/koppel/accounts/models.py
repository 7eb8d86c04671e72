"""Tenants: an account (one merchant or one integrator's client) with its users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "kp_"


class Account(models.Model):
    """A merchant: the company details of the Profile tab (printed on e-invoices later) and its users."""

    name = models.CharField(_("name"), max_length=200)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="koppel_accounts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    shop_country = models.CharField(
        _("shop country"), max_length=2, default="NL", help_text=_("The country your shop sells from.")
    )
    company_name = models.CharField(_("company name"), max_length=200, blank=True, default="")
    street = models.CharField(_("street and number"), max_length=200, blank=True, default="")
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True, default="")
    company_number = models.CharField(
        _("KvK or enterprise number"),
        max_length=20,
        blank=True,
        default="",
        help_text=_("KvK (Chamber of Commerce) number in the Netherlands, enterprise number in Belgium"),
    )
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, default="")
    email = models.EmailField(_("e-mail"), blank=True, default="")
    notification_email = models.EmailField(
        _("extra address for notifications"),
        blank=True,
        default="",
        help_text=_("Notification e-mails go to this address too."),
    )
    terms_accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored; the token is shown once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to recognise the token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, account: Account, name: str) -> tuple[ApiToken, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(account=account, name=name, token_hash=hash_token(token), hint=token[:10])
        return row, token

    @classmethod
    def authenticate(cls, token: str) -> ApiToken | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = cls.objects.select_related("account").filter(token_hash=hash_token(token)).first()
        now = timezone.now()
        # At most one write a minute per token: every API call writing would serialize readers on SQLite.
        if row is not None and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)):
            cls.objects.filter(pk=row.pk).update(last_used_at=now)
        return row


class Invitation(models.Model):
    """The operator's invitation to sign up while open sign-up is off (``KOPPEL_SIGNUP_OPEN=false``).
    Only the SHA-256 of its code is stored; the link is shown once."""

    email = models.EmailField()
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
        help_text="Empty: the merchant's sign-up makes a new account.",
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email

    @classmethod
    def issue(cls, email: str, account: Account | None = None, days: int = 14) -> tuple[Invitation, str]:
        code = secrets.token_urlsafe(24)
        row = cls.objects.create(
            email=email,
            account=account,
            code_hash=hash_token(code),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return row, code

    @classmethod
    def valid(cls, code: str) -> Invitation | None:
        if not code:
            return None
        return cls.objects.filter(
            code_hash=hash_token(code), accepted_at__isnull=True, expires_at__gt=timezone.now()
        ).first()
