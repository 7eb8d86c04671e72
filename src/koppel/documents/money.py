"""Money rules: every amount is a ``Decimal`` rounded half-up to the cent, the way Dutch bookkeeping does."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


class MoneyError(ValueError):
    """An amount that cannot be read as money."""


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Read a decimal string, int or Decimal. Floats are refused: they cannot carry cents exactly."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"{field}: expected a decimal string, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            raise MoneyError(f"{field}: {value!r} is not a number") from None
    else:
        raise MoneyError(f"{field}: expected a decimal string, got {type(value).__name__}")
    if not result.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    return result


def cents(value: Decimal) -> Decimal:
    """Round half-up to two decimals."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """Format as a plain two-decimal string, e.g. ``"249.00"``."""
    return f"{cents(value):.2f}"


def fmt_money(value: Decimal, currency: str) -> str:
    """An amount for people, with its currency: ``"€ 25.00"``, ``"USD 4.00"``."""
    symbol = "€" if currency.upper() == "EUR" else currency.upper()
    return f"{symbol} {fmt(value)}"


def fmt_rate(rate: Decimal) -> str:
    """Format a VAT percentage with two decimals, e.g. ``"21.00"``."""
    return f"{rate.quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def vat_factor(rate: Decimal) -> Decimal:
    return 1 + rate / HUNDRED
