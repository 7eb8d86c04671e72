"""The seller (the merchant) as a UBL document names it: read from a JSON object and checked up front, so a
bad IBAN or VAT number is a clear error rather than an e-invoice that a Peppol access point refuses."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from stdnum import iban as stdnum_iban
from stdnum.be import vat as be_vat
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from ..countries import Country, resolve_country
from .endpoints import eas_for_vat, vat_id

#: A Dutch KvK number: 8 digits (Peppol PEPPOL-COMMON-R054).
_KVK = re.compile(r"^[0-9]{8}$")
_OPTIONAL = frozenset({"email", "coc_number"})


class SellerInvalid(ValueError):
    """The seller's details cannot make a valid e-invoice; the message names every wrong field."""


@dataclass(frozen=True, slots=True)
class Seller:
    """The merchant issuing the invoice. ``vat_number`` is compact with its country prefix (``NL…B01``),
    ``country`` an ISO alpha-2 code, ``iban`` compact; ``coc_number`` is the KvK number (required for a
    Dutch seller: NL-R-003) or the Belgian enterprise number (derived from the VAT number when absent)."""

    name: str
    vat_number: str
    street: str
    postal_code: str
    city: str
    country: str
    iban: str
    coc_number: str = ""
    email: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Seller:
        """The seller of a JSON object (``SELLER.json``); raises :class:`SellerInvalid` naming each missing,
        unknown or invalid field."""
        if not isinstance(data, dict):
            raise SellerInvalid("the seller must be a JSON object")
        names = [f.name for f in fields(cls)]
        problems = [f"unknown field {key!r}" for key in data if key not in names]
        values: dict[str, str] = {}
        for name in names:
            value = data.get(name, "")
            if not isinstance(value, str):
                problems.append(f"{name}: expected a string, got {type(value).__name__}")
            elif not value.strip() and name not in _OPTIONAL:
                problems.append(f"{name}: missing")
            else:
                values[name] = value.strip()
        problems += _checked(values)
        if problems:
            raise SellerInvalid("seller: " + "; ".join(problems))
        return cls(**values)


def _checked(values: dict[str, str]) -> list[str]:
    """The problems of the fields present in ``values``, which it normalizes (country code, compact VAT
    number and IBAN, the chamber-of-commerce number as the document states it)."""
    problems: list[str] = []
    country = resolve_country(values["country"]) if values.get("country") else None
    if country is not None:
        values["country"] = country.alpha2
    elif values.get("country"):
        problems.append(f"country: {values['country']!r} is not a country")
    vat_problem = _vat_problem(values["vat_number"], country) if values.get("vat_number") else "missing"
    if not vat_problem:
        values["vat_number"] = vat_id(values["vat_number"])
    elif values.get("vat_number"):
        problems.append(vat_problem)
    if values.get("iban"):
        try:
            values["iban"] = stdnum_iban.validate(values["iban"])
        except ValidationError as exc:
            problems.append(f"iban: {values['iban']!r} is not a valid IBAN ({exc})")
    if country is not None and not vat_problem:
        coc_problem, values["coc_number"] = _coc(values.get("coc_number", ""), country, values["vat_number"])
        if coc_problem:
            problems.append(coc_problem)
    return problems


def _vat_problem(vat_number: str, country: Country | None) -> str:
    compact = vat_id(vat_number)
    if not eu_vat.is_valid(compact):
        return f"vat_number: {vat_number!r} is not a valid EU VAT number (format or check digits)"
    if country is not None and compact[:2] != (country.vat_prefix or ""):
        return f"vat_number: {vat_number!r} is not a VAT number of {country.name_en}"
    if eas_for_vat(compact) is None:
        return f"vat_number: Peppol has no electronic address scheme for VAT numbers of {compact[:2]}"
    return ""


def _coc(coc_number: str, country: Country, vat_number: str) -> tuple[str, str]:
    """The problem with the chamber-of-commerce number, and the number as the document carries it."""
    digits = re.sub(r"[\s.\-]", "", coc_number)
    if country.alpha2 == "NL":
        if not _KVK.match(digits):
            return f"coc_number: a Dutch seller needs its KvK number (8 digits), got {coc_number!r}", digits
        return "", digits
    if country.alpha2 == "BE":
        digits = digits.upper().removeprefix("BE") or vat_number[2:]
        if not be_vat.is_valid(digits):
            return f"coc_number: {coc_number!r} is not a Belgian enterprise number", digits
        return "", be_vat.compact(digits)
    return "", digits
