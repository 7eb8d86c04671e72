"""The VAT engine: every selling case of an NL or BE shop, the mismatch check, bol.com's rates and a
property over random orders and policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.connectors.bol.config import BolSettings
from koppel.connectors.bol.config import vat_rate as bol_vat_rate
from koppel.documents.checks import (
    CheckContext,
    check_icp_vat_number,
    check_vat_rules,
    invoice_for,
    run_checks,
)
from koppel.documents.codes import Code
from koppel.documents.model import LineKind, Order, OrderLine, Party, vat_category_of
from koppel.documents.vat_notes import EXPORT_NOTE, INTRA_COMMUNITY_NOTE
from koppel.documents.vat_rates import corresponding_rate, member_states, rate_key, rate_table
from koppel.documents.vat_rules import (
    SaleCase,
    VatNumberCheck,
    VatPolicy,
    ViesOutcome,
    decide,
    policy_for,
)
from tests.conftest import shared_file

BELGIAN_VAT = "BE0403019261"
DUTCH_VAT = "NL004495445B01"


def order(
    *rates: str,
    country: str = "NL",
    company: str = "",
    vat_number: str = "",
    reasons: tuple[str, ...] = (),
    skus: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> Order:
    lines = tuple(
        OrderLine(
            f"Artikel {n}",
            D(1),
            D("10.00"),
            D(rate),
            sku=skus[n] if n < len(skus) else f"SKU-{n}",
            vat_reason=reasons[n] if n < len(reasons) else "",
            vat_category=categories[n] if n < len(categories) else "",
        )
        for n, rate in enumerate(rates)
    )
    return Order(
        source="test",
        source_id="1",
        number="1001",
        created_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
        status="paid",
        currency="EUR",
        prices_include_vat=True,
        payment_method="iDEAL",
        paid=True,
        customer=Party(
            first_name="Anna", last_name="Klein", company=company, vat_number=vat_number, country_raw=country
        ),
        lines=lines,
        shipping=None,
        total=D("10.00") * len(rates),
    )


def rates_of(decision) -> list[tuple[str, str]]:
    return [(f"{line.vat_rate.normalize():f}", line.vat_category) for line in decision.order.all_lines]


NL, NL_OSS, BE, BE_OSS = (
    VatPolicy("NL"),
    VatPolicy("NL", oss=True),
    VatPolicy("BE"),
    VatPolicy("BE", oss=True),
)


# -- domestic ---------------------------------------------------------------------------------------------


def test_a_domestic_sale_keeps_the_shops_home_rates() -> None:
    decision = decide(order("21", "9", "0"), NL)
    assert decision.case == SaleCase.DOMESTIC
    assert rates_of(decision) == [("21", "S"), ("9", "S"), ("0", "Z")]
    assert not decision.mismatches and decision.vat_note == ""
    assert "a sale within Netherlands" in decision.order.lines[0].vat_reason


def test_a_domestic_rate_the_country_lacks_is_left_to_the_administrations_check() -> None:
    decision = decide(order("7"), NL)
    assert not decision.mismatches  # VAT_CODE_MISSING says the administration lacks it
    assert "not a NL rate" in decision.order.lines[0].vat_reason


def test_an_exempt_line_keeps_its_category() -> None:
    decision = decide(order("0", "21", categories=("E",)), NL)
    assert rates_of(decision) == [("0", "E"), ("21", "S")]


def test_an_unknown_country_is_booked_as_charged() -> None:
    decision = decide(order("21", country="Atlantis"), NL)
    assert decision.case == SaleCase.UNKNOWN_COUNTRY and not decision.mismatches


# -- distance sales (OSS) ---------------------------------------------------------------------------------


def test_a_german_consumer_pays_19_percent_under_oss() -> None:
    decision = decide(order("19", country="DE"), NL_OSS)
    assert decision.case == SaleCase.DISTANCE_SALE
    assert rates_of(decision) == [("19", "S")] and not decision.mismatches


def test_a_german_consumer_charged_dutch_vat_under_oss_is_a_mismatch() -> None:
    [mismatch] = decide(order("21", country="DE"), NL_OSS).mismatches
    assert (mismatch.shop_rate, mismatch.rules_rate) == (D(21), D(19))
    [result] = check_vat_rules(order("21", country="DE"), CheckContext(vat_policy=NL_OSS))
    assert result.code == Code.VAT_RATE_MISMATCH and not result.passed
    assert result.message.startswith("Line 'Artikel 0': the shop charged 21% VAT, the VAT rules give 19%")


def test_without_oss_a_german_consumer_pays_the_home_rate() -> None:
    decision = decide(order("21", country="DE"), NL)
    assert rates_of(decision) == [("21", "S")] and not decision.mismatches
    assert "does not declare OSS" in decision.order.lines[0].vat_reason


def test_without_oss_the_shops_own_oss_rate_is_kept() -> None:
    decision = decide(order("19", country="DE"), NL)
    assert not decision.mismatches
    assert "the shop applies OSS" in decision.order.lines[0].vat_reason


def test_without_oss_a_rate_of_neither_country_is_a_mismatch() -> None:
    [mismatch] = decide(order("23", country="DE"), NL).mismatches
    assert mismatch.rules_rate == D(21)


def test_a_dutch_9_percent_book_is_6_percent_in_belgium_under_oss() -> None:
    chosen = order("9", country="BE", reasons=("9%: the rate for EAN 9789012345678",))
    decision = decide(chosen, NL_OSS)
    assert rates_of(decision) == [("6", "S")] and not decision.mismatches
    assert "corresponding reduced rate in Belgium" in decision.order.lines[0].vat_reason
    [shop_charged] = decide(order("9", country="BE"), NL_OSS).mismatches
    assert (shop_charged.shop_rate, shop_charged.rules_rate) == (D(9), D(6))


def test_an_explicit_oss_rate_overrides_the_mapping() -> None:
    policy = VatPolicy("NL", oss=True, oss_rates={("BE", "9789012345678"): D(12)})
    chosen = order("9", country="BE", reasons=("9%: the default rate",), skus=("09789012345678",))
    assert rates_of(decide(chosen, policy)) == [("12", "S")]
    [mismatch] = decide(order("6", country="BE", skus=("9789012345678",)), policy).mismatches
    assert mismatch.rules_rate == D(12)


def test_a_business_without_a_vat_number_is_a_distance_sale() -> None:
    decision = decide(order("21", country="DE", company="Müller GmbH"), NL_OSS)
    assert decision.case == SaleCase.DISTANCE_SALE and decision.mismatches


@pytest.mark.parametrize(("home", "rate", "country", "expected"), [
    ("NL", "21", "DE", "19"), ("NL", "9", "DE", "7"), ("NL", "9", "FR", "5.5"), ("NL", "9", "DK", "25"),
    ("BE", "6", "NL", "9"), ("BE", "12", "NL", "9"), ("BE", "12", "DE", "7"), ("BE", "21", "FR", "20"),
    ("BE", "6", "FR", "5.5"), ("BE", "12", "FR", "10"),
])  # fmt: skip
def test_the_oss_mapping_by_kind_of_rate(home: str, rate: str, country: str, expected: str) -> None:
    home_table, dest = rate_table(home), rate_table(country)
    assert home_table and dest
    assert corresponding_rate(D(rate), home_table, dest) == D(expected)


# -- intra-community supplies -----------------------------------------------------------------------------


def test_a_belgian_business_with_a_valid_vat_number_gets_0_percent_k_with_the_mention() -> None:
    placed = order("0", "0", country="BE", company="Brasserie Anvers BV", vat_number=BELGIAN_VAT)
    decision = decide(placed, NL)
    assert decision.case == SaleCase.INTRA_COMMUNITY and decision.intra_community
    assert rates_of(decision) == [("0", "K"), ("0", "K")]
    assert decision.vat_note == INTRA_COMMUNITY_NOTE["NL"]
    assert "tabel II, onderdeel a, post 6" in decision.vat_note
    invoice = invoice_for(placed, "NL")
    assert invoice.intra_community and invoice.vat_note == INTRA_COMMUNITY_NOTE["NL"]
    assert {vat_category_of(line, invoice) for line in invoice.lines} == {"K"}
    assert invoice.as_dict()["vat_note"].startswith("Intracommunautaire levering")


def test_a_belgian_business_with_an_invalid_vat_number_gets_the_home_rate_and_the_icp_error() -> None:
    placed = order("21", country="BE", company="Brasserie Anvers BV", vat_number="BE0403019262")
    decision = decide(placed, NL)
    assert decision.case == SaleCase.DISTANCE_SALE and rates_of(decision) == [("21", "S")]
    results = {r.code: r for r in check_icp_vat_number(placed, CheckContext())}
    assert not results[Code.ICP_VAT_NUMBER_INVALID].passed
    zero = order("0", country="BE", company="Brasserie Anvers BV", vat_number="BE0403019262")
    assert decide(zero, NL).case == SaleCase.DISTANCE_SALE  # 0% stays Z: no intra-community supply


def test_a_business_charged_home_vat_is_booked_as_charged() -> None:
    placed = order("21", "9", country="BE", company="Brasserie Anvers BV", vat_number=BELGIAN_VAT)
    decision = decide(placed, NL_OSS)  # OSS is for consumers: a business is not a distance sale
    assert decision.case == SaleCase.EU_BUSINESS_CHARGED
    assert rates_of(decision) == [("21", "S"), ("9", "S")] and not decision.mismatches
    [mismatch] = decide(order("6", country="BE", company="X BV", vat_number=BELGIAN_VAT), NL).mismatches
    assert mismatch.rules_rate == D(9)


def test_vies_refusing_the_number_makes_it_no_intra_community_supply() -> None:
    placed = order("0", country="BE", company="Brasserie Anvers BV", vat_number=BELGIAN_VAT)
    refused = VatNumberCheck(BELGIAN_VAT, ViesOutcome.INVALID, "not registered")
    assert decide(placed, NL, refused).case == SaleCase.DISTANCE_SALE
    down = VatNumberCheck(BELGIAN_VAT, ViesOutcome.UNAVAILABLE, "VIES answered MS_UNAVAILABLE")
    decision = decide(placed, NL, down)
    assert decision.case == SaleCase.INTRA_COMMUNITY
    assert "VIES could not be asked: VIES answered MS_UNAVAILABLE" in decision.order.lines[0].vat_reason


# -- exports ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["CH", "GB", "NO", "US"])
def test_an_export_is_0_percent_g_with_the_mention(country: str) -> None:
    decision = decide(order("0", country=country), NL)
    assert decision.case == SaleCase.EXPORT and rates_of(decision) == [("0", "G")]
    assert decision.vat_note == EXPORT_NOTE["NL"]


def test_an_export_charged_with_vat_or_a_sales_tax_is_booked_as_charged() -> None:
    decision = decide(order("21", "7.5", country="US"), NL)
    assert rates_of(decision) == [("21", "S"), ("7.5", "S")] and not decision.mismatches
    assert decision.vat_note == "" and "booked as charged" in decision.order.lines[0].vat_reason


def test_an_export_of_a_source_without_vat_is_decided_0_percent() -> None:
    decision = decide(order("21", country="CH", reasons=("21%: the default rate",)), NL)
    assert rates_of(decision) == [("0", "G")] and not decision.mismatches


# -- a Belgian merchant -----------------------------------------------------------------------------------


def test_a_belgian_merchants_cases() -> None:
    assert rates_of(decide(order("21", "12", "6", country="BE"), BE)) == [
        ("21", "S"),
        ("12", "S"),
        ("6", "S"),
    ]
    dutch_business = order("0", country="NL", company="Bakkerij De Witte BV", vat_number=DUTCH_VAT)
    supply = decide(dutch_business, BE)
    assert supply.case == SaleCase.INTRA_COMMUNITY and supply.vat_note == INTRA_COMMUNITY_NOTE["BE"]
    assert "artikel 39bis" in supply.vat_note
    assert rates_of(decide(order("9", country="NL"), BE_OSS)) == [("9", "S")]
    [mismatch] = decide(order("6", country="NL"), BE_OSS).mismatches
    assert mismatch.rules_rate == D(9)
    assert not decide(order("6", country="NL"), BE).mismatches  # home rate without OSS
    export = decide(order("0", country="CH"), BE)
    assert export.vat_note == EXPORT_NOTE["BE"] and "artikel 39" in export.vat_note


def test_free_shipping_at_a_rate_does_not_count() -> None:
    placed = order("0", country="BE", company="Brasserie Anvers BV", vat_number=BELGIAN_VAT)
    free = OrderLine("Verzendkosten", D(1), D("0.00"), D(21), LineKind.SHIPPING)
    decision = decide(Order(**{**_fields(placed), "shipping": free}), NL)
    assert decision.case == SaleCase.INTRA_COMMUNITY and not decision.mismatches


def _fields(placed: Order) -> dict:
    return {name: getattr(placed, name) for name in placed.__dataclass_fields__}


# -- the checks and the invoice ---------------------------------------------------------------------------


def test_run_checks_adds_a_result_only_for_a_mismatch() -> None:
    ctx = CheckContext(eligible_statuses=frozenset({"paid"}), vat_policy=NL_OSS)
    codes = [r.code for r in run_checks(order("19", country="DE"), ctx)]
    assert Code.VAT_RATE_MISMATCH not in codes
    failing = [r.code for r in run_checks(order("21", "9", country="DE"), ctx) if not r.passed]
    assert failing == [Code.VAT_RATE_MISMATCH, Code.VAT_RATE_MISMATCH]


def test_the_invoice_carries_the_rules_rates_categories_and_reasons() -> None:
    chosen = order("9", country="BE", reasons=("9%: the default rate",))
    invoice = invoice_for(chosen, NL_OSS)
    [line] = invoice.lines
    assert (line.vat_rate, line.vat_category, line.gross) == (D(6), "S", D("10.00"))  # incl. VAT: unchanged
    assert invoice.as_dict()["lines"][0]["vat_category"] == "S"


def test_the_policy_of_a_source_that_declares_oss_itself() -> None:
    bol = BolSettings(oss=True, oss_vat_rates="BE,9789012345678,12")
    policy = policy_for("nl", oss=False, vies=True, source_settings=bol)
    assert (policy.home, policy.oss, policy.vies) == ("NL", True, True)
    assert policy.oss_rates == {("BE", "9789012345678"): D(12)}
    assert policy_for("BE", oss=False, vies=False, source_settings=None) == VatPolicy("BE")


@pytest.mark.parametrize(
    ("home", "rate"), [("NL", "21"), ("NL", "9"), ("BE", "21"), ("BE", "6"), ("BE", "12")]
)
def test_bol_and_the_engine_agree_on_the_oss_rate(home: str, rate: str) -> None:
    """bol.com's mapping (its own OSS setting) and the engine (the connection's) give the same rate."""
    other = "BE" if home == "NL" else "NL"
    chosen = bol_vat_rate(BolSettings(oss=True, default_vat_rate=rate), "", other)
    engine = decide(order(rate, country=other, reasons=("x",)), VatPolicy(home, oss=True)).order.lines[0]
    assert rate_key(chosen.rate) == rate_key(engine.vat_rate)


# -- the data ---------------------------------------------------------------------------------------------


def test_the_rate_table_has_the_27_member_states_and_the_research_rates() -> None:
    assert len(member_states()) == 27 and "GB" not in member_states()
    assert rate_table("NL").rates == {D(21), D(9)}
    assert rate_table("BE").rates == {D(21), D(12), D(6)}
    assert rate_table("DE").rates == {D(19), D(7)} and rate_table("FI").standard == D("25.5")
    assert rate_table("FR").reduced == (D("5.5"), D(10))  # the regional rates apart


def test_the_rate_table_matches_the_shared_vatnode_data() -> None:
    source = json.loads(shared_file("einvoice/vat/vatnode-eu_vat_rates_data-2026-08-19.json").read_text())
    for code in member_states():
        table, row = rate_table(code), source["rates"][code]
        assert table is not None and table.standard == D(str(row["standard"]))
        assert table.rates <= {rate_key(D(str(r))) for r in (row["standard"], *row["reduced"])} | {
            rate_key(D(str(r))) for r in (row["super_reduced"], row["parking"]) if r is not None
        }


# -- the property -----------------------------------------------------------------------------------------

COUNTRIES = ["NL", "BE", "DE", "FR", "DK", "IT", "CH", "GB", "US", ""]


def _table_rates(code: str) -> list[D]:
    table = rate_table(code)
    return sorted(table.rates) if table else []


@st.composite
def random_orders(draw: st.DrawFn) -> tuple[Order, VatPolicy]:
    policy = VatPolicy(draw(st.sampled_from(["NL", "BE"])), oss=draw(st.booleans()))
    country = draw(st.sampled_from(COUNTRIES))
    candidates = sorted({D(0), *_table_rates(policy.home), *_table_rates(country)})
    count = draw(st.integers(1, 4))
    rates = [draw(st.sampled_from(candidates)) for _ in range(count)]
    # a line without a platform rate (bol.com) has a home rate Koppel chose
    reasons = tuple(draw(st.sampled_from(["", "the default rate"])) for _ in range(count))
    rates = [
        draw(st.sampled_from(_table_rates(policy.home))) if reason else rate
        for rate, reason in zip(rates, reasons, strict=True)
    ]
    business = draw(st.sampled_from([("", ""), ("Firma", ""), ("Firma", BELGIAN_VAT), ("Firma", DUTCH_VAT)]))
    placed = order(
        *(f"{r}" for r in rates),
        country=country,
        company=business[0],
        vat_number=business[1],
        reasons=reasons,
    )
    return placed, policy


@settings(max_examples=300, deadline=None)
@given(random_orders())
def test_decided_rates_are_rates_of_the_destination_or_home_table(drawn: tuple[Order, VatPolicy]) -> None:
    placed, policy = drawn
    decision = decide(placed, policy)
    allowed = {D(0), *_table_rates(policy.home), *_table_rates(decision.country)}
    for line in decision.order.all_lines:
        assert rate_key(line.vat_rate) in {rate_key(r) for r in allowed}, (decision.case, line)
        assert (line.vat_category == "S") == (line.vat_rate > 0), line
        assert line.vat_category in {"S", "Z", "E", "K", "G", "O", "AE"} and line.vat_reason
    mismatched = {m.line for m in decision.mismatches}
    for before, after in zip(placed.all_lines, decision.order.all_lines, strict=True):
        if not before.vat_reason:  # a platform's rate is never changed: it agrees or it is a mismatch
            assert after.vat_rate == before.vat_rate
        else:
            assert before.description not in mismatched or decision.case == SaleCase.EU_BUSINESS_CHARGED
    if decision.case == SaleCase.INTRA_COMMUNITY:
        assert {line.vat_category for line in decision.order.all_lines} == {"K"} and decision.vat_note
    if decision.case == SaleCase.EXPORT:
        assert all(line.vat_category == "G" for line in decision.order.all_lines if line.vat_rate == 0)
        assert not decision.mismatches
