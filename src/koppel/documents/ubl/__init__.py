"""Koppel's invoices and credit notes as UBL 2.1 e-invoices (EN 16931, Peppol BIS Billing 3.0).

``invoice_ubl(invoice, seller)`` gives the document's bytes; :class:`Seller` is the merchant issuing it
(``Seller.from_json`` reads and checks a ``SELLER.json``). Pure Python and lxml: no Django.
"""

from __future__ import annotations

from .document import CUSTOMIZATION_ID, PROFILE_ID, invoice_ubl, quantity_and_price
from .endpoints import EAS_BY_VAT_PREFIX, eas_for_vat, vat_id
from .seller import Seller, SellerInvalid
from .tax import EXEMPTIONS, UblError

__all__ = [
    "CUSTOMIZATION_ID",
    "EAS_BY_VAT_PREFIX",
    "EXEMPTIONS",
    "PROFILE_ID",
    "Seller",
    "SellerInvalid",
    "UblError",
    "eas_for_vat",
    "invoice_ubl",
    "quantity_and_price",
    "vat_id",
]
