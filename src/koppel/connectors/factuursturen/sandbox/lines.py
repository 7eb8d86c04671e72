"""Invoice lines and totals: amounts, VAT rates and the totals per rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .common import _CENT, _HUNDRED, _bad, _text


def _decimal(value: Any, message: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(message)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(message) from None
    if not result.is_finite():
        raise _bad(message)
    return result


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _number(value: Decimal) -> int | float:
    """A JSON number the way the recorded invoice lines show them: 21, 1, 19.99."""
    return int(value) if value == value.to_integral_value() else float(value)


def rate_text(rate: Decimal) -> str:
    """``Decimal("21.00")`` → ``"21"``, ``Decimal("5.50")`` → ``"5.5"``."""
    text = f"{rate.normalize():f}"
    return text if text != "-0" else "0"


@dataclass(slots=True)
class _Line:
    amount: Decimal
    amount_desc: str
    description: str
    tax_rate: Decimal
    price: Decimal
    discount_pct: Decimal
    text_only: bool

    @property
    def total(self) -> Decimal:
        if self.text_only:
            return Decimal(0)
        return _cents(self.amount * self.price * (1 - self.discount_pct / _HUNDRED))

    def out(self) -> dict[str, Any]:
        return {
            "amount": _number(self.amount),
            "amount_desc": self.amount_desc,
            "description": self.description,
            "tax_rate": _number(self.tax_rate),
            "price": _number(self.price),
            "discount_pct": _number(self.discount_pct),
            "linetotal": _number(self.total),
        }


def _parse_lines(raw: Any, rates: frozenset[Decimal]) -> list[_Line]:
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list) or not raw:
        raise _bad("Field lines is required: at least one line")
    lines: list[_Line] = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise _bad(f"Invalid line {n}")
        description = _text(item.get("description"), f"description on line {n}")
        if not {"amount", "price", "tax_rate"} & item.keys():  # a text line
            zero = Decimal(0)
            lines.append(
                _Line(
                    zero, _text(item.get("amount_desc"), "amount_desc"), description, zero, zero, zero, True
                )
            )
            continue
        for name in ("amount", "price", "tax_rate"):
            if item.get(name) in (None, ""):
                raise _bad(f"Field {name} is required on line {n}")
        rate = _decimal(item["tax_rate"], f"Invalid tax rate {item['tax_rate']} on line {n}")
        if rate not in rates:
            raise _bad(f"Invalid tax rate {item['tax_rate']} on line {n}")
        lines.append(
            _Line(
                amount=_decimal(item["amount"], f"Invalid amount on line {n}"),
                amount_desc=_text(item.get("amount_desc"), f"amount_desc on line {n}"),
                description=description,
                tax_rate=rate,
                price=_decimal(item["price"], f"Invalid price on line {n}"),
                discount_pct=_decimal(item.get("discount_pct") or 0, f"Invalid discount_pct on line {n}"),
                text_only=False,
            )
        )
    return lines


def invoice_totals(lines: list[_Line], intax: bool) -> tuple[dict[str, dict[str, Any]], Decimal, Decimal]:
    """Per-rate taxes (``tax1``..., highest rate first), total VAT and total including VAT."""
    per_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        if not line.text_only:
            per_rate[line.tax_rate] = per_rate.get(line.tax_rate, Decimal(0)) + line.total
    taxes: dict[str, dict[str, Any]] = {}
    tax = total = Decimal(0)
    for n, rate in enumerate(sorted(per_rate, reverse=True), 1):
        amount = per_rate[rate]
        if intax:
            vat = _cents(amount * rate / (_HUNDRED + rate))
            base, gross = amount - vat, amount
        else:
            vat = _cents(amount * rate / _HUNDRED)
            base, gross = amount, amount + vat
        taxes[f"tax{n}"] = {"rate": _number(rate), "sum": f"{vat:.2f}", "sum_of": f"{base:.2f}"}
        tax += vat
        total += gross
    return taxes, tax, total
