"""The field-level specification of the KMO Shops → Factuursturen manual, as pure functions.

``debtor_body`` builds the ``POST clients`` body and ``invoice_body`` the ``POST invoices`` body from a
canonical invoice; nothing here calls the network, so ``koppel preview`` shows exactly what is sent.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any, Literal

from koppel.connectors.base import ConnectorSettings, setting
from koppel.documents.countries import country_by_code
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.model import Invoice, InvoiceLine, Party
from koppel.documents.money import cents, fmt, fmt_rate
from koppel.documents.vat import vat_compact

DEFAULT_COUNTRY = "Nederland"
#: Field lengths of the Factuursturen clients API; longer values are cut rather than refused.
MAX_LENGTHS = {
    "contact": 50,
    "company": 50,
    "address": 50,
    "city": 50,
    "phone": 13,
    "mobile": 13,
    "email": 255,
    "taxnumber": 18,
    "mailintro": 128,
}
TEXTS = {
    "nl": {
        "mailintro": "Geachte {first_name} {last_name},",
        "mailintro_anonymous": "Geachte heer/mevrouw,",
        "thanks": "Bedankt voor uw bestelling",
        "payment": "Betaalmethode",
        "credit_for": "Creditfactuur voor factuur {number}",
        "gift_card": "Cadeaubon",
        "gift_card_paid": "Betaald met cadeaubon: {amount}",
    },
    "en": {
        "mailintro": "Dear {first_name} {last_name},",
        "mailintro_anonymous": "Dear Sir or Madam,",
        "thanks": "Thank you for your order",
        "payment": "Payment method",
        "credit_for": "Credit note for invoice {number}",
        "gift_card": "Gift card",
        "gift_card_paid": "Paid with a gift card: {amount}",
    },
}


#: The status a new invoice gets (the seed's "Draft", "Finalize", "Finalize and send an email with a pdf").
DocumentStatus = Literal["draft", "final", "final_email"]
DOCUMENT_STATUS_LABELS = {
    "draft": _("Draft (saved, not final: you finalise it in the administration)"),
    "final": _("Final (you send it)"),
    "final_email": _("Final and e-mailed to the customer"),
}
#: ``savename`` of a saved invoice: "max 20; required for save/repeat" (research A1, invoice fields).
SAVENAME_MAX_LENGTH = 20


class FactuursturenSettings(ConnectorSettings):
    #: "draft": a saved invoice (``action`` save, ``savename`` from the order number), not final and not
    #: numbered until the merchant sends it from Factuursturen; "final": ``action`` send with sendmethod
    #: ``mail`` (final and numbered; the merchant sends it); "final_email": ``action`` send with sendmethod
    #: ``email`` (Factuursturen e-mails it to the debtor, who then needs an e-mail address).
    document_status: DocumentStatus = setting(
        "final",
        _("Document status"),
        _("What a new invoice is in Factuursturen: a draft you finalise, final, or final and e-mailed."),
        choice_labels=DOCUMENT_STATUS_LABELS,
    )
    #: The older setting, kept for existing connections: "email" makes a "final" document status
    #: "final_email" (see :func:`document_status`); "manual" changes nothing.
    send_invoice: Literal["manual", "email"] = setting(
        "manual",
        _("Send invoice"),
        _(
            "Whether Factuursturen e-mails the invoice to the customer, or you send it yourself. Yes with "
            'Document status "Final" is the same as "Final and e-mailed"; a draft is never e-mailed.'
        ),
        choice_labels={
            "manual": _("No: I send invoices myself"),
            "email": _("Yes: Factuursturen e-mails each invoice"),
        },
    )
    #: The invoice layout (Factuursturen "profile" id); empty uses the administration's default.
    profile: str = setting(
        "", _("Invoice layout"), _("Empty: the administration's default layout."), choices_from="layouts"
    )
    #: Language of the texts Koppel writes on debtors and invoices.
    language: Literal["nl", "en"] = setting(
        "nl",
        _("Language of the invoice texts"),
        choice_labels={"nl": "Nederlands", "en": "English"},
    )
    mailintro: str = setting(
        "", _("Salutation"), _('Empty: "Geachte {first_name} {last_name}," in the language chosen.')
    )
    client_reference: str = setting("", _("Debtor reference"), _('Empty: "Bedankt voor uw bestelling".'))


def country_name(raw: str) -> str:
    """A 2- or 3-letter code becomes the country's name; empty means the Netherlands (the manual)."""
    value = raw.strip()
    if not value:
        return DEFAULT_COUNTRY
    if len(value) in (2, 3):
        country = country_by_code(value)
        if country is not None:
            return country.name_nl
    return value


