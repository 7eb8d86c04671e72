"""Connections in the admin. Credentials and the webhook secret are never shown, edited or exported here:
the ``*_encrypted`` fields are excluded, and nothing on these pages decrypts them."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from .models import Connection

SECRET_FIELDS = ("source_credentials_encrypted", "target_credentials_encrypted", "webhook_secret_encrypted")


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "account",
        "source_kind",
        "target_kind",
        "active",
        "last_polled_at",
        "rejected_webhooks",
    )
    list_filter = ("active", "source_kind", "target_kind", "account")
    search_fields = ("name", "source_url", "target_url", "account__name")
    exclude = SECRET_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = (
        "webhook_url",
        "poll_cursor",
        "next_poll_at",
        "last_polled_at",
        "last_poll_error",
        "rejected_webhooks",
        "target_paused_until",
        "source_paused_until",
        "target_vat_rates",
        "target_vat_rates_at",
        "created_at",
    )

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        return obj.webhook_url if obj.pk else "–"
