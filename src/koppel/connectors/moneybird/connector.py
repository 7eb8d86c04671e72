"""Moneybird as a target: contacts found by e-mail and never modified, one sales invoice per order with the
order number as its reference (found again by it before anything is created), sent or left a draft as the
document status says, the payment of a paid order registered; and, as a bookkeeping target, purchase
invoices (:mod:`.purchases`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from koppel.connectors.base import BookedInvoice, Debtor, Layout, PlannedRequest, TargetConnector
from koppel.connectors.errors import AuthFailed, ConnectorError, NotFound, Rejected
from koppel.documents.i18n import mark as _  # marked for translation; shown translated
from koppel.documents.model import Invoice, Party

from . import mapping
from .client import PER_PAGE, PRODUCTION_URL, MoneybirdClient
from .config import MoneybirdSettings
from .purchases import PurchaseBooking

#: What ``koppel preview`` puts where the ids Moneybird answers will go.
NEW_CONTACT = "<id from POST contacts.json>"
NEW_INVOICE = "<id from POST sales_invoices.json>"
#: ... and where the id of the credited invoice's contact goes.
DEBTOR = "<contact_id of the credited invoice's contact>"
DRAFT_NOTE = "saved as a draft, not final: send it from Moneybird to number it"
EMAILED_NOTE = "e-mailed to the customer by Moneybird"


def _id(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def invoice_filter(reference: str, contact_id: str = "") -> str:
    """``filter`` finding sales invoices in every state; a reference with a comma (which separates
    Moneybird's filter conditions) is looked up by its contact instead."""
    if contact_id:
        return f"state:all,contact_id:{contact_id}"
    return f"state:all,reference:{reference}"


def booked(found: Mapping[str, Any], note: str = "") -> BookedInvoice:
    draft = found.get("state") == "draft"
    return BookedInvoice(
        id=_id(found.get("id")),
        number=_id(found.get("invoice_id")),
        reference=str(found.get("reference") or ""),
        note=note or (DRAFT_NOTE if draft else ""),
        draft=draft,
    )


def emails(contact: Mapping[str, Any]) -> set[str]:
    keys = ("email", "send_invoices_to_email")
    return {str(contact.get(k) or "").strip().lower() for k in keys} - {""}


class MoneybirdTarget(PurchaseBooking, TargetConnector):
    kind = "moneybird"
    label = "Moneybird"
    credential_fields = ("api_token", "administration_id")
    credential_help = {
        "api_token": (
            _("API token"),
            _(
                "In Moneybird under your name → Developers (Ontwikkelaars): create a personal API token with "
                "the scopes Sales invoices, Documents and Settings, and copy it."
            ),
        ),
        "administration_id": (
            _("Administration id"),
            _("The number in Moneybird's address after moneybird.com/ when the administration is open."),
        ),
    }
    public_credentials = frozenset({"administration_id"})
    url_label = _("API address")
    url_help = _("Leave as it is unless you use a test environment.")
    settings_model = MoneybirdSettings
    default_vat_rates = frozenset({Decimal("21"), Decimal("9"), Decimal("0")})
    production_url = PRODUCTION_URL

    def __init__(self, *, url: str, credentials: Mapping[str, str], settings=None, log=None) -> None:
        super().__init__(url=url, credentials=credentials, settings=settings, log=log)
        self.client = MoneybirdClient(
            url or PRODUCTION_URL, credentials["api_token"], credentials["administration_id"], log=self.log
        )
        self._tax_rates: list[dict[str, Any]] | None = None

    def close(self) -> None:
        self.client.close()

    def test_connection(self) -> None:
        wanted = self.client.administration_id
        found = self.client.get_root("administrations.json")
        if not any(_id(item.get("id")) == wanted for item in found or [] if isinstance(item, dict)):
            raise AuthFailed(
                f"Moneybird: this API token has no access to administration {wanted}", side="target"
            )

    def tax_rates(self) -> list[dict[str, Any]]:
        """The administration's tax rates, read once per connector."""
        if self._tax_rates is None:
            data = self.client.get("tax_rates.json")
            self._tax_rates = [item for item in data or [] if isinstance(item, dict)]
        return self._tax_rates

    def vat_rates(self) -> frozenset[Decimal]:
        self._tax_rates = None  # the merchant may just have added one
        sales = mapping.usable_rates(self.tax_rates(), mapping.SALES)
        return frozenset(rate for rate in map(mapping.percentage, sales) if rate is not None)

    def layouts(self) -> list[Layout]:
        data = self.client.get("document_styles.json")
        items = [item for item in data or [] if isinstance(item, dict)]
        return [Layout(id=_id(item.get("id")), name=str(item.get("name", ""))) for item in items]

    def find_debtor(self, party: Party) -> Debtor | None:
        email = party.email.strip().lower()
        if not email:
            return None
        # The query searches many fields (name, address, e-mail ...): the e-mail is checked here.
        for contact in self.client.get("contacts.json", {"query": email, "per_page": str(PER_PAGE)}) or []:
            if isinstance(contact, dict) and email in emails(contact):
                return Debtor(id=_id(contact.get("id")), email=email, name=_contact_name(contact))
        return None

    def create_debtor(self, invoice: Invoice) -> Debtor:
        created = self.client.post("contacts.json", mapping.contact_body(invoice))
        if not _id(created.get("id")):
            raise Rejected("Moneybird created a contact without an id", side="target")
        return Debtor(
            id=_id(created["id"]), email=invoice.customer.email.strip().lower(), name=_contact_name(created)
        )

    def find_invoice(self, invoice: Invoice) -> BookedInvoice | None:
        """The sales invoice, in any state, whose reference is the order number: booked by Koppel, or by hand
        with the order number as its reference."""
        return self._find_by_reference(invoice)

    def _find_by_reference(self, invoice: Invoice) -> BookedInvoice | None:
        reference = invoice.order_number.strip()
        if "," in reference:
            debtor = self.find_debtor(invoice.customer)
            if debtor is None:
                return None
            params = {"filter": invoice_filter(reference, debtor.id)}
        else:
            params = {"filter": invoice_filter(reference)}
        for found in self.client.get_all("sales_invoices.json", params):
            if str(found.get("reference") or "").strip() == reference:
                return booked(found)
        return None

    def tax_rate_ids(self, invoice: Invoice) -> dict[Decimal, str]:
        sales = mapping.usable_rates(self.tax_rates(), mapping.SALES)
        ids: dict[Decimal, str] = {}
        for rate in {line.vat_rate for line in invoice.lines}:
            found = mapping.choose_tax_rate(sales, rate, intra_community=invoice.intra_community)
            if found is None:
                raise Rejected(
                    f"Moneybird has no sales tax rate of {mapping.fmt_percentage(rate)}%", side="target"
                )
            ids[rate] = found
        return ids

    def create_invoice(self, invoice: Invoice, debtor: Debtor) -> BookedInvoice:
        body = mapping.sales_invoice_body(invoice, debtor.id, self.tax_rate_ids(invoice), self.settings)
        created = self.client.post("sales_invoices.json", body)
        if not _id(created.get("id")):
            raise Rejected("Moneybird created a sales invoice without an id", side="target")
        if mapping.delivery_method(self.settings) is None:
            return booked(created)
        return self._send(invoice, booked(created))

    def find_credit_note(self, credit: Invoice) -> BookedInvoice | None:
        """The sales invoice, in any state, whose reference is the credit note's reference: a credit invoice
        Koppel booked (duplicated or posted) or one made by hand with that reference."""
        return self._find_by_reference(credit)

    def create_credit_note(self, credit: Invoice, debtor: Debtor) -> BookedInvoice:
        """Moneybird's credit invoice. When ``credit`` credits the whole of the (final) invoice
        ``credit_for_id`` (read first), Moneybird's ``duplicate_creditinvoice`` makes it (linked to the
        invoice by ``original_sales_invoice_id``) and its reference and date are set; otherwise it is a sales
        invoice with negative amounts for ``debtor`` naming the invoice in its first detail. Then it is sent
        as the document status says (its refund is not registered as a payment)."""
        original = self._original(credit)
        if original is not None and mapping.credits_all_of(credit, original):
            created = self._duplicate(credit, _id(original.get("id")))
        else:
            body = mapping.credit_invoice_body(credit, debtor.id, self.tax_rate_ids(credit), self.settings)
            created = self.client.post("sales_invoices.json", body)
        if not _id(created.get("id")):
            raise Rejected("Moneybird created a credit invoice without an id", side="target")
        if mapping.delivery_method(self.settings) is None:
            return booked(created)
        return self._send(credit, booked(created), pay=False)

    def _original(self, credit: Invoice) -> dict[str, Any] | None:
        """The sales invoice ``credit`` credits, by its id (``None`` without one, or when it is gone: the
        credit note is then booked with negative amounts all the same)."""
        if not credit.credit_for_id:
            return None
        try:
            found = self.client.get(f"sales_invoices/{quote(credit.credit_for_id, safe='')}.json")
        except NotFound:
            return None
        return found if isinstance(found, dict) else None

    def _duplicate(self, credit: Invoice, original_id: str) -> dict[str, Any]:
        """``duplicate_creditinvoice``, then the credit note's reference and date on the new draft. When that
        fails the draft keeps the invoice's reference and is not found as this credit note: the error is
        raised (a retry makes a new one; the draft, never sent, can be deleted in Moneybird)."""
        path = f"sales_invoices/{quote(original_id, safe='')}"
        duplicate = self.client.patch(f"{path}/duplicate_creditinvoice.json", {})
        new_path = f"sales_invoices/{quote(_id(duplicate.get('id')), safe='')}.json"
        return self.client.patch(new_path, mapping.credit_update_body(credit))

    def _send(self, invoice: Invoice, draft: BookedInvoice, *, pay: bool = True) -> BookedInvoice:
        """Send (and so number) the invoice, then register its payment. The invoice exists: a failure is a
        note, never a raise."""
        path = f"sales_invoices/{quote(draft.id, safe='')}"
        try:
            sent = booked(self.client.patch(f"{path}/send_invoice.json", mapping.sending_body(self.settings)))
        except ConnectorError as exc:
            note = f"saved as a draft: sending it failed ({exc.message}); send it from Moneybird"
            return BookedInvoice(draft.id, reference=draft.reference, note=note, draft=True)
        notes = [EMAILED_NOTE] if self.settings.document_status == "final_email" else []
        if pay and mapping.registers_payment(invoice, self.settings):
            try:
                for body in mapping.payment_bodies(invoice):
                    self.client.post(f"{path}/payments.json", body)
            except ConnectorError as exc:
                notes.append(f"registering the payment failed ({exc.message}); register it in Moneybird")
        return BookedInvoice(sent.id, sent.number, sent.reference, note="; ".join(notes))

    def invoice_pdf(self, booked_invoice: BookedInvoice) -> bytes:
        return self.client.download(f"sales_invoices/{quote(booked_invoice.id, safe='')}/download_pdf.json")

    @classmethod
    def planned_requests(cls, invoice: Invoice, settings: Any) -> list[PlannedRequest]:
        settings = cls.load_settings(settings)
        reference, email = invoice.order_number.strip(), invoice.customer.email.strip().lower()
        contacts = PlannedRequest("GET", f"contacts.json?{urlencode({'query': email, 'per_page': PER_PAGE})}")
        plan = []
        if "," in reference and email:
            plan += [
                contacts,
                PlannedRequest("GET", "sales_invoices.json?" + _listing("state:all,contact_id:<id>")),
            ]
        elif "," not in reference:
            plan.append(PlannedRequest("GET", "sales_invoices.json?" + _listing(invoice_filter(reference))))
        if email:
            plan.append(contacts)
        rates = {line.vat_rate: mapping.placeholder_rate(line.vat_rate) for line in invoice.lines}
        plan += [
            PlannedRequest("POST", "contacts.json", mapping.contact_body(invoice)),
            PlannedRequest("GET", "tax_rates.json"),
            PlannedRequest(
                "POST",
                "sales_invoices.json",
                mapping.sales_invoice_body(invoice, NEW_CONTACT, rates, settings),
            ),
        ]
        if mapping.delivery_method(settings) is None:
            return plan
        path = f"sales_invoices/{NEW_INVOICE}"
        plan.append(PlannedRequest("PATCH", f"{path}/send_invoice.json", mapping.sending_body(settings)))
        if mapping.registers_payment(invoice, settings):
            plan += [
                PlannedRequest("POST", f"{path}/payments.json", b) for b in mapping.payment_bodies(invoice)
            ]
        return plan

    @classmethod
    def planned_credit_requests(cls, credit: Invoice, settings: Any) -> list[PlannedRequest]:
        """What a partial credit sends: the look-up by reference, the credited invoice read, the tax rates,
        ``POST sales_invoices`` with negative amounts, and the sending. A credit of the whole invoice (known
        only once the invoice is read) sends ``PATCH duplicate_creditinvoice`` and ``PATCH
        sales_invoices/{id}`` (:func:`mapping.credit_update_body`) instead of the ``POST``."""
        settings = cls.load_settings(settings)
        reference = credit.order_number.strip()
        plan = []
        if "," in reference:
            email = credit.customer.email.strip().lower()
            query = urlencode({"query": email, "per_page": PER_PAGE})
            plan.append(PlannedRequest("GET", f"contacts.json?{query}"))
            plan.append(PlannedRequest("GET", "sales_invoices.json?" + _listing("state:all,contact_id:<id>")))
        else:
            plan.append(PlannedRequest("GET", "sales_invoices.json?" + _listing(invoice_filter(reference))))
        if credit.credit_for_id:
            plan.append(PlannedRequest("GET", f"sales_invoices/{quote(credit.credit_for_id, safe='')}.json"))
        rates = {line.vat_rate: mapping.placeholder_rate(line.vat_rate) for line in credit.lines}
        plan += [
            PlannedRequest("GET", "tax_rates.json"),
            PlannedRequest(
                "POST", "sales_invoices.json", mapping.credit_invoice_body(credit, DEBTOR, rates, settings)
            ),
        ]
        if mapping.delivery_method(settings) is not None:
            path = f"sales_invoices/{NEW_INVOICE}"
            plan.append(PlannedRequest("PATCH", f"{path}/send_invoice.json", mapping.sending_body(settings)))
        return plan


def _listing(filter_text: str) -> str:
    return urlencode({"filter": filter_text, "page": 1, "per_page": PER_PAGE})


def _contact_name(contact: Mapping[str, Any]) -> str:
    person = " ".join(str(contact.get(k) or "").strip() for k in ("firstname", "lastname")).strip()
    return str(contact.get("company_name") or "").strip() or person


TARGET = MoneybirdTarget
