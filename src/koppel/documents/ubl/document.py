"""An :class:`~koppel.documents.model.Invoice` as a UBL 2.1 Invoice or CreditNote (Peppol BIS Billing 3.0).

Where each invoice line goes:

* products, fees and the rounding line are invoice lines, with the net unit price. A negative line (a fee
  that is a discount, a negative rounding) has a negative quantity and a positive price: an item price
  may not be negative (BR-27);
* shipping is a document-level charge and a discount a document-level allowance, each with its VAT
  category (as ``samples/nl-domestic-S-21-9.xml`` does), unless the invoice has nothing else: a document
  needs at least one line (BR-16), so then they are lines too.

Every net and VAT amount is the invoice line's own, so the totals are Koppel's to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from ..model import ROUNDING_DESCRIPTION, Invoice, InvoiceLine, LineKind
from ..money import ZERO, fmt
from . import parties, xml
from .seller import Seller
from .tax import Subtotal, TaxCategory, breakdown, category_of, exemption_text

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE_TYPE, CREDIT_NOTE_TYPE = "380", "381"
#: UNCL4461 58: SEPA credit transfer. UNCL7161 FC: freight charge. UNCL5189 95: discount.
SEPA_CREDIT_TRANSFER, FREIGHT_CHARGE, DISCOUNT_REASON = "58", "FC", "95"
UNIT_CODE = "C62"  # "one" (UN/ECE Rec 20)
#: How far quantity × price may be from the line's net before the price gets more decimals (R120: 0.02).
PRICE_SLACK = Decimal("0.01")
FINE_PRICE = Decimal("1E-8")
DEFAULT_NAMES = {
    LineKind.PRODUCT: "Artikel",
    LineKind.SHIPPING: "Verzendkosten",
    LineKind.FEE: "Kosten",
    LineKind.DISCOUNT: "Korting",
    LineKind.ROUNDING: ROUNDING_DESCRIPTION,
}


@dataclass(frozen=True, slots=True)
class _Placed:
    line: InvoiceLine
    category: TaxCategory
    #: ``None``: an invoice line; ``True``: a document-level charge; ``False``: an allowance.
    charge: bool | None


def invoice_ubl(invoice: Invoice, seller: Seller, *, number: str | None = None) -> bytes:
    """The invoice as UBL 2.1 (a CreditNote when it is a credit note), numbered ``number`` (default: the
    order number). Raises :class:`~.tax.UblError` when a line's VAT category contradicts its rate."""
    placed = _place(invoice)
    subtotals = breakdown((p.line, p.category) for p in placed)
    # Category O forbids every VAT identifier on the document (BR-O-02).
    with_vat = all(s.category.code != "O" for s in subtotals)
    credit = invoice.is_credit_note
    document = xml.root(
        "CreditNote" if credit else "Invoice", xml.CREDIT_NOTE_NS if credit else xml.INVOICE_NS
    )
    doc_number = number or invoice.order_number
    _header(document, invoice, doc_number)
    parties.seller_party(document, seller, with_vat=with_vat)
    country = parties.buyer_country(invoice.customer, seller)
    parties.buyer_party(document, invoice.customer, country, with_vat=with_vat)
    parties.delivery(document, invoice, country)
    if not credit:
        _payment_means(document, seller, doc_number)
    _payment_terms(document, invoice)
    for item in placed:
        if item.charge is not None:
            _allowance_charge(document, item, invoice.currency)
    _tax_total(document, invoice, subtotals)
    _monetary_total(document, invoice, placed)
    for index, item in enumerate((p for p in placed if p.charge is None), start=1):
        _line(document, index, item, invoice.currency, credit=credit)
    return xml.serialize(document)


def _place(invoice: Invoice) -> list[_Placed]:
    placed = [_Placed(line, category_of(line, invoice), _as_charge(line)) for line in invoice.lines]
    if all(p.charge is not None for p in placed):
        return [_Placed(p.line, p.category, None) for p in placed]
    return placed


