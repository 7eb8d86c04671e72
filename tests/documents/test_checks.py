"""The manual's pre-checks: each code passing and failing, with the message the merchant reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from koppel.connectors.kmoshops.mapping import parse_order
from koppel.documents.checks import (
    SKIPPING_CODES,
    WAITING_CODES,
    CheckContext,
    CheckResult,
    check_icp_vat_number,
    check_not_processed,
    check_start_date,
    check_status,
    check_total,
    check_vat_codes,
    expected_total,
    first_failure,
    run_checks,
)
from koppel.documents.codes import Code
from koppel.documents.model import Order

D = Decimal
CET = timezone(timedelta(hours=1))
KMO_STATUSES = frozenset({"paid", "processing", "shipped", "completed"})
FS_RATES = frozenset({D("21"), D("9"), D("0")})


def kmo_order(
    lines: list[tuple[int | str, str, str]],
    *,
    total: str,
    shipping: tuple[str, str] | None = ("6.95", "21.00"),
    incl: bool = True,
    status: str = "paid",
    created_at: str = "2024-03-04T09:30:00+01:00",
    **customer: Any,
) -> Order:
    """A KMO Shops order as the shop sends it, read by the real mapping."""
    payload: dict[str, Any] = {
        "id": 481516,
        "number": "481516",
        "created_at": created_at,
        "status": status,
        "currency": "EUR",
        "priceincltax": incl,
        "payment_method": "Bancontact",
        "paid": True,
        "customer": {
            "firstname": "Pieter",
            "lastname": "Claes",
            "company": "",
            "address1": "Meir",
            "house_number": "44",
            "zipcode": "2000",
            "city": "Antwerpen",
            "country": "NL",
            "email": "pieter@example.be",
            "vatnumber": "",
            **customer,
        },
        "lines": [
            {
                "sku": f"SKU-{n}",
                "description": f"Artikel {n}",
                "amount": amount,
                "price": price,
                "tax_rate": rate,
            }
            for n, (amount, price, rate) in enumerate(lines, 1)
        ],
        "total": total,
    }
    if shipping is not None:
        payload["shipping"] = {"description": "Verzendkosten", "price": shipping[0], "tax_rate": shipping[1]}
    return parse_order(payload)


def ctx(**kw: Any) -> CheckContext:
    base: dict[str, Any] = {
        "shop_country": "NL",
        "eligible_statuses": KMO_STATUSES,
        "target_name": "Factuursturen",
        "target_vat_rates": FS_RATES,
    }
    return CheckContext(**{**base, **kw})


def bed_and_pillows(**kw: Any) -> Order:
    """1 × 249.00 + 2 × 19.99 + shipping 6.95, all incl. 21%: 295.93."""
    kw.setdefault("total", "295.93")
    return kmo_order([(1, "249.00", "21.00"), (2, "19.99", "21.00")], **kw)


def icp(order: Order, shop_country: str = "NL") -> dict[Code, CheckResult]:
    return {r.code: r for r in check_icp_vat_number(order, ctx(shop_country=shop_country))}


# --- STATUS_NOT_ELIGIBLE -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paid", "PAID", "Shipped", "completed"])
def test_status_eligible(status: str) -> None:
    result = check_status(bed_and_pillows(status=status), ctx())
    assert (result.code, result.passed) == (Code.STATUS_NOT_ELIGIBLE, True)


@pytest.mark.parametrize("status", ["pending", "cancelled", "refunded"])
def test_status_not_eligible_waits_and_says_which_statuses_are_booked(status: str) -> None:
    result = check_status(bed_and_pillows(status=status), ctx())
    assert (result.code, result.passed) == (Code.STATUS_NOT_ELIGIBLE, False)
    assert result.message == (
        f"Status '{status}' is not one the connection books (completed, paid, processing, shipped); "
        "waiting for a change"
    )
    assert result.code in WAITING_CODES


def test_status_with_nothing_eligible_books_nothing() -> None:
    result = check_status(bed_and_pillows(), ctx(eligible_statuses=frozenset()))
    assert not result.passed
    assert "(none)" in result.message


# --- BEFORE_START_DATE ---------------------------------------------------------------------------------


def test_order_before_the_start_date_is_skipped() -> None:
    start = datetime(2024, 3, 5, 0, 0, tzinfo=CET)
    result = check_start_date(bed_and_pillows(), ctx(start_at=start))
    assert (result.code, result.passed) == (Code.BEFORE_START_DATE, False)
    assert result.message == "Placed 2024-03-04T09:30+01:00, before the start date 2024-03-05T00:00+01:00"
    assert result.code in SKIPPING_CODES


def test_order_at_or_after_the_start_date_passes() -> None:
    start = datetime(2024, 3, 4, 9, 30, tzinfo=CET)
    assert check_start_date(bed_and_pillows(), ctx(start_at=start)).passed
    assert check_start_date(bed_and_pillows(), ctx(start_at=start - timedelta(days=30))).passed
    assert check_start_date(bed_and_pillows(), ctx(start_at=None)).passed


def test_start_date_compares_moments_not_wall_clock() -> None:
    # 23:30 UTC on 31 March is 00:30 in Amsterdam (CET) on 1 April: after a start of 1 April 00:00 CET.
    order = bed_and_pillows(created_at="2024-03-31T23:30:00+00:00")
    assert check_start_date(order, ctx(start_at=datetime(2024, 4, 1, 0, 0, tzinfo=CET))).passed
    assert not check_start_date(order, ctx(start_at=datetime(2024, 4, 1, 1, 0, tzinfo=CET))).passed


# --- ALREADY_PROCESSED ---------------------------------------------------------------------------------


def test_not_yet_processed() -> None:
    result = check_not_processed(bed_and_pillows(), ctx())
    assert (result.code, result.passed) == (Code.ALREADY_PROCESSED, True)
    assert "481516" in result.message


def test_already_processed_shows_the_existing_invoice() -> None:
    booking = "Invoice F2024-0042 already carries reference 481516"
    result = check_not_processed(bed_and_pillows(), ctx(existing_booking=booking))
    assert (result.code, result.passed, result.message) == (Code.ALREADY_PROCESSED, False, booking)
    assert result.code in SKIPPING_CODES


# --- TOTAL_MISMATCH ------------------------------------------------------------------------------------


def test_total_incl_vat_matches_exactly() -> None:
    result = check_total(bed_and_pillows(total="295.93"), ctx())
    assert (result.code, result.passed) == (Code.TOTAL_MISMATCH, True)
    assert result.message == "Total 295.93 matches the lines"


@pytest.mark.parametrize(
    ("total", "difference"), [("295.94", "0.01"), ("295.92", "-0.01"), ("289.98", "-5.95")]
)
def test_total_incl_vat_allows_no_difference(total: str, difference: str) -> None:
    result = check_total(bed_and_pillows(total=total), ctx())
    assert (result.code, result.passed) == (Code.TOTAL_MISMATCH, False)
    assert result.message == f"Order total {total} differs from lines plus shipping 295.93 by {difference}"


def test_total_missing_shipping_is_caught() -> None:
    # The shop forgot the shipping cost in its total (289.98 = lines only).
    assert not check_total(bed_and_pillows(total="289.98"), ctx()).passed


def four_books_excl(total: str) -> Order:
    """4 lines of 12.50 excl. 21%, free shipping: VAT per line 2.625 → 2.63 (10.52); per rate 10.50."""
    lines = [(1, "12.50", "21.00")] * 4
    return kmo_order(lines, total=total, incl=False, shipping=("0.00", "21.00"))


def test_total_excl_vat_per_line_rounding_matches_exactly() -> None:
    assert expected_total(four_books_excl("60.52")) == (D("60.52"), D("0.02"))
    result = check_total(four_books_excl("60.52"), ctx())
    assert result.passed
    assert result.message == "Total 60.52 matches the lines"


def test_total_excl_vat_shop_rounding_per_rate_passes_with_a_note() -> None:
    result = check_total(four_books_excl("60.50"), ctx())
    assert (result.code, result.passed) == (Code.TOTAL_MISMATCH, True)
    assert result.message == "Total 60.50 matches the lines (rounding difference -0.02)"


@pytest.mark.parametrize(("total", "difference"), [("60.62", "0.10"), ("60.42", "-0.10"), ("60.49", "-0.03")])
def test_total_excl_vat_beyond_half_a_cent_per_line_fails(total: str, difference: str) -> None:
    result = check_total(four_books_excl(total), ctx())
    assert (result.code, result.passed) == (Code.TOTAL_MISMATCH, False)
    assert result.message == f"Order total {total} differs from lines plus shipping 60.52 by {difference}"


def test_total_excl_vat_tolerance_counts_paid_shipping_as_a_line() -> None:
    # Two lines + paid shipping = 3 lines: tolerance 0.015 → 0.02. Per line: 2 × (0.50 + 0.11) + 0.61.
    order = kmo_order(
        [(1, "0.50", "21"), (1, "0.50", "21")], total="1.83", incl=False, shipping=("0.50", "21")
    )
    assert expected_total(order) == (D("1.83"), D("0.02"))
    per_rate = kmo_order(
        [(1, "0.50", "21"), (1, "0.50", "21")], total="1.82", incl=False, shipping=("0.50", "21")
    )
    assert check_total(per_rate, ctx()).passed  # 1.50 + 0.315 → 1.82
    assert not check_total(
        kmo_order([(1, "0.50", "21"), (1, "0.50", "21")], total="1.80", incl=False, shipping=("0.50", "21")),
        ctx(),
    ).passed


# --- ICP_VAT_NUMBER_MISSING / ICP_VAT_NUMBER_INVALID ---------------------------------------------------


def test_belgian_company_without_vat_number_fails_for_a_dutch_shop() -> None:
    results = icp(bed_and_pillows(company="Frituur Claes BV", country="BE"))
    missing = results[Code.ICP_VAT_NUMBER_MISSING]
    assert not missing.passed
    assert missing.message == "Business order from Belgium (Frituur Claes BV) has no VAT number"
    assert Code.ICP_VAT_NUMBER_INVALID not in results


def test_vat_number_of_only_spaces_is_missing_and_country_may_be_a_name() -> None:
    order = bed_and_pillows(company="Frituur Claes BV", country="België", vatnumber="   ")
    missing = icp(order)[Code.ICP_VAT_NUMBER_MISSING]
    assert not missing.passed
    assert missing.message == "Business order from Belgium (Frituur Claes BV) has no VAT number"


def test_dutch_company_for_a_dutch_shop_is_not_icp() -> None:
    results = icp(bed_and_pillows(company="Bakkerij De Witte BV", country="NL"))
    assert results[Code.ICP_VAT_NUMBER_MISSING].passed
    assert results[Code.ICP_VAT_NUMBER_MISSING].message == "Not an intra-community business order"


def test_belgian_consumer_is_not_icp() -> None:
    results = icp(bed_and_pillows(company="", vatnumber="", country="BE"))
    assert results[Code.ICP_VAT_NUMBER_MISSING].passed
    assert Code.ICP_VAT_NUMBER_INVALID not in results


def test_german_company_for_a_belgian_shop_is_icp() -> None:
    order = bed_and_pillows(company="Müller GmbH", country="DE")
    results = icp(order, shop_country="BE")
    assert not results[Code.ICP_VAT_NUMBER_MISSING].passed
    assert "Germany" in results[Code.ICP_VAT_NUMBER_MISSING].message
    # ... while a Belgian company for the same Belgian shop is domestic.
    assert icp(bed_and_pillows(company="Frituur Claes BV", country="BE"), shop_country="BE")[
        Code.ICP_VAT_NUMBER_MISSING
    ].passed


def test_non_eu_company_is_not_icp() -> None:
    assert icp(bed_and_pillows(company="Acme Inc.", country="US"))[Code.ICP_VAT_NUMBER_MISSING].passed


@pytest.mark.parametrize(
    ("vat_number", "message"),
    [
        ("BE0403019262", "VAT number 'BE0403019262' has a wrong format or check digits"),
        (
            "NL004495445B01",
            "VAT number 'NL004495445B01' is from Netherlands, but the billing country is Belgium",
        ),
        ("hello", "VAT number 'hello' does not start with an EU country code"),
        ("BE123", "VAT number 'BE123' has a wrong format or check digits"),
        ("XI980780684", "VAT number 'XI980780684' does not start with an EU country code"),
    ],
)
def test_invalid_vat_number_of_a_belgian_company(vat_number: str, message: str) -> None:
    results = icp(bed_and_pillows(company="Frituur Claes BV", country="BE", vatnumber=vat_number))
    assert results[Code.ICP_VAT_NUMBER_MISSING].passed
    invalid = results[Code.ICP_VAT_NUMBER_INVALID]
    assert (invalid.passed, invalid.message) == (False, message)


@pytest.mark.parametrize("vat_number", ["US123456789", "GB980780684", "CHE123456789", "0403019261"])
def test_non_eu_or_unprefixed_vat_number_fails(vat_number: str) -> None:
    results = icp(bed_and_pillows(company="Frituur Claes BV", country="BE", vatnumber=vat_number))
    invalid = results[Code.ICP_VAT_NUMBER_INVALID]
    assert not invalid.passed
    assert repr(vat_number) in invalid.message


@pytest.mark.parametrize("vat_number", ["BE0403019261", "BE 0403.019.261", "be0403019261"])
def test_valid_vat_number_of_a_belgian_company(vat_number: str) -> None:
    results = icp(bed_and_pillows(company="Frituur Claes BV", country="BE", vatnumber=vat_number))
    assert results[Code.ICP_VAT_NUMBER_MISSING].passed
    assert results[Code.ICP_VAT_NUMBER_INVALID].passed
    assert results[Code.ICP_VAT_NUMBER_INVALID].message == f"VAT number {vat_number} is valid"


def test_greek_vat_number_uses_el_prefix() -> None:
    results = icp(bed_and_pillows(company="Taverna AE", country="GR", vatnumber="EL094259216"))
    assert results[Code.ICP_VAT_NUMBER_INVALID].passed


def test_vat_number_alone_makes_a_business_order() -> None:
    # No company name, but a VAT number: a business; the number is checked.
    results = icp(bed_and_pillows(company="", country="BE", vatnumber="BE0403019262"))
    assert not results[Code.ICP_VAT_NUMBER_INVALID].passed


# --- VAT_CODE_MISSING ----------------------------------------------------------------------------------


def test_vat_rate_the_administration_lacks_fails_and_lists_what_it_has() -> None:
    order = kmo_order([(1, "249.00", "21.00"), (1, "10.70", "7.00")], total="266.65")
    result = check_vat_codes(order, ctx())
    assert (result.code, result.passed) == (Code.VAT_CODE_MISSING, False)
    assert result.message == "Factuursturen has no VAT rate 7.00% (it has 0.00%, 9.00%, 21.00%)"


def test_every_rate_known() -> None:
    result = check_vat_codes(bed_and_pillows(), ctx())
    assert result.passed
    assert result.message == "Every VAT rate exists in Factuursturen"


def test_rates_match_whatever_their_notation() -> None:
    order = kmo_order([(1, "249.00", "21.00"), (1, "12.50", "9.0"), (1, "5.00", "0.00")], total="273.45")
    assert check_vat_codes(order, ctx(target_vat_rates=frozenset({D("21"), D("9.00"), D("0")}))).passed
    assert check_vat_codes(order, ctx(target_vat_rates=frozenset({D("21.0"), D("9"), D("0.00")}))).passed


def test_shipping_rate_counts_but_free_shipping_does_not() -> None:
    paid = kmo_order([(1, "10.00", "21")], total="16.00", shipping=("6.00", "6.00"))
    assert not check_vat_codes(paid, ctx()).passed
    free = kmo_order([(1, "10.00", "21")], total="10.00", shipping=("0.00", "6.00"))
    assert check_vat_codes(free, ctx()).passed


def test_unknown_target_rates_pass_with_a_note() -> None:
    order = kmo_order([(1, "10.70", "7")], total="17.65")
    result = check_vat_codes(order, ctx(target_vat_rates=None))
    assert result.passed
    assert result.message == "VAT rates of Factuursturen not checked"


# --- all checks together -------------------------------------------------------------------------------


def test_run_checks_in_the_order_the_merchant_reads_them() -> None:
    results = run_checks(
        bed_and_pillows(company="Frituur Claes BV", country="BE", vatnumber="BE0403019261"), ctx()
    )
    assert [r.code for r in results] == [
        Code.STATUS_NOT_ELIGIBLE,
        Code.BEFORE_START_DATE,
        Code.ALREADY_PROCESSED,
        Code.TOTAL_MISMATCH,
        Code.ICP_VAT_NUMBER_MISSING,
        Code.ICP_VAT_NUMBER_INVALID,
        Code.VAT_CODE_MISSING,
    ]
    assert all(r.passed for r in results)
    assert first_failure(results) is None


def test_first_failure_is_the_first_the_merchant_sees() -> None:
    order = kmo_order([(1, "10.70", "7")], total="99.99", status="pending")
    results = run_checks(order, ctx())
    failing = [r.code for r in results if not r.passed]
    assert failing == [Code.STATUS_NOT_ELIGIBLE, Code.TOTAL_MISMATCH, Code.VAT_CODE_MISSING]
    first = first_failure(results)
    assert first is not None and first.code == Code.STATUS_NOT_ELIGIBLE


def test_check_result_as_dict() -> None:
    result = check_total(bed_and_pillows(total="295.94"), ctx())
    assert result.as_dict() == {
        "code": "TOTAL_MISMATCH",
        "passed": False,
        "message": "Order total 295.94 differs from lines plus shipping 295.93 by 0.01",
    }
