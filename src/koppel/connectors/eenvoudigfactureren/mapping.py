"""The field-level specification of the KMO Shops → EenvoudigFactureren manual, as pure functions.

``client_body`` builds the ``POST clients`` body and ``invoice_body`` the ``POST invoices`` body from a
canonical invoice; nothing here calls the network, so ``koppel preview`` shows exactly what is sent.

The manual, and how it maps:

- customer identifier → ``client_id`` (the debtor found by e-mail or created);
- invoice number empty by default (EenvoudigFactureren numbers it), the order number on request
  (``invoice_number="order_number"``);
- payment period 14 days, not adjustable → ``expiry_date`` = date + 14;
- reference = order number by default, adjustable with a template (``reference``);
- date = the order date; amounts incl. VAT by default (``tax_included``), excl. VAT on request;
- one item per order line (product name, VAT percentage, quantity, unit price) plus shipping;
- the customer block: name = company, or first + last name without one; "to the attention of" only with a
  company; address line, postal code, city, e-mail, phone; and the contact (name, e-mail, phone).
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import field_validator

from koppel.connectors.base import ConnectorSettings, setting
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.model import Invoice, InvoiceLine, Party
from koppel.documents.money import cents, fmt
from koppel.documents.vat import vat_compact

#: The manual: "Payment period 14 — not adjustable".
PAYMENT_DAYS = 14
DEFAULT_REFERENCE = "{order_number}"
#: What a reference template may use.
REFERENCE_FIELDS = ("order_number", "payment_method", "order_date", "customer_name")
#: Field lengths of the EenvoudigFactureren clients and invoices API; longer values are cut.
CLIENT_MAX_LENGTHS = {
    "name": 75,
    "attention": 100,
    "street": 150,
    "street2": 150,
    "city": 50,
    "postal_code": 10,
}
REFERENCE_MAX_LENGTH = 255
EXTERNAL_ID_MAX_LENGTH = 50
#: ``tax_rate_special_status`` for a 0% intra-community supply of goods.
INTRA_COMMUNITY_GOODS = "ICL"
#: The status a new invoice gets (the seed's "Draft", "Finalize", "Finalize and send an email with a pdf").
DocumentStatus = Literal["draft", "final", "final_email"]
DOCUMENT_STATUS_LABELS = {
    "draft": _("Draft (saved, not final: you finalise it in the administration)"),
    "final": _("Final (you send it)"),
    "final_email": _("Final and e-mailed to the customer"),
}
#: EenvoudigFactureren's API has no draft: an invoice made through it is numbered and final at once
#: (research A2 lists no concept or draft field or domain; the vendor's own plugin only creates and
#: e-mails), so "draft" is refused where the setting is validated.
NO_DRAFTS = (
    "EenvoudigFactureren cannot make draft invoices through its API: every invoice it makes is final and "
    'numbered. Choose "Final" or "Final and e-mailed to the customer".'
)


class EenvoudigFacturerenSettings(ConnectorSettings):
    #: "final": ``POST invoices`` (final and numbered; the merchant sends it); "final_email": then
    #: ``POST invoices/{id}/sendemail`` to the main contact; "draft" is refused (:data:`NO_DRAFTS`).
    document_status: DocumentStatus = setting(
        "final",
        _("Document status"),
        _(
            "What a new invoice is in EenvoudigFactureren: final, or final and e-mailed. EenvoudigFactureren "
            "cannot make drafts through its API."
        ),
        choice_labels=DOCUMENT_STATUS_LABELS,
    )
    #: "automatic": EenvoudigFactureren numbers the invoice (the manual recommends it); "order_number": the
    #: invoice number is the order number.
    invoice_number: Literal["automatic", "order_number"] = setting(
        "automatic",
        _("Invoice number"),
        _("EenvoudigFactureren numbers invoices (recommended), or the invoice number is the order number."),
        choice_labels={"automatic": _("Numbered by EenvoudigFactureren"), "order_number": _("Order number")},
    )
    #: The invoice's reference; placeholders: {order_number}, {payment_method}, {order_date},
    #: {customer_name}. It must contain {order_number}.
    reference: str = setting(
        DEFAULT_REFERENCE,
        _("Reference"),
        _(
            "Must contain {order_number}; may also use {payment_method}, {order_date} and {customer_name}, "
            "e.g. {order_number} / {payment_method}."
        ),
    )
    #: Amounts incl. VAT (the manual's default) or excl. VAT.
    amounts_include_vat: bool = setting(True, _("Amounts include VAT"), _("Off: amounts excl. VAT."))
    #: E-mail the invoice to the customer after it is created (off by default, as in the manual). The older
    #: setting, kept for existing connections: on, it makes a "final" document status "final_email".
    send_invoice: bool = setting(
        False,
        _("Send invoice"),
        _(
            "E-mail the invoice to the customer as soon as it is created; on with Document status "
            '"Final" is the same as "Final and e-mailed".'
        ),
    )
    #: The invoice layout (``layout_id``); empty uses the account's default.
    layout_id: str = setting(
        "", _("Invoice layout"), _("Empty: the account's default layout."), choices_from="layouts"
    )
    #: Business customers (with a VAT number) get their invoices and credit notes through Peppol.
    peppol_for_businesses: bool = setting(
        False,
        _("Send business invoices through Peppol"),
        _(
            "A business customer with a VAT number gets its invoices and credit notes through the Peppol "
            "network (EenvoudigFactureren sends them as Peppol BIS 3.0 e-invoices; B2B e-invoicing is "
            "mandatory in Belgium since 2026), and by e-mail too when the documents are e-mailed. Consumers "
            "keep e-mail."
        ),
    )
    #: Register the payment of a paid order, so the invoice is not left open.
    mark_paid: bool = setting(
        True, _("Register payments"), _("Mark the invoice of a paid order as paid, so it is not left open.")
    )

    @field_validator("reference")
    @classmethod
    def _reference_template(cls, value: str) -> str:
        value = value.strip()
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"reference template {value!r} is malformed: {exc}") from None
        unknown = names - set(REFERENCE_FIELDS)
        if unknown:
            raise ValueError(
                f"reference template uses unknown placeholder(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join('{' + f + '}' for f in REFERENCE_FIELDS)}"
            )
        if "order_number" not in names:
            raise ValueError("reference template must contain {order_number}, so a booked order can be found")
        return value

    @field_validator("document_status")
    @classmethod
    def _no_drafts(cls, value: str) -> str:
        if value == "draft":
            raise ValueError(NO_DRAFTS)
        return value

    @field_validator("layout_id")
    @classmethod
    def _layout(cls, value: str) -> str:
        value = value.strip()
        if value and not value.isdigit():
            raise ValueError(f"layout_id must be a number, not {value!r}")
        return value


def emails_invoice(settings: EenvoudigFacturerenSettings) -> bool:
    """Whether a new invoice is e-mailed: document status "final_email", or "final" (the default) with the
    older ``send_invoice`` on, so connections made before the setting keep e-mailing."""
    return settings.document_status == "final_email" or settings.send_invoice


def sends_by_peppol(invoice: Invoice, settings: EenvoudigFacturerenSettings) -> bool:
    """A business customer with a VAT number, and the connection sends such documents through Peppol."""
    return settings.peppol_for_businesses and bool(invoice.customer.vat_number.strip())


def sending(invoice: Invoice, settings: EenvoudigFacturerenSettings) -> tuple[str, dict] | None:
    """The call that sends a new document, if any: ``send`` with Peppol (and e-mail when the connection
    e-mails), or ``sendemail``."""
    if sends_by_peppol(invoice, settings):
        methods: dict = {"peppol": {}}
        if emails_invoice(settings):
            methods["email"] = {"recipient": "main_contact"}
        return "send", {"methods": methods}
    if emails_invoice(settings):
        return "sendemail", {"recipient": "main_contact"}
    return None


def reference(invoice: Invoice, settings: EenvoudigFacturerenSettings) -> str:
    text = settings.reference.format(
        order_number=invoice.order_number,
        payment_method=invoice.payment_method.strip(),
        order_date=invoice.date.isoformat(),
        customer_name=invoice.customer.company or invoice.customer.full_name,
    )
    # A template such as "{order_number} / {payment_method}" without a payment method loses its separator.
    text = re.sub(r"[\s/|,;:-]+$", "", text.strip())
    return text[:REFERENCE_MAX_LENGTH]


def client_name(party: Party) -> tuple[str, str]:
    """``(name, attention)``: the company with the person to its attention, else the person alone."""
    person = party.full_name or party.email
    if party.company.strip():
        attention = party.full_name if party.full_name != party.company.strip() else ""
        return party.company.strip(), attention
    return person, ""


def street(party: Party) -> str:
    return " ".join(part for part in (party.street, party.house_number) if part)


def client_body(invoice: Invoice) -> dict[str, Any]:
    party = invoice.customer
    name, attention = client_name(party)
    phone = party.phone.strip() or party.mobile.strip()
    mobile = party.mobile.strip() if party.phone.strip() else ""
    body: dict[str, Any] = {
        "name": name,
        "attention": attention,
        "street": street(party),
        "street2": party.address2,
        "postal_code": party.zipcode,
        "city": party.city,
        "email_address": party.email.strip(),
        "phone_number": phone,
        "mobile_number": mobile,
        "tax_code": vat_compact(party.vat_number),
    }
    if party.country is not None:
        body["country_code"] = party.country.alpha2
    for field, limit in CLIENT_MAX_LENGTHS.items():
        body[field] = body[field][:limit]
    if party.full_name or party.email:
        body["contacts"] = [
            {"name": party.full_name, "email_address": party.email.strip(), "phone_number": phone}
        ]
    return body


def _number(value: Decimal) -> str:
    """Two decimals, or up to four when a converted unit price needs them to add up to the cent."""
    return fmt(value) if value == cents(value) else f"{value.normalize():f}"


def _quantity(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral() else f"{value.normalize():f}"


def _rate(value: Decimal) -> str:
    return _quantity(value)


def item(line: InvoiceLine, *, include_vat: bool, intra_community: bool) -> dict[str, str]:
    price_field = "amount_with_tax" if include_vat else "amount"
    body = {
        "description": line.description,
        "quantity": _quantity(line.quantity),
        price_field: _number(line.unit_price_for(include_vat=include_vat)),
        "tax_rate": _rate(line.vat_rate),
    }
    if intra_community:
        body["tax_rate_special_status"] = INTRA_COMMUNITY_GOODS
    return body


def invoice_body(
    invoice: Invoice, client_id: int | str, settings: EenvoudigFacturerenSettings
) -> dict[str, Any]:
    include_vat = settings.amounts_include_vat
    body: dict[str, Any] = {
        "client_id": client_id,
        "external_invoice_id": invoice.order_number[:EXTERNAL_ID_MAX_LENGTH],
        "date": invoice.date.isoformat(),
        "expiry_date": (invoice.date + timedelta(days=PAYMENT_DAYS)).isoformat(),
        "reference": reference(invoice, settings),
        "tax_included": include_vat,
        "items": [
            item(line, include_vat=include_vat, intra_community=invoice.intra_community)
            for line in invoice.lines
        ],
    }
    if settings.invoice_number == "order_number":
        body["number"] = invoice.order_number
    if settings.layout_id:
        body["layout_id"] = int(settings.layout_id)
    if settings.mark_paid and (payments := payments_of(invoice)):
        body["payments"] = payments
    return body


def payments_of(invoice: Invoice) -> list[dict[str, str]]:
    """The payments registered with the invoice: each gift card redeemed, at its amount, then, for a paid
    order, what is still open (``remaining_amount``) with the order's payment method."""
    day = invoice.date.isoformat()
    payments = [
        {"date": day, "amount": fmt(p.amount), "description": p.description[:PAYMENT_DESCRIPTION_LENGTH]}
        for p in invoice.prepaid
    ]
    if invoice.paid and (invoice.payable or not invoice.prepaid):
        description = invoice.payment_method.strip() or "Webshop"
        payments.append({"date": day, "remaining_amount": "yes", "description": description})
    return payments


