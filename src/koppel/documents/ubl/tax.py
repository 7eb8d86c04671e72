"""VAT categories of an invoice's lines and the VAT breakdown (EN 16931 BG-23) built from them.

Every amount is Koppel's own: a group's taxable amount is the sum of its lines' nets and its VAT the sum
of their VAT, so the document's totals are the invoice's to the cent. The category VAT may differ from
taxable × rate by a few cents (per-line rounding); EN 16931 allows less than 1.00 (BR-CO-17, BR-S-09).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ..model import Invoice, InvoiceLine, vat_category_of
from ..money import ZERO

#: Categories without VAT that need an exemption reason (BR-E-10, BR-G-10, BR-IC-10, BR-AE-10, BR-O-10):
#: the VATEX code (none fits every exempt supply) and the default text when the invoice has no VAT note.
EXEMPTIONS: dict[str, tuple[str | None, str]] = {
    "K": ("VATEX-EU-IC", "Intracommunautaire levering, art. 138 lid 1 Richtlijn 2006/112/EG"),
    "G": ("VATEX-EU-G", "Export outside the EU"),
    "AE": ("VATEX-EU-AE", "Btw verlegd / Reverse charge"),
    "E": (None, "Vrijgesteld van btw"),
    "O": ("VATEX-EU-O", "Niet onderworpen aan btw / Not subject to VAT"),
}
#: Categories whose rate is 0 (BR-Z-05, BR-E-05, BR-IC-05, BR-G-05, BR-AE-05); O has no rate at all.
ZERO_RATED = frozenset({"Z", "E", "K", "G", "AE"})


class UblError(ValueError):
    """The invoice cannot be expressed as a valid EN 16931 document (e.g. a VAT category at a rate it
    cannot have); the message names the line."""


@dataclass(frozen=True, slots=True)
class TaxCategory:
    """A VAT category at a rate; ``rate`` is ``None`` for O (not subject to VAT: no rate, BR-O-05)."""

    code: str
    rate: Decimal | None

    @property
    def exemption(self) -> tuple[str | None, str] | None:
        return EXEMPTIONS.get(self.code)


@dataclass(frozen=True, slots=True)
class Subtotal:
    category: TaxCategory
    taxable: Decimal
    vat: Decimal


def category_of(line: InvoiceLine, invoice: Invoice) -> TaxCategory:
    """The line's category and rate; raises :class:`UblError` when they contradict each other."""
    code = vat_category_of(line, invoice).upper()
    if code == "S" and line.vat_rate <= ZERO:
        raise UblError(f"line {line.description!r}: category S needs a VAT rate above 0%")
    if code in ZERO_RATED | {"O"} and (line.vat_rate != ZERO or line.vat != ZERO):
        raise UblError(f"line {line.description!r}: category {code} cannot carry VAT ({line.vat_rate}%)")
    if code == "O":
        return TaxCategory(code, None)
    return TaxCategory(code, line.vat_rate.normalize() if line.vat_rate else Decimal(0))


def breakdown(lines: Iterable[tuple[InvoiceLine, TaxCategory]]) -> list[Subtotal]:
    """One subtotal per category and rate (BR-CO-18), S first then by code, higher rates first."""
    groups: dict[TaxCategory, tuple[Decimal, Decimal]] = {}
    for line, category in lines:
        taxable, vat = groups.get(category, (ZERO, ZERO))
        groups[category] = (taxable + line.net, vat + line.vat)
    order = sorted(groups, key=lambda c: (c.code != "S", c.code, -(c.rate or ZERO)))
    return [Subtotal(category, *groups[category]) for category in order]


def exemption_text(category: TaxCategory, invoice: Invoice) -> tuple[str | None, str] | None:
    """The exemption reason code and text of a category, the invoice's VAT note as the text when set."""
    exemption = category.exemption
    if exemption is None:
        return None
    code, default = exemption
    return code, invoice.vat_note.strip() or default
