"""Credentials at rest: Fernet tokens, keys from ``KOPPEL_FERNET_KEYS`` (newest first) so keys can rotate.

Without configured keys (development, the demo) a key is generated once into ``$KOPPEL_DATA_DIR/fernet.key``.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


def _development_key() -> str:
    path = Path(settings.DATA_DIR) / "fernet.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


@cache
def fernet() -> MultiFernet:
    keys = list(settings.FERNET_KEYS) or [_development_key()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(data: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable("credentials cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (``MultiFernet.rotate``)."""
    if not token:
        return token
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("credentials cannot be decrypted with the configured keys") from None


class Secrets(dict):
    """Decrypted credentials that never show their values in a repr, log line or error page."""

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{key}=***" for key in self) + ")"

    __str__ = __repr__
