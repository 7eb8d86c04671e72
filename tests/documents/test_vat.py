"""EU VAT rules for an NL/BE webshop: when is an order a 0% intra-community supply (ICP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from koppel.documents.countries import country_by_code
from koppel.documents.model import LineKind, Order, OrderLine, Party, build_invoice
from koppel.documents.vat import (
    is_cross_border_business,
    is_intra_community_supply,
    normalized_rate,
    vat_number_problem,
)

D = Decimal


def order(
    rates: tuple[str, ...] = ("0",),
    *,
    shipping_rate: str | None = "0",
    shipping_price: str = "9.50",
    company: str = "Frituur Claes BV",
    vat_number: str = "BE0403019261",
    country: str = "BE",
) -> Order:
    lines = tuple(
        OrderLine(description=f"Friteuse {n}", quantity=D(1), unit_price=D("350.00"), vat_rate=D(rate))
        for n, rate in enumerate(rates, 1)
    )
    shipping = None
    if shipping_rate is not None:
        shipping = OrderLine(
            description="Verzendkosten",
            quantity=D(1),
            unit_price=D(shipping_price),
            vat_rate=D(shipping_rate),
            kind=LineKind.SHIPPING,
        )
    return Order(
        source="kmoshops",
        source_id="7001",
        number="7001",
        created_at=datetime(2024, 5, 6, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        status="paid",
        currency="EUR",
        prices_include_vat=False,
        payment_method="Bankoverschrijving",
        paid=False,
        customer=Party(
            first_name="Pieter",
            last_name="Claes",
            company=company,
            street="Meir",
            house_number="44",
            zipcode="2000",
            city="Antwerpen",
            country_raw=country,
            email="pieter@claes.be",
            vat_number=vat_number,
        ),
        lines=lines,
        shipping=shipping,
        total=D("0.00"),
    )


def test_belgian_company_with_vat_number_at_zero_percent_is_icp() -> None:
    o = order(("0", "0"))
    assert is_intra_community_supply(o, "NL")
    assert build_invoice(o, intra_community=True).intra_community


def test_belgian_company_charged_21_percent_is_not_vat_shifted() -> None:
    o = order(("21",), shipping_rate="21")
    assert is_cross_border_business(o, "NL")  # the VAT number is still checked ...
    assert not is_intra_community_supply(o, "NL")  # ... but the sale is booked as charged


def test_mixed_zero_and_charged_rates_are_not_icp() -> None:
    assert not is_intra_community_supply(order(("0", "21")), "NL")


def test_shipping_charged_with_vat_makes_it_not_icp() -> None:
    assert not is_intra_community_supply(order(("0",), shipping_rate="21"), "NL")


def test_free_shipping_at_21_percent_does_not_spoil_icp() -> None:
    assert is_intra_community_supply(order(("0",), shipping_rate="21", shipping_price="0.00"), "NL")


def test_company_without_vat_number_is_not_icp_even_at_zero_percent() -> None:
    o = order(("0",), vat_number="")
    assert is_cross_border_business(o, "NL")
    assert not is_intra_community_supply(o, "NL")


def test_vat_number_of_spaces_is_no_vat_number() -> None:
    assert not is_intra_community_supply(order(("0",), vat_number="  "), "NL")


def test_domestic_business_is_not_icp() -> None:
    o = order(("0",), country="NL", company="Bakkerij De Witte BV", vat_number="NL004495445B01")
    assert not is_cross_border_business(o, "NL")
    assert not is_intra_community_supply(o, "NL")


def test_shop_country_decides_what_is_domestic() -> None:
    belgian = order(("0",))
    assert not is_intra_community_supply(belgian, "BE")
    assert not is_intra_community_supply(belgian, "be")
    dutch = order(("0",), country="NL", company="Bakkerij De Witte BV", vat_number="NL004495445B01")
    assert is_intra_community_supply(dutch, "BE")


def test_consumer_is_not_icp() -> None:
    o = order(("0",), company="", vat_number="")
    assert not is_cross_border_business(o, "NL")
    assert not is_intra_community_supply(o, "NL")


def test_export_outside_the_eu_is_not_icp() -> None:
    o = order(("0",), country="CH", company="Uhren AG", vat_number="CHE116281710")
    assert not is_cross_border_business(o, "NL")
    assert not is_intra_community_supply(o, "NL")


@pytest.mark.parametrize("country", ["", "Atlantis"])
def test_unknown_or_empty_country_is_not_treated_as_icp(country: str) -> None:
    assert not is_intra_community_supply(order(("0",), country=country), "NL")


@pytest.mark.parametrize("country", ["Belgium", "België", "BEL", "belgie"])
def test_country_given_as_a_name_or_alpha3(country: str) -> None:
    assert is_intra_community_supply(order(("0",), country=country), "NL")


# --- vat_number_problem --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("BE0403019261", "BE"),
        ("NL004495445B01", "NL"),
        ("NL000099998B57", "NL"),  # the mod-97 btw-id of a sole trader
        ("DE136695976", "DE"),
        ("EL094259216", "GR"),
        ("ATU13585627", "AT"),
        ("FR40303265045", "FR"),
    ],
)
def test_valid_vat_numbers(number: str, country: str) -> None:
    assert vat_number_problem(number, country_by_code(country)) is None


def test_valid_vat_number_without_a_known_billing_country() -> None:
    assert vat_number_problem("BE0403019261", None) is None


@pytest.mark.parametrize("number", ["BE0403019262", "NL123456789B01", "DE136695977"])
def test_wrong_check_digits(number: str) -> None:
    problem = vat_number_problem(number, None)
    assert problem is not None
    assert problem.message == f"VAT number {number!r} has a wrong format or check digits"


def test_vat_number_from_another_country_than_the_billing_country() -> None:
    problem = vat_number_problem("DE136695976", country_by_code("BE"))
    assert problem is not None
    assert problem.message == "VAT number 'DE136695976' is from Germany, but the billing country is Belgium"


@pytest.mark.parametrize("number", ["", "hello", "US123456789", "12345"])
def test_unusable_vat_numbers(number: str) -> None:
    assert vat_number_problem(number, country_by_code("BE")) is not None


# --- rates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [("21", "21.00"), ("21.0", "21"), ("9", "9.00"), ("0", "0.00"), ("5.5", "5.50")]
)
def test_normalized_rate_same_rate_in_any_notation(a: str, b: str) -> None:
    assert normalized_rate(D(a)) == normalized_rate(D(b))
    assert hash(normalized_rate(D(a))) == hash(normalized_rate(D(b)))


def test_normalized_rate_keeps_different_rates_apart() -> None:
    assert normalized_rate(D("21")) != normalized_rate(D("2.1"))
    assert normalized_rate(D("0")) != normalized_rate(D("9"))
