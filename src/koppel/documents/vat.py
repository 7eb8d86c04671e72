"""EU VAT rules for an NL or BE webshop: when is an order an intra-community (ICP) sale, and is the
buyer's VAT number usable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat as eu_vat

from .countries import Country, country_by_code
from .model import Order
from .money import ZERO

#: The VAT rates a shop in these countries charges at home (0% included), for when the administration's own
#: list is not at hand (``koppel preview``).
DOMESTIC_RATES: dict[str, frozenset[Decimal]] = {
    "NL": frozenset(Decimal(r) for r in ("21", "9", "0")),
    "BE": frozenset(Decimal(r) for r in ("21", "12", "6", "0")),
}


@dataclass(frozen=True, slots=True)
class VatNumberProblem:
    message: str


def is_cross_border_business(order: Order, shop_country: str) -> bool:
    """A business order billed to another EU member state than the shop's: the ICP checks apply."""
    country = order.customer.country
    return (
        order.customer.is_business
        and country is not None
        and country.eu
        and country.alpha2 != shop_country.upper()
    )


def is_intra_community_supply(order: Order, shop_country: str) -> bool:
    """A 0% intra-community supply: cross-border business order, valid VAT number, no VAT charged.

    When the shop charged VAT anyway, the sale is booked as it was charged (not VAT-shifted).
    """
    return (
        is_cross_border_business(order, shop_country)
        and bool(order.customer.vat_number.strip())
        and vat_number_problem(order.customer.vat_number, order.customer.country) is None
        and all(rate == ZERO for rate in order.vat_rates)
    )


def vat_compact(vat_number: str) -> str:
    """``BE 0403.019.261`` → ``BE0403019261``: no spaces, dots or dashes, upper case."""
    return re.sub(r"[\s.\-/]", "", vat_number).upper()


def vat_number_problem(vat_number: str, country: Country | None) -> VatNumberProblem | None:
    """Why ``vat_number`` cannot be used for a buyer in ``country``, or ``None`` when it can.

    Checks format and check digits offline (python-stdnum); does not consult VIES.
    """
    compact = vat_compact(vat_number)
    prefix_country = country_by_code(compact[:2]) if compact[:2].isalpha() else None
    if prefix_country is None or not prefix_country.eu:
        return VatNumberProblem(f"VAT number {vat_number!r} does not start with an EU country code")
    if not eu_vat.is_valid(compact):
        return VatNumberProblem(f"VAT number {vat_number!r} has a wrong format or check digits")
    if country is not None and prefix_country.alpha2 != country.alpha2:
        return VatNumberProblem(
            f"VAT number {vat_number!r} is from {prefix_country.name_en}, "
            f"but the billing country is {country.name_en}"
        )
    return None


def normalized_rate(value: Decimal) -> Decimal:
    """21, 21.0 and 21.00 are the same rate."""
    return value.normalize() if value != ZERO else ZERO
