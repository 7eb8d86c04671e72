"""The VAT rules through the worker: KMO Shops orders booked into Factuursturen by a connection with or
without OSS and the VIES check, against the sandboxes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from koppel.documents.vat_notes import EXPORT_NOTE, INTRA_COMMUNITY_NOTE
from koppel.sync.models import State
from tests.conftest import book, connect, make_order

BUSINESS = {"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "BE0403019261", "zipcode": "2000"}


@pytest.fixture
def eu_administration(sandbox, administration):
    """The administration with German and Belgian rates besides the Dutch ones."""
    body = {
        "username": administration.username,
        "api_key": administration.api_key,
        "hourly_limit": 100_000,
        "taxes": ["21", "9", "19", "7", "6", "0"],
    }
    assert httpx.post(f"{sandbox.url}/_sandbox/factuursturen/accounts", json=body).status_code in (200, 201)
    return administration


@pytest.fixture
def vies(sandbox, settings):
    from django.core.cache import cache

    control = f"{sandbox.url}/_sandbox/vies"
    settings.KOPPEL_VIES_URL = f"{sandbox.url}/vies/rest-api"
    cache.clear()
    httpx.delete(f"{control}/numbers")
    httpx.delete(f"{control}/requests")
    yield control
    httpx.delete(f"{control}/numbers")
    httpx.post(f"{control}/member-states/BE", json={"available": True})
    cache.clear()


def german(rate: str, **overrides: Any) -> dict[str, Any]:
    lines = [
        {"sku": "MUG-1", "description": "Mok Delfts blauw", "amount": 2, "price": "12.95", "tax_rate": rate}
    ]
    return make_order(
        customer={"country": "DE", "city": "Köln", "zipcode": "50667"},
        lines=lines,
        shipping=None,
        **overrides,
    )


def business_order(**overrides: Any) -> dict[str, Any]:
    lines = [{"description": "Koffiemolen", "amount": 2, "price": "80.00", "tax_rate": "0"}]
    return make_order(customer=BUSINESS, lines=lines, shipping=None, priceincltax=False, total="160.00")


def test_a_german_consumer_at_19_percent_is_booked_when_oss_is_declared(
    account, shop, eu_administration, deliver
):
    connection = connect(account, shop, eu_administration, oss_declared=True)
    record = book(shop, connection, deliver, german("19.00"))
    assert record.state == State.HANDLED, record.message
    [line] = record.document["lines"]
    assert (line["vat_rate"], line["vat_category"]) == ("19.00", "S")
    assert "a distance sale to a consumer in Germany, OSS" in line["vat_reason"]
    [invoice] = eu_administration.invoices
    assert eu_administration.invoice_total(invoice) == record.total


def test_a_german_consumer_charged_dutch_vat_under_oss_stops_the_order(
    account, shop, eu_administration, deliver
):
    connection = connect(account, shop, eu_administration, oss_declared=True)
    record = book(shop, connection, deliver, german("21.00"))
    assert (record.state, record.error_code) == (State.ERROR, "VAT_RATE_MISMATCH")
    assert record.message == (
        "Line 'Mok Delfts blauw': the shop charged 21% VAT, the VAT rules give 19% (a distance sale to a "
        "consumer in Germany under OSS takes the DE rate)"
    )
    assert eu_administration.invoices == []


def test_without_oss_a_german_consumer_pays_the_home_rate(account, shop, eu_administration, deliver):
    connection = connect(account, shop, eu_administration)
    record = book(shop, connection, deliver, german("21.00"))
    assert record.state == State.HANDLED, record.message
    assert record.document["lines"][0]["vat_rate"] == "21.00"


def test_an_intra_community_supply_carries_k_and_the_mention(account, shop, administration, deliver):
    connection = connect(account, shop, administration)
    record = book(shop, connection, deliver, business_order())
    assert record.state == State.HANDLED, record.message
    assert record.document["vat_note"] == INTRA_COMMUNITY_NOTE["NL"]
    assert {line["vat_category"] for line in record.document["lines"]} == {"K"}


def test_an_export_to_switzerland_carries_g_and_the_mention(account, shop, administration, deliver):
    connection = connect(account, shop, administration)
    lines = [{"description": "Klok", "amount": 1, "price": "100.00", "tax_rate": "0"}]
    order = make_order(customer={"country": "CH", "city": "Zürich"}, lines=lines, shipping=None)
    record = book(shop, connection, deliver, order)
    assert record.state == State.HANDLED, record.message
    assert record.document["vat_note"] == EXPORT_NOTE["NL"]
    assert record.document["lines"][0]["vat_category"] == "G"


def test_vies_valid_books_the_supply_with_its_confirmation(account, shop, administration, deliver, vies):
    httpx.post(f"{vies}/numbers", json={"vat_number": "BE0403019261", "name": "BRASSERIE ANVERS BV"})
    connection = connect(account, shop, administration, vies_check=True)
    record = book(shop, connection, deliver, business_order())
    assert record.state == State.HANDLED, record.message
    assert "confirmed by VIES on" in record.document["lines"][0]["vat_reason"]


def test_vies_invalid_stops_the_order(account, shop, administration, deliver, vies):
    connection = connect(account, shop, administration, vies_check=True)
    record = book(shop, connection, deliver, business_order())
    assert (record.state, record.error_code) == (State.ERROR, "ICP_VAT_NUMBER_INVALID")
    assert record.message == (
        "VIES says VAT number 'BE0403019261' is not valid (not registered as an active VAT number in VIES)"
    )


def test_vies_down_books_on_the_offline_check_and_says_so(account, shop, administration, deliver, vies):
    httpx.post(f"{vies}/member-states/BE", json={"available": False})
    connection = connect(account, shop, administration, vies_check=True)
    record = book(shop, connection, deliver, business_order())
    assert record.state == State.HANDLED, record.message
    reason = record.document["lines"][0]["vat_reason"]
    assert "VIES could not be asked: VIES answered MS_UNAVAILABLE; format and check digits checked" in reason
    assert record.document["intra_community"] is True
    assert "VIES could not be asked about the VAT number" in record.message  # the record says so too


def test_vies_is_not_asked_when_the_check_is_off(account, shop, administration, deliver, vies):
    connection = connect(account, shop, administration)
    record = book(shop, connection, deliver, business_order())
    assert record.state == State.HANDLED, record.message
    assert httpx.get(f"{vies}/requests").json() == []
