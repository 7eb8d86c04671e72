"""A bol.com connection's settings, and the VAT rate of a line with the reason it was chosen.

bol.com orders carry no VAT rate (money values are incl. VAT, nothing else), so the rate comes from the
connection: a default rate, rates per EAN, and, when the merchant declares OSS (the EU One Stop Shop), the
destination country's rate for customers in the other bol country.

The dashboard renders a ``str`` setting as one line of text, so the lists are written as entries
separated by ``;`` (or new lines): ``8712345678906,9; 9789012345678,9``. Each entry is checked and a bad
one is named with its position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from pydantic import field_validator

from koppel.connectors.base import ConnectorSettings, setting
from koppel.documents.countries import country_by_code
from koppel.documents.i18n import mark as _  # marked for translation; shown translated

EAN = re.compile(r"^\d{8,14}$")
#: The rates of bol's two countries: standard, reduced, zero. A rate of one country that the other does
#: not have is translated by its category (NL 9% is BE 6%; BE 6% and 12% are NL 9%).
COUNTRY_RATES: dict[str, tuple[Decimal, tuple[Decimal, ...]]] = {
    "NL": (Decimal(21), (Decimal(9),)),
    "BE": (Decimal(21), (Decimal(6), Decimal(12))),
}


def _rate(text: str) -> Decimal:
    """``"21"``, ``"9%"``, ``"5.5"`` → a percentage between 0 and 100; ``ValueError`` otherwise."""
    try:
        value = Decimal(text.strip().removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a VAT percentage") from None
    if not value.is_finite() or not 0 <= value < 100:
        raise ValueError(f"{text.strip()!r} is not a VAT percentage between 0 and 100")
    return value


def pct(rate: Decimal) -> str:
    """``Decimal("21.00")`` → ``"21"``, ``Decimal("5.50")`` → ``"5.5"``."""
    text = f"{rate.normalize():f}"
    return text


def ean_key(ean: str) -> str:
    """An EAN as compared: digits without leading zeros (bol writes ``0000007740404`` for an EAN-8)."""
    return ean.strip().lstrip("0") or "0"


def _entries(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;\n\r]+", text) if part.strip()]


def _ean(text: str) -> str:
    if not EAN.match(text.strip()):
        raise ValueError(f"{text.strip()!r} is not an EAN (8 to 14 digits)")
    return ean_key(text)


@lru_cache(maxsize=256)
def parse_ean_rates(text: str) -> dict[str, Decimal]:
    """``ean,rate`` entries → ``{ean: rate}``; ``ValueError`` naming every bad entry."""
    rates: dict[str, Decimal] = {}
    problems = []
    for n, entry in enumerate(_entries(text), start=1):
        parts = [p.strip() for p in entry.split(",")]
        try:
            if len(parts) != 2:
                raise ValueError("write it as ean,rate")
            rates[_ean(parts[0])] = _rate(parts[1])
        except ValueError as exc:
            problems.append(f"entry {n} ({entry!r}): {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return rates


@lru_cache(maxsize=256)
def parse_oss_rates(text: str) -> dict[tuple[str, str], Decimal]:
    """``country,ean,rate`` entries → ``{(country, ean): rate}``; ``ValueError`` naming every bad one."""
    rates: dict[tuple[str, str], Decimal] = {}
    problems = []
    for n, entry in enumerate(_entries(text), start=1):
        parts = [p.strip() for p in entry.split(",")]
        try:
            if len(parts) != 3:
                raise ValueError("write it as country,ean,rate")
            country = country_by_code(parts[0]) if len(parts[0]) == 2 else None
            if country is None:
                raise ValueError(f"{parts[0]!r} is not a two-letter country code")
            rates[(country.alpha2, _ean(parts[1]))] = _rate(parts[2])
        except ValueError as exc:
            problems.append(f"entry {n} ({entry!r}): {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return rates


class BolSettings(ConnectorSettings):
    environment: Literal["live", "test"] = setting(
        "live",
        _("Environment"),
        _(
            "Live reads your real orders. Test uses bol.com's demo environment (retailer-demo), which "
            "answers with bol.com's fixed example orders, to try the connection first."
        ),
        choice_labels={"live": _("Live"), "test": _("Test")},
    )
    source: Literal["shipment", "order"] = setting(
        "shipment",
        _("Invoice from"),
        _(
            "Shipment: one invoice per shipment, made when it is dispatched, with exactly the items "
            "shipped (an order shipped in two parts gets two invoices). Order: one invoice per order, "
            "made when the order is placed, with everything ordered that is not cancelled."
        ),
        choice_labels={"shipment": _("Shipment (when dispatched)"), "order": _("Order (when placed)")},
    )
    default_vat_rate: str = setting(
        "21",
        _("Default VAT rate (%)"),
        _("bol.com sends no VAT: every product without a rate of its own below is invoiced at this rate."),
    )
    ean_vat_rates: str = setting(
        "",
        _("VAT rates per EAN"),
        _(
            "Products at another rate than the default: EAN and rate, separated by a comma, entries "
            "separated by ';', e.g. 9789012345678,9; 8712345678906,9"
        ),
    )
    oss: bool = setting(
        False,
        _("I declare OSS (EU One Stop Shop)"),
        _(
            "On: customers in the other bol.com country (Belgium for a Dutch shop, the Netherlands for a "
            "Belgian one) pay their own country's VAT. Koppel takes the same kind of rate there: 21% "
            "stays 21%, the reduced rate becomes that country's (NL 9% is BE 6%, BE 6% or 12% is NL 9%), "
            "unless an OSS rate below says otherwise. Off: your own country's rates for everyone."
        ),
    )
    oss_vat_rates: str = setting(
        "",
        _("OSS rates per country and EAN"),
        _(
            "Only with OSS: a product whose rate in a country differs from the rule above: country, EAN "
            "and rate, e.g. BE,9789012345678,6; BE,8712345678906,12"
        ),
    )

    @field_validator("default_vat_rate")
    @classmethod
    def _check_default(cls, value: str) -> str:
        return pct(_rate(value))

    @field_validator("ean_vat_rates")
    @classmethod
    def _check_ean_rates(cls, value: str) -> str:
        parse_ean_rates(value)
        return value.strip()

    @field_validator("oss_vat_rates")
    @classmethod
    def _check_oss_rates(cls, value: str) -> str:
        parse_oss_rates(value)
        return value.strip()

    def oss_rates(self) -> dict[tuple[str, str], Decimal]:
        """The OSS rates per ``(country, EAN)``, for the connection's VAT rules (``vat_rules.policy_for``):
        the explicit per-country rates the rules apply under OSS, as :func:`vat_rate` does."""
        return parse_oss_rates(self.oss_vat_rates)


@dataclass(frozen=True, slots=True)
class ChosenRate:
    """A line's VAT rate and why: shown on the record beside the line."""

    rate: Decimal
    reason: str

    def __str__(self) -> str:
        return f"{pct(self.rate)}%: {self.reason}"


