"""The sandbox's RSA keys: push notifications are signed RSA-SHA256 (PKCS#1 v1.5) over the raw body, and
``GET /retailer/subscriptions/signature-keys`` lists the public keys (Base64 of the DER
SubjectPublicKeyInfo) under the id the ``Signature`` header's ``keyId`` names. The access tokens are
RS256 JWTs signed with the same key."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "rsa-sha256"
HEADER = "Signature"


@dataclass(frozen=True, slots=True)
class Key:
    key_id: str
    private: rsa.RSAPrivateKey

    @property
    def public_base64(self) -> str:
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


class KeyRing:
    """The signing keys; the newest signs, the older ones stay listed (a rotation)."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.rotate()

    @property
    def current(self) -> Key:
        return self.keys[-1]

    def rotate(self) -> Key:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = Key(str(len(self.keys)), private)
        self.keys.append(key)
        return key

    def key_set(self) -> dict[str, Any]:
        """``KeySetResponse``: ``{"signatureKeys": [{"id", "type": "RSA", "publicKey"}]}``."""
        return {
            "signatureKeys": [
                {"id": k.key_id, "type": "RSA", "publicKey": k.public_base64} for k in self.keys
            ]
        }

    def signature_header(self, body: bytes) -> str:
        """``keyId=0, algorithm="rsa-sha256", signature=<Base64>``."""
        key = self.current
        signature = base64.b64encode(key.sign(body)).decode()
        return f'keyId={key.key_id}, algorithm="{ALGORITHM}", signature={signature}'

    def jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.current.key_id}
        signing_input = f"{_b64url(header)}.{_b64url(claims)}".encode()
        return f"{signing_input.decode()}.{_b64url_bytes(self.current.sign(signing_input))}"


def parse_signature_header(value: str) -> dict[str, str]:
    """``keyId``, ``algorithm`` and ``signature`` from a ``Signature`` header (quotes removed)."""
    parts: dict[str, str] = {}
    for part in value.split(","):
        name, _, item = part.strip().partition("=")
        parts[name.strip()] = item.strip().strip('"')
    return parts


def verify(header: str, body: bytes, key_set: dict[str, Any]) -> bool:
    """Whether ``header`` is a valid signature of ``body`` by a key of ``key_set`` (what a receiver does)."""
    parts = parse_signature_header(header)
    keys = {k["id"]: k["publicKey"] for k in key_set.get("signatureKeys", [])}
    if parts.get("algorithm") != ALGORITHM or parts.get("keyId") not in keys:
        return False
    public = serialization.load_der_public_key(base64.b64decode(keys[parts["keyId"]]))
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        public.verify(base64.b64decode(parts.get("signature", "")), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64url_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url(obj: dict[str, Any]) -> str:
    return _b64url_bytes(json.dumps(obj, separators=(",", ":")).encode())
