"""Invoices: their fields, items and payments, their checks and totals, and the PDF of an invoice."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from koppel.sandbox.pdf import text_pdf

from .common import _HUNDRED, _LEDGER, SPECIAL_STATUSES, _today
from .render import _bad
from .values import (
    _cents,
    _choice,
    _date,
    _decimal,
    _flag,
    _reject_unknown,
    _round4,
    _text,
    _yes,
    money,
    price_text,
    quantity_text,
    rate_text,
)

INVOICE_SETTABLE = (
    "external_invoice_id",
    "client_id",
    "client_name",
    "client_attention",
    "type",
    "number",
    "layout_id",
    "reference",
    "date",
    "expiry_date",
    "language",
    "tax_included",
    "items",
    "payments",
    "remarks",
)
INVOICE_READ_ONLY = frozenset(
    {
        "invoice_id",
        "uri",
        "status",
        "sent",
        "total_without_tax",
        "total_tax",
        "total_with_tax",
        "paid_amount",
        "open_amount",
        "created",
        "modified",
    }
)
INVOICE_FIELDS = (
    "invoice_id",
    "uri",
    "external_invoice_id",
    "client_id",
    "client_name",
    "client_attention",
    "type",
    "number",
    "layout_id",
    "reference",
    "date",
    "expiry_date",
    "language",
    "tax_included",
    "status",
    "sent",
    "items",
    "payments",
    "remarks",
    "total_without_tax",
    "total_tax",
    "total_with_tax",
    "paid_amount",
    "open_amount",
    "created",
    "modified",
)
ITEM_FIELDS = (
    "description",
    "quantity",
    "amount",
    "amount_with_tax",
    "tax_rate",
    "tax_rate_special_status",
    "stockitem_code",
    "general_ledger_account",
)
ITEM_READ_ONLY = ("item_id", "total_without_tax", "total_tax", "total_with_tax")
PAYMENT_FIELDS = ("payment_id", "date", "amount", "description", "remaining_amount")


def _tax_rate(value: Any, rates: list[Decimal], name: str) -> Decimal:
    if value in (None, ""):
        return rates[0] if rates else Decimal(0)
    rate = _decimal(value, name, 2)
    if rate != 0 and rate not in rates:
        available = ", ".join(dict.fromkeys(rate_text(r) for r in [*rates, Decimal(0)]))
        raise _bad(f"Tax rate {rate_text(rate)} is not available in this account (available: {available})")
    return rate


def _special_status(value: Any, rate: Decimal, where: str) -> str:
    status = _text(value, f"{where}.tax_rate_special_status").strip().upper()
    if not status:
        return ""
    if status not in SPECIAL_STATUSES:
        allowed = ", ".join(SPECIAL_STATUSES)
        raise _bad(f"Invalid value for field {where}.tax_rate_special_status: {status} (allowed: {allowed})")
    if rate != 0:
        raise _bad(f"Field {where}.tax_rate_special_status {status} requires tax_rate 0")
    return status


def _ledger(value: Any, where: str) -> str:
    text = _text(value, f"{where}.general_ledger_account").strip()
    if text and not _LEDGER.match(text):
        raise _bad(f"Field {where}.general_ledger_account must be 6 to 8 digits")
    return text


def _price(value: Any, name: str) -> Decimal | None:
    return None if value in (None, "") else _decimal(value, name, 4)


def unit_prices(
    amount: Decimal | None, with_tax: Decimal | None, rate: Decimal, tax_included: bool
) -> tuple[Decimal, Decimal]:
    """``(amount, amount_with_tax)``: the price that counts (``amount_with_tax`` when ``tax_included``) as
    given or, when only the other was given, derived from it; the other derived from the one that counts."""
    factor = 1 + rate / _HUNDRED
    if tax_included:
        if with_tax is None:
            return amount or Decimal(0), _round4((amount or Decimal(0)) * factor)
        return _round4(with_tax / factor), with_tax
    if amount is None:
        return _round4((with_tax or Decimal(0)) / factor), with_tax or Decimal(0)
    return amount, _round4(amount * factor)


def item_totals(
    quantity: Decimal, amount: Decimal, with_tax: Decimal, rate: Decimal, tax_included: bool
) -> tuple[Decimal, Decimal, Decimal]:
    """``(without tax, tax, with tax)`` of one item, each rounded half-up to the cent."""
    if tax_included:
        gross = _cents(quantity * with_tax)
        net = _cents(gross / (1 + rate / _HUNDRED))
        return net, gross - net, gross
    net = _cents(quantity * amount)
    tax = _cents(net * rate / _HUNDRED)
    return net, tax, net + tax


def build_item(raw: Any, n: int, tax_included: bool, rates: list[Decimal]) -> dict[str, Any]:
    """One validated item with its totals; its ``item_id`` is still the one sent (if any)."""
    where = f"items[{n}]"
    if not isinstance(raw, dict):
        raise _bad(f"Invalid value for field {where}: expected an object")
    _reject_unknown(raw, (*ITEM_FIELDS, *ITEM_READ_ONLY), f"{where}.")
    description = _text(raw.get("description"), f"{where}.description", 2000)
    if not description.strip():
        raise _bad(f"Field {where}.description is required")
    raw_quantity = raw.get("quantity")
    quantity = Decimal(1) if raw_quantity in (None, "") else _decimal(raw_quantity, f"{where}.quantity", 4)
    rate = _tax_rate(raw.get("tax_rate"), rates, f"{where}.tax_rate")
    special = _special_status(raw.get("tax_rate_special_status"), rate, where)
    amount, with_tax = unit_prices(
        _price(raw.get("amount"), f"{where}.amount"),
        _price(raw.get("amount_with_tax"), f"{where}.amount_with_tax"),
        rate,
        tax_included,
    )
    net, tax, gross = item_totals(quantity, amount, with_tax, rate, tax_included)
    return {
        "item_id": raw.get("item_id"),
        "description": description,
        "quantity": quantity_text(quantity),
        "amount": price_text(amount),
        "amount_with_tax": price_text(with_tax),
        "tax_rate": money(rate),
        "tax_rate_special_status": special,
        "stockitem_code": _text(raw.get("stockitem_code"), f"{where}.stockitem_code", 20),
        "general_ledger_account": _ledger(raw.get("general_ledger_account"), where),
        "total_without_tax": money(net),
        "total_tax": money(tax),
        "total_with_tax": money(gross),
    }


def _payment(raw: Any, n: int, open_amount: Decimal, fixed: bool) -> dict[str, Any]:
    where = f"payments[{n}]"
    if not isinstance(raw, dict):
        raise _bad(f"Invalid value for field {where}: expected an object")
    _reject_unknown(raw, PAYMENT_FIELDS, f"{where}.")
    remaining = _flag(raw.get("remaining_amount") or "no", f"{where}.remaining_amount")
    if remaining and not fixed:
        amount = open_amount
    elif raw.get("amount") in (None, ""):
        raise _bad(f"Field {where}.amount is required")
    else:
        amount = _decimal(raw["amount"], f"{where}.amount", 2)
    return {
        "payment_id": raw.get("payment_id"),
        "date": _date(raw.get("date") or _today().isoformat(), f"{where}.date").isoformat(),
        "amount": money(amount),
        "description": _text(raw.get("description"), f"{where}.description", 255),
        "remaining_amount": _yes(remaining),
    }


def build_payments(raw: Any, total: Decimal, fixed: bool) -> list[dict[str, Any]]:
    """Validated payments; ``remaining_amount: yes`` pays what the earlier ones left open. ``fixed``: the
    stored payments of an invoice being changed, whose amounts stay as they were."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise _bad("Invalid value for field payments: expected a list")
    payments: list[dict[str, Any]] = []
    open_amount = total
    for n, item in enumerate(raw, 1):
        payment = _payment(item, n, open_amount, fixed)
        open_amount -= Decimal(payment["amount"])
        payments.append(payment)
    return payments


