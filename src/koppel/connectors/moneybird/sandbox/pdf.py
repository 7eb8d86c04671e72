"""The PDF of a sales invoice (:func:`koppel.sandbox.pdf.text_pdf`): number or "Concept" ("Creditfactuur"
for a negative total), contact, reference, one line per detail and the totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from koppel.sandbox.pdf import text_pdf


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    contact = invoice["contact"]
    name = contact.get("company_name") or " ".join(
        filter(None, (contact.get("firstname"), contact.get("lastname")))
    )
    kind = "Creditfactuur" if Decimal(invoice["total_price_incl_tax"]) < 0 else "Factuur"
    title = f"{kind} {invoice['invoice_id']}" if invoice["invoice_id"] else f"Concept {invoice['draft_id']}"
    texts = [
        (18, title),
        (11, f"Datum: {invoice['invoice_date']}   Referentie: {invoice['reference']}"),
        (11, f"Aan: {name}"),
    ]
    for detail in invoice["details"]:
        texts.append((10, f"{detail['amount']} x {detail['description']}  {detail['price']}"))
    texts += [
        (11, f"Totaal excl. btw: {invoice['total_price_excl_tax']} {invoice['currency']}"),
        (11, f"Btw: {invoice['total_tax']}"),
        (12, f"Totaal incl. btw: {invoice['total_price_incl_tax']} {invoice['currency']}"),
    ]
    return text_pdf(texts)
