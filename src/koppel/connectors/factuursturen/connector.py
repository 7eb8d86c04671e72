"""Factuursturen as a target: debtors matched by e-mail and never modified, invoices looked up by
reference before they are created.

The document status (:func:`mapping.document_status`) decides what ``POST invoices`` makes: a saved
invoice (``action`` save: a draft, not numbered, listed under ``invoices_saved``), or a sent one
(``action`` send, with sendmethod ``mail`` or ``email``). A saved invoice is booked as id ``saved:{id}``;
:meth:`FactuursturenTarget.find_invoice` looks for sent invoices and, on a connection that makes drafts,
then for saved ones, so a draft is found again, and not booked twice, like any invoice."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from koppel.connectors.base import BookedInvoice, Debtor, Layout, PlannedRequest, TargetConnector
from koppel.connectors.errors import ConnectorError, NotFound, Rejected
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.model import Invoice, Party

from . import mapping
from .client import PRODUCTION_URL, FactuursturenClient

#: What ``koppel preview`` puts where the debtor number from ``POST clients`` will go.
NEW_DEBTOR = "<clientnr from POST clients>"
#: ... and where the id ``POST invoices`` answers will go (the invoice is read back for its number).
NEW_INVOICE = "<id from POST invoices>"
#: ... and where the number of the debtor of the invoice a credit note credits goes.
DEBTOR = "<clientnr of the credited invoice's debtor>"
#: The prefix of a saved (draft) invoice's id in a booking: saved invoices have ids of their own.
SAVED = "saved:"
DRAFT_NOTE = "saved as a draft, not final: finalise it in Factuursturen (saved invoice {name!r})"
EMAILED_NOTE = "e-mailed to the customer by Factuursturen"


def _rate(item: Any) -> Decimal | None:
    value = item
    if isinstance(item, dict):
        value = next((item[k] for k in ("percentage", "rate", "tax_rate", "value") if k in item), None)
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def invoice_number(found: Mapping[str, Any]) -> str:
    """The number the customer sees on an invoice object (``invoicenr_full``, with the layout's prefix)."""
    return str(found.get("invoicenr_full") or found.get("invoicenr") or "")


def _unwrap(data: Any) -> Mapping[str, Any]:
    """``GET invoices/{id}`` answers ``{"invoice": {...}}``; some versions answer the bare object."""
    found = data.get("invoice", data) if isinstance(data, dict) else {}
    return found if isinstance(found, dict) else {}


def _line1(found: Mapping[str, Any]) -> str:
    ref = found.get("reference") or {}
    return str(ref.get("line1", "")).strip() if isinstance(ref, dict) else ""


def _includes_vat(tax_type: Any) -> bool | None:
    """``intax``/``extax`` as the debtor says; ``None`` (use the order's own) when it says nothing."""
    value = str(tax_type or "").strip().lower()
    return {"intax": True, "extax": False}.get(value)


class FactuursturenTarget(TargetConnector):
    kind = "factuursturen"
    label = "Factuursturen"
    credential_fields = ("username", "api_key")
    credential_help = {
        "username": (_("Username"), _("The user name you log in to Factuursturen with.")),
        "api_key": (
            _("API key"),
            _("In Factuursturen under Settings → Connections: create a key, set it to Active."),
        ),
    }
    public_credentials = frozenset({"username"})
    url_label = _("API address")
    url_help = _("Leave as it is unless you use a test environment.")
    settings_model = mapping.FactuursturenSettings
    default_vat_rates = frozenset({Decimal("21"), Decimal("9"), Decimal("0")})
    production_url = PRODUCTION_URL

    def __init__(self, *, url: str, credentials: Mapping[str, str], settings=None, log=None) -> None:
        super().__init__(url=url, credentials=credentials, settings=settings, log=log)
        self.client = FactuursturenClient(
            url or PRODUCTION_URL, credentials["username"], credentials["api_key"], log=self.log
        )

    def close(self) -> None:
        self.client.close()

    def test_connection(self) -> None:
        self.client.get("profiles")

    def vat_rates(self) -> frozenset[Decimal]:
        data = self.client.get("taxes")
        items = data.values() if isinstance(data, dict) else data or []
        return frozenset(rate for rate in map(_rate, items) if rate is not None)

    def layouts(self) -> list[Layout]:
        data = self.client.get("profiles")
        items = data.values() if isinstance(data, dict) else data or []
        return [
            Layout(id=str(p.get("id", "")), name=str(p.get("name", ""))) for p in items if isinstance(p, dict)
        ]

    def find_debtor(self, party: Party) -> Debtor | None:
        email = party.email.strip().lower()
        if not email:
            return None
        # Exact match only: the search is a "contains" search, and may return unrelated clients.
        for client in self.client.search("clients", "email", email):
            if str(client.get("email", "")).strip().lower() == email:
                return Debtor(
                    id=str(client.get("clientnr", "")),
                    email=email,
                    name=str(client.get("company") or client.get("contact") or ""),
                    prices_include_vat=_includes_vat(client.get("tax_type")),
                )
        return None

    def create_debtor(self, invoice: Invoice) -> Debtor:
        new_id = self.client.create("clients", mapping.debtor_body(invoice, self.settings))
        if not new_id.isdigit():
            raise Rejected(f"Factuursturen returned an unexpected client number {new_id!r}", side="target")
        return Debtor(
            id=new_id,
            email=invoice.customer.email.strip().lower(),
            name=invoice.customer.company or invoice.customer.full_name,
            prices_include_vat=invoice.prices_include_vat,
        )

    def find_invoice(self, invoice: Invoice) -> BookedInvoice | None:
        """A sent invoice with the order number as its reference; else, when the connection makes drafts, a
        saved one (booked by Koppel or made by hand). Saved invoices are searched only then, to spend no
        extra call of the hourly budget per order otherwise: a draft saved while the status was "draft" is
        not looked for once the status is "final" (a handled order is never booked again either way; only
        an order whose draft was in doubt when the status changed could be)."""
        reference = invoice.order_number
        for found in self.client.search("invoices", "all", reference):
            if _line1(found) == reference:
                return BookedInvoice(
                    id=str(found.get("id", "")), number=invoice_number(found), reference=reference
                )
        if mapping.document_status(self.settings) != "draft":
            return None
        for found in self.client.search("invoices_saved", "all", reference):
            if _line1(found) == reference:
                name = str(found.get("savename", ""))
                return BookedInvoice(
                    id=SAVED + str(found.get("id", "")),
                    reference=reference,
                    note=DRAFT_NOTE.format(name=name),
                )
        return None

    def create_invoice(self, invoice: Invoice, debtor: Debtor) -> BookedInvoice:
        body = mapping.invoice_body(
            invoice,
            debtor.id,
            debtor_prices_include_vat=_include_vat(invoice, debtor),
            settings=self.settings,
        )
        return self._book(invoice.order_number, body)

    def find_credit_note(self, credit: Invoice) -> BookedInvoice | None:
        """The negative invoice whose reference line 1 is the credit note's reference, found as an invoice is
        (sent; saved too on a connection that makes drafts), booked by Koppel or by hand."""
        return self.find_invoice(credit)

    def create_credit_note(self, credit: Invoice, debtor: Debtor) -> BookedInvoice:
        """A negative invoice (negated unit prices) for the original invoice's debtor, reference line 1 the
        credit note's reference, line 2 the number of the invoice it credits; sent, saved or e-mailed as the
        document status says, like an invoice."""
        body = mapping.credit_body(
            credit, debtor.id, debtor_prices_include_vat=_include_vat(credit, debtor), settings=self.settings
        )
        return self._book(credit.order_number, body)

    def _book(self, reference: str, body: dict[str, Any]) -> BookedInvoice:
        """``POST invoices``, then the number read back (a saved draft has none) and the e-mail noted."""
        new_id = self.client.create("invoices", body)
        if body["action"] == "save":  # a draft has no number to read back yet
            note = DRAFT_NOTE.format(name=body["savename"])
            return BookedInvoice(id=SAVED + new_id, reference=reference, note=note, draft=True)
        booked = self._read_back(BookedInvoice(id=new_id, reference=reference))
        if body["sendmethod"] == "email":
            note = "; ".join(filter(None, [EMAILED_NOTE, booked.note]))
            return BookedInvoice(booked.id, booked.number, booked.reference, note=note)
        return booked

    def _read_back(self, booked: BookedInvoice) -> BookedInvoice:
        """The created invoice with its number: ``POST invoices`` answers only the id, so the invoice is
        read once. The invoice exists by now, so a failure here is a note, never a raise (a raise would
        leave the booking in doubt; the number stays empty and the PDF is found by the id)."""
        try:
            number = invoice_number(_unwrap(self.client.get(f"invoices/{quote(booked.id, safe='')}")))
        except ConnectorError as exc:
            note = f"its invoice number could not be read back ({exc.message}); see invoice id {booked.id}"
            return BookedInvoice(booked.id, reference=booked.reference, note=note)
        if not number:
            note = f"Factuursturen did not say its invoice number; see invoice id {booked.id}"
            return BookedInvoice(booked.id, reference=booked.reference, note=note)
        return BookedInvoice(booked.id, number, booked.reference)

    def invoice_pdf(self, booked: BookedInvoice) -> bytes:
        """``GET invoices_pdf/{invoicenr}``. Without a stored number (its read-back failed), or when the
        stored one is not found, the number is looked up by the invoice's id first. A draft has no PDF: it
        is refused while it is still saved (``GET invoices_saved/{id}``), and not found once it is gone."""
        if booked.id.startswith(SAVED):
            saved_id = booked.id.removeprefix(SAVED)
            found = _unwrap(self.client.get(f"invoices_saved/{quote(saved_id, safe='')}"))
            raise Rejected(
                f"Factuursturen invoice {found.get('savename') or saved_id} is a draft (a saved invoice): "
                "it has no PDF until you finalise it in Factuursturen",
                side="target",
            )
        if booked.number:
            try:
                return self._pdf(booked.number)
            except NotFound:
                if not booked.id:
                    raise
        found = _unwrap(self.client.get(f"invoices/{quote(booked.id, safe='')}"))
        return self._pdf(str(found.get("invoicenr") or found.get("invoicenr_full") or booked.id))

    def _pdf(self, number: str) -> bytes:
        return self.client.request("GET", f"invoices_pdf/{quote(number, safe='')}").content

    @classmethod
    def planned_requests(cls, invoice: Invoice, settings: Any) -> list[PlannedRequest]:
        settings = cls.load_settings(settings)
        email = invoice.customer.email.strip().lower()
        reference = quote(invoice.order_number, safe="")
        draft = mapping.document_status(settings) == "draft"
        plan = [PlannedRequest("GET", f"search/invoices/all/{reference}")]
        if draft:
            plan.append(PlannedRequest("GET", f"search/invoices_saved/all/{reference}"))
        if email:
            plan.append(PlannedRequest("GET", f"search/clients/email/{quote(email, safe='')}"))
        plan += [
            PlannedRequest("POST", "clients", mapping.debtor_body(invoice, settings)),
            PlannedRequest(
                "POST",
                "invoices",
                mapping.invoice_body(
                    invoice,
                    NEW_DEBTOR,
                    debtor_prices_include_vat=invoice.prices_include_vat,
                    settings=settings,
                ),
            ),
        ]
        if not draft:
            plan.append(PlannedRequest("GET", f"invoices/{NEW_INVOICE}"))
        return plan

    @classmethod
    def planned_credit_requests(cls, credit: Invoice, settings: Any) -> list[PlannedRequest]:
        """The look-up by reference (saved invoices too for drafts), ``POST invoices`` of the negative
        invoice for the debtor, and the read-back of its number (not for a draft)."""
        settings = cls.load_settings(settings)
        reference = quote(credit.order_number, safe="")
        draft = mapping.document_status(settings) == "draft"
        plan = [PlannedRequest("GET", f"search/invoices/all/{reference}")]
        if draft:
            plan.append(PlannedRequest("GET", f"search/invoices_saved/all/{reference}"))
        body = mapping.credit_body(
            credit, DEBTOR, debtor_prices_include_vat=credit.prices_include_vat, settings=settings
        )
        plan.append(PlannedRequest("POST", "invoices", body))
        if not draft:
            plan.append(PlannedRequest("GET", f"invoices/{NEW_INVOICE}"))
        return plan


def _include_vat(invoice: Invoice, debtor: Debtor) -> bool:
    """Prices incl. or excl. VAT as the debtor's ``tax_type`` says, else as the invoice has them."""
    return invoice.prices_include_vat if debtor.prices_include_vat is None else debtor.prices_include_vat


TARGET = FactuursturenTarget
