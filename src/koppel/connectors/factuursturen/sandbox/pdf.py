"""The PDF of an invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from koppel.sandbox.pdf import text_pdf


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """A small, valid one-page PDF (A4, Helvetica) showing the invoice number, date, client, reference and
    total; an invoice with a negative total (a credit note) is titled "Creditfactuur"."""
    kind = "Creditfactuur" if Decimal(invoice["totalintax"]) < 0 else "Factuur"
    texts = [
        (18, f"{kind} {invoice['invoicenr']}"),
        (12, f"Factuurdatum: {invoice['sent']}    Vervaldatum: {invoice['duedate']}"),
        (12, invoice["company"] or invoice["contact"]),
        *((11, line) for line in invoice["reference"].values() if line),
        (12, f"Totaal incl. btw: EUR {invoice['totalintax']}"),
        (12, f"Openstaand: EUR {invoice['open']}"),
    ]
    return text_pdf(texts)