def _status(total: Decimal, open_amount: Decimal) -> str:
    """``paid`` once nothing is open (or more than all was paid, for an invoice or a credit note)."""
    settled = open_amount == 0 or open_amount < 0 < total or total < 0 < open_amount
    return "paid" if settled else "open"


def _check_type(value: Any, kind: str) -> None:
    if value in (None, ""):
        return
    given = _choice(value, "type", ("invoice", "creditnote"))
    if given != kind:
        raise _bad(f"Field type cannot be {given}: the total makes this document a {kind}")


def _expiry(value: Any, invoice_date: date, term_days: int) -> date:
    if value in (None, ""):
        return invoice_date + timedelta(days=term_days)
    expiry = _date(value, "expiry_date")
    if expiry < invoice_date:
        raise _bad("Field expiry_date must not be before date")
    return expiry


def _sum(objects: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(obj[key]) for obj in objects), Decimal(0))


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """A small, valid PDF (A4, Helvetica): number, dates, client, one line per item and the totals."""
    kind = "Creditnota" if invoice["type"] == "creditnote" else "Factuur"
    price, total = (
        ("amount_with_tax", "total_with_tax")
        if invoice["tax_included"] == "yes"
        else ("amount", "total_without_tax")
    )
    texts = [
        (18, f"{kind} {invoice['number']}"),
        (11, f"Factuurdatum: {invoice['date']}    Vervaldatum: {invoice['expiry_date']}"),
        (11, invoice["client_name"]),
        (11, invoice["client_attention"]),
        (11, f"Referentie: {invoice['reference']}"),
        *((11, line) for line in invoice["remarks"].splitlines() if line.strip()),
        (11, ""),
    ]
    for item in invoice["items"]:
        description = " ".join(item["description"].split())[:60]
        unit, rate, line_total = item[price], item["tax_rate"], item[total]
        texts.append((10, f"{item['quantity']} x {description}  EUR {unit}  btw {rate}%  EUR {line_total}"))
    texts += [
        (11, ""),
        (11, f"Totaal excl. btw: EUR {invoice['total_without_tax']}"),
        (11, f"Btw: EUR {invoice['total_tax']}"),
        (12, f"Totaal incl. btw: EUR {invoice['total_with_tax']}"),
        (11, f"Openstaand: EUR {invoice['open_amount']}"),
    ]
    return text_pdf(texts, leading=16)
