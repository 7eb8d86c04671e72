"""Invoice details (``details_attributes``) and their totals, for sales and purchase invoices alike.

Each detail's total is amount × price rounded half-up to the cent; its VAT is computed per detail from its
tax rate (incl. VAT: the VAT in the total, excl. VAT: on top of it) and rounded to the cent; the invoice's
totals are the sums (a choice: Moneybird does not document whether it rounds per detail or per rate)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .body import amount, decimal, text
from .errors import Invalid
from .state import Administration, Ids, cents, money

DETAIL_FIELDS = ("description", "price", "amount", "tax_rate_id", "ledger_account_id", "product_id", "period")
HUNDRED = Decimal(100)


def _rate(administration: Administration, raw: dict[str, Any], kind: str, where: str, errors: Invalid):
    rate_id = raw.get("tax_rate_id")
    if rate_id in (None, ""):
        errors.add(f"{where}.tax_rate_id", "is required")
        return None
    found = administration.tax_rate(rate_id, kind)
    if found is None:
        errors.add(f"{where}.tax_rate_id", "does not exist")
    return found


def build_detail(
    administration: Administration, ids: Ids, raw: Any, n: int, kind: str, incl: bool, errors: Invalid
) -> dict[str, Any] | None:
    where = f"details.{n}"
    if not isinstance(raw, dict):
        errors.add(where, "is invalid")
        return None
    unknown = sorted(set(raw) - set(DETAIL_FIELDS))
    for name in unknown:
        errors.add(f"{where}.{name}", "is not a known attribute")
    rate = _rate(administration, raw, kind, where, errors)
    price = decimal(raw.get("price"), f"{where}.price", errors) or Decimal(0)
    count = amount(raw.get("amount"), f"{where}.amount", errors)
    ledger = raw.get("ledger_account_id")
    if ledger not in (None, "") and administration.ledger_account(ledger) is None:
        errors.add(f"{where}.ledger_account_id", "does not exist")
    if rate is None:
        return None
    total = cents(count * price)
    percentage = Decimal(rate["percentage"])
    net = cents(total / (1 + percentage / HUNDRED)) if incl else total
    vat = total - net if incl else cents(total * percentage / HUNDRED)
    excl, incl_total = (net, total) if incl else (total, total + vat)
    return {
        "id": ids.new(),
        "description": text(raw, "description", errors, 10_000),
        "price": f"{price:f}",
        "amount": str(raw.get("amount") or "1"),
        "tax_rate_id": rate["id"],
        "ledger_account_id": str(ledger) if ledger not in (None, "") else None,
        "total_price_excl_tax_with_discount": money(excl),
        "total_price_incl_tax_with_discount": money(incl_total),
        "tax": money(vat),
    }


def build_details(
    administration: Administration, ids: Ids, raw: Any, kind: str, incl: bool, errors: Invalid
) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        errors.add("details", "can't be blank")
        return []
    built = [build_detail(administration, ids, item, n, kind, incl, errors) for n, item in enumerate(raw)]
    return [detail for detail in built if detail is not None]


def totals(details: list[dict[str, Any]]) -> dict[str, str]:
    excl = sum((Decimal(d["total_price_excl_tax_with_discount"]) for d in details), Decimal(0))
    incl = sum((Decimal(d["total_price_incl_tax_with_discount"]) for d in details), Decimal(0))
    return {
        "total_price_excl_tax": money(excl),
        "total_price_incl_tax": money(incl),
        "total_tax": money(incl - excl),
    }
