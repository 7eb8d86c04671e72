"""The VAT rates of the EU member states (``data/eu_vat_rates.json``, see ``data/SOURCE.md``), and the OSS
mapping of a home rate onto another member state's rates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from .money import ZERO

DATA = Path(__file__).with_name("data") / "eu_vat_rates.json"


def rate_key(rate: Decimal) -> Decimal:
    """21, 21.0 and 21.00 compare as one rate."""
    return rate.normalize() if rate != ZERO else ZERO


@dataclass(frozen=True, slots=True)
class RateTable:
    """One member state's rates. ``reduced`` are the national reduced rates, lowest first; ``regional`` the
    rates of parts of the country only (Corsica, Madeira ...)."""

    country: str
    name: str
    standard: Decimal
    reduced: tuple[Decimal, ...]
    super_reduced: Decimal | None
    parking: Decimal | None
    regional: tuple[Decimal, ...]

    @property
    def rates(self) -> frozenset[Decimal]:
        """Every rate the country charges somewhere (0% not included), normalized (:func:`rate_key`)."""
        extra = (rate for rate in (self.super_reduced, self.parking) if rate is not None)
        return frozenset(rate_key(r) for r in (self.standard, *self.reduced, *extra, *self.regional))

    def has(self, rate: Decimal) -> bool:
        return rate_key(rate) in self.rates


@cache
def _tables() -> tuple[str, dict[str, RateTable]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    tables = {
        code: RateTable(
            country=code,
            name=row["name"],
            standard=Decimal(row["standard"]),
            reduced=tuple(sorted(Decimal(rate) for rate in row["reduced"])),
            super_reduced=Decimal(row["super_reduced"]) if row["super_reduced"] else None,
            parking=Decimal(row["parking"]) if row["parking"] else None,
            regional=tuple(Decimal(rate) for rate in row["regional"]),
        )
        for code, row in data["countries"].items()
    }
    return data["version"], tables


def data_version() -> str:
    """The date of the rate data (vatnode's ``version``)."""
    return _tables()[0]


def rate_table(country: str) -> RateTable | None:
    """The rates of an EU member state by its alpha-2 code (``GR`` for Greece); ``None`` outside the EU."""
    return _tables()[1].get(country.upper())


def member_states() -> tuple[str, ...]:
    return tuple(sorted(_tables()[1]))


def corresponding_rate(rate: Decimal, home: RateTable, destination: RateTable) -> Decimal | None:
    """The destination's rate for a product charged ``rate`` at home, by the kind of rate; ``None`` when
    ``rate`` is no national rate of ``home``.

    Standard is standard. Reduced rates are matched by rank from the lowest, the last one standing in when
    the destination has fewer (NL 9% → BE 6%, DE 7%, FR 5.5%; BE 6% and 12% → NL 9%): a webshop's reduced-rate
    goods are mostly food and books, which most member states put on their lowest reduced rate. A country
    without reduced rates (DK) charges its standard rate. A super-reduced rate goes to the destination's
    super-reduced rate, else its lowest reduced one. The product may be classed otherwise abroad: an explicit
    per-country rate (``VatPolicy.oss_rates``, bol.com's "OSS rates per country and EAN") then decides.
    """
    key = rate_key(rate)
    if key == rate_key(home.standard):
        return destination.standard
    reduced = [rate_key(r) for r in home.reduced]
    if key in reduced:
        if not destination.reduced:
            return destination.standard
        return destination.reduced[min(reduced.index(key), len(destination.reduced) - 1)]
    if home.super_reduced is not None and key == rate_key(home.super_reduced):
        if destination.super_reduced is not None:
            return destination.super_reduced
        return destination.reduced[0] if destination.reduced else destination.standard
    if home.parking is not None and key == rate_key(home.parking):
        if destination.parking is not None:
            return destination.parking
        return destination.reduced[-1] if destination.reduced else destination.standard
    return None
