"""The bodies Koppel sends Moneybird, as pure functions, so ``koppel preview`` shows exactly what is sent.

- ``contact_body``: ``POST contacts`` for a customer (company, or first and last name; address, e-mail
  where invoices go, VAT number, KvK number);
- ``sales_invoice_body``: ``POST sales_invoices``: reference = the order number, the order date, prices
  incl. or excl. VAT as the order has them, one detail per line with the tax rate id of its VAT
  percentage (:func:`choose_tax_rate` over the administration's ``tax_rates`` of type ``sales_invoice``);
- ``sending_body`` and ``payment_body``: ``PATCH send_invoice`` and ``POST payments``;
- ``supplier_body`` and ``purchase_invoice_body``: the purchase side (amounts excl. VAT; an exempt line gets
  the "Geen btw" rate).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from koppel.documents.model import Invoice, InvoiceLine, Party
from koppel.documents.money import cents, fmt
from koppel.documents.purchases import PurchaseInvoice, PurchaseLine, Supplier
from koppel.documents.vat import vat_compact

from .config import DELIVERY_METHODS, MoneybirdSettings

SALES, PURCHASES = "sales_invoice", "purchase_invoice"
#: Words in a 0% rate's name that mark it as intra-community or reverse charge, or as no VAT at all.
INTRA_COMMUNITY_WORDS = ("verlegd", "icp", "eu", "intracommunautair", "reverse")
EXEMPT_WORDS = ("geen", "vrijgesteld", "exempt", "buiten")
#: ``manual_payment_action`` of a payment that no bank transaction proves (the webshop's payment provider
#: collected it).
PAYMENT_ACTION = "payment_without_proof"


def placeholder_rate(rate: Decimal | None, kind: str = SALES) -> str:
    what = "no VAT" if rate is None else f"{fmt_percentage(rate)}%"
    return f"<tax_rate_id of {what} from GET tax_rates.json ({kind})>"


def fmt_percentage(rate: Decimal) -> str:
    text = f"{rate.normalize():f}"
    return text


def percentage(entry: Mapping[str, Any]) -> Decimal | None:
    try:
        value = entry.get("percentage")
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _name(entry: Mapping[str, Any]) -> str:
    return str(entry.get("name", "")).casefold()


def _has(entry: Mapping[str, Any], words: Iterable[str]) -> bool:
    name = _name(entry).replace("%", " ").replace("(", " ").replace(")", " ")
    return any(word in name.split() or (len(word) > 3 and word in name) for word in words)


def usable_rates(rates: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """The active tax rates of one type (``sales_invoice`` or ``purchase_invoice``)."""
    return [r for r in rates if r.get("tax_rate_type") == kind and r.get("active", True) is not False]


def choose_tax_rate(
    rates: Iterable[Mapping[str, Any]], rate: Decimal | None, *, intra_community: bool = False
) -> str | None:
    """The id of the tax rate for ``rate`` (``None``: no VAT, an exempt line) among ``rates`` (one type).

    Moneybird may have several rates of one percentage (0% btw, Geen btw, Btw verlegd): a 0% line of an
    intra-community supply prefers a reverse-charge rate, an exempt line a "Geen btw" rate, any other line
    the plain one; ``None`` when the administration has no rate of that percentage."""
    wanted = Decimal(0) if rate is None else rate
    same = [r for r in rates if percentage(r) == wanted or (rate is None and percentage(r) is None)]
    if not same:
        return None
    if wanted == 0:
        same.sort(key=lambda r: _zero_rank(r, exempt=rate is None, intra_community=intra_community))
    return str(same[0].get("id"))


def _zero_rank(entry: Mapping[str, Any], *, exempt: bool, intra_community: bool) -> int:
    reverse, none = _has(entry, INTRA_COMMUNITY_WORDS), _has(entry, EXEMPT_WORDS)
    if intra_community:
        return 0 if reverse else 2 if none else 1
    if exempt:
        return 0 if none else 1 if not reverse else 2
    return 0 if not (reverse or none) else 1 if none else 2


def _number(value: Decimal) -> str:
    """Two decimals, or up to four when a converted unit price needs them."""
    return fmt(value) if value == cents(value) else f"{value.normalize():f}"


def _quantity(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral() else f"{value.normalize():f}"


def _names(party: Party) -> dict[str, str]:
    company = party.company.strip()
    if not (company or party.first_name.strip() or party.last_name.strip()):
        company = party.email.strip()  # Moneybird needs a company name or a person's name
    return {
        "company_name": company,
        "firstname": party.first_name.strip(),
        "lastname": party.last_name.strip(),
    }


def contact_body(invoice: Invoice) -> dict[str, Any]:
    party = invoice.customer
    email = party.email.strip()
    contact: dict[str, Any] = {
        **_names(party),
        "address1": " ".join(part for part in (party.street, party.house_number) if part),
        "address2": party.address2,
        "zipcode": party.zipcode,
        "city": party.city,
        "phone": party.phone.strip() or party.mobile.strip(),
        "send_invoices_to_email": email,
        "send_estimates_to_email": email,
        "tax_number": vat_compact(party.vat_number),
        "chamber_of_commerce": party.company_number.strip(),
    }
    if party.country is not None:
        contact["country"] = party.country.alpha2
    return {"contact": contact}


def detail(
    line: InvoiceLine, tax_rate_id: str, *, include_vat: bool, ledger_account_id: str = ""
) -> dict[str, str]:
    body = {
        "description": line.description,
        "price": _number(line.unit_price_for(include_vat=include_vat)),
        "amount": _quantity(line.quantity),
        "tax_rate_id": tax_rate_id,
    }
    if ledger_account_id:
        body["ledger_account_id"] = ledger_account_id
    return body


def sales_invoice_body(
    invoice: Invoice, contact_id: str, tax_rate_ids: Mapping[Decimal, str], settings: MoneybirdSettings
) -> dict[str, Any]:
    """``tax_rate_ids``: the tax rate id of each VAT percentage of the invoice."""
    include_vat = invoice.prices_include_vat
    body: dict[str, Any] = {
        "contact_id": contact_id,
        "reference": invoice.order_number,
        "invoice_date": invoice.date.isoformat(),
        "currency": invoice.currency,
        "prices_are_incl_tax": include_vat,
        "details_attributes": [
            detail(
                line,
                tax_rate_ids[line.vat_rate],
                include_vat=include_vat,
                ledger_account_id=settings.revenue_ledger_account_id,
            )
            for line in invoice.lines
        ],
    }
    if settings.document_style_id:
        body["document_style_id"] = settings.document_style_id
    return {"sales_invoice": body}


def delivery_method(settings: MoneybirdSettings) -> str | None:
    """How a new invoice is sent; ``None`` for a draft, which is not sent."""
    return DELIVERY_METHODS.get(settings.document_status)


def sending_body(settings: MoneybirdSettings) -> dict[str, Any]:
    return {"sales_invoice_sending": {"delivery_method": delivery_method(settings)}}


def registers_payment(invoice: Invoice, settings: MoneybirdSettings) -> bool:
    paid = invoice.paid or bool(invoice.prepaid)
    return paid and settings.register_payments and delivery_method(settings) is not None


def payment_body(invoice: Invoice, price: Decimal | None = None) -> dict[str, Any]:
    """``POST payments`` of ``price`` (default: the whole invoice)."""
    return {
        "payment": {
            "payment_date": invoice.date.isoformat(),
            "price": fmt(invoice.gross if price is None else price),
            "manual_payment_action": PAYMENT_ACTION,
        }
    }


def payment_bodies(invoice: Invoice) -> list[dict[str, Any]]:
    """The payments to register: each gift card redeemed at its amount, then, for a paid order, the rest
    (Moneybird refuses a payment of more than is open, so the parts add up to the invoice)."""
    bodies = [payment_body(invoice, prepayment.amount) for prepayment in invoice.prepaid]
    if invoice.paid and (invoice.payable > 0 or not invoice.prepaid):
        bodies.append(payment_body(invoice, invoice.payable))
    return bodies


def supplier_body(supplier: Supplier) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "company_name": supplier.name.strip(),
        "address1": supplier.street,
        "zipcode": supplier.zipcode,
        "city": supplier.city,
        "tax_number": vat_compact(supplier.vat_number),
        "chamber_of_commerce": supplier.company_number.strip(),
        "send_invoices_to_email": supplier.email.strip(),
        "bank_account": supplier.iban.replace(" ", "").upper(),
    }
    if supplier.country.strip():
        contact["country"] = supplier.country.strip().upper()
    return {"contact": contact}


def purchase_detail(line: PurchaseLine, tax_rate_id: str, ledger_account_id: str) -> dict[str, str]:
    body = {
        "description": line.description,
        "price": fmt(line.net),
        "amount": "1",
        "tax_rate_id": tax_rate_id,
    }
    if ledger_account_id:
        body["ledger_account_id"] = ledger_account_id
    return body


def purchase_invoice_body(
    invoice: PurchaseInvoice,
    contact_id: str,
    tax_rate_ids: Mapping[Decimal | None, str],
    settings: MoneybirdSettings,
) -> dict[str, Any]:
    """``tax_rate_ids``: the purchase tax rate id of each line's VAT percentage (``None``: exempt)."""
    body: dict[str, Any] = {
        "contact_id": contact_id,
        "reference": invoice.reference,
        "date": invoice.date.isoformat(),
        "currency": invoice.currency,
        "prices_are_incl_tax": False,
        "details_attributes": [
            purchase_detail(
                line,
                tax_rate_ids[line.vat_rate],
                line.ledger_account_id or settings.purchase_ledger_account_id,
            )
            for line in invoice.lines
        ],
    }
    if invoice.due_date is not None:
        body["due_date"] = invoice.due_date.isoformat()
    return {"purchase_invoice": body}


