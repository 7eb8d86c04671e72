"""The legal VAT mentions on an invoice, in the language of the seller's country, and the plain words of
the VAT rules' reasons.

Wording (``shared/research/einvoice-and-vat.md`` §7.3): an intra-community supply of goods names the supply
and its legal basis, "Intracommunautaire levering" with art. 138(1) of Directive 2006/112/EC (NL: tabel II,
onderdeel a, post 6, Wet OB 1968; BE: art. 39bis, 1°, W.BTW). "Btw verlegd" is the wording of a reverse
charge (services, domestic reverse-charge schemes), not of a supply of goods, so it is not used here. An
export names the exemption of art. 146 of the Directive (BE: art. 39, § 1, W.BTW).
"""

from __future__ import annotations

from decimal import Decimal

from .countries import country_by_code

INTRA_COMMUNITY_NOTE: dict[str, str] = {
    "NL": (
        "Intracommunautaire levering, 0% btw (tabel II, onderdeel a, post 6, Wet OB 1968; "
        "artikel 138, lid 1, Richtlijn 2006/112/EG)"
    ),
    "BE": (
        "Vrijgestelde intracommunautaire levering (artikel 39bis, 1°, W.BTW; "
        "artikel 138, lid 1, Richtlijn 2006/112/EG)"
    ),
}

EXPORT_NOTE: dict[str, str] = {
    "NL": "Uitvoer buiten de Europese Unie, 0% btw (artikel 146 Richtlijn 2006/112/EG)",
    "BE": (
        "Vrijgestelde uitvoer buiten de Europese Unie (artikel 39, § 1, W.BTW; "
        "artikel 146 Richtlijn 2006/112/EG)"
    ),
}


def intra_community_note(home: str) -> str:
    return INTRA_COMMUNITY_NOTE.get(home.upper(), INTRA_COMMUNITY_NOTE["NL"])


def export_note(home: str) -> str:
    return EXPORT_NOTE.get(home.upper(), EXPORT_NOTE["NL"])


def pct(rate: Decimal) -> str:
    """``Decimal("21.00")`` → ``"21%"``, ``Decimal("5.50")`` → ``"5.5%"``."""
    return f"{rate.normalize():f}%"


def country_name(code: str) -> str:
    country = country_by_code(code)
    return country.name_en if country is not None else code
