"""The field-level specification of the KMO Shops → Factuursturen manual, as pure functions.

``debtor_body`` builds the ``POST clients`` body and ``invoice_body`` the ``POST invoices`` body from a
canonical invoice; nothing here calls the network, so ``koppel preview`` shows exactly what is sent.
"""

from __future__ import annotations

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
    },
    "en": {
        "mailintro": "Dear {first_name} {last_name},",
        "mailintro_anonymous": "Dear Sir or Madam,",
        "thanks": "Thank you for your order",
        "payment": "Payment method",
    },
}


class FactuursturenSettings(ConnectorSettings):
    #: "manual": invoices are created with sendmethod ``mail`` (the merchant sends them); "email":
    #: Factuursturen e-mails them to the debtor (client and invoice sendmethod ``email``).
    send_invoice: Literal["manual", "email"] = setting(
        "manual",
        _("Send invoice"),
        _("Whether Factuursturen e-mails the invoice to the customer, or you send it yourself."),
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


def sendmethod(settings: FactuursturenSettings) -> str:
    return "email" if settings.send_invoice == "email" else "mail"


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
    """``POST invoices``: prices incl. or excl. VAT as the debtor's ``tax_type`` says."""
    payment = invoice.payment_method.strip()
    body: dict[str, Any] = {
        "clientnr": clientnr,
        "action": "send",
        "sendmethod": sendmethod(settings),
        "sent": invoice.date.isoformat(),
        "reference": {
            "line1": invoice.order_number,
            "line2": f"{TEXTS[settings.language]['payment']}: {payment}" if payment else "",
            "line3": "",
        },
        "lines": [invoice_line(line, prices_include_vat=debtor_prices_include_vat) for line in invoice.lines],
    }
    if settings.profile:
        body["profile"] = settings.profile
    if invoice.paid:
        body["alreadypaid"] = "full"
        if payment:
            body["alreadypaidmethod"] = payment[:32]
    return body