def vat_rate(settings: BolSettings, ean: str, country: str) -> ChosenRate:
    """The rate of a product with ``ean`` sold to a customer in ``country`` (alpha-2, may be empty)."""
    key = ean_key(ean) if ean else ""
    home_rates = parse_ean_rates(settings.ean_vat_rates)
    if key and key in home_rates:
        home = ChosenRate(home_rates[key], f"the rate for EAN {ean}")
    else:
        home = ChosenRate(_rate(settings.default_vat_rate), "the default rate")
    country = country.strip().upper()
    if not settings.oss or not country:
        return home
    explicit = parse_oss_rates(settings.oss_vat_rates).get((country, key)) if key else None
    if explicit is not None:
        return ChosenRate(explicit, f"OSS, the {country} rate for EAN {ean}")
    rates = COUNTRY_RATES.get(country)
    if rates is None:
        return ChosenRate(home.rate, f"{home.reason} (no OSS rates known for {country})")
    standard, reduced = rates
    if home.rate in (standard, Decimal(0), *reduced):
        return home
    if home.rate not in {rate for _standard, others in COUNTRY_RATES.values() for rate in others}:
        return ChosenRate(
            standard, f"OSS, the standard rate in {country} ({home.reason} is {pct(home.rate)}%)"
        )
    return ChosenRate(reduced[0], f"OSS, the reduced rate in {country} ({home.reason} is {pct(home.rate)}%)")
