"""EenvoudigFactureren as a target: debtors matched by e-mail and never modified, VAT percentages passed
straight through, invoices found by the order number before they are created, optionally e-mailed."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from koppel.connectors.base import BookedInvoice, Debtor, Layout, PlannedRequest, TargetConnector
from koppel.connectors.errors import ConnectorError, Rejected
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.model import Invoice, Party

from . import mapping
from .client import PRODUCTION_URL, EenvoudigFacturerenClient

#: What ``koppel preview`` puts where the client id from ``POST clients`` will go.
NEW_DEBTOR = "<client_id from POST clients>"
NEW_INVOICE = "<invoice_id from POST invoices>"
#: ... and where the client id of the credited invoice's client goes.
DEBTOR = "<client_id of the credited invoice's client>"
#: 0% always exists in EenvoudigFactureren (exempt, intra-community, export); the settings list the others.
ZERO_RATE = Decimal(0)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip().replace(",", ".")) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _id(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _lookup(field: str, value: str) -> dict[str, str]:
    """Query parameters finding ``field == value``: ``filter`` (its conditions are separated by commas, so a
    value with a comma is looked up with ``search`` instead; the caller checks the match either way)."""
    return {"search": value} if "," in value else {"filter": f"{field}={value}"}


def _client_id(debtor_id: str) -> int | str:
    return int(debtor_id) if debtor_id.isdigit() else debtor_id


class EenvoudigFacturerenTarget(TargetConnector):
    kind = "eenvoudigfactureren"
    label = "EenvoudigFactureren"
    credential_fields = ("api_key",)
    credential_help = {
        "api_key": (
            _("API key"),
            _("In EenvoudigFactureren under Settings → API: click Add API key and copy the key."),
        )
    }
    url_label = _("API address")
    url_help = _("Leave as it is unless you use a test environment.")
    settings_model = mapping.EenvoudigFacturerenSettings
    default_vat_rates = frozenset({Decimal("21"), Decimal("12"), Decimal("6"), ZERO_RATE})
    production_url = PRODUCTION_URL

    def __init__(self, *, url: str, credentials: Mapping[str, str], settings=None, log=None) -> None:
        super().__init__(url=url, credentials=credentials, settings=settings, log=log)
        self.client = EenvoudigFacturerenClient(url or PRODUCTION_URL, credentials["api_key"], log=self.log)

    def close(self) -> None:
        self.client.close()

    def test_connection(self) -> None:
        account = self.client.get("accounts/current")
        if not isinstance(account, dict) or not (account.get("number") or account.get("account_id")):
            raise Rejected("EenvoudigFactureren did not return the account for this API key", side="target")

    def vat_rates(self) -> frozenset[Decimal]:
        data = self.client.get("settings", {"fields": "taxes"})
        taxes = data.get("taxes") if isinstance(data, dict) else None
        rates = {ZERO_RATE}
        for entry in (taxes or {}).values() if isinstance(taxes, dict) else taxes or []:
            rate = _decimal(entry.get("rate") if isinstance(entry, dict) else entry)
            if rate is not None:
                rates.add(rate)
        return frozenset(rates)

    def layouts(self) -> list[Layout]:
        return [
            Layout(id=_id(item.get("layout_id") or item.get("id")), name=str(item.get("name", "")))
            for item in self.client.get_list("layouts", {})
        ]

    def find_debtor(self, party: Party) -> Debtor | None:
        email = party.email.strip().lower()
        if not email:
            return None
        found = self.client.get_list("clients", _lookup("email_address", email) | {"limit": "10"})
        for client in found:  # the filter is case-insensitive; check rather than trust it
            if str(client.get("email_address", "")).strip().lower() == email:
                return Debtor(id=_id(client.get("client_id")), email=email, name=str(client.get("name", "")))
        return None

    def create_debtor(self, invoice: Invoice) -> Debtor:
        created = self.client.post("clients", mapping.client_body(invoice))
        client_id = _id(created.get("client_id"))
        if not client_id:
            raise Rejected("EenvoudigFactureren created a client without a client_id", side="target")
        name, _ = mapping.client_name(invoice.customer)
        return Debtor(id=client_id, email=invoice.customer.email.strip().lower(), name=name)

    def find_invoice(self, invoice: Invoice) -> BookedInvoice | None:
        number = invoice.order_number
        for found in self.client.get_list("invoices", _lookup("external_invoice_id", number)):
            if str(found.get("external_invoice_id", "")).strip() == number[: mapping.EXTERNAL_ID_MAX_LENGTH]:
                return self._booked(found)
        # An invoice made by hand carries the order number (or our reference) in its reference.
        references = {number, mapping.reference(invoice, self.settings)}
        for found in self.client.get_list("invoices", {"search": number}):
            if str(found.get("reference", "")).strip() in references:
                return self._booked(found)
        return None

    def create_invoice(self, invoice: Invoice, debtor: Debtor) -> BookedInvoice:
        body = mapping.invoice_body(invoice, _client_id(debtor.id), self.settings)
        return self._book(body, mapping.sending(invoice, self.settings))

    def find_credit_note(self, credit: Invoice) -> BookedInvoice | None:
        """The credit note whose ``external_invoice_id`` (booked by Koppel) or ``reference`` (booked by hand
        too) is the credit note's reference."""
        reference = credit.order_number
        found = self.client.get_list("invoices", _lookup("external_invoice_id", reference))
        for item in found:
            if (
                str(item.get("external_invoice_id", "")).strip()
                == reference[: mapping.EXTERNAL_ID_MAX_LENGTH]
            ):
                return self._booked(item)
        for item in self.client.get_list("invoices", {"search": reference}):
            if str(item.get("reference", "")).strip() == reference[: mapping.REFERENCE_MAX_LENGTH]:
                return self._booked(item)
        return None

    def create_credit_note(self, credit: Invoice, debtor: Debtor) -> BookedInvoice:
        """A document of type ``creditnote`` (negative items) for the original invoice's client, naming the
        invoice it credits; e-mailed as the document status says, like an invoice."""
        body = mapping.credit_body(credit, _client_id(debtor.id), self.settings)
        return self._book(body, mapping.sending(credit, self.settings))

    def _book(self, body: dict[str, Any], sending: tuple[str, dict] | None) -> BookedInvoice:
        """``POST invoices``, then send it as the connection says (``sendemail``, or ``send`` with Peppol)."""
        booked = self._booked(self.client.post("invoices", body))
        if not booked.id:
            raise Rejected("EenvoudigFactureren created an invoice without an invoice_id", side="target")
        if sending is not None:
            return self._send(booked, *sending)
        return booked

    def _send(self, booked: BookedInvoice, action: str, body: dict) -> BookedInvoice:
        peppol = "peppol" in body.get("methods", {})
        try:
            self.client.post(f"invoices/{quote(booked.id, safe='')}/{action}", body)
        except ConnectorError as exc:
            what = "sending it through Peppol" if peppol else "e-mailing it to the customer"
            note = f"{what} failed ({exc.message}); send it from EenvoudigFactureren"
            return BookedInvoice(booked.id, booked.number, booked.reference, note=note)
        how = "sent through Peppol" if peppol else "e-mailed"
        return BookedInvoice(booked.id, booked.number, booked.reference, note=f"{how} to the customer")

    def invoice_pdf(self, booked: BookedInvoice) -> bytes:
        response = self.client.request(
            "GET", f"invoices/{quote(booked.id, safe='')}", params={"format": "pdf"}
        )
        return response.content

    @staticmethod
    def _booked(found: Mapping[str, Any]) -> BookedInvoice:
        return BookedInvoice(
            id=_id(found.get("invoice_id")),
            number=_id(found.get("number")),
            reference=str(found.get("reference") or ""),
        )

    @classmethod
    def planned_requests(cls, invoice: Invoice, settings: Any) -> list[PlannedRequest]:
        settings = cls.load_settings(settings)
        number, email = invoice.order_number, invoice.customer.email.strip().lower()
        plan = [
            PlannedRequest("GET", f"invoices?filter={quote(f'external_invoice_id={number}', safe='')}"),
            PlannedRequest("GET", f"invoices?search={quote(number, safe='')}"),
        ]
        if email:
            plan.append(
                PlannedRequest("GET", f"clients?filter={quote(f'email_address={email}', safe='')}&limit=10")
            )
        plan += [
            PlannedRequest("POST", "clients", mapping.client_body(invoice)),
            PlannedRequest("POST", "invoices", mapping.invoice_body(invoice, NEW_DEBTOR, settings)),
        ]
        if (sending := mapping.sending(invoice, settings)) is not None:
            plan.append(PlannedRequest("POST", f"invoices/{NEW_INVOICE}/{sending[0]}", sending[1]))
        return plan

    @classmethod
    def planned_credit_requests(cls, credit: Invoice, settings: Any) -> list[PlannedRequest]:
        """The two look-ups by reference, ``POST invoices`` of the credit note, and its e-mail."""
        settings = cls.load_settings(settings)
        reference = credit.order_number
        plan = [
            PlannedRequest("GET", f"invoices?filter={quote(f'external_invoice_id={reference}', safe='')}"),
            PlannedRequest("GET", f"invoices?search={quote(reference, safe='')}"),
            PlannedRequest("POST", "invoices", mapping.credit_body(credit, DEBTOR, settings)),
        ]
        if (sending := mapping.sending(credit, settings)) is not None:
            plan.append(PlannedRequest("POST", f"invoices/{NEW_INVOICE}/{sending[0]}", sending[1]))
        return plan


TARGET = EenvoudigFacturerenTarget
