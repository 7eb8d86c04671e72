"""The fault knobs every sandbox has: latency, the next answers' statuses and a random error rate.

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

    async def delay(self) -> None:
        """Sleep ``latency_ms``, if any."""
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)

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
        rate = changes.get("error_rate")
        if isinstance(rate, int | float) and rate > 1:
            raise ValueError("error_rate must be between 0 and 1")
        update_settings(self, changes)
