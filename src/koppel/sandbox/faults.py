"""The fault knobs every sandbox has: latency, the next answers' statuses, a random error rate and a random
share of calls held past the client's timeout.

Each sandbox keeps its knobs in a dataclass that extends :class:`FaultKnobs` with its own (rate limits,
webhook behaviour ...). Its API gate calls :meth:`FaultKnobs.delay` first, then makes its own checks
(authentication, rate limits), then asks :meth:`FaultKnobs.fault` whether to fail the call, and renders
that status as the platform writes its errors. The control APIs change knobs with
:meth:`FaultKnobs.update` (or :func:`koppel.sandbox.http.update_settings` directly).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from koppel.sandbox.http import update_settings

__all__ = ["FaultKnobs"]


@dataclass(slots=True)
class FaultKnobs:
    """Knobs for injecting faults into a sandbox's API calls. Subclass it (a ``@dataclass(slots=True)``)
    to add a platform's own knobs; these three come first."""

    latency_ms: int = 0
    """Sleep this long before answering each API call."""
    error_rate: float = 0.0
    """Chance (0..1) that an API call answers a random error (which ones, the sandbox says)."""
    fail_next: list[int] = field(default_factory=list)
    """Status codes for the next API calls, consumed one per call."""
    timeout_rate: float = 0.0
    """Chance (0..1) that an API call is held ``timeout_seconds`` before it is carried out and answered:
    longer than a client waits, so the client sees a timeout while the call may still take effect."""
    timeout_seconds: float = 30.0

    async def delay(self, rng: random.Random | None = None) -> None:
        """Sleep ``latency_ms``, if any; with chance ``timeout_rate`` (drawn from ``rng``, the sandbox's
        seeded one, when given), hold the call ``timeout_seconds`` more."""
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.timeout_rate and rng is not None and rng.random() < self.timeout_rate:
            await asyncio.sleep(self.timeout_seconds)

    def fault(self, rng: random.Random, statuses: Sequence[int]) -> int | None:
        """The status to fail this call with: the next of ``fail_next`` (consumed), else, with chance
        ``error_rate``, one of ``statuses`` drawn with the sandbox's seeded ``rng``; ``None`` to go on.
        ``rng`` is only drawn from when ``error_rate`` is set and ``fail_next`` is empty."""
        if self.fail_next:
            return self.fail_next.pop(0)
        if self.error_rate and rng.random() < self.error_rate:
            return rng.choice(statuses)
        return None

    def update(self, changes: Any) -> None:
        """Apply a control call's knob changes: ``changes`` must be an object and an ``error_rate`` in it at
        most 1 (checked before the other knobs); then :func:`~koppel.sandbox.http.update_settings`. Raises
        ``ValueError`` naming the problem; nothing is changed then."""
        if not isinstance(changes, dict):
            raise ValueError("knobs must be an object")
        for name in ("error_rate", "timeout_rate"):
            rate = changes.get(name)
            if isinstance(rate, int | float) and rate > 1:
                raise ValueError(f"{name} must be between 0 and 1")
        update_settings(self, changes)
