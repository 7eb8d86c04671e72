"""Tests for the ISO 3166-1 country table (pure Python, no Django needed)."""

import dataclasses

import pytest

from koppel.documents.countries import (
    COUNTRIES,
    EU_MEMBER_CODES,
    Country,
    country_by_code,
    is_eu,
    resolve_country,
)


@pytest.mark.parametrize(
    "value", ["NL", "nl", "NLD", " nld ", "Nederland", "netherlands", "The Netherlands", "Holland"]
)
def test_resolves_netherlands(value: str) -> None:
    country = resolve_country(value)
    assert country is not None
    assert country.alpha2 == "NL"
    assert country.name_nl == "Nederland"
    assert country.name_en == "Netherlands"


@pytest.mark.parametrize("value", ["BE", "BEL", "België", "Belgie", "belgië", "Belgium", "Belgique"])
def test_resolves_belgium(value: str) -> None:
    country = resolve_country(value)
    assert country is not None
    assert country.alpha2 == "BE"


@pytest.mark.parametrize(
    ("value", "alpha2"),
    [
        ("Duitsland", "DE"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("Frankrijk", "FR"),
        ("France", "FR"),
        ("Verenigd Koninkrijk", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("UK", "GB"),
        ("Verenigde Staten", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("Luxemburg", "LU"),
        ("Luxembourg", "LU"),
        ("Oostenrijk", "AT"),
        ("Österreich", "AT"),
        ("Osterreich", "AT"),
        ("Spanje", "ES"),
        ("Italië", "IT"),
        ("Italie", "IT"),
        ("Zwitserland", "CH"),
        ("Noorwegen", "NO"),
        ("  griekenland  ", "GR"),
    ],
)
def test_resolves_names_and_alternatives(value: str, alpha2: str) -> None:
    country = resolve_country(value)
    assert country is not None
    assert country.alpha2 == alpha2


@pytest.mark.parametrize("value", ["", "   ", "Atlantis", "XX", "XYZ", "Nederlands"])
def test_unknown_or_empty_returns_none(value: str) -> None:
    assert resolve_country(value) is None


def test_country_by_code() -> None:
    assert country_by_code("de") == country_by_code("DEU") == country_by_code(" DE ")
    assert country_by_code("EL") == country_by_code("GR")
    assert country_by_code("uk") == country_by_code("GB")
    assert country_by_code("Nederland") is None
    assert country_by_code("") is None
    assert country_by_code("XX") is None


def test_greece_vat_prefix() -> None:
    greece = country_by_code("GR")
    assert greece is not None
    assert greece.eu
    assert greece.vat_prefix == "EL"
    assert greece.name_nl == "Griekenland"
    assert resolve_country("EL") == greece


def test_vat_prefix_is_alpha2_for_other_eu_members_and_none_outside() -> None:
    for country in COUNTRIES:
        if not country.eu:
            assert country.vat_prefix is None
        elif country.alpha2 != "GR":
            assert country.vat_prefix == country.alpha2


def test_is_eu() -> None:
    assert is_eu("NL")
    assert is_eu("nld")
    assert is_eu("EL")
    assert not is_eu("US")
    assert not is_eu("GB")
    assert not is_eu("CH")
    assert not is_eu("NO")
    assert not is_eu("")
    assert not is_eu("XX")
    united_states = country_by_code("US")
    assert united_states is not None
    assert not united_states.eu
    assert united_states.vat_prefix is None


def test_exactly_27_eu_members() -> None:
    assert len(EU_MEMBER_CODES) == 27
    assert {c.alpha2 for c in COUNTRIES if c.eu} == EU_MEMBER_CODES


def test_table_has_249_entries_ordered_by_alpha2() -> None:
    assert len(COUNTRIES) == 249
    assert [c.alpha2 for c in COUNTRIES] == sorted(c.alpha2 for c in COUNTRIES)


def test_codes_are_unique_and_well_formed() -> None:
    alpha2 = [c.alpha2 for c in COUNTRIES]
    alpha3 = [c.alpha3 for c in COUNTRIES]
    assert len(set(alpha2)) == len(alpha2)
    assert len(set(alpha3)) == len(alpha3)
    for country in COUNTRIES:
        assert len(country.alpha2) == 2 and country.alpha2.isascii() and country.alpha2.isupper()
        assert len(country.alpha3) == 3 and country.alpha3.isascii() and country.alpha3.isupper()


def test_names_are_unique() -> None:
    names_nl = [c.name_nl for c in COUNTRIES]
    names_en = [c.name_en for c in COUNTRIES]
    assert len(set(names_nl)) == len(names_nl)
    assert len(set(names_en)) == len(names_en)


def test_every_entry_resolves_by_its_own_codes_and_names() -> None:
    for country in COUNTRIES:
        assert resolve_country(country.alpha2) is country
        assert resolve_country(country.alpha3.lower()) is country
        assert resolve_country(country.name_nl) is country
        assert resolve_country(country.name_en.upper()) is country


def test_country_is_frozen() -> None:
    country = country_by_code("NL")
    assert isinstance(country, Country)
    with pytest.raises(dataclasses.FrozenInstanceError):
        country.name_nl = "Holland"  # type: ignore[misc]
