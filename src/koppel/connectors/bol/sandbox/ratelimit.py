"""Per-endpoint rate limits, as bol's ``/retailer/public/ratelimits`` lists them: a bucket per method and
path pattern holds ``capacity`` calls per window of ``seconds``; the window starts at a bucket's first
call and the bucket is full again when it ends.

Every answer carries ``X-RateLimit-Limit`` (the capacity), ``X-RateLimit-Remaining`` (calls left in the
window) and ``X-RateLimit-Reset`` (whole seconds until the window ends, as in the recorded answers,
where it reads ``1`` for a per-second bucket); a call into an empty bucket is answered 429 with
``Retry-After`` (the same seconds) and is not counted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .state import Shop


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    methods: frozenset[str]
    prefix: str
    exact: bool
    capacity: int
    seconds: float

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        return path == self.prefix if self.exact else path.startswith(self.prefix + "/")


def _rule(name: str, methods: str, path: str, capacity: int, seconds: float) -> Rule:
    exact = not path.endswith("/*")
    return Rule(name, frozenset(methods.split()), path.removesuffix("/*"), exact, capacity, seconds)


RULES = (
    _rule("orders", "GET HEAD", "/retailer/orders", 25, 60),
    _rule("order", "GET HEAD", "/retailer/orders/*", 25, 1),
    _rule("shipments", "GET HEAD", "/retailer/shipments", 25, 60),
    _rule("create-shipment", "POST", "/retailer/shipments", 25, 1),
    _rule("shipment", "GET HEAD", "/retailer/shipments/*", 50, 60),
    _rule("returns", "GET HEAD POST", "/retailer/returns", 20, 60),
    _rule("return", "GET HEAD PUT", "/retailer/returns/*", 20, 60),
    _rule("invoices", "GET HEAD", "/retailer/invoices", 24, 60),
    _rule("invoice", "GET HEAD", "/retailer/invoices/*", 24, 60),
    _rule("bulk-process-status", "POST", "/shared/process-status", 2, 1),
)
DEFAULT = Rule("default", frozenset(), "", False, 25, 1)
"""Endpoints the published table does not list (cancellation, uploads, subscriptions, process status)."""
DEMO = Rule("demo", frozenset(), "", False, 20, 1)
"""The demo environment has one generic limit for everything."""


def rule_for(method: str, path: str, demo: bool) -> Rule:
    """The bucket for a call; ``path`` as on api.bol.com without ``-demo`` (``/retailer/orders/123``)."""
    if demo:
        return DEMO
    return next((r for r in RULES if r.matches(method, path)), DEFAULT)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def take(shop: Shop, rule: Rule) -> Verdict:
    """One call into ``rule``'s bucket of ``shop``, its capacity and window scaled by the knobs; a refused
    call is not counted."""
    knobs = shop.knobs
    capacity = max(1, math.floor(rule.capacity * knobs.rate_limit_scale))
    window = rule.seconds * knobs.rate_limit_window_scale
    moment = time.monotonic()
    started, used = shop.buckets.get(rule.name, (moment, 0))
    if moment - started >= window:
        started, used = moment, 0
    reset = max(1, math.ceil(window - (moment - started)))  # not (started + window) - moment: float error
    if knobs.force_429:
        knobs.force_429 -= 1
        return Verdict(False, capacity, 0, knobs.retry_after or reset)
    if knobs.rate_limits and used >= capacity:
        shop.buckets[rule.name] = (started, used)
        return Verdict(False, capacity, 0, reset)
    used += 1
    shop.buckets[rule.name] = (started, used)
    return Verdict(True, capacity, max(0, capacity - used), reset)
