"""Money rounding and the canonical order/invoice: the amounts a bookkeeper checks on every invoice."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from koppel.documents.model import (
    InvoiceLine,
    LineKind,
    Order,
    OrderLine,
    Party,
    build_invoice,
    invoice_line,
)
from koppel.documents.money import MoneyError, cents, fmt, fmt_rate, to_decimal

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EXAMPLE = SHARED / "specs" / "kmoshops" / "order-example.json"

D = Decimal
CET = timezone(timedelta(hours=1))


@pytest.fixture
def example_order() -> Order:
    if not EXAMPLE.exists():
        pytest.skip(f"the example order {EXAMPLE} is not available (../shared is absent)")
    from koppel.connectors.kmoshops.mapping import parse_order

    return parse_order(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def line(quantity: str, price: str, rate: str, description: str = "Artikel", **kw) -> OrderLine:
    return OrderLine(
        description=description, quantity=D(quantity), unit_price=D(price), vat_rate=D(rate), **kw
    )


def order(
    lines: list[OrderLine],
    *,
    shipping: OrderLine | None = None,
    incl: bool = True,
    total: str = "0.00",
    created_at: datetime | None = None,
) -> Order:
    return Order(
        source="kmoshops",
        source_id="5001",
        number="5001",
        created_at=created_at or datetime(2024, 3, 4, 9, 30, tzinfo=CET),
        status="paid",
        currency="EUR",
        prices_include_vat=incl,
        payment_method="iDEAL",
        paid=True,
        customer=Party(first_name="Jan", last_name="Jansen", email="jan@example.nl", country_raw="NL"),
        lines=tuple(lines),
        shipping=shipping,
        total=D(total),
    )


# --- money -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("2.345"), D("2.35")),  # half-up, not banker's rounding (which would give 2.34)
        (D("0.105"), D("0.11")),
        (D("-2.345"), D("-2.35")),  # away from zero for refunds/discounts too
        (D("2.3449"), D("2.34")),
        (D("249"), D("249.00")),
    ],
)
def test_cents_rounds_half_up(value: Decimal, expected: Decimal) -> None:
    result = cents(value)
    assert result == expected
    assert result.as_tuple().exponent == -2


def test_fmt_and_fmt_rate_give_two_decimals() -> None:
    assert fmt(D("249")) == "249.00"
    assert fmt(D("6.945")) == "6.95"
    assert fmt_rate(D("9")) == "9.00"
    assert fmt_rate(D("21.00")) == "21.00"
    assert fmt_rate(D("5.5")) == "5.50"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19.99", D("19.99")),
        (" 12,50 ", D("12.50")),
        (7, D(7)),
        (D("0.01"), D("0.01")),
        ("-5.00", D("-5.00")),
    ],
)
def test_to_decimal_reads_strings_ints_and_decimals(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", [19.99, 0.1, 1.0])
def test_to_decimal_refuses_floats_and_names_the_field(value: float) -> None:
    with pytest.raises(MoneyError, match=r"^price: expected a decimal string"):
        to_decimal(value, field="price")


@pytest.mark.parametrize("value", [True, None, "abc", "NaN", "Infinity", "", ["1.00"]])
def test_to_decimal_refuses_what_is_not_money(value: object) -> None:
    with pytest.raises(MoneyError, match="total"):
        to_decimal(value, field="total")


# --- one line: rounding per line ----------------------------------------------------------------------


def test_line_incl_vat_two_pillows() -> None:
    result = invoice_line(line("2", "19.99", "21.00"), prices_include_vat=True)
    assert (result.net, result.vat, result.gross) == (D("33.04"), D("6.94"), D("39.98"))


def test_line_excl_vat_two_pillows() -> None:
    result = invoice_line(line("2", "16.52", "21"), prices_include_vat=False)
    # 33.04 × 21% = 6.9384 → 6.94
    assert (result.net, result.vat, result.gross) == (D("33.04"), D("6.94"), D("39.98"))


def test_line_excl_vat_rounds_the_half_cent_up() -> None:
    result = invoice_line(line("1", "0.50", "21"), prices_include_vat=False)
    assert (result.net, result.vat, result.gross) == (D("0.50"), D("0.11"), D("0.61"))


def test_line_incl_vat_rounds_net_from_the_line_total_not_from_the_unit_price() -> None:
    # 3 × 9.99 = 29.97 incl. 21%: net 24.77 (29.97 / 1.21 = 24.768...), not 3 × 8.26 = 24.78.
    result = invoice_line(line("3", "9.99", "21"), prices_include_vat=True)
    assert (result.net, result.vat, result.gross) == (D("24.77"), D("5.20"), D("29.97"))


def test_line_at_zero_percent_has_no_vat() -> None:
    result = invoice_line(line("4", "12.50", "0"), prices_include_vat=True)
    assert (result.net, result.vat, result.gross) == (D("50.00"), D("0.00"), D("50.00"))


def test_line_keeps_what_the_target_needs() -> None:
    source = line("2", "19.99", "21.00", description="Hoofdkussen", sku="PIL-02")
    result = invoice_line(source, prices_include_vat=True)
    assert (result.description, result.sku, result.kind) == ("Hoofdkussen", "PIL-02", LineKind.PRODUCT)
    assert result.as_dict() == {
        "kind": "product",
        "sku": "PIL-02",
        "description": "Hoofdkussen",
        "quantity": "2",
        "unit_price": "19.99",
        "prices_include_vat": True,
        "vat_rate": "21.00",
        "net": "33.04",
        "vat": "6.94",
        "gross": "39.98",
    }


def test_fractional_quantity_is_shown_without_trailing_zeros() -> None:
    result = invoice_line(line("1.50", "10.00", "21"), prices_include_vat=True)
    assert result.as_dict()["quantity"] == "1.5"
    assert result.gross == D("15.00")


# --- unit price conversion ----------------------------------------------------------------------------


def _invoice_line(price: str, rate: str, *, incl: bool) -> InvoiceLine:
    return invoice_line(line("1", price, rate), prices_include_vat=incl)


@pytest.mark.parametrize(
    ("price", "rate", "excl"),
    [
        ("19.99", "21", "16.5207"),
        ("249.00", "21", "205.7851"),
        ("12.50", "9", "11.4679"),
        ("6.95", "21", "5.7438"),
    ],
)
def test_unit_price_incl_to_excl(price: str, rate: str, excl: str) -> None:
    converted = _invoice_line(price, rate, incl=True).unit_price_for(include_vat=False)
    assert converted == D(excl)


@pytest.mark.parametrize(
    ("price", "rate", "incl"),
    [
        ("16.52", "21", "19.9892"),
        ("205.79", "21", "249.0059"),
        ("11.47", "9", "12.5023"),
        ("100.00", "6", "106.0000"),
    ],
)
def test_unit_price_excl_to_incl(price: str, rate: str, incl: str) -> None:
    converted = _invoice_line(price, rate, incl=False).unit_price_for(include_vat=True)
    assert converted == D(incl)


@pytest.mark.parametrize("incl", [True, False])
def test_unit_price_unchanged_when_the_target_keeps_prices_the_same_way(incl: bool) -> None:
    assert _invoice_line("19.99", "21", incl=incl).unit_price_for(include_vat=incl) == D("19.99")


@pytest.mark.parametrize("incl", [True, False])
def test_unit_price_at_zero_percent_is_the_same_incl_and_excl(incl: bool) -> None:
    assert _invoice_line("12.34", "0", incl=incl).unit_price_for(include_vat=not incl) == D("12.34")


# --- the example order --------------------------------------------------------------------------------


def test_example_order_totals(example_order: Order) -> None:
    invoice = build_invoice(example_order)
    assert (invoice.net, invoice.vat, invoice.gross) == (D("256.04"), D("52.39"), D("308.43"))
    assert invoice.gross == example_order.total


def test_example_order_vat_totals_per_rate(example_order: Order) -> None:
    invoice = build_invoice(example_order)
    per_rate = {fmt_rate(t.rate): (t.net, t.vat, t.gross) for t in invoice.vat_totals}
    assert per_rate == {
        "9.00": (D("11.47"), D("1.03"), D("12.50")),
        "21.00": (D("244.57"), D("51.36"), D("295.93")),
    }
    assert [fmt_rate(t.rate) for t in invoice.vat_totals] == ["9.00", "21.00"]


def test_example_order_lines_and_shipping(example_order: Order) -> None:
    invoice = build_invoice(example_order)
    rows = [(x.kind, x.description, x.net, x.vat, x.gross) for x in invoice.lines]
    assert rows == [
        (LineKind.PRODUCT, "Bed Boxspring", D("205.79"), D("43.21"), D("249.00")),
        (LineKind.PRODUCT, "Hoofdkussen", D("33.04"), D("6.94"), D("39.98")),
        (LineKind.PRODUCT, "Slaapgids (boek)", D("11.47"), D("1.03"), D("12.50")),
        (LineKind.SHIPPING, "Verzendkosten", D("5.74"), D("1.21"), D("6.95")),
    ]
    assert invoice.date == date(2023, 2, 13)
    assert invoice.as_dict()["totals"] == {"net": "256.04", "vat": "52.39", "gross": "308.43"}


# --- shipping and the order itself --------------------------------------------------------------------


def test_zero_shipping_leaves_no_shipping_line_and_no_rate() -> None:
    free = line("1", "0.00", "0", description="Gratis verzending", kind=LineKind.SHIPPING)
    o = order([line("1", "49.95", "21")], shipping=free)
    assert o.all_lines == o.lines
    assert o.vat_rates == (D("21"),)  # a free shipping line at 0% must not demand a 0% VAT code
    invoice = build_invoice(o)
    assert [x.kind for x in invoice.lines] == [LineKind.PRODUCT]
    assert invoice.gross == D("49.95")


def test_no_shipping_at_all() -> None:
    invoice = build_invoice(order([line("1", "49.95", "21")], shipping=None))
    assert len(invoice.lines) == 1


def test_paid_shipping_is_the_last_line() -> None:
    ship = line("1", "6.95", "21", description="Verzendkosten", kind=LineKind.SHIPPING)
    invoice = build_invoice(order([line("1", "49.95", "21"), line("2", "4.50", "9")], shipping=ship))
    assert [x.kind for x in invoice.lines] == [LineKind.PRODUCT, LineKind.PRODUCT, LineKind.SHIPPING]
    assert invoice.gross == D("65.90")


def test_excl_vat_order_totals() -> None:
    # 3 × 8.26 excl. 21% = 24.78 + 5.20; 2 × 11.47 excl. 9% = 22.94 + 2.06 (2.0646); shipping 5.74 + 1.21
    ship = line("1", "5.74", "21", description="Verzendkosten", kind=LineKind.SHIPPING)
    invoice = build_invoice(
        order([line("3", "8.26", "21"), line("2", "11.47", "9")], shipping=ship, incl=False)
    )
    assert (invoice.net, invoice.vat, invoice.gross) == (D("53.46"), D("8.47"), D("61.93"))
    per_rate = {fmt_rate(t.rate): (t.net, t.vat) for t in invoice.vat_totals}
    assert per_rate == {"9.00": (D("22.94"), D("2.06")), "21.00": (D("30.52"), D("6.41"))}


def test_vat_rates_are_sorted_and_distinct() -> None:
    o = order([line("1", "10.00", "21"), line("1", "5.00", "9"), line("1", "3.00", "21.00")])
    assert o.vat_rates == (D("9"), D("21"))


def test_order_date_is_the_shops_local_date() -> None:
    # 00:30 in Amsterdam on 14 February is still 13 February in UTC; the invoice date is the shop's.
    o = order([line("1", "10.00", "21")], created_at=datetime(2023, 2, 14, 0, 30, tzinfo=CET))
    assert o.order_date == date(2023, 2, 14)
    assert build_invoice(o).date == date(2023, 2, 14)


def test_party_name_address_and_business() -> None:
    consumer = Party(first_name="Karin", last_name="de Wit", street="Stationstraat", house_number="12")
    assert consumer.full_name == "Karin de Wit"
    assert consumer.address_line == "Stationstraat 12"
    assert not consumer.is_business
    assert Party(first_name="Karin").full_name == "Karin"
    assert Party(street="Kerkstraat", address2="bus 3", house_number="5").address_line == "Kerkstraat bus 3 5"
    assert Party(company="Bakkerij De Witte").is_business
    assert Party(vat_number="BE0403019261").is_business
    assert not Party(company="   ").is_business


@pytest.mark.parametrize(
    ("raw", "alpha2"), [("NL", "NL"), ("België", "BE"), ("DEU", "DE"), ("", None), ("Atlantis", None)]
)
def test_party_country(raw: str, alpha2: str | None) -> None:
    country = Party(country_raw=raw).country
    assert (country.alpha2 if country else None) == alpha2
