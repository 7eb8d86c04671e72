"""bol.com's push notification signatures: RSA-SHA256 (PKCS#1 v1.5) over the raw body, in the header
``Signature: keyId=0, algorithm="rsa-sha256", signature=<Base64>``, checked against the public keys bol
publishes at ``GET /retailer/subscriptions/signature-keys`` (``{"signatureKeys": [{"id", "type": "RSA",
"publicKey": <Base64 DER SubjectPublicKeyInfo>}]}``).

The keys are bol's, not the merchant's, and reading them needs an access token, so they are kept here in
one cache for the process, per API base URL, for :data:`KEYS_TTL` seconds; a signature naming a key id
the cache does not have makes one fresh read (bol rotates keys), at most every :data:`REFETCH_AFTER`
seconds per API, so a stream of forged ids cannot make Koppel hammer bol.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HEADER = "signature"
ALGORITHM = "rsa-sha256"
KEYS_TTL = 3600.0
REFETCH_AFTER = 60.0


def parse_header(value: str) -> dict[str, str]:
    """``keyId``, ``algorithm`` and ``signature`` of a ``Signature`` header (quotes removed)."""
    found: dict[str, str] = {}
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        if sep:
            found[name.strip()] = item.strip().strip('"')
    return found


def load_keys(entries: Iterable[Mapping[str, Any]]) -> dict[str, rsa.RSAPublicKey]:
    """``{"id", "type", "publicKey"}`` entries → RSA public keys by id (unreadable entries left out)."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    for entry in entries:
        if str(entry.get("type", "RSA")).upper() != "RSA":
            continue
        try:
            public = serialization.load_der_public_key(base64.b64decode(str(entry.get("publicKey", ""))))
        except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
            continue
        if isinstance(public, rsa.RSAPublicKey):
            keys[str(entry.get("id"))] = public
    return keys


def key_id(headers: Mapping[str, str]) -> str | None:
    parts = parse_header(headers.get(HEADER, ""))
    return parts.get("keyId")


def verify(body: bytes, headers: Mapping[str, str], keys: Mapping[str, rsa.RSAPublicKey]) -> bool:
    """Whether the ``Signature`` header signs ``body`` with one of ``keys`` (unsigned: False)."""
    parts = parse_header(headers.get(HEADER, ""))
    public = keys.get(parts.get("keyId", ""))
    if public is None or parts.get("algorithm", ALGORITHM).lower() != ALGORITHM:
        return False
    try:
        signature = base64.b64decode(parts.get("signature", ""), validate=True)
        public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


@dataclass(slots=True)
class _Entry:
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")


class KeyCache:
    """The signature keys by API base URL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def keys_for(
        self, base: str, fetch: Callable[[], list[dict[str, Any]]], wanted: str | None = None
    ) -> dict[str, rsa.RSAPublicKey]:
        """The keys of ``base``, read with ``fetch`` when none are cached, they are older than the TTL, or
        ``wanted`` (a key id) is unknown and the last read is over :data:`REFETCH_AFTER` seconds old."""
        base = base.rstrip("/").lower()
        with self._lock:
            entry = self._entries.get(base)
        now = self.clock()
        stale = entry is None or now - entry.fetched_at > KEYS_TTL
        unknown = entry is not None and wanted is not None and wanted not in entry.keys
        if stale or (unknown and now - entry.fetched_at > REFETCH_AFTER):  # type: ignore[union-attr]
            self.put(base, fetch())
            with self._lock:
                entry = self._entries[base]
        return dict(entry.keys) if entry is not None else {}

    def put(self, base: str, entries: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            self._entries[base.rstrip("/").lower()] = _Entry(load_keys(entries), self.clock())

    def verify_with_any(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether a fresh key of any API with the header's key id signs ``body`` (no fetch)."""
        wanted = key_id(headers)
        if wanted is None:
            return False
        now = self.clock()
        with self._lock:
            keys = [
                entry.keys[wanted]
                for entry in self._entries.values()
                if now - entry.fetched_at <= KEYS_TTL and wanted in entry.keys
            ]
        return any(verify(body, headers, {wanted: key}) for key in keys)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The process's signature keys.
KEYS = KeyCache()
