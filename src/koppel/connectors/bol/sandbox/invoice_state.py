"""bol's own invoices to the retailer, as the sandbox keeps them: an invoice is a list of transactions (the
lines of its specification); its invoice lines, VAT and totals are derived from them.

Signs are bol's: the invoice is bol's, so a cost to the retailer (commission, a label) is positive and
what bol owes the retailer (turnover, a compensation) is negative. ``payableAmount`` = the costs incl. VAT
minus the turnover: positive, the retailer pays bol; negative, bol pays out.

The control body of ``POST /_sandbox/bol/shops/{shop}/invoices`` (every field optional)::

    {"period_start": "2026-04-01", "period_end": "2026-04-30", "issue_date": "2026-05-01",
     "invoice_id": "4500022543921", "invoice_type": "ALL_IN_ONE" | "ADVERTISING_VIA_BOL",
     "from_shipments": true, "labels": true, "corrections": false, "specification": true,
     "retailer": {"name", "vat_number", "kvk_number", "street", "number", "zip", "city", "country"},
     "lines": [{"type": "COMPENSATION", "amount": "-12.50", "vat_rate": "0", "quantity": 1,
                "order_id": "1234567890", "ean": "8712345678906", "description": "...",
                "deal": {"name": "Casenummer", "value": "C-1"}}]}

``from_shipments`` (ALL_IN_ONE only) makes, for every shipment shipped in the period, a TURNOVER line per
shipped order item (its price incl. VAT, which bol's turnover carries no VAT on), a COMMISSION line (the
item's commission, taken as excl. VAT, at 21%), for an FBR shipment a label (SHIPMENT_LABEL at 21%, or
SHIPMENT_LABEL_POST without VAT when the transporter is PostNL; ``labels: false`` leaves them out) and
for an FBB one PICK_PACK per item; ``corrections`` adds CORRECTION_TURNOVER and CORRECTION_COMMISSION for
items cancelled in the period. An ADVERTISING_VIA_BOL invoice without lines gets one SPONSORED_PRODUCTS line.
A line's ``amount`` is excl. VAT; ``vat_rate`` defaults to 0 for VAT-exempt line types and 21 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.connectors.bol.line_types import line_type

from .state import Ids, Shop, cents, now

STANDARD = Decimal(21)
ZERO = Decimal(0)
INVOICE_TYPES = ("ALL_IN_ONE", "ADVERTISING_VIA_BOL")
LABEL_PRICE = Decimal("4.66")
POST_LABEL_PRICE = Decimal("3.95")
PICK_PACK_PRICE = Decimal("1.40")
DEMO_INVOICE = "4500022543921"
DEFAULT_RETAILER = {
    "street": "Teststraat",
    "number": "1",
    "zip": "1234 AB",
    "city": "Utrecht",
    "country": "NL",
    "vat_number": "NL001234567B01",
    "kvk_number": "12345678",
}


@dataclass(slots=True)
class Transaction:
    code: str
    amount: Decimal
    """Excl. VAT, with bol's sign (negative: bol owes the retailer)."""
    vat_rate: Decimal
    quantity: int = 1
    order_id: str | None = None
    ean: str | None = None
    deal: tuple[str, str] | None = None
    """Another reference than the order number: ``("Track and Trace", "3SABCD…")``, ``("Casenummer", …)``."""
    description: str | None = None

    @property
    def vat(self) -> Decimal:
        return cents(self.amount * self.vat_rate / 100) if self.vat_rate else cents(ZERO)

    @property
    def label(self) -> str:
        return self.description or line_type(self.code).label_nl


@dataclass(slots=True)
class InvoiceLine:
    """A line of the invoice itself: every transaction of one line type and VAT rate together."""

    code: str
    vat_rate: Decimal
    quantity: int = 0
    amount: Decimal = ZERO
    vat: Decimal = ZERO


