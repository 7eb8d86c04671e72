"""Capped exponential backoff with jitter for transient failures."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings


def backoff(attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None) -> timedelta:
    """Delay before try ``attempt + 1``: base·2^(attempt-1), capped, with "equal jitter" (half fixed, half
    random) so a burst of failures does not come back as a burst. A server's own ``Retry-After`` wins when
    it asks for longer."""
    rng = rng or random
    ceiling = min(settings.RETRY_CAP_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def exhausted(attempt: int) -> bool:
    return attempt >= settings.RETRY_MAX_ATTEMPTS


def wait_inline(wait: float, waited: float) -> bool:
    """Does a worker wait out a rate limit itself (sleep, ask again), rather than park the order? Yes for
    short waits, as long as its waiting in one attempt stays within the budget: cheaper than any row."""
    return wait <= settings.RATE_LIMIT_INLINE_WAIT_SECONDS and (
        waited + wait <= settings.RATE_LIMIT_INLINE_BUDGET_SECONDS
    )


def rate_limit_wait(retry_after: float | None) -> timedelta:
    """How long a rate limit pauses a connection: what the system asked for, else the first backoff step."""
    return timedelta(seconds=retry_after) if retry_after else backoff(1)
