"""Tenants: an account (one merchant or one integrator's client) with its users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "kp_"


class Account(models.Model):
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="koppel_accounts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
