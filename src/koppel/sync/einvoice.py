"""Every invoice and credit note Koppel booked, as a UBL 2.1 / Peppol BIS Billing 3.0 e-invoice: the
document is made again from what the record keeps (the order as booked, or the refund and its order), the
seller from the merchant's profile (the account's company details)."""

from __future__ import annotations

from django.http import HttpResponse

from koppel.accounts.models import Account
from koppel.connectors.errors import OrderInvalid
from koppel.documents.checks import invoice_for
from koppel.documents.model import Invoice
from koppel.documents.ubl import Seller, SellerInvalid, invoice_ubl

from .models import Kind, Record, State


class NoEInvoice(Exception):
    """Why this record has no e-invoice (not booked, not an invoice, the profile incomplete)."""


def seller_of(account: Account) -> Seller:
    """The merchant as seller: the account's company details (Profile tab)."""
    data = {
        "name": account.company_name or account.name,
        "vat_number": account.vat_number,
        "coc_number": account.company_number,
        "street": account.street,
        "postal_code": account.postal_code,
        "city": account.city,
        "country": account.country or account.shop_country,
        "email": account.email,
        "iban": account.iban,
    }
    try:
        return Seller.from_json({k: v for k, v in data.items() if v})
    except SellerInvalid as exc:
        raise NoEInvoice(f"The company details in the Profile tab are not complete: {exc}") from None


def booked_document(record: Record) -> Invoice:
    """The invoice or credit note the record booked."""
    if record.state != State.HANDLED:
        raise NoEInvoice("Only a booked invoice or credit note has an e-invoice.")
    connection = record.connection
    if record.kind == Kind.ORDER:
        try:
            order = connection.parse_order(record.payload)
        except OrderInvalid as exc:  # kept from an older mapping, or not an order the mapping reads now
            raise NoEInvoice(f"The stored order cannot be read again: {exc.message}") from None
        return invoice_for(order, connection.check_context(vat_rates=None))
    if record.kind == Kind.REFUND:
        from .refunds import booked_credit_note

        return booked_credit_note(record)
    raise NoEInvoice("A marketplace invoice is bol.com's own: download its UBL from its page.")


def einvoice(record: Record) -> bytes:
    """The record's UBL document, numbered as the target numbered it."""
    document = booked_document(record)
    seller = seller_of(record.connection.account)
    return invoice_ubl(document, seller, number=record.target_invoice_number or None)


def filename(record: Record) -> str:
    kind = "creditnote" if record.kind == Kind.REFUND else "invoice"
    return f"{kind}-{record.target_invoice_number or record.target_invoice_id or record.pk}.xml"


def download(record: Record, body: bytes) -> HttpResponse:
    """The record's e-invoice (``einvoice(record)``) as an XML attachment named by ``filename``."""
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{filename(record)}"'
    return response
