"""Accounts and API tokens. A token is shown once, when it is created; only its SHA-256 is stored."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse

from .models import TOKEN_PREFIX, Account, ApiToken, Invitation, hash_token


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ("name", "hint", "created_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = True
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # tokens are created on the API token page, which shows the token once


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    inlines = [ApiTokenInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "hint", "created_at", "last_used_at")
    list_filter = ("account",)
    search_fields = ("name", "hint", "account__name")
    exclude = ("token_hash",)
    readonly_fields = ("hint", "created_at", "last_used_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "account") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            obj.token_hash, obj.hint = hash_token(token), token[:10]  # as ApiToken.issue
            super().save_model(request, obj, form, change)
            messages.warning(request, f"The new API token (copy it now, it is not shown again): {token}")
            return
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """While sign-up is closed (``KOPPEL_SIGNUP_OPEN=false``) the operator invites merchants here: the link
    is shown once, to send to the merchant."""

    list_display = ("email", "account", "created_at", "expires_at", "accepted_at")
    search_fields = ("email", "account__name")
    fields = ("email", "account", "expires_at", "accepted_at", "created_at")
    readonly_fields = ("expires_at", "accepted_at", "created_at")

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row, code = Invitation.issue(obj.email, obj.account)
        obj.pk, obj.code_hash, obj.expires_at = row.pk, row.code_hash, row.expires_at
        link = f"{settings.PUBLIC_URL}{reverse('accounts:signup')}?invitation={code}"
        messages.warning(request, f"Send this sign-up link to {obj.email} (it is not shown again): {link}")
