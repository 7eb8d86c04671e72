"""A marketplace's own invoices to the merchant (bol.com's monthly ALL_IN_ONE invoice, its advertising
invoice): what a source that supplies them (``SourceConnector.supplies_invoices``) answers, in Koppel's
terms. The invoice nets the turnover the marketplace collected for the merchant against its costs
(commission, labels, logistics, advertising); its specification lists every transaction. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .money import ZERO
from .purchases import Supplier

#: The groups a line type belongs to, in the order a bookkeeper reads them.
GROUPS = (
    "turnover",
    "commission",
    "logistics",
    "fbb",
    "advertising",
    "corrections",
    "compensations",
    "other",
)
#: Turnover is what the sales invoices already booked: never booked as a purchase.
TURNOVER = "turnover"


@dataclass(frozen=True, slots=True)
class LineType:
    """A kind of line on the marketplace's invoice, with its Dutch and English label and group. ``known``
    is ``False`` for a code the connector does not know: kept and flagged, booked on the suspense account."""

    code: str
    label_nl: str
    label_en: str
    group: str
    vat_exempt: bool = False
    known: bool = True

    def label(self, language: str) -> str:
        return self.label_nl if language.startswith("nl") else self.label_en

    @property
    def is_turnover(self) -> bool:
        return self.group == TURNOVER


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    """One invoice of the marketplace's list. ``payable`` is what the merchant owes (positive) or is paid
    out (negative)."""

    invoice_id: str
    invoice_type: str
    issue_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str
    total_excl: Decimal
    total_incl: Decimal
    payable: Decimal
    #: The list item exactly as the marketplace sent it.
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class SpecificationLine:
    """One transaction of the specification: a sale's turnover, its commission, a label, ..."""

    line_id: str
    code: str
    order_number: str = ""
    ean: str = ""
    description: str = ""
    quantity: Decimal = Decimal(1)
    #: Excl. VAT (turnover lines: what the customer paid; they carry no VAT).
    net: Decimal = ZERO
    vat: Decimal = ZERO
    vat_rate: Decimal | None = None
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """A line of the invoice document itself (the UBL), one per line type."""

    code: str
    description: str
    net: Decimal
    vat_rate: Decimal | None
    vat: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class InvoiceFiles:
    """Everything of one invoice, fetched once and kept: the PDF, the UBL as sent, the specification (every
    page, parsed; and as the marketplace's Excel file), and what the UBL says of the supplier and lines."""

    pdf: bytes = field(repr=False)
    ubl: bytes = field(repr=False)
    supplier: Supplier
    lines: tuple[InvoiceLine, ...] = ()
    specification: tuple[SpecificationLine, ...] = ()
    specification_xlsx: bytes = field(default=b"", repr=False)
