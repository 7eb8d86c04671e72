"""A marketplace invoice booked as a purchase invoice: the record handler the pipeline calls for records of
kind ``marketplace_invoice`` (registered in ``apps.py``).

One line per line type (and VAT rate) with its costs, on the ledger account chosen for it; exempt lines
(PostNL's labels) carry no VAT; the PDF is attached. The turnover bol collected for the merchant is no
purchase and no revenue (the sales invoices booked it): it is settled on a clearing account
(tussenrekening), without VAT, so that the purchase invoice totals what bol's invoice does and matches
bol's payout in the bank. Booked exactly once like an order: the target is searched for the supplier's
invoice number first, and the booking marks of ``koppel.sync.pipeline`` hold for the create."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.utils import timezone

from koppel.connections.models import Connection
from koppel.connectors.base import LedgerAccount
from koppel.connectors.http import CallLog
from koppel.documents.codes import Code
from koppel.documents.i18n import Text as _
from koppel.documents.marketplace import LineType
from koppel.documents.money import ZERO, cents, fmt
from koppel.documents.purchases import Attachment, PurchaseInvoice, PurchaseLine
from koppel.sync.models import Record, State
from koppel.sync.pipeline import Outcome, create_once, found_booked, still_in_doubt

from . import ledgers
from .fetching import fetch_files, supplier_from_json
from .models import MarketplaceInvoice

SUPPLIER_NAME = "bol.com B.V."


def attempt_marketplace_invoice(record: Record, log: CallLog, owner: str, probing: Any = None) -> Outcome:
    connection = record.connection
    invoice = MarketplaceInvoice.objects.get(connection=connection, invoice_id=record.source_order_id)
    if invoice.files_fetched_at is None:
        source = connection.source(log)
        try:
            fetch_files(source, invoice)
        finally:
            source.close()
    record.total, record.currency = invoice.payable, invoice.currency
    if not connection.target_class.books_purchases:
        return Outcome(
            State.SKIPPED,
            Code.PURCHASES_NOT_SUPPORTED,
            _(
                "%(target)s makes sales invoices only: this %(source)s invoice is kept for download, not "
                "booked",
                target=connection.target_class.label,
                source=connection.source_class.label,
            ),
        )
    target = connection.target(log)
    try:
        accounts = target.ledger_accounts()
        purchase = purchase_invoice(connection, invoice, accounts)
        record.document = purchase_as_dict(purchase, {a.id: a.name for a in accounts})
        if not purchase.lines:
            return Outcome(State.SKIPPED, Code.NO_PURCHASE_LINES, _("The invoice has no lines to book"))
        existing = target.find_purchase_invoice(purchase)
        if existing is not None:
            return found(record, existing, target.label)
        if waiting := still_in_doubt(record, target.label, timezone.now()):
            return waiting
        booked = create_once(record, owner, lambda: target.create_purchase_invoice(purchase))
    finally:
        target.close()
    message = _(
        "Booked as %(target)s purchase invoice %(invoice)s: %(lines)s lines, %(amount)s incl. VAT",
        target=connection.target_class.label,
        invoice=booked.number or booked.id,
        lines=str(len(purchase.lines)),
        amount=fmt(purchase.gross),
    )
    if booked.note:
        message = _("%(message)s; %(note)s", message=message, note=booked.note)
    return Outcome(
        State.HANDLED,
        message=message,
        fields={"target_invoice_id": booked.id, "target_invoice_number": booked.number},
    )


def found(record: Record, existing: Any, target_label: str) -> Outcome:
    return found_booked(
        record,
        existing,
        recovered=_(
            "Booked (found purchase invoice %(invoice)s after an interrupted attempt)", invoice=existing.id
        ),
        again=_(
            "%(target)s already has purchase invoice %(invoice)s for %(reference)s; not booked again",
            target=target_label,
            invoice=existing.number or existing.id,
            reference=record.source_order_id,
        ),
    )


def purchase_invoice(
    connection: Connection, invoice: MarketplaceInvoice, accounts: list[LedgerAccount]
) -> PurchaseInvoice:
    attachments = (Attachment(f"{invoice.invoice_id}.pdf", "application/pdf", bytes(invoice.pdf)),)
    return PurchaseInvoice(
        reference=invoice.invoice_id,
        date=invoice.issue_date or invoice.period_end or timezone.localdate(),
        currency=invoice.currency,
        supplier=supplier_from_json(invoice.supplier, SUPPLIER_NAME),
        lines=tuple(cost_lines(connection, invoice, accounts)),
        attachments=attachments if invoice.pdf else (),
    )


def cost_lines(
    connection: Connection, invoice: MarketplaceInvoice, accounts: list[LedgerAccount]
) -> list[PurchaseLine]:
    """One line per line type and VAT rate, from the invoice's own lines (or, without them, summed from the
    specification); turnover without VAT, on the clearing account."""
    source = connection.source_class
    line_types: dict[str, LineType] = {}
    totals: dict[tuple[str, Decimal | None], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for code, net, vat, rate in invoice.amounts():
        if code not in line_types:
            line_types[code] = source.line_type(code)
        line_type = line_types[code]
        exempt = line_type.vat_exempt or line_type.is_turnover
        key = (code, None if exempt else rate_of(rate, net, vat))
        totals[key][0] += net
        totals[key][1] += vat
    choices = ledgers.chosen(connection)
    lines = []
    for (code, rate), (net, vat) in sorted(totals.items(), key=lambda item: item[0][0]):
        if not net and not vat:
            continue
        line_type = line_types[code]
        lines.append(
            PurchaseLine(
                description=describe(line_type, rate),
                net=cents(net),
                vat_rate=rate,
                vat=cents(vat) if rate is not None else ZERO,
                ledger_account_id=ledgers.account_for(connection, line_type, accounts, choices),
                code=code,
            )
        )
    return lines


def rate_of(rate: Decimal | None, net: Decimal, vat: Decimal) -> Decimal | None:
    """The line's VAT rate; when the specification names none, the whole percentage its amounts make."""
    if rate is not None:
        return rate.normalize() if rate == rate.to_integral() else rate
    if not net or not vat:
        return Decimal(0) if net else None
    return (vat / net * 100).quantize(Decimal(1))


def describe(line_type: LineType, rate: Decimal | None) -> str:
    label = line_type.label_nl if line_type.known else f"{line_type.code} (onbekend regeltype)"
    if line_type.is_turnover:
        return f"{label} (omzet geïnd door bol.com, verrekend)"
    return label if rate is not None else f"{label} (vrijgesteld van btw)"


def purchase_as_dict(
    purchase: PurchaseInvoice, account_names: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "kind": "purchase_invoice",
        "reference": purchase.reference,
        "date": purchase.date.isoformat(),
        "currency": purchase.currency,
        "supplier": {"name": purchase.supplier.name, "vat_number": purchase.supplier.vat_number},
        "lines": [
            {
                "code": line.code,
                "description": line.description,
                "net": str(line.net),
                "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
                "vat": str(line.vat),
                "ledger_account_id": line.ledger_account_id,
                "ledger_account": (account_names or {}).get(line.ledger_account_id, ""),
            }
            for line in purchase.lines
        ],
        "net": str(purchase.net),
        "vat": str(purchase.vat),
        "gross": str(purchase.gross),
        "attachments": [a.filename for a in purchase.attachments],
    }