@dataclass(slots=True)
class RetailerInvoice:
    invoice_id: str
    invoice_type: str
    issued: date
    start: date
    end: date
    retailer: dict[str, str]
    transactions: list[Transaction] = field(default_factory=list)
    specification: bool = True
    currency: str = "EUR"

    def lines(self) -> list[InvoiceLine]:
        """One line per line type and rate; its VAT computed on the line's amount (as EN 16931 computes
        VAT on the taxable amount), so it may differ a cent from the sum of the transactions' VAT."""
        grouped: dict[tuple[str, Decimal], InvoiceLine] = {}
        for t in self.transactions:
            line = grouped.setdefault((t.code, t.vat_rate), InvoiceLine(t.code, t.vat_rate))
            line.quantity += t.quantity
            line.amount += t.amount
        for line in grouped.values():
            line.vat = cents(line.amount * line.vat_rate / 100) if line.vat_rate else cents(ZERO)
        return list(grouped.values())

    @property
    def amount(self) -> Decimal:
        """The invoice excl. VAT (``lineExtensionAmount``, ``taxExclusiveAmount``)."""
        return sum((t.amount for t in self.transactions), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines()), ZERO)

    @property
    def payable(self) -> Decimal:
        """Incl. VAT (``taxInclusiveAmount``, ``payableAmount``)."""
        return self.amount + self.vat


