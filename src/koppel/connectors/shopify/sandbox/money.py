"""The money Shopify computes: discount allocation, spreading cents, tax per line."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .common import _CENT, _ZERO, _bad_request

# -- the money Shopify computes ----------------------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _bad_request({what: ["is not a number"]})
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad_request({what: [f"{value!r} is not a number"]}) from None
    if not result.is_finite():
        raise _bad_request({what: [f"{value!r} is not a number"]})
    return result


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{_cents(value):.2f}"


def _set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": _money(amount), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def _fraction(percent: Decimal) -> float:
    """21 → 0.21, as the JSON number Shopify writes."""
    return float(percent / 100)


@dataclass(slots=True)
class _Target:
    """A line item or shipping line being priced: what is left after earlier discounts."""

    base: Decimal
    rate: Decimal
    taxable: bool
    sku: str = ""
    allocations: list[tuple[int, Decimal]] = field(default_factory=list)

    @property
    def discounted(self) -> Decimal:
        return self.base - sum((amount for _, amount in self.allocations), _ZERO)


def allocate(discount: dict[str, Any], index: int, targets: list[_Target], what: str) -> Decimal:
    """Spread one discount application over its targets the way Shopify does; returns the amount."""
    kind = discount.get("value_type", "percentage")
    value = _decimal(discount.get("value", "0"), f"{what}.value")
    skus = discount.get("skus")
    eligible = [t for t in targets if t.discounted > 0 and (not skus or t.sku in skus)]
    if not eligible or value <= 0:
        return _ZERO
    if kind == "percentage":
        value = min(value, Decimal(100))
        amounts = [_cents(t.discounted * value / 100) for t in eligible]
    elif kind == "fixed_amount":
        amounts = spread(
            min(value, sum((t.discounted for t in eligible), _ZERO)), [t.discounted for t in eligible]
        )
    else:
        raise _bad_request({f"{what}.value_type": ["must be percentage or fixed_amount"]})
    for target, amount in zip(eligible, amounts, strict=True):
        if amount:
            target.allocations.append((index, amount))
    return sum(amounts, _ZERO)


def spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` in cents over ``weights`` in proportion: each share rounded down, the cents left over to the
    largest remainders, so the shares add up to ``total`` and none exceeds its weight."""
    whole = sum(weights, _ZERO)
    exact = [total * weight / whole for weight in weights]
    shares = [share.quantize(_CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((total - sum(shares, _ZERO)) / _CENT)
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[:left]:
        shares[i] += _CENT
    return shares


def tax(amount: Decimal, rate: Decimal, included: bool) -> Decimal:
    """The tax on one line, rounded to the cent per line (half-up)."""
    if included:
        return _cents(amount * rate / (100 + rate))
    return _cents(amount * rate / 100)