def _as_charge(line: InvoiceLine) -> bool | None:
    if line.kind == LineKind.SHIPPING:
        return line.net >= ZERO
    if line.kind == LineKind.DISCOUNT:
        return line.net > ZERO
    return None


def _header(document: etree._Element, invoice: Invoice, number: str) -> None:
    xml.cbc(document, "CustomizationID", CUSTOMIZATION_ID)
    xml.cbc(document, "ProfileID", PROFILE_ID)
    xml.cbc(document, "ID", number)
    xml.cbc(document, "IssueDate", invoice.date.isoformat())
    if invoice.is_credit_note:
        xml.cbc(document, "CreditNoteTypeCode", CREDIT_NOTE_TYPE)
    else:
        xml.cbc(document, "InvoiceTypeCode", INVOICE_TYPE)
    # One note at most (PEPPOL-EN16931-R002): why it is credited, and the VAT rules' legal mention.
    note = " — ".join(text.strip() for text in (invoice.credit_reason, invoice.vat_note) if text.strip())
    xml.cbc_if(document, "Note", note)
    xml.cbc(document, "DocumentCurrencyCode", invoice.currency)
    # The webshop's order number is the buyer's order reference (PEPPOL-EN16931-R003).
    xml.cbc(xml.cac(document, "OrderReference"), "ID", invoice.order_number)
    if invoice.is_credit_note:
        reference = xml.cac(xml.cac(document, "BillingReference"), "InvoiceDocumentReference")
        xml.cbc(reference, "ID", invoice.credit_for or invoice.credit_for_id)


def _payment_means(document: etree._Element, seller: Seller, number: str) -> None:
    means = xml.cac(document, "PaymentMeans")
    xml.cbc(means, "PaymentMeansCode", SEPA_CREDIT_TRANSFER)
    xml.cbc(means, "PaymentID", number)
    account = xml.cac(means, "PayeeFinancialAccount")
    xml.cbc(account, "ID", seller.iban)
    xml.cbc(account, "Name", seller.name)


def _payment_terms(document: etree._Element, invoice: Invoice) -> None:
    method = invoice.payment_method.strip()
    if invoice.is_credit_note:
        text = "Terugbetaald" if invoice.paid else "Te verrekenen"
    else:
        text = "Betaald" if invoice.paid else "Te betalen per bankoverschrijving"
    if method and invoice.paid:
        text += f" via {method}"
    if invoice.prepaid:
        text += f"; {fmt(invoice.prepaid_amount)} betaald met cadeaubon"
    xml.cbc(xml.cac(document, "PaymentTerms"), "Note", text)


def _allowance_charge(document: etree._Element, item: _Placed, currency: str) -> None:
    element = xml.cac(document, "AllowanceCharge")
    xml.cbc(element, "ChargeIndicator", "true" if item.charge else "false")
    line = item.line
    if line.kind == LineKind.SHIPPING and item.charge:
        xml.cbc(element, "AllowanceChargeReasonCode", FREIGHT_CHARGE)
    elif line.kind == LineKind.DISCOUNT and not item.charge:
        xml.cbc(element, "AllowanceChargeReasonCode", DISCOUNT_REASON)
    xml.cbc(element, "AllowanceChargeReason", _name(line))
    xml.amount(element, "Amount", abs(line.net), currency)
    _category(element, "TaxCategory", item.category)


def _category(
    parent: etree._Element, name: str, category: TaxCategory, exemption: tuple[str | None, str] | None = None
) -> None:
    element = xml.cac(parent, name)
    xml.cbc(element, "ID", category.code)
    if category.rate is not None:
        xml.cbc(element, "Percent", xml.number(category.rate))
    if exemption is not None:
        code, text = exemption
        if code:
            xml.cbc(element, "TaxExemptionReasonCode", code)
        xml.cbc(element, "TaxExemptionReason", text)
    xml.cbc(xml.cac(element, "TaxScheme"), "ID", "VAT")


