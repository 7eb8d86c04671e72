"""``{% load koppel %}``: a record's or attempt's message in the active language."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

from koppel.documents.i18n import shown

register = template.Library()


@register.filter
def in_language(item: Any) -> str:
    """The message of a record or an attempt, translated where the worker kept how it was made."""
    return shown(item.message, getattr(item, "message_text", None), gettext)


@register.filter
def backfill_status(value: str) -> str:
    """A backfill's status as the merchant reads it (Running, Paused ...), in the active language."""
    from koppel.sync.models import Backfill

    return str(Backfill.Status(value).label) if value in Backfill.Status.values else value
