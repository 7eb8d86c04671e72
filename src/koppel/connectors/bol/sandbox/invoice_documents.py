"""The documents of bol's invoices: the SI-UBL 2.1 invoice (XML, as bol's recorded sample writes it, with
JAXB's namespace prefixes; and the same tree as JSON), the PDF, the specification's lines (JSON, as
community code reads them) and the specification as an Excel workbook (7 rows of preamble, the column
headers in row 7)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from io import BytesIO
from typing import Any

from lxml import etree
from openpyxl import Workbook

from koppel.connectors.bol.line_types import line_type
from koppel.sandbox.pdf import text_pdf

from .invoice_state import InvoiceLine, RetailerInvoice, Transaction
from .state import AMSTERDAM

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NSMAP = {None: CBC, "ns2": EXT, "ns3": CAC, "ns4": INVOICE}
CUSTOMIZATION = (
    "urn:www.cenbii.eu:transaction:biitrns010:ver2.0:extended:urn:www.peppol.eu:bis:peppol4a:ver2.0:"
    "extended:urn:www.simplerinvoicing.org:si:si-ubl:ver1.1.x"
)
PROFILE = "urn:www.cenbii.eu:profile:bii04:ver2.0"
BOL = {
    "name": "Bol.com B.V.",
    "kvk_number": "32147382",
    "vat_number": "NL820471616B01",
    "street": "Papendorpseweg",
    "number": "100",
    "zip": "3528 BJ",
    "city": "Utrecht",
    "country": "NL",
    "phone": "+31 (0)30 6008888",
}
EXEMPT = {"SHIPMENT_LABEL_POST", "CORRECTION_SHIPMENT_LABEL_POST"}
"""Zero-rate lines that are exempt (category E); other zero-rate lines are outside VAT's scope (O)."""
LISTS = {
    "InvoiceLine",
    "TaxSubtotal",
    "Description",
    "PartyIdentification",
    "PartyName",
    "ClassifiedTaxCategory",
    "AdditionalItemProperty",
}
"""Elements the JSON writes as lists even when there is one (UBL's repeatable ones that bol repeats)."""
SHEET_HEADERS = (
    "Factuurnummer",
    "Factuurregel",
    "Type",
    "Omschrijving",
    "Bestelnummer",
    "EAN",
    "Referentietype",
    "Referentie",
    "Aantal",
    "Bedrag excl. btw",
    "Btw %",
    "Btw-bedrag",
    "Bedrag incl. btw",
)


def ubl_date(day: date) -> str:
    """``2021-03-01+01:00``: a date with Amsterdam's offset that day, as bol writes UBL dates."""
    offset = datetime.combine(day, time(), AMSTERDAM).strftime("%z")
    return f"{day.isoformat()}{offset[:3]}:{offset[3:]}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _category(code: str, rate: Decimal) -> str:
    return "S" if rate else ("E" if code in EXEMPT else "O")


def _cbc(parent: Any, name: str, text: str, **attrs: str) -> Any:
    element = etree.SubElement(parent, f"{{{CBC}}}{name}", attrs)
    element.text = text
    return element


def _cac(parent: Any, name: str) -> Any:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def _amount(parent: Any, name: str, value: Decimal, currency: str) -> None:
    _cbc(parent, name, _money(value), currencyID=currency)


def _tax_category(parent: Any, name: str, code: str, rate: Decimal) -> None:
    category = _cac(parent, name)
    _cbc(category, "ID", _category(code, rate), schemeID="UN/ECE 5305", schemeAgencyID="6")
    _cbc(category, "Percent", f"{rate:.2f}")
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT", schemeID="UN/ECE 5153", schemeAgencyID="6")


def _party(parent: Any, name: str, who: dict[str, str], ident: str, scheme: str) -> None:
    party = _cac(_cac(parent, name), "Party")
    _cbc(_cac(party, "PartyIdentification"), "ID", ident, schemeID=scheme)
    _cbc(_cac(party, "PartyName"), "Name", who["name"])
    address = _cac(party, "PostalAddress")
    _cbc(address, "StreetName", who["street"])
    _cbc(address, "BuildingNumber", who["number"])
    _cbc(address, "CityName", who["city"])
    _cbc(address, "PostalZone", who["zip"])
    country = _cac(address, "Country")
    _cbc(country, "IdentificationCode", who["country"], listID="ISO3166-1:Alpha2", listAgencyID="6")
    tax = _cac(party, "PartyTaxScheme")
    _cbc(tax, "CompanyID", who["vat_number"], schemeID="NL:VAT", schemeAgencyID="ZZZ")
    _cbc(_cac(tax, "TaxScheme"), "ID", "VAT", schemeID="UN/ECE 5153", schemeAgencyID="6")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "CompanyID", who["kvk_number"], schemeID="NL:KVK", schemeAgencyID="ZZZ")
    contact = _cac(party, "Contact")
    _cbc(contact, "Name", who["name"])
    if who.get("phone"):
        _cbc(contact, "Telephone", who["phone"])


