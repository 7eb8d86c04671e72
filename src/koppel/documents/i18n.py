"""Text for people, in their language, without Django in the pure modules.

- ``mark`` (imported as ``_``) marks a label for ``makemessages`` and returns it unchanged: the dashboard
  translates it when it shows it. Modules the sandboxes and command-line tools import need no settings.
- :class:`Text` is an English message that remembers how it was made (its template and values), so a
  record's reason, written once in English by the worker, is shown in Dutch to a Dutch merchant later.
  ``makemessages`` finds its templates when the class is imported as ``_`` too (``from ... import Text as
  _``); a template uses named placeholders, ``%(name)s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def mark(message: str) -> str:
    return message


class Text(str):
    """A ``str`` (the English text) that also keeps its template and values, values that are themselves
    :class:`Text` included, so each part can be translated."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        english = template % {key: str(value) for key, value in params.items()} if params else template
        text = super().__new__(cls, english)
        text.template = template
        text.params = {key: stored(value) or str(value) for key, value in params.items()}
        return text


def stored(message: Any) -> dict[str, Any] | None:
    """What to keep of a message to show it in another language later; ``None`` for plain text."""
    if isinstance(message, Text):
        return {"template": message.template, "params": message.params}
    return None


def shown(message: str, kept: dict[str, Any] | None, translate: Callable[[str], str]) -> str:
    """The message in the language ``translate`` gives, from what :func:`stored` kept; the English text when
    nothing was kept or the translation does not fit its values."""
    if not kept:
        return message
    try:
        return _render(kept, translate)
    except (KeyError, TypeError, ValueError):
        return message


def _render(kept: dict[str, Any], translate: Callable[[str], str]) -> str:
    params = {
        key: _render(value, translate) if isinstance(value, dict) else value
        for key, value in kept.get("params", {}).items()
    }
    template = translate(kept["template"])
    return template % params if params else template
