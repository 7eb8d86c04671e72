"""bol.com's own invoices in Koppel's terms (``koppel.documents.marketplace``): what
:class:`~koppel.connectors.bol.connector.BolSource` answers as a source that supplies invoices. The calls
and parsing are in :mod:`.retailer_invoices`, the line types in :mod:`.line_types`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from koppel.documents.marketplace import (
    InvoiceFiles,
    InvoiceLine,
    InvoiceSummary,
    LineType,
    SpecificationLine,
)
from koppel.documents.money import ZERO
from koppel.documents.purchases import Supplier

from . import line_types, retailer_invoices
from .client import BolClient

#: bol.com's own details, for an invoice whose UBL names no supplier.
BOL = Supplier(
    name="bol.com B.V.",
    vat_number="NL820471616B01",
    company_number="32147382",
    street="Papendorpseweg 100",
    zipcode="3528 BJ",
    city="Utrecht",
    country="NL",
)


def line_type(code: str) -> LineType:
    """A bol line type as Koppel groups it: a correction of turnover is turnover (the sales side), not a
    cost; an unknown code is ``other`` and not ``known``."""
    found = line_types.line_type(code)
    group = str(found.group)
    if found.code == "TURNOVER" or found.corrects == "TURNOVER":
        group = "turnover"
    elif not found.known:
        group = "other"
    return LineType(found.code, found.label_nl, found.label_en, group, found.vat_exempt, found.known)


def line_type_codes() -> list[str]:
    return list(line_types.LINE_TYPES)


def invoices(client: BolClient, since: date, until: date) -> Iterator[InvoiceSummary]:
    for item in retailer_invoices.BolInvoices(client).invoices(since, until):
        if item.invoice_id:
            yield summary(item)


def summary(item: retailer_invoices.BolInvoiceSummary) -> InvoiceSummary:
    raw = {
        "invoiceId": item.invoice_id,
        "invoiceType": item.invoice_type,
        "issueDate": item.issue_date.isoformat() if item.issue_date else None,
        "invoicePeriod": {
            "startDate": item.period_start.isoformat() if item.period_start else None,
            "endDate": item.period_end.isoformat() if item.period_end else None,
        },
        "legalMonetaryTotal": {
            name: None if value is None else str(value)
            for name, value in (
                ("lineExtensionAmount", item.line_extension_amount),
                ("taxExclusiveAmount", item.tax_exclusive_amount),
                ("taxInclusiveAmount", item.tax_inclusive_amount),
                ("payableAmount", item.payable_amount),
            )
        },
        "invoiceMediaTypes": list(item.invoice_media_types),
        "specificationMediaTypes": list(item.specification_media_types),
    }
    return InvoiceSummary(
        invoice_id=item.invoice_id,
        invoice_type=item.invoice_type,
        issue_date=item.issue_date,
        period_start=item.period_start,
        period_end=item.period_end,
        currency=item.currency or "EUR",
        total_excl=item.tax_exclusive_amount or ZERO,
        total_incl=item.tax_inclusive_amount or ZERO,
        payable=item.payable_amount or ZERO,
        raw=raw,
    )


def files(client: BolClient, item: InvoiceSummary) -> InvoiceFiles:
    """The PDF, the UBL (parsed for the supplier and lines), the whole specification and its Excel file
    (when bol offers them for this invoice: the advertising invoice has no specification)."""
    reader = retailer_invoices.BolInvoices(client)
    pdf = reader.pdf(item.invoice_id)
    ubl_xml = reader.ubl_xml(item.invoice_id)
    ubl = retailer_invoices.parse_ubl(ubl_xml)
    specification = reader.specification(item.invoice_id) or []
    xlsx = reader.specification_xlsx(item.invoice_id) if specification and offers_excel(item) else b""
    return InvoiceFiles(
        pdf=pdf,
        ubl=ubl_xml,
        supplier=supplier(ubl.supplier),
        lines=tuple(invoice_line(line) for line in ubl.lines),
        specification=tuple(specification_line(line) for line in specification),
        specification_xlsx=xlsx,
    )


def offers_excel(item: InvoiceSummary) -> bool:
    types = item.raw.get("specificationMediaTypes") or []
    return not types or any("spreadsheetml" in str(t) for t in types)


def supplier(party: retailer_invoices.UblParty | None) -> Supplier:
    if party is None or not party.name:
        return BOL
    street = " ".join(p for p in (party.street, party.building_number) if p)
    return Supplier(
        name=party.name,
        vat_number=party.vat_number or "",
        company_number=party.company_id or "",
        street=street,
        zipcode=party.postal_zone or "",
        city=party.city or "",
        country=party.country or "NL",
    )


def invoice_line(line: retailer_invoices.UblLine) -> InvoiceLine:
    exempt = line_type(line.line_type_code).vat_exempt
    return InvoiceLine(
        code=line.line_type_code,
        description=line.description or "",
        net=line.amount or ZERO,
        vat_rate=None if exempt else line.vat_rate,
        vat=line.vat_amount or ZERO,
    )


def specification_line(line: retailer_invoices.SpecificationLine) -> SpecificationLine:
    return SpecificationLine(
        line_id=line.line_id,
        code=line.line_type_code,
        order_number=line.order_id or "",
        ean=line.ean or "",
        description=line.description or "",
        quantity=line.quantity if line.quantity is not None else Decimal(1),
        net=line.amount or ZERO,
        vat=line.vat_amount or ZERO,
        vat_rate=line.vat_rate,
    )