def _tax_total(document: etree._Element, invoice: Invoice, subtotals: list[Subtotal]) -> None:
    total = xml.cac(document, "TaxTotal")
    xml.amount(total, "TaxAmount", invoice.vat, invoice.currency)
    for subtotal in subtotals:
        element = xml.cac(total, "TaxSubtotal")
        xml.amount(element, "TaxableAmount", subtotal.taxable, invoice.currency)
        xml.amount(element, "TaxAmount", subtotal.vat, invoice.currency)
        _category(element, "TaxCategory", subtotal.category, exemption_text(subtotal.category, invoice))


def _monetary_total(document: etree._Element, invoice: Invoice, placed: list[_Placed]) -> None:
    """BT-106..115: line nets, ± document charges and allowances = the invoice's net; + VAT = its gross.
    A paid invoice (a refunded credit note) has it all prepaid and nothing left to pay; an unpaid one whose
    part a gift card paid has that part prepaid (BT-113) and the rest payable (BT-115)."""
    currency = invoice.currency
    lines = sum((p.line.net for p in placed if p.charge is None), ZERO)
    charges = sum((p.line.net for p in placed if p.charge is True), ZERO)
    allowances = -sum((p.line.net for p in placed if p.charge is False), ZERO)
    total = xml.cac(document, "LegalMonetaryTotal")
    xml.amount(total, "LineExtensionAmount", lines, currency)
    xml.amount(total, "TaxExclusiveAmount", invoice.net, currency)
    xml.amount(total, "TaxInclusiveAmount", invoice.gross, currency)
    if any(p.charge is False for p in placed):
        xml.amount(total, "AllowanceTotalAmount", allowances, currency)
    if any(p.charge is True for p in placed):
        xml.amount(total, "ChargeTotalAmount", charges, currency)
    prepaid = invoice.gross if invoice.paid else invoice.prepaid_amount
    if prepaid:
        xml.amount(total, "PrepaidAmount", prepaid, currency)
    xml.amount(total, "PayableAmount", invoice.gross - prepaid, currency)


def _line(document: etree._Element, index: int, item: _Placed, currency: str, *, credit: bool) -> None:
    line = item.line
    element = xml.cac(document, "CreditNoteLine" if credit else "InvoiceLine")
    xml.cbc(element, "ID", str(index))
    quantity, price = quantity_and_price(line)
    quantity_name = "CreditedQuantity" if credit else "InvoicedQuantity"
    xml.cbc(element, quantity_name, xml.number(quantity), unitCode=UNIT_CODE)
    xml.amount(element, "LineExtensionAmount", line.net, currency)
    product = xml.cac(element, "Item")
    xml.cbc(product, "Name", _name(line))
    if line.sku.strip():
        xml.cbc(xml.cac(product, "SellersItemIdentification"), "ID", line.sku.strip())
    _category(product, "ClassifiedTaxCategory", item.category)
    xml.cbc(xml.cac(element, "Price"), "PriceAmount", xml.price(price), currencyID=currency)


def quantity_and_price(line: InvoiceLine) -> tuple[Decimal, Decimal]:
    """The quantity (negative for a negative line) and the net unit price (never negative: BR-27) whose
    product is the line's net within a cent (PEPPOL-EN16931-R120 allows 0.02)."""
    net = line.net
    if line.quantity == ZERO:
        return (Decimal(0), ZERO) if net == ZERO else (Decimal(-1 if net < ZERO else 1), abs(net))
    quantity = abs(line.quantity) * (-1 if net < ZERO else 1)
    price = abs(line.unit_price_for(include_vat=False))
    if abs(quantity * price - net) > PRICE_SLACK:
        price = (abs(net) / abs(line.quantity)).quantize(FINE_PRICE)
    return quantity, price


def _name(line: InvoiceLine) -> str:
    return line.description.strip() or DEFAULT_NAMES.get(line.kind, "Artikel")
