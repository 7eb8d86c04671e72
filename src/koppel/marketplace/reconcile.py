"""Did Koppel invoice every order the marketplace paid for? Per marketplace invoice, the turnover lines of
its specification (TURNOVER, CORRECTION_TURNOVER) are matched by order number to the connection's records:

- ``unbooked``: the marketplace paid for an order Koppel did not book (never received, or in error);
- ``amount``: both have it, the amounts differ;
- ``not_in_turnover``: Koppel booked an order placed in the invoice's period that no turnover line of any of
  the connection's invoices pays for (not paid yet, or cancelled or returned after it was invoiced).

Amounts are what the customer paid, incl. VAT: bol's turnover lines carry no VAT, Koppel's records hold the
order's total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cached_property

from django.utils import timezone

from koppel.documents.marketplace import GROUPS, SpecificationLine
from koppel.documents.money import ZERO, cents
from koppel.sync.models import Kind, Record, State

from .models import MarketplaceInvoice

TOLERANCE = Decimal("0.01")
TURNOVER_CODES = ("TURNOVER", "CORRECTION_TURNOVER")


@dataclass(frozen=True)
class Difference:
    kind: str  # unbooked, amount, not_in_turnover
    order_number: str
    paid: Decimal | None
    booked: Decimal | None
    record_id: int | None
    reason: str
    #: The order can be fetched and booked now (Koppel has no record of it).
    can_fetch: bool = False


@dataclass
class Reconciliation:
    invoice: MarketplaceInvoice
    turnover: Decimal = ZERO
    #: Costs (incl. VAT) per group of line types; a credit (compensation) is negative.
    costs: dict[str, Decimal] = field(default_factory=dict)
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)
    #: Per specification line id: how Koppel matched it (``matched``, ``unbooked``, ``amount``), for the
    #: export.
    line_matches: dict[str, tuple[str, int | None, Decimal | None]] = field(default_factory=dict)

    @property
    def payout(self) -> Decimal:
        """What the marketplace pays out (positive) or asks (negative)."""
        return -self.invoice.payable

    @property
    def cost_total(self) -> Decimal:
        return cents(sum(self.costs.values(), ZERO))


def sale_number(connection, record: Record) -> str:
    return connection.source_class.marketplace_order_number(record.order_number or record.source_order_id)


class Orders:
    """What reconciling any of a connection's invoices reads of the connection, read once for all of them
    (and only when an invoice needs it): its order records by the marketplace's order number (a shipment
    source has a record per shipment: several for one order), and the order numbers that a turnover line
    of any of its invoices pays for."""

    def __init__(self, connection) -> None:
        self.connection = connection

    @cached_property
    def by_number(self) -> dict[str, list[Record]]:
        records = Record.objects.filter(connection=self.connection, kind=Kind.ORDER).only(
            "pk",
            "order_number",
            "source_order_id",
            "state",
            "total",
            "error_code",
            "message",
            "order_created_at",
        )
        found: dict[str, list[Record]] = defaultdict(list)
        for record in records.iterator():
            found[sale_number(self.connection, record)].append(record)
        return dict(found)

    @cached_property
    def paid_anywhere(self) -> frozenset[str]:
        paid: set[str] = set()
        for other in MarketplaceInvoice.objects.filter(connection=self.connection).only("specification"):
            paid |= {
                str(row.get("order", "")) for row in other.specification if row.get("code") in TURNOVER_CODES
            }
        return frozenset(paid)


def reconcile_all(invoices: Iterable[MarketplaceInvoice]) -> list[Reconciliation]:
    """Every invoice reconciled, each connection's orders read once for all its invoices."""
    orders: dict[int, Orders] = {}
    results = []
    for invoice in invoices:
        if invoice.connection_id not in orders:
            orders[invoice.connection_id] = Orders(invoice.connection)
        results.append(reconcile(invoice, orders[invoice.connection_id]))
    return results