def _tax_total(root: Any, invoice: RetailerInvoice, lines: list[InvoiceLine]) -> None:
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", invoice.vat, invoice.currency)
    subtotals: dict[tuple[str, Decimal], list[InvoiceLine]] = {}
    for line in lines:
        subtotals.setdefault((_category(line.code, line.vat_rate), line.vat_rate), []).append(line)
    for group in subtotals.values():
        sub = _cac(total, "TaxSubtotal")
        _amount(sub, "TaxableAmount", sum((ln.amount for ln in group), Decimal(0)), invoice.currency)
        _amount(sub, "TaxAmount", sum((ln.vat for ln in group), Decimal(0)), invoice.currency)
        _tax_category(sub, "TaxCategory", group[0].code, group[0].vat_rate)


def _invoice_line(root: Any, n: int, line: InvoiceLine, currency: str) -> None:
    element = _cac(root, "InvoiceLine")
    _cbc(element, "ID", str(n))
    _cbc(element, "InvoicedQuantity", str(line.quantity), unitCode="C62")
    _amount(element, "LineExtensionAmount", line.amount, currency)
    _amount(_cac(element, "TaxTotal"), "TaxAmount", line.vat, currency)
    item = _cac(element, "Item")
    _cbc(item, "Description", line_type(line.code).label_nl)
    _cbc(item, "Name", line.code)
    _tax_category(item, "ClassifiedTaxCategory", line.code, line.vat_rate)
    price = _cac(element, "Price")
    _amount(price, "PriceAmount", line.amount, currency)
    _cbc(price, "BaseQuantity", str(line.quantity), unitCode="C62")


def ubl_tree(invoice: RetailerInvoice) -> Any:
    root = etree.Element(f"{{{INVOICE}}}Invoice", nsmap=NSMAP)
    for name, text in (("UBLVersionID", "2.1"), ("CustomizationID", CUSTOMIZATION), ("ProfileID", PROFILE)):
        _cbc(root, name, text)
    _cbc(root, "ID", invoice.invoice_id)
    _cbc(root, "IssueDate", ubl_date(invoice.issued))
    _cbc(root, "InvoiceTypeCode", "380", listID="UNCL1001")
    _cbc(root, "DocumentCurrencyCode", invoice.currency)
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", ubl_date(invoice.start))
    _cbc(period, "EndDate", ubl_date(invoice.end))
    _party(root, "AccountingSupplierParty", BOL, BOL["kvk_number"], "NL:KVK")
    _party(root, "AccountingCustomerParty", invoice.retailer, invoice.retailer["retailer_id"], "ZZZ")
    lines = invoice.lines()
    _tax_total(root, invoice, lines)
    total = _cac(root, "LegalMonetaryTotal")
    for name, value in (
        ("LineExtensionAmount", invoice.amount),
        ("TaxExclusiveAmount", invoice.amount),
        ("TaxInclusiveAmount", invoice.payable),
        ("PayableAmount", invoice.payable),
    ):
        _amount(total, name, value, invoice.currency)
    for n, line in enumerate(lines, 1):
        _invoice_line(root, n, line, invoice.currency)
    return root


def ubl_xml(invoice: RetailerInvoice) -> bytes:
    return etree.tostring(ubl_tree(invoice), xml_declaration=True, encoding="UTF-8", standalone=True)


def _json_value(element: Any) -> Any:
    children = list(element)
    if not children:
        name, text = etree.QName(element).localname, (element.text or "").strip()
        number = name.endswith(("Amount", "Quantity", "Percent"))
        return {"value": float(text) if number else text, **dict(element.attrib)}
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(etree.QName(child).localname, []).append(_json_value(child))
    return {k: v if k in LISTS or len(v) > 1 else v[0] for k, v in grouped.items()}


def ubl_json(invoice: RetailerInvoice) -> dict[str, Any]:
    """The UBL invoice as JSON: an element with children is an object, a leaf ``{"value", ...attributes}``."""
    return _json_value(ubl_tree(invoice))


