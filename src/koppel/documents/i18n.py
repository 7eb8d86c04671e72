"""Marking text for translation without Django: ``from koppel.documents.i18n import mark as _`` marks a
string for ``makemessages`` (it finds ``_(...)`` calls) and returns it unchanged, so modules that the
sandboxes and the command-line tools import need no configured settings. The dashboard translates the
marked text when it shows it (``gettext``)."""

from __future__ import annotations


def mark(message: str) -> str:
    return message