def reconcile(invoice: MarketplaceInvoice, orders: Orders | None = None) -> Reconciliation:
    """The invoice reconciled; ``orders``, the connection's orders already read (see ``reconcile_all``)."""
    connection = invoice.connection
    orders = Orders(connection) if orders is None else orders
    source = connection.source_class
    result = Reconciliation(invoice)
    turnover_lines = [line for line in invoice.lines if line.code in TURNOVER_CODES]
    paid = paid_per_order(turnover_lines)
    result.turnover = cents(sum(paid.values(), ZERO))
    for code, net, vat, _rate in invoice.amounts():
        line_type = source.line_type(code)
        if line_type.is_turnover or code in TURNOVER_CODES:
            continue
        group = line_type.group if line_type.known else "other"
        result.costs[group] = cents(result.costs.get(group, ZERO) + net + vat)
    result.costs = {g: result.costs[g] for g in GROUPS if g in result.costs}
    if not paid:
        return result
    lines_per_order: dict[str, list[SpecificationLine]] = defaultdict(list)
    for line in turnover_lines:
        lines_per_order[line.order_number].append(line)
    for number, amount in sorted(paid.items()):
        records = orders.by_number.get(number, [])
        result_kind = match_one(result, number, amount, records)
        total = cents(sum((r.total or ZERO for r in records if r.state == State.HANDLED), ZERO))
        for line in lines_per_order[number]:
            result.line_matches[line.line_id] = (result_kind, records[0].pk if records else None, total)
    result.differences += not_in_turnover(invoice, orders)
    return result


def paid_per_order(lines: list[SpecificationLine]) -> dict[str, Decimal]:
    """What the marketplace paid per order number (its turnover net of corrections), positive for a sale
    whatever sign the marketplace writes turnover with."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        if line.order_number:
            sums[line.order_number] += line.net + line.vat
    sale_sign = turnover_sign(lines)
    return {number: cents(amount * sale_sign) for number, amount in sums.items()}


def turnover_sign(lines: list[SpecificationLine]) -> int:
    sales = sum((line.net for line in lines if line.code == "TURNOVER"), ZERO)
    return -1 if sales < 0 else 1


def match_one(result: Reconciliation, number: str, paid: Decimal, records: list[Record]) -> str:
    handled = [r for r in records if r.state == State.HANDLED]
    if not handled:
        if records:
            record = records[0]
            reason = f"Koppel has it as {record.state}: {record.error_code} {record.message}".strip()
        else:
            reason = "Koppel never received this order"
        result.differences.append(
            Difference(
                "unbooked", number, paid, None, records[0].pk if records else None, reason, not records
            )
        )
        return "unbooked"
    booked = cents(sum((r.total or ZERO for r in handled), ZERO))
    if abs(booked - paid) > TOLERANCE:
        reason = f"paid {paid}, booked {booked}: a difference of {cents(paid - booked)}"
        result.differences.append(Difference("amount", number, paid, booked, handled[0].pk, reason))
        return "amount"
    result.matched += 1
    return "matched"


def not_in_turnover(invoice: MarketplaceInvoice, orders: Orders) -> list[Difference]:
    """Orders Koppel booked that were placed in the invoice's period and that no turnover line of any of the
    connection's invoices pays for."""
    if invoice.period_start is None or invoice.period_end is None:
        return []
    start = timezone.make_aware(datetime.combine(invoice.period_start, time()))
    end = timezone.make_aware(datetime.combine(invoice.period_end + timedelta(days=1), time()))
    missing: dict[str, list[Record]] = {}
    for number, records in orders.by_number.items():
        if number in orders.paid_anywhere:
            continue
        placed = [r for r in records if r.state == State.HANDLED and placed_in(r, start, end)]
        if placed:
            missing[number] = placed
    reason = "booked by Koppel, but in no turnover of the marketplace: not paid yet, or cancelled or returned"
    return [
        Difference(
            "not_in_turnover",
            number,
            None,
            cents(sum((r.total or ZERO for r in rows), ZERO)),
            rows[0].pk,
            reason,
        )
        for number, rows in sorted(missing.items())
    ]


def placed_in(record: Record, start: datetime, end: datetime) -> bool:
    return record.order_created_at is not None and start <= record.order_created_at < end
