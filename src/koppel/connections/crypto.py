"""Credentials at rest: Fernet tokens, keys from ``KOPPEL_FERNET_KEYS`` (newest first) so keys can rotate.

Without configured keys (development, the demo) a key is generated once into ``$KOPPEL_DATA_DIR/fernet.key``,
when credentials are first saved. Reading never makes up a key: a process without the keys that saved the
credentials reports them unreadable (and ``koppel worker`` refuses to start, see :func:`worker_keys_problem`).
"""

from __future__ import annotations

import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


NO_KEYS = (
    "cannot be decrypted: this process has no encryption keys (KOPPEL_FERNET_KEYS is not set and there is "
    "no development key file)"
)
WRONG_KEYS = "cannot be decrypted with the configured keys (KOPPEL_FERNET_KEYS)"


def _development_key(create: bool) -> str | None:
    path = os.path.join(settings.DATA_DIR, "fernet.key")  # no Path: this runs for every decryption
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return _new_development_key(Path(path)) if create else None
    return _key_file(path, stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _new_development_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


@lru_cache(maxsize=16)
def _key_file(path: str, inode: int, mtime_ns: int, size: int) -> str:
    """The key file's text, read once for as long as the file stays the same (one ``stat`` per use instead
    of an open and a read for every credential a worker decrypts)."""
    return Path(path).read_text().strip()


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet(*, create: bool = False) -> MultiFernet | None:
    """The configured keys; without them the development key, made only when ``create`` (saving)."""
    keys = tuple(settings.FERNET_KEYS)
    if not keys:
        development = _development_key(create)
        if development is None:
            return None
        keys = (development,)
    return _fernet(keys)


def encrypt(data: dict[str, Any]) -> str:
    keys = fernet(create=True)
    assert keys is not None
    return keys.encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    keys = fernet()
    if keys is None:
        raise CredentialsUnreadable(NO_KEYS)
    try:
        return json.loads(_plaintext(keys, token))
    except InvalidToken:
        raise CredentialsUnreadable(WRONG_KEYS) from None


@lru_cache(maxsize=4096)
def _plaintext(keys: MultiFernet, token: str) -> bytes:
    """A token reads the same for as long as the keys are the same (``_fernet`` keeps one object per set of
    keys): decrypted once, not for every order and webhook. A token no key reads raises, and is not kept."""
    return keys.decrypt(token.encode())


def worker_keys_problem(tokens: list[str]) -> str:
    """Why a worker must not start with these stored credentials (a sample), or ``""``. Without keys, or
    with keys that read none of them, every order it took would fail; a few unreadable ones among readable
    ones are reported on their own records instead."""
    tokens = [token for token in tokens if token]
    if not tokens:
        return ""
    unreadable = 0
    for token in tokens:
        try:
            decrypt(token)
        except CredentialsUnreadable as exc:
            if str(exc) == NO_KEYS:
                return f"The stored credentials {NO_KEYS}. Start the worker with the web process's keys."
            unreadable += 1
    if unreadable == len(tokens):
        return (
            f"The configured keys (KOPPEL_FERNET_KEYS) read none of the {len(tokens)} stored credentials "
            "checked. Start the worker with the same KOPPEL_FERNET_KEYS as the web process."
        )
    return ""


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (``MultiFernet.rotate``)."""
    if not token:
        return token
    keys = fernet()
    if keys is None:
        raise CredentialsUnreadable(NO_KEYS)
    try:
        return keys.rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("credentials cannot be decrypted with the configured keys") from None


class Secrets(dict):
    """Decrypted credentials that never show their values in a repr, log line or error page."""

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{key}=***" for key in self) + ")"

    __str__ = __repr__
