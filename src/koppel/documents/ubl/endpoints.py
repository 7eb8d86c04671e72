"""Peppol electronic addresses (EAS) and legal-entity schemes (ICD) from VAT and company numbers.

The EAS code list (``peppol-bis-invoice-3/structure/codelist/eas.xml``) has a "<country> VAT number"
scheme for most member states; the ones left out (DK, FI, IT, SE) are identified by other numbers
(CVR, OVT, Codice Fiscale, Organisationsnummer) that an order does not carry, so such a buyer gets no
endpoint (as a consumer does).
"""

from __future__ import annotations

import re

from stdnum.be import vat as be_vat
from stdnum.ch import uid as ch_uid

#: EAS scheme of each VAT-number prefix (the VAT number, prefix included, is the endpoint id).
EAS_BY_VAT_PREFIX: dict[str, str] = {
    "AT": "9914",
    "BE": "9925",
    "BG": "9926",
    "CH": "9927",
    "CY": "9928",
    "CZ": "9929",
    "DE": "9930",
    "EE": "9931",
    "GB": "9932",
    "EL": "9933",
    "HR": "9934",
    "IE": "9935",
    "LT": "9937",
    "LU": "9938",
    "LV": "9939",
    "MT": "9943",
    "NL": "9944",
    "PL": "9945",
    "PT": "9946",
    "RO": "9947",
    "SI": "9949",
    "SK": "9950",
    "FR": "9957",
    "HU": "9910",
    "ES": "9920",
}

#: ICD (and EAS) scheme of a company number: KvK, the Belgian enterprise number, the Swiss UID.
KVK_SCHEME, BE_ENTERPRISE_SCHEME, CH_UID_SCHEME = "0106", "0208", "0183"
_KVK = re.compile(r"^[0-9]{8}$")


def vat_id(vat_number: str) -> str:
    """``be 0403.019.261`` → ``BE0403019261``; Greece's prefix is ``EL`` (BR-CO-09)."""
    compact = re.sub(r"[\s.\-/]", "", vat_number).upper()
    if compact.startswith("GR"):
        compact = "EL" + compact[2:]
    if compact.startswith("BE") and len(compact) == 11:  # the leading 0 of an old enterprise number
        compact = "BE0" + compact[2:]
    return compact


def eas_for_vat(vat_number: str) -> str | None:
    """The EAS scheme whose endpoint id is this VAT number, or ``None``."""
    return EAS_BY_VAT_PREFIX.get(vat_id(vat_number)[:2])


def legal_entity_id(company_number: str, country: str) -> tuple[str, str | None] | None:
    """The company number as ``(id, scheme)`` for PartyLegalEntity, or ``None`` when it cannot be stated.

    A Dutch supplier may state a Dutch customer's legal id only as a KvK number (NL-R-005), a Belgian
    enterprise number only with its check digits (PEPPOL-COMMON-R043); elsewhere the number goes without
    scheme."""
    digits = re.sub(r"[\s.\-]", "", company_number).upper()
    if not digits:
        return None
    if country == "NL":
        return (digits, KVK_SCHEME) if _KVK.match(digits) else None
    if country == "BE":
        digits = digits.removeprefix("BE")
        return (be_vat.compact(digits), BE_ENTERPRISE_SCHEME) if be_vat.is_valid(digits) else None
    if country == "CH" and ch_uid.is_valid(digits):
        return ch_uid.compact(digits), CH_UID_SCHEME
    return digits, None


def buyer_endpoint(vat_number: str, company_number: str, country: str) -> tuple[str, str] | None:
    """The buyer's electronic address ``(id, scheme)``: its VAT number, else its company number when that
    is a Peppol address too (KvK 0106, enterprise number 0208, UID 0183); ``None`` for a consumer."""
    compact = vat_id(vat_number)
    scheme = eas_for_vat(compact) if compact else None
    if scheme is not None:
        return compact, scheme
    legal = legal_entity_id(company_number, country)
    if legal is not None and legal[1] is not None:
        return legal[0], legal[1]
    return None