def pdf(invoice: RetailerInvoice) -> bytes:
    who = invoice.retailer
    texts = [
        (16, f"{BOL['name']} - factuur {invoice.invoice_id}"),
        (9, f"{BOL['street']} {BOL['number']}, {BOL['zip']} {BOL['city']} - KvK {BOL['kvk_number']} - "
            f"btw {BOL['vat_number']}"),
        (10, f"Aan: {who['name']} (verkopernummer {who['retailer_id']}), {who['street']} {who['number']}, "
             f"{who['zip']} {who['city']}"),
        (10, f"Factuurdatum {invoice.issued.isoformat()}, periode {invoice.start.isoformat()} t/m "
             f"{invoice.end.isoformat()}, type {invoice.invoice_type}"),
    ]  # fmt: skip
    for line in invoice.lines():
        texts.append(
            (10, f"{line_type(line.code).label_nl} ({line.code}), {line.quantity}x: {_money(line.amount)} "
                 f"+ btw {line.vat_rate}% {_money(line.vat)} EUR")
        )  # fmt: skip
    texts.append((11, f"Totaal excl. btw {_money(invoice.amount)} EUR, btw {_money(invoice.vat)} EUR"))
    payable = invoice.payable
    if payable >= 0:
        texts.append((12, f"Te betalen aan bol.com: {_money(payable)} EUR"))
    else:
        texts.append((12, f"Door bol.com aan u uit te betalen: {_money(-payable)} EUR"))
    return text_pdf(texts, leading=18)


def page_of(invoice: RetailerInvoice, page: int, size: int) -> list[Transaction]:
    return invoice.transactions[(page - 1) * size : page * size]


def _properties(t: Transaction) -> list[tuple[str, str]]:
    out = [("Bestelnummer", t.order_id)] if t.order_id else []
    if t.deal:
        out.append(t.deal)
    if t.ean:
        out.append(("EAN", t.ean))
    return out


def _reference(invoice: RetailerInvoice, t: Transaction, n: int) -> str:
    """``order#EAN#LINE_TYPE`` (or the track and trace, case number ... instead of the order)."""
    head = t.order_id or (t.deal[1] if t.deal else f"{invoice.invoice_id}-{n}")
    return "#".join(p for p in (head, t.ean, t.code) if p)


def specification_line(invoice: RetailerInvoice, t: Transaction, n: int) -> dict[str, Any]:
    money = {"currencyID": invoice.currency}
    return {
        "id": _reference(invoice, t, n),
        "invoiceLineRef": f"{invoice.invoice_id}#{t.code}",
        "invoicedQuantity": {"value": t.quantity},
        "lineExtensionAmount": {"value": float(t.amount), **money},
        "taxTotal": {"TaxAmount": {"value": float(t.vat), **money}},
        "item": {
            "Name": {"value": t.code},
            "Description": [{"value": t.label}],
            "AdditionalItemProperty": [
                {"Name": {"value": name}, "Value": {"value": value}} for name, value in _properties(t)
            ],
            "ClassifiedTaxCategory": [
                {"ID": {"value": _category(t.code, t.vat_rate)}, "Percent": {"value": float(t.vat_rate)}}
            ],
        },
        "price": {"PriceAmount": {"value": float(t.amount), **money}, "BaseQuantity": {"value": t.quantity}},
    }


def specification_xlsx(invoice: RetailerInvoice, page: int, rows: list[Transaction], first: int) -> bytes:
    """The page as a workbook: six rows about the invoice, the headers in row 7, a transaction a row."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Specificatie"
    who = invoice.retailer
    for row in (
        ("Specificatie bij factuur", invoice.invoice_id),
        ("Factuurdatum", invoice.issued.isoformat()),
        ("Periode", f"{invoice.start.isoformat()} t/m {invoice.end.isoformat()}"),
        ("Verkoper", who["name"]),
        ("Verkopernummer", who["retailer_id"]),
        ("Pagina", page),
        SHEET_HEADERS,
    ):
        sheet.append(list(row))
    for n, t in enumerate(rows, first):
        deal = t.deal or ("", "")
        sheet.append(
            [invoice.invoice_id, _reference(invoice, t, n), t.code, t.label, t.order_id or "", t.ean or "",
             deal[0], deal[1], t.quantity, t.amount, t.vat_rate, t.vat, t.amount + t.vat]
        )  # fmt: skip
    out = BytesIO()
    book.save(out)
    return out.getvalue()