def phone_number(value: str) -> str:
    """Drop spaces, dots, dashes and brackets, so international numbers fit the 13 characters."""
    value = value.strip()
    if value.startswith("+"):
        value = value.replace("(0)", "")  # +31 (0)20 ...: the trunk zero is not dialled after a country code
    return re.sub(r"[\s.\-()/]", "", value)


def _fit(body: dict[str, Any]) -> dict[str, Any]:
    for field, limit in MAX_LENGTHS.items():
        if isinstance(body.get(field), str):
            body[field] = body[field][:limit]
    return body


def document_status(settings: FactuursturenSettings) -> str:
    """The status booked: ``document_status``, where "final" (the default) with the older
    ``send_invoice="email"`` is "final_email", so connections made before the setting keep e-mailing.
    "draft" and "final_email" win over ``send_invoice`` either way."""
    if settings.document_status == "final" and settings.send_invoice == "email":
        return "final_email"
    return settings.document_status


def sendmethod(settings: FactuursturenSettings) -> str:
    return "email" if document_status(settings) == "final_email" else "mail"


def savename(order_number: str) -> str:
    """The saved invoice's name (at most 20 characters): the order number; a longer one is cut to 12
    characters plus a dash and 7 hex digits of its hash, so two long order numbers never share a name."""
    number = order_number.strip()
    if len(number) <= SAVENAME_MAX_LENGTH:
        return number
    digest = hashlib.sha1(number.encode(), usedforsecurity=False).hexdigest()[:7]
    return f"{number[: SAVENAME_MAX_LENGTH - 8]}-{digest}"


def mailintro(party: Party, settings: FactuursturenSettings) -> str:
    if not party.full_name and not settings.mailintro:
        return TEXTS[settings.language]["mailintro_anonymous"]
    template = settings.mailintro or TEXTS[settings.language]["mailintro"]
    text = template.format(first_name=party.first_name, last_name=party.last_name)
    return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()


def debtor_body(invoice: Invoice, settings: FactuursturenSettings) -> dict[str, Any]:
    party = invoice.customer
    return _fit(
        {
            "contact": party.full_name,
            "showcontact": True,
            "company": party.company,
            "address": party.address_line,
            "zipcode": party.zipcode,
            "city": party.city,
            "country": country_name(party.country_raw),
            "phone": phone_number(party.phone),
            "mobile": phone_number(party.mobile),
            "email": party.email,
            "bankcode": "",
            "taxnumber": vat_compact(party.vat_number),
            "tax_shifted": invoice.intra_community,
            "sendmethod": sendmethod(settings),
            "paymentmethod": "bank",
            "mailintro": mailintro(party, settings),
            "reference": {
                "line1": settings.client_reference or TEXTS[settings.language]["thanks"],
                "line2": "",
                "line3": "",
            },
            "notes_on_invoice": False,
            "tax_type": "intax" if invoice.prices_include_vat else "extax",
        }
    )


