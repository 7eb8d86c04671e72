"""The purchase side of the Moneybird target: ledger accounts, and purchase invoices (``documents/
purchase_invoices``) booked once per supplier and reference, each attachment uploaded after the invoice.

The supplier is a Moneybird contact found by VAT number, else by company name, else created. The
attachments are uploaded once the invoice exists; a failed upload is a note on the booking, not a raise
(raising would make the caller look for the invoice, find it, and never attach the rest)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from koppel.connectors.base import BookedInvoice, LedgerAccount
from koppel.connectors.errors import ConnectorError, Rejected
from koppel.documents.purchases import PurchaseInvoice, Supplier
from koppel.documents.vat import vat_compact

from . import mapping
from .client import PER_PAGE

if TYPE_CHECKING:
    from .client import MoneybirdClient
    from .config import MoneybirdSettings

DOCUMENTS = "documents/purchase_invoices"


def _id(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def supplier_matches(contact: Mapping[str, Any], supplier: Supplier) -> bool:
    """The same VAT number (compacted), or, for a supplier without one, the same company name."""
    vat = vat_compact(supplier.vat_number)
    if vat:
        return vat_compact(str(contact.get("tax_number") or "")) == vat
    return str(contact.get("company_name") or "").strip().casefold() == supplier.name.strip().casefold()


class PurchaseBooking:
    """Mixed into :class:`~.connector.MoneybirdTarget`, which provides the client and the settings."""

    client: MoneybirdClient
    settings: MoneybirdSettings
    books_purchases = True

    def tax_rates(self) -> list[dict[str, Any]]:  # pragma: no cover - defined by the connector
        raise NotImplementedError

    def ledger_accounts(self) -> list[LedgerAccount]:
        data = self.client.get("ledger_accounts.json")
        return [
            LedgerAccount(
                id=_id(item.get("id")),
                name=str(item.get("name", "")),
                code=_id(item.get("account_id")),
                account_type=str(item.get("account_type") or ""),
            )
            for item in data or []
            if isinstance(item, dict)
        ]

    def find_supplier(self, supplier: Supplier) -> str:
        """The supplier's contact id; empty when Moneybird has none."""
        query = vat_compact(supplier.vat_number) or supplier.name.strip()
        if not query:
            return ""
        for contact in self.client.get("contacts.json", {"query": query, "per_page": str(PER_PAGE)}) or []:
            if isinstance(contact, dict) and supplier_matches(contact, supplier):
                return _id(contact.get("id"))
        return ""

    def find_purchase_invoice(self, invoice: PurchaseInvoice) -> BookedInvoice | None:
        contact_id = self.find_supplier(invoice.supplier)
        return self._find(invoice, contact_id) if contact_id else None

    def _find(self, invoice: PurchaseInvoice, contact_id: str) -> BookedInvoice | None:
        params = {"filter": f"contact_id:{contact_id}"}
        reference = invoice.reference.strip()
        for found in self.client.get_all(f"{DOCUMENTS}.json", params):
            if str(found.get("reference") or "").strip() == reference:
                return BookedInvoice(id=_id(found.get("id")), number=reference, reference=reference)
        return None

    def create_purchase_invoice(self, invoice: PurchaseInvoice) -> BookedInvoice:
        contact_id = self.find_supplier(invoice.supplier)
        if not contact_id:
            created = self.client.post("contacts.json", mapping.supplier_body(invoice.supplier))
            contact_id = _id(created.get("id"))
            if not contact_id:
                raise Rejected("Moneybird created a contact without an id", side="target")
        body = mapping.purchase_invoice_body(
            invoice, contact_id, self.purchase_rate_ids(invoice), self.settings
        )
        created = self.client.post(f"{DOCUMENTS}.json", body)
        invoice_id = _id(created.get("id"))
        if not invoice_id:
            raise Rejected("Moneybird created a purchase invoice without an id", side="target")
        note = self._attach(invoice, invoice_id)
        return BookedInvoice(id=invoice_id, number=invoice.reference, reference=invoice.reference, note=note)

    def purchase_rate_ids(self, invoice: PurchaseInvoice) -> dict[Decimal | None, str]:
        rates = mapping.usable_rates(self.tax_rates(), mapping.PURCHASES)
        ids: dict[Decimal | None, str] = {}
        for rate in {line.vat_rate for line in invoice.lines}:
            found = mapping.choose_tax_rate(rates, rate)
            if found is None:
                what = "no VAT" if rate is None else f"{mapping.fmt_percentage(rate)}%"
                raise Rejected(f"Moneybird has no purchase tax rate for {what}", side="target")
            ids[rate] = found
        return ids

    def _attach(self, invoice: PurchaseInvoice, invoice_id: str) -> str:
        failed = []
        path = f"{DOCUMENTS}/{quote(invoice_id, safe='')}/attachments.json"
        for attachment in invoice.attachments:
            try:
                self.client.post_file(path, attachment.filename, attachment.content_type, attachment.data)
            except ConnectorError as exc:
                failed.append(f"{attachment.filename} ({exc.message})")
        if not failed:
            return ""
        return f"attaching {', '.join(failed)} failed; attach it in Moneybird"
