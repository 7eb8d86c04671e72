"""VIES answers kept in Django's cache, so one order's checks, its invoice and the next orders of the same
customer ask VIES once.

How long: a valid or invalid number for :data:`ANSWER_SECONDS` (a day: registrations rarely change, and the
answer's date is on the invoice line); "VIES could not be asked" only :data:`UNAVAILABLE_SECONDS`, so that
one order's checks and invoice do not wait for VIES three times, while the next order asks again. With the
default local-memory cache each worker process keeps its own answers; a shared cache (``CACHES``) shares them.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.core.cache import cache

from koppel.documents.vat_rules import VatNumberCheck, ViesOutcome

from .client import ViesClient

ANSWER_SECONDS = 24 * 3600
UNAVAILABLE_SECONDS = 120
KEY_PREFIX = "koppel:vies:"


def cached_check(vat_number: str) -> VatNumberCheck:
    """VIES's answer on ``vat_number`` (compact, with its prefix), from the cache when it is there."""
    key = KEY_PREFIX + vat_number
    kept = cache.get(key)
    if isinstance(kept, dict):
        return VatNumberCheck(**{**kept, "outcome": ViesOutcome(kept["outcome"])})
    with ViesClient(getattr(settings, "KOPPEL_VIES_URL", None) or None) as client:
        answer = client.check(vat_number)
    seconds = UNAVAILABLE_SECONDS if answer.outcome == ViesOutcome.UNAVAILABLE else ANSWER_SECONDS
    cache.set(key, {**asdict(answer), "outcome": str(answer.outcome)}, seconds)
    return answer


def forget(vat_number: str) -> None:
    cache.delete(KEY_PREFIX + vat_number)
