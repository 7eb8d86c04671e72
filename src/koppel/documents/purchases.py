"""The canonical purchase invoice: a supplier's invoice to the merchant (bol.com's commission, labels and
advertising), booked into a bookkeeping target as a cost.

A source of purchase invoices (``koppel.marketplace``) maps the supplier's document into a
:class:`PurchaseInvoice`; a target that books purchases (``TargetConnector.books_purchases``) maps it out.
Amounts are excl. VAT per line, as suppliers' invoices state them; a line without VAT (``vat_rate`` is
``None``: exempt, such as PostNL's labels) is booked without a tax rate. Nothing here knows about Django,
HTTP or any platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .money import ZERO, cents


@dataclass(frozen=True, slots=True)
class Supplier:
    name: str
    vat_number: str = ""
    #: The chamber of commerce number (KvK).
    company_number: str = ""
    street: str = ""
    zipcode: str = ""
    city: str = ""
    country: str = "NL"
    email: str = ""
    iban: str = ""


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    description: str
    #: The amount excl. VAT (negative for a credit, e.g. a compensation or a corrected commission).
    net: Decimal
    #: The VAT percentage; ``None`` when the line carries no VAT (exempt or outside its scope).
    vat_rate: Decimal | None
    vat: Decimal = ZERO
    #: The target's ledger account for this line (chosen per line type in the connection's settings).
    ledger_account_id: str = ""
    #: What the line is, in the supplier's terms (bol.com's line type, e.g. ``COMMISSION``).
    code: str = ""

    @property
    def gross(self) -> Decimal:
        return cents(self.net + self.vat)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PurchaseInvoice:
    #: The supplier's invoice number: how the target finds the invoice again before creating it.
    reference: str
    date: date
    currency: str
    supplier: Supplier
    lines: tuple[PurchaseLine, ...]
    due_date: date | None = None
    attachments: tuple[Attachment, ...] = ()

    @property
    def net(self) -> Decimal:
        return cents(sum((line.net for line in self.lines), ZERO))

    @property
    def vat(self) -> Decimal:
        return cents(sum((line.vat for line in self.lines), ZERO))

    @property
    def gross(self) -> Decimal:
        return cents(self.net + self.vat)
