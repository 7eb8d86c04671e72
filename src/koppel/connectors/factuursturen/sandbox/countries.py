"""Factuursturen's country ids (``countrylist``): ids by alpha-2 order, the Netherlands "146", and the
lookup of an id or a country name."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from koppel.documents.countries import COUNTRIES, Country, country_by_code, resolve_country

from .common import NETHERLANDS_ID, _bad


def _country_ids() -> dict[str, Country]:
    """Ids by alpha-2 order, skipping "146", which is the Netherlands' (as in the recorded responses)."""
    by_id: dict[str, Country] = {}
    next_id = 1
    for country in sorted(COUNTRIES, key=lambda c: c.alpha2):
        if country.alpha2 == "NL":
            by_id[NETHERLANDS_ID] = country
            continue
        if str(next_id) == NETHERLANDS_ID:
            next_id += 1
        by_id[str(next_id)] = country
        next_id += 1
    return by_id


def _sort_key(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


COUNTRY_BY_ID: dict[str, Country] = _country_ids()
COUNTRY_ID: dict[str, str] = {country.alpha2: country_id for country_id, country in COUNTRY_BY_ID.items()}
_COUNTRY_LISTS: dict[str, bytes] = {
    lang: json.dumps(
        sorted(
            ({"id": cid, "name": getattr(c, f"name_{lang}")} for cid, c in COUNTRY_BY_ID.items()),
            key=lambda item: _sort_key(item["name"]),
        )
    ).encode()
    for lang in ("nl", "en")
}


def country_id(value: Any) -> str:
    """The countrylist id for an id or a Dutch/English country name; codes such as "NL" are refused."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None:
        raise _bad("Invalid value for field country")
    if not text:
        return NETHERLANDS_ID
    if text.isdigit():
        if text.lstrip("0") in COUNTRY_BY_ID:
            return text.lstrip("0")
    elif country_by_code(text) is None:
        country = resolve_country(text)
        if country is not None:
            return COUNTRY_ID[country.alpha2]
    raise _bad(f"Unknown country: {text}")
