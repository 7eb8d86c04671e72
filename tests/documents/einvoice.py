"""The official e-invoice checks for tests: ``validate(xml)`` runs ``../shared/einvoice/validate.py`` (UBL 2.1
XSD, EN 16931 and Peppol BIS Billing 3.0 schematrons) and returns the fatal rule ids.

Skips the test when ../shared (the validation artifacts are not copied into the project) or saxonche is
missing.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from koppel.documents.model import Invoice
from koppel.documents.ubl.endpoints import buyer_endpoint

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EINVOICE = SHARED / "einvoice"
VALIDATOR = EINVOICE / "validate.py"
SAMPLES = EINVOICE / "samples"
#: The Peppol rule a consumer's invoice fails: a consumer has no electronic address (Peppol endpoint).
BUYER_ENDPOINT_RULE = "PEPPOL-EN16931-R010"

_FATAL = re.compile(r"^\s*FATAL \[[^\]]+\] (\S+?):")
_XSD = re.compile(r"^\s*XSD ERROR (.*)$")


def require_validator() -> None:
    if not VALIDATOR.exists():
        pytest.skip(f"the e-invoice validator {VALIDATOR} is not available (../shared is absent)")
    if importlib.util.find_spec("saxonche") is None:
        pytest.skip("saxonche is not installed (pip install saxonche): the schematrons cannot run")


def validate(xml: bytes) -> list[str]:
    """The fatal rule ids of one UBL document (``XSD: <message>`` for a schema error), empty when valid."""
    return validate_many([xml])[0]


def validate_many(documents: list[bytes]) -> list[list[str]]:
    """:func:`validate` for several documents in one run (the stylesheets are compiled once)."""
    require_validator()
    with tempfile.TemporaryDirectory(prefix="ubl-") as directory:
        paths = []
        for index, document in enumerate(documents):
            path = Path(directory) / f"doc-{index}.xml"
            path.write_bytes(document)
            paths.append(path)
        done = subprocess.run(
            [sys.executable, str(VALIDATOR), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"validate.py failed ({done.returncode}): {done.stderr or done.stdout}")
    return _fatal_per_file(done.stdout, len(documents))


def _fatal_per_file(output: str, count: int) -> list[list[str]]:
    results: list[list[str]] = []
    for line in output.splitlines():
        if line.startswith("== "):
            results.append([])
        elif match := _FATAL.match(line):
            results[-1].append(match.group(1))
        elif match := _XSD.match(line):
            results[-1].append(f"XSD: {match.group(1)}")
    if len(results) != count:
        raise RuntimeError(f"validate.py reported {len(results)} files of {count}:\n{output}")
    return results


# --- reading a UBL document back -------------------------------------------------------------------------

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
#: The merchant of the samples (samples/*.xml): Voorbeeld Webshop B.V., Amsterdam.
SELLER_JSON: dict[str, str] = {
    "name": "Voorbeeld Webshop B.V.",
    "vat_number": "NL004495445B01",
    "coc_number": "12345678",
    "street": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
    "email": "info@voorbeeldwebshop.nl",
    "iban": "NL91ABNA0417164300",
}


def expected_fatal(invoice: Invoice) -> list[str]:
    """What a valid document of ``invoice`` still fails: nothing, or for a buyer without electronic address
    (a consumer; a business with neither VAT nor company number) the Peppol rule that wants one."""
    customer = invoice.customer
    country = customer.country.alpha2 if customer.country else "NL"
    has_endpoint = buyer_endpoint(customer.vat_number, customer.company_number, country) is not None
    return [] if has_endpoint else [BUYER_ENDPOINT_RULE]


def _texts(root: etree._Element, path: str) -> list[str]:
    return [element.text or "" for element in root.xpath(path, namespaces=NS)]


def _one(root: etree._Element, path: str) -> str | None:
    found = _texts(root, path)
    assert len(found) <= 1, f"{path}: {found}"
    return found[0] if found else None


def _category(element: etree._Element, name: str) -> tuple[str, Decimal | None]:
    [category] = element.xpath(name, namespaces=NS)
    percent = _one(category, "cbc:Percent")
    return _one(category, "cbc:ID") or "", Decimal(percent).normalize() if percent is not None else None


def essentials(document: bytes) -> dict[str, Any]:
    """The values that make a document what it is: kind, totals, VAT breakdown with exemption reasons,
    charges and allowances, lines, the parties' VAT numbers, countries and endpoints."""
    root = etree.fromstring(document)
    kind = etree.QName(root).localname
    line_name = "cac:CreditNoteLine" if kind == "CreditNote" else "cac:InvoiceLine"
    [total] = root.xpath("cac:LegalMonetaryTotal", namespaces=NS)
    return {
        "kind": kind,
        "type": _one(root, "cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode"),
        "currency": _one(root, "cbc:DocumentCurrencyCode"),
        "credits": _texts(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        "seller_vat": _texts(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
        "seller_legal": _texts(root, "cac:AccountingSupplierParty//cac:PartyLegalEntity/cbc:CompanyID"),
        "buyer_vat": _texts(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
        "buyer_name": _one(root, "cac:AccountingCustomerParty//cac:PartyLegalEntity/cbc:RegistrationName"),
        "buyer_country": _one(root, "cac:AccountingCustomerParty//cac:PostalAddress/cac:Country/*"),
        "totals": {etree.QName(e).localname: Decimal(e.text or "") for e in total},
        "tax": Decimal(_one(root, "cac:TaxTotal/cbc:TaxAmount") or ""),
        "subtotals": [
            (
                *_category(s, "cac:TaxCategory"),
                Decimal(_one(s, "cbc:TaxableAmount") or ""),
                Decimal(_one(s, "cbc:TaxAmount") or ""),
                _one(s, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                _one(s, "cac:TaxCategory/cbc:TaxExemptionReason"),
            )
            for s in root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
        ],
        "charges": sorted(
            (
                _one(c, "cbc:ChargeIndicator") == "true",
                _one(c, "cbc:AllowanceChargeReasonCode"),
                Decimal(_one(c, "cbc:Amount") or ""),
                *_category(c, "cac:TaxCategory"),
            )
            for c in root.xpath("cac:AllowanceCharge", namespaces=NS)
        ),
        "lines": [
            (
                _one(line, "cac:Item/cbc:Name"),
                Decimal(_one(line, "cbc:InvoicedQuantity | cbc:CreditedQuantity") or ""),
                Decimal(_one(line, "cac:Price/cbc:PriceAmount") or "").normalize(),
                Decimal(_one(line, "cbc:LineExtensionAmount") or ""),
                *_category(line, "cac:Item/cac:ClassifiedTaxCategory"),
            )
            for line in root.xpath(line_name, namespaces=NS)
        ],
    }


def endpoints(document: bytes) -> dict[str, tuple[str, str] | None]:
    """The seller's and the buyer's electronic address ``(scheme, id)``."""
    root = etree.fromstring(document)
    found = {}
    for role, path in (("seller", "cac:AccountingSupplierParty"), ("buyer", "cac:AccountingCustomerParty")):
        ids = root.xpath(f"{path}/cac:Party/cbc:EndpointID", namespaces=NS)
        found[role] = (ids[0].get("schemeID"), ids[0].text) if ids else None
    return found


def delivery_country(document: bytes) -> str | None:
    root = etree.fromstring(document)
    return _one(root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode")


def assert_totals_are_the_invoices(document: bytes, invoice: Invoice) -> None:
    """The document's totals are Koppel's invoice totals to the cent."""
    found = essentials(document)
    totals = found["totals"]
    prepaid = invoice.gross if invoice.paid else Decimal(0)
    assert totals["TaxExclusiveAmount"] == invoice.net
    assert found["tax"] == invoice.vat == sum((s[3] for s in found["subtotals"]), Decimal(0))
    assert totals["TaxInclusiveAmount"] == invoice.gross
    assert totals.get("PrepaidAmount", Decimal(0)) == prepaid
    assert totals["PayableAmount"] == invoice.gross - prepaid
    assert sum((s[2] for s in found["subtotals"]), Decimal(0)) == invoice.net