def _quantity(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral() else str(value.normalize())


def unit_price(value: Decimal) -> str:
    """Two decimals, or up to four when a converted price needs them to add up to the cent."""
    return fmt(value) if value == cents(value) else f"{value.normalize():f}"


def invoice_line(line: InvoiceLine, *, prices_include_vat: bool) -> dict[str, str]:
    return {
        "amount": _quantity(line.quantity),
        "description": line.description,
        "tax_rate": fmt_rate(line.vat_rate),
        "price": unit_price(line.unit_price_for(include_vat=prices_include_vat)),
    }


def invoice_body(
    invoice: Invoice, clientnr: str, *, debtor_prices_include_vat: bool, settings: FactuursturenSettings
) -> dict[str, Any]:
    """``POST invoices``: prices incl. or excl. VAT as the debtor's ``tax_type`` says; ``action`` send (final)
    or save (a draft, with its ``savename``) as the document status says."""
    payment = invoice.payment_method.strip()
    draft = document_status(settings) == "draft"
    body: dict[str, Any] = {
        "clientnr": clientnr,
        "action": "save" if draft else "send",
        **({"savename": savename(invoice.order_number)} if draft else {}),
        "sendmethod": sendmethod(settings),
        "sent": invoice.date.isoformat(),
        "reference": {
            "line1": invoice.order_number,
            "line2": f"{TEXTS[settings.language]['payment']}: {payment}" if payment else "",
            "line3": prepaid_text(invoice, settings),
        },
        "lines": [invoice_line(line, prices_include_vat=debtor_prices_include_vat) for line in invoice.lines],
    }
    if settings.profile:
        body["profile"] = settings.profile
    body.update(already_paid(invoice, settings))
    return body


def prepaid_text(invoice: Invoice, settings: FactuursturenSettings) -> str:
    """Reference line3 of an invoice a gift card paid part of: how much (empty without one)."""
    if not invoice.prepaid:
        return ""
    text = TEXTS[settings.language]["gift_card_paid"].format(amount=fmt(invoice.prepaid_amount))
    return text[:REFERENCE_LINE_LENGTH]


def already_paid(invoice: Invoice, settings: FactuursturenSettings) -> dict[str, str]:
    """``alreadypaid`` (a number or ``"full"``) and ``alreadypaidmethod`` (max 32): a paid order in full,
    else the part gift cards paid (Factuursturen keeps one paid amount per invoice), else nothing."""
    payment = invoice.payment_method.strip()
    if invoice.paid:
        return {"alreadypaid": "full", **({"alreadypaidmethod": payment[:32]} if payment else {})}
    if invoice.prepaid:
        method = TEXTS[settings.language]["gift_card"]
        return {"alreadypaid": fmt(invoice.prepaid_amount), "alreadypaidmethod": method[:32]}
    return {}


# -- credit notes --------------------------------------------------------------------------------------------

#: Reference lines hold at most this many characters (an assumption: Factuursturen documents no length).
REFERENCE_LINE_LENGTH = 100


def credit_line(line: InvoiceLine, *, prices_include_vat: bool) -> dict[str, str]:
    """A credited line: the invoice line with its unit price negated, so quantity × price is minus what
    is credited (Factuursturen takes negative prices, as a discount line "Korting" shows)."""
    body = invoice_line(line, prices_include_vat=prices_include_vat)
    return {**body, "price": unit_price(-line.unit_price_for(include_vat=prices_include_vat))}


def credit_reference_lines(credit: Invoice, settings: FactuursturenSettings) -> dict[str, str]:
    """line1: the credit note's reference (how it is found again); line2: the invoice it credits, by its
    number; line3: why it is credited."""
    number = credit.credit_for or credit.credit_for_id
    return {
        "line1": credit.order_number,
        "line2": TEXTS[settings.language]["credit_for"].format(number=number)[:REFERENCE_LINE_LENGTH],
        "line3": " ".join(credit.credit_reason.split())[:REFERENCE_LINE_LENGTH],
    }


def credit_body(
    credit: Invoice, clientnr: str, *, debtor_prices_include_vat: bool, settings: FactuursturenSettings
) -> dict[str, Any]:
    """``POST invoices`` for a credit note (``credit.is_credit_note``, positive amounts): a negative invoice
    for the original's debtor, sent or saved as the document status says like any invoice, its reference
    naming the invoice it credits. A refund of a paid order is paid back: the credit note is settled."""
    body = invoice_body(
        credit, clientnr, debtor_prices_include_vat=debtor_prices_include_vat, settings=settings
    )
    body["reference"] = credit_reference_lines(credit, settings)
    body["lines"] = [credit_line(line, prices_include_vat=debtor_prices_include_vat) for line in credit.lines]
    return body
