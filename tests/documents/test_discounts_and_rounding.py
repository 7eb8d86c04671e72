"""Discounts, fees, lines whose total the shop states, and the shop's own rounding: the invoice total is
what the customer paid, to the cent, and a rounding difference is booked on a line of its own."""

from __future__ import annotations

from decimal import Decimal

from koppel.documents.checks import CheckContext, check_total, invoice_for
from koppel.documents.model import LineKind, OrderLine
from tests.documents.test_money_and_model import line, order

D = Decimal


def test_a_stated_line_total_is_kept_and_priced_back_exactly():
    three_for_ten = OrderLine("Sokken (3 voor 10)", D(3), D("3.3333"), D(21), total=D("10.00"))
    invoice = invoice_for(order([three_for_ten], total="10.00"), "NL")
    [booked] = invoice.lines
    assert (booked.gross, booked.net, booked.vat) == (D("10.00"), D("8.26"), D("1.74"))
    unit = booked.unit_price_for(include_vat=True)
    assert unit == D("3.3333") and (3 * unit).quantize(D("0.01")) == D("10.00")
    unit_net = booked.unit_price_for(include_vat=False)
    assert (3 * unit_net).quantize(D("0.01")) == booked.net


def test_discount_and_fee_lines_count_towards_the_total():
    lines = [
        line("2", "25.00", "21"),
        line("1", "10.00", "9"),
        OrderLine("Korting (ZOMER10)", D(1), D("-5.00"), D(21), LineKind.DISCOUNT),
        OrderLine("Korting (ZOMER10)", D(1), D("-1.00"), D(9), LineKind.DISCOUNT),
        OrderLine("Betaalkosten", D(1), D("0.35"), D(21), LineKind.FEE),
    ]
    placed = order(lines, total="54.35")
    assert check_total(placed, CheckContext()).passed
    invoice = invoice_for(placed, "NL")
    assert invoice.gross == D("54.35") and invoice.rounding_difference == 0
    per_rate = {t.rate: t.gross for t in invoice.vat_totals}
    assert per_rate == {D(21): D("45.35"), D(9): D("9.00")}


def test_the_shops_rounding_per_rate_is_absorbed_on_a_rounding_line():
    # Excl. VAT, three lines of 0.50 at 21%: per line the VAT is 0.105 → 0.11, 0.33 in all; the shop rounds
    # per rate: 1.50 × 21% = 0.315 → 0.32, and charges 1.82.
    lines = [line("1", "0.50", "21") for _ in range(3)]
    placed = order(lines, incl=False, total="1.82")
    assert check_total(placed, CheckContext()).passed
    invoice = invoice_for(placed, "NL")
    assert invoice.gross == D("1.82")
    assert invoice.rounding_difference == D("-0.01")
    rounding = invoice.lines[-1]
    assert (rounding.kind, rounding.vat_rate, rounding.gross) == (LineKind.ROUNDING, D(0), D("-0.01"))
    assert invoice.as_dict()["rounding_difference"] == "-0.01"


def test_a_difference_beyond_rounding_is_not_absorbed():
    placed = order([line("1", "10.00", "21")], incl=False, total="12.50")
    assert not check_total(placed, CheckContext()).passed
    invoice = invoice_for(placed, "NL")
    assert invoice.rounding_difference == 0
    assert all(booked.kind != LineKind.ROUNDING for booked in invoice.lines)