def decimal(value: Any, what: str) -> Decimal:
    """A signed amount or rate from the control body."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number")
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{what}: {value!r} is not a number")
    return amount


def _day(value: Any, what: str, default: date) -> date:
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _share(total: Decimal, part: int, whole: int) -> Decimal:
    return cents(total * part / whole)


def _label(shipment: Any) -> Transaction:
    post = shipment.transporter_code.upper().startswith("POSTNL")
    code, price, rate = (
        ("SHIPMENT_LABEL_POST", POST_LABEL_PRICE, ZERO) if post else ("SHIPMENT_LABEL", LABEL_PRICE, STANDARD)
    )
    deal = ("Track and Trace", shipment.track_and_trace) if shipment.track_and_trace else None
    return Transaction(code, price, rate, 1, shipment.order.order_id, deal=deal)


def from_shipments(shop: Shop, start: date, end: date, labels: bool = True) -> Iterator[Transaction]:
    """The transactions of the shipments shipped from ``start`` to ``end`` (both included)."""
    shipments = sorted(shop.shipments.values(), key=lambda s: s.shipped)
    for shipment in (s for s in shipments if start <= s.shipped.date() <= end):
        order_id = shipment.order.order_id
        for line in shipment.lines:
            item, qty = line.item, line.quantity
            turnover = _share(item.total_price, qty, item.quantity)
            yield Transaction("TURNOVER", -turnover, ZERO, qty, order_id, item.ean)
            commission = _share(item.commission, qty, item.quantity)
            yield Transaction("COMMISSION", commission, STANDARD, qty, order_id, item.ean)
            if item.method == "FBB":
                yield Transaction("PICK_PACK", PICK_PACK_PRICE * qty, STANDARD, qty, order_id, item.ean)
        if labels and shipment.lines[0].item.method == "FBR":
            yield _label(shipment)


def corrections(shop: Shop, start: date, end: date) -> Iterator[Transaction]:
    """CORRECTION_TURNOVER and CORRECTION_COMMISSION for the items cancelled in the period."""
    for order in sorted(shop.orders.values(), key=lambda o: o.placed):
        for item in order.items:
            if not item.quantity_cancelled or not start <= item.changed.date() <= end:
                continue
            qty = item.quantity_cancelled
            turnover = _share(item.total_price, qty, item.quantity)
            commission = _share(item.commission, qty, item.quantity)
            yield Transaction("CORRECTION_TURNOVER", turnover, ZERO, qty, order.order_id, item.ean)
            yield Transaction("CORRECTION_COMMISSION", -commission, STANDARD, qty, order.order_id, item.ean)


def explicit(raw: Any, n: int) -> Transaction:
    what = f"lines[{n}]"
    if not isinstance(raw, dict) or not raw.get("type"):
        raise ValueError(f"{what} must be an object with a type")
    code = str(raw["type"]).strip().upper()
    default_rate = ZERO if line_type(code).vat_exempt else STANDARD
    rate = decimal(raw["vat_rate"], f"{what}.vat_rate") if raw.get("vat_rate") is not None else default_rate
    quantity = raw.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValueError(f"{what}.quantity must be an integer")
    deal = raw.get("deal")
    if deal is not None and not (isinstance(deal, dict) and deal.get("name") and deal.get("value")):
        raise ValueError(f"{what}.deal must be {{'name', 'value'}}")
    return Transaction(
        code,
        cents(decimal(raw.get("amount"), f"{what}.amount")),
        rate,
        quantity,
        str(raw["order_id"]) if raw.get("order_id") else None,
        str(raw["ean"]) if raw.get("ean") else None,
        (str(deal["name"]), str(deal["value"])) if deal else None,
        str(raw["description"]) if raw.get("description") else None,
    )


def _retailer(shop: Shop, given: Any) -> dict[str, str]:
    if given is not None and not isinstance(given, dict):
        raise ValueError("retailer must be an object")
    defaults = {**DEFAULT_RETAILER, "name": f"Sandbox retailer {shop.name}"}
    out = {**defaults, **{k: str(v) for k, v in (given or {}).items() if v not in (None, "")}}
    out["retailer_id"] = str(shop.retailer_id)
    return out


def issue(shop: Shop, data: Any, ids: Ids) -> RetailerInvoice:
    """An invoice from the control body (see the module docstring), kept on ``shop``."""
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object")
    today = now().date()
    start = _day(data.get("period_start"), "period_start", today.replace(day=1))
    end = _day(data.get("period_end"), "period_end", today)
    if end < start:
        raise ValueError("period_end is before period_start")
    kind = str(data.get("invoice_type") or "ALL_IN_ONE").upper()
    if kind not in INVOICE_TYPES:
        raise ValueError(f"invoice_type must be one of {', '.join(INVOICE_TYPES)}")
    lines = data.get("lines") or []
    if not isinstance(lines, list):
        raise ValueError("lines must be a list")
    invoice_id = str(data.get("invoice_id") or ids.number(13, "45"))
    issued = _day(data.get("issue_date"), "issue_date", min(end + timedelta(days=1), today))
    invoice = RetailerInvoice(invoice_id, kind, issued, start, end, _retailer(shop, data.get("retailer")))
    invoice.specification = bool(data.get("specification", True))
    if kind == "ALL_IN_ONE" and data.get("from_shipments", True):
        invoice.transactions += from_shipments(shop, start, end, bool(data.get("labels", True)))
        if data.get("corrections"):
            invoice.transactions += corrections(shop, start, end)
    invoice.transactions += [explicit(raw, n) for n, raw in enumerate(lines)]
    if kind == "ADVERTISING_VIA_BOL" and not invoice.transactions:
        campaign = ("Campagnenaam", "Sandbox campagne")
        advertising = Transaction("SPONSORED_PRODUCTS", Decimal("25.00"), STANDARD, deal=campaign)
        invoice.transactions.append(advertising)
    shop.retailer_invoices[invoice_id] = invoice
    return invoice


def demo_invoice(shop: Shop) -> RetailerInvoice:
    """bol's demo invoice 4500022543921: the demo shop's shipments and one compensation."""
    today = now().date()
    body = {
        "invoice_id": DEMO_INVOICE,
        "period_start": (today - timedelta(days=30)).isoformat(),
        "period_end": today.isoformat(),
        "retailer": {"name": "Demo retailer"},
        "lines": [
            {
                "type": "COMPENSATION_LOST_GOODS",
                "amount": "-10.00",
                "deal": {"name": "Casenummer", "value": "1"},
            }
        ],
    }
    return issue(shop, body, Ids(2))


def issued(invoice: RetailerInvoice) -> dict[str, Any]:
    """The control API's view of an invoice (amounts as strings), for tests to compare with the API's."""
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_type": invoice.invoice_type,
        "issue_date": invoice.issued.isoformat(),
        "period_start": invoice.start.isoformat(),
        "period_end": invoice.end.isoformat(),
        "amount_excl_vat": str(invoice.amount),
        "vat": str(invoice.vat),
        "payable_amount": str(invoice.payable),
        "specification": invoice.specification,
        "transactions": [
            {
                "type": t.code,
                "amount": str(t.amount),
                "vat_rate": str(t.vat_rate),
                "vat": str(t.vat),
                "quantity": t.quantity,
                "order_id": t.order_id,
                "ean": t.ean,
                "deal": list(t.deal) if t.deal else None,
            }
            for t in invoice.transactions
        ],
    }