# -- credit notes (Moneybird's credit invoices) -------------------------------------------------------------

#: The first detail of a partial credit invoice, naming the invoice it credits (no amount).
CREDIT_HEADER = "Creditfactuur voor factuur {number}"


def credit_header(credit: Invoice) -> str:
    text = CREDIT_HEADER.format(number=credit.credit_for or credit.credit_for_id)
    reason = " ".join(credit.credit_reason.split())
    return f"{text}: {reason}" if reason else text


def credit_detail(
    line: InvoiceLine, tax_rate_id: str, *, include_vat: bool, ledger_account_id: str = ""
) -> dict[str, str]:
    """A credited line: the invoice's detail with its amount (quantity) negated, as Moneybird's own credit
    invoice negates a duplicated invoice's amounts."""
    body = detail(line, tax_rate_id, include_vat=include_vat, ledger_account_id=ledger_account_id)
    return {**body, "amount": _quantity(-line.quantity)}


def credit_invoice_body(
    credit: Invoice, contact_id: str, tax_rate_ids: Mapping[Decimal, str], settings: MoneybirdSettings
) -> dict[str, Any]:
    """``POST sales_invoices`` for a partial credit (``credit.is_credit_note``, positive amounts): a sales
    invoice with negative amounts for the original's contact, its reference the credit note's reference, a
    first detail (no amount, at the first line's tax rate) naming the invoice it credits."""
    body = sales_invoice_body(credit, contact_id, tax_rate_ids, settings)["sales_invoice"]
    include_vat, ledger = credit.prices_include_vat, settings.revenue_ledger_account_id
    header = [
        {
            "description": credit_header(credit),
            "price": "0.00",
            "amount": "1",
            "tax_rate_id": tax_rate_ids[line.vat_rate],
        }
        for line in credit.lines[:1]
    ]
    body["details_attributes"] = [
        *header,
        *(
            credit_detail(
                line, tax_rate_ids[line.vat_rate], include_vat=include_vat, ledger_account_id=ledger
            )
            for line in credit.lines
        ),
    ]
    return {"sales_invoice": body}


def credits_all_of(credit: Invoice, original: Mapping[str, Any]) -> bool:
    """Whether ``credit`` credits the whole of the (final) sales invoice ``original``: same currency and
    total incl. VAT, and ``original`` is no credit invoice itself. Moneybird's own
    ``duplicate_creditinvoice`` then makes the credit invoice: exactly minus the invoice, linked to it by
    ``original_sales_invoice_id``."""
    try:
        total = Decimal(str(original.get("total_price_incl_tax")))
    except InvalidOperation:
        return False
    return (
        original.get("state") not in (None, "draft")
        and not original.get("original_sales_invoice_id")
        and str(original.get("currency") or "") == credit.currency
        and total == credit.gross
    )


def credit_update_body(credit: Invoice) -> dict[str, Any]:
    """``PATCH sales_invoices/{id}`` of a duplicated credit invoice: its reference (how it is found again)
    and date become the credit note's."""
    return {"sales_invoice": {"reference": credit.order_number, "invoice_date": credit.date.isoformat()}}