#: The length Koppel keeps a payment's description to (none is documented; the sandbox keeps 255).
PAYMENT_DESCRIPTION_LENGTH = 255


# -- credit notes --------------------------------------------------------------------------------------------

#: ``type`` of a document whose total is negative: EenvoudigFactureren's credit note (research A2: ``type``
#: ``invoice``|``creditnote``, derived from the sign of the total).
CREDIT_NOTE_TYPE = "creditnote"
#: The text on the credit note naming the invoice it credits (EenvoudigFactureren is Belgian: "creditnota").
CREDIT_REMARK = "Creditnota voor factuur {number}"


def credit_item(line: InvoiceLine, *, include_vat: bool, intra_community: bool) -> dict[str, str]:
    """A credited line: the invoice item with its unit price negated, so the document's total is negative."""
    body = item(line, include_vat=include_vat, intra_community=intra_community)
    price_field = "amount_with_tax" if include_vat else "amount"
    return {**body, price_field: _number(-line.unit_price_for(include_vat=include_vat))}


def credit_remarks(credit: Invoice) -> str:
    """The invoice credited, by its number, and why."""
    text = CREDIT_REMARK.format(number=credit.credit_for or credit.credit_for_id)
    reason = " ".join(credit.credit_reason.split())
    return f"{text}: {reason}" if reason else text


def credit_body(
    credit: Invoice, client_id: int | str, settings: EenvoudigFacturerenSettings
) -> dict[str, Any]:
    """``POST invoices`` for a credit note (``credit.is_credit_note``, positive amounts): a document of type
    ``creditnote`` (negative items) for the original's client, its ``external_invoice_id`` and
    ``reference`` the credit note's reference, its ``remarks`` naming the invoice it credits.
    EenvoudigFactureren numbers it; a refund of a paid order is paid back, so the credit note is registered
    as settled."""
    body = invoice_body(credit, client_id, settings)
    body.pop("number", None)  # the order number is the invoice's; a credit note gets its own number
    body["type"] = CREDIT_NOTE_TYPE
    body["reference"] = credit.order_number[:REFERENCE_MAX_LENGTH]
    body["remarks"] = credit_remarks(credit)
    body["items"] = [
        credit_item(line, include_vat=settings.amounts_include_vat, intra_community=credit.intra_community)
        for line in credit.lines
    ]
    return body
