"""Access tokens of Dev Dashboard apps, which Shopify hands out through the client credentials grant.

Since 1 January 2026 a merchant can no longer create a custom app in the Shopify admin, whose Admin API
token never expires. An app made in the Dev Dashboard has a client ID and secret instead; the shop trades
them for a token that lives about 24 hours (``expires_in`` seconds, 86399) and comes without a refresh
token: a new one is asked for the same way. Every piece of work builds its own connector, so the tokens
live here, in one cache for the process, keyed by shop and app; each is renewed shortly before it expires
and dropped when Shopify answers 401 to it (a token can be revoked, e.g. when the app is uninstalled).

The HTTP side (the token request through the call log) is in :mod:`.client`; this module holds no
connection and never logs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Renew a token this many seconds before it expires, or a tenth of its lifetime if that is shorter (the
#: sandbox's tokens may live a second).
RENEW_MARGIN = 300.0
#: Shopify's lifetime of a client credentials token, assumed when an answer does not say.
DEFAULT_EXPIRES_IN = 86399


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """A Dev Dashboard app's client ID and client secret (the secret never shows in a repr)."""

    client_id: str
    client_secret: str = field(repr=False)

    def cache_key(self, shop_url: str) -> tuple[str, str, str]:
        """Shop, client ID and a digest of the secret: a token obtained with one secret is never handed
        to a connection holding another (a wrong one must fail, not borrow a token)."""
        digest = hashlib.sha256(self.client_secret.encode()).hexdigest()
        return shop_url.rstrip("/").lower(), self.client_id, digest


@dataclass(frozen=True, slots=True)
class Grant:
    """What the token endpoint answered: the token and its lifetime in seconds."""

    access_token: str = field(repr=False)
    expires_in: float = DEFAULT_EXPIRES_IN

    @classmethod
    def from_answer(cls, data: Mapping[str, Any]) -> Grant | None:
        """``{"access_token": "shpat_…", "scope": "…", "expires_in": 86399}``; ``None`` without a token."""
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            return None
        expires_in = data.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in < 0:
            expires_in = DEFAULT_EXPIRES_IN
        return cls(token, float(expires_in))


def renew_after(expires_in: float) -> float:
    """Seconds after which a token of this lifetime is renewed."""
    return max(0.0, expires_in - min(RENEW_MARGIN, expires_in / 10))


@dataclass(slots=True)
class _Cached:
    access_token: str = field(repr=False)
    renew_at: float


class TokenCache:
    """Tokens by key, shared by the threads of a process. One thread at a time asks for a key's token, so
    connectors starting together make one token request, not one each."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._tokens: dict[tuple[str, ...], _Cached] = {}

    def get(self, key: tuple[str, ...], obtain: Callable[[], Grant]) -> tuple[str, bool]:
        """The key's token and whether it was obtained just now (``obtain`` is called when there is none
        or it is due for renewal; its exceptions pass through and nothing is cached)."""
        with self._key_lock(key):
            with self._lock:
                cached = self._tokens.get(key)
            if cached is not None and self.clock() < cached.renew_at:
                return cached.access_token, False
            grant = obtain()
            with self._lock:
                self._tokens[key] = _Cached(grant.access_token, self.clock() + renew_after(grant.expires_in))
            return grant.access_token, True

    def forget(self, key: tuple[str, ...], access_token: str) -> None:
        """Drop ``access_token`` (refused by Shopify), unless another thread has replaced it already."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.access_token == access_token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _key_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())


#: The process's tokens.
TOKENS = TokenCache()
