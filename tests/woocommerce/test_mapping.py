"""WooCommerce REST v3 order JSON → canonical Order: the real payloads of ``shared/specs/woocommerce`` and
constructed orders (coupons, automatic discounts, fees, mixed rates, free shipping, WooCommerce's own
rounding). Whatever the order, the invoice totals what the customer paid, to the cent."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from koppel.connectors.errors import OrderInvalid
from koppel.connectors.woocommerce.connector import WooCommerceSource
from koppel.connectors.woocommerce.mapping import (
    VAT_NUMBER_KEYS,
    clean_rate,
    created_between,
    derive_rate,
    order_id,
    parse_order,
)
from koppel.documents.checks import CheckContext, check_total, invoice_for
from koppel.documents.codes import Code
from koppel.documents.model import LineKind, Order, OrderLine, Party
from tests.woocommerce.conftest import shared_payload

D = Decimal
RATES = {1: (21.0, "BTW"), 2: (9.0, "BTW laag"), 3: (0.0, "BTW 0%")}


def taxes(rate_id: int | None, total: str, subtotal: str | None = None) -> list[dict[str, Any]]:
    if rate_id is None:
        return []
    return [{"id": rate_id, "total": total, "subtotal": total if subtotal is None else subtotal}]


def item(
    name: str,
    quantity: int,
    subtotal: str,
    subtotal_tax: str,
    total: str | None = None,
    total_tax: str | None = None,
    rate_id: int | None = 1,
    sku: str = "",
) -> dict[str, Any]:
    total, total_tax = total or subtotal, total_tax or subtotal_tax
    return {
        "id": 1,
        "name": name,
        "product_id": 42,
        "quantity": quantity,
        "subtotal": subtotal,
        "subtotal_tax": subtotal_tax,
        "total": total,
        "total_tax": total_tax,
        "taxes": taxes(rate_id, total_tax, subtotal_tax),
        "sku": sku,
        "price": float(D(total) / quantity),
    }


def charge(kind: str, name: str, total: str, tax: str, rate_id: int | None = 1) -> dict[str, Any]:
    key = "method_title" if kind == "shipping" else "name"
    taxes_ = [{"id": rate_id, "total": tax, "subtotal": ""}] if rate_id else []
    return {"id": 9, key: name, "total": total, "total_tax": tax, "taxes": taxes_}


def tax_lines(*rate_ids: int, legacy: bool = False) -> list[dict[str, Any]]:
    lines = []
    for rate_id in rate_ids:
        percent, label = RATES[rate_id]
        line = {"id": 50 + rate_id, "rate_code": f"NL-{label.upper()}-1", "rate_id": rate_id, "label": label}
        line.update(compound=False, tax_total="0.00", shipping_tax_total="0.00")
        if not legacy:
            line["rate_percent"] = percent
        lines.append(line)
    return lines


def payload(
    items: list[dict[str, Any]],
    *,
    incl: bool = True,
    shipping: list[dict[str, Any]] | None = None,
    fees: list[dict[str, Any]] | None = None,
    coupons: list[str] = (),
    total: str | None = None,
    legacy: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """A WooCommerce order as the REST API returns it; ``total`` defaults to the lines' own sum."""
    shipping, fees = shipping or [], fees or []
    if total is None:
        amounts = [D(x["total"]) + D(x["total_tax"]) for x in (*items, *shipping, *fees)]
        total = str(sum(amounts, D(0)))
    order = {
        "id": 5001,
        "number": "5001",
        "status": "processing",
        "currency": "EUR",
        "prices_include_tax": incl,
        "date_created": "2024-06-01T18:45:00",
        "date_created_gmt": "2024-06-01T16:45:00",
        "date_paid": "2024-06-01T18:46:00",
        "date_paid_gmt": "2024-06-01T16:46:00",
        "total": total,
        "billing": {
            "first_name": "Lotte",
            "last_name": "Peeters",
            "company": "",
            "address_1": "Veldstraat 7",
            "address_2": "bus 2",
            "city": "Gent",
            "state": "",
            "postcode": "9000",
            "country": "BE",
            "email": "lotte@example.be",
            "phone": "+32 9 123 45 67",
        },
        "shipping": {},
        "payment_method": "bancontact",
        "payment_method_title": "Bancontact",
        "meta_data": [],
        "line_items": items,
        "tax_lines": tax_lines(1, 2, 3, legacy=legacy),
        "shipping_lines": shipping,
        "fee_lines": fees,
        "coupon_lines": [{"id": 7, "code": code, "discount": "0", "discount_tax": "0"} for code in coupons],
    }
    order.update(fields)
    return order


def booked(order: Order) -> Decimal:
    """What Koppel books: the invoice's gross, which must be the shop's total."""
    assert check_total(order, CheckContext()).passed
    gross = invoice_for(order, "NL").gross
    assert gross == order.total
    return gross


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(OrderInvalid) as info:
        parse_order(data)
    assert info.value.code == Code.ORDER_INVALID and info.value.side == "source"
    return info.value.message


# --- the real payloads -----------------------------------------------------------------------------------


def test_rest_docs_example_header_and_customer() -> None:
    order = parse_order(shared_payload("order-v3-docs-example.json"))
    assert (order.source, order.source_id, order.number) == ("woocommerce", "727", "727")
    # date_created is the site's time, date_created_gmt UTC: the site was at UTC-3.
    assert order.created_at == datetime(2017, 3, 22, 16, 28, 2, tzinfo=timezone(timedelta(hours=-3)))
    assert order.order_date == date(2017, 3, 22)
    assert (order.status, order.currency, order.prices_include_vat) == ("processing", "USD", False)
    assert (order.payment_method, order.paid, order.total) == ("Direct Bank Transfer", True, D("29.35"))
    assert order.gross_from_net is True and order.shipping is None
    assert order.customer == Party(
        first_name="John",
        last_name="Doe",
        street="969 Market",
        zipcode="94103",
        city="San Francisco",
        country_raw="US",
        phone="(555) 555-5555",
        email="john.doe@example.com",
    )


def test_rest_docs_example_lines_rate_derived_from_the_amounts() -> None:
    # WooCommerce 3.0 wrote no rate_percent; 0.45 on 6.00 is California's 7.5%, not a Dutch rate.
    order = parse_order(shared_payload("order-v3-docs-example.json"))
    assert order.lines == (
        OrderLine("Woo Single #1", D(2), D("3.0000"), D("7.5"), LineKind.PRODUCT, "", D("6.00")),
        OrderLine(
            "Ship Your Idea – Color: Black, Size: M Test",  # &ndash; unescaped
            D(1),
            D("12.0000"),
            D("7.5"),
            LineKind.PRODUCT,
            "Bar3",
            D("12.00"),
        ),
        OrderLine("Flat Rate", D(1), D("10.0000"), D(0), LineKind.SHIPPING, "", D("10.00")),
    )
    assert booked(order) == D("29.35")


def test_woocommerce_8_webhook_payload() -> None:
    data = shared_payload("order-webhook-test-event-pipedream.json")
    order = parse_order(data)
    assert (order.source_id, order.number, order.status, order.paid) == ("15", "15", "completed", True)
    assert order.created_at == datetime(2023, 8, 16, 7, 45, 56, tzinfo=timezone(timedelta(0)))
    assert order.customer.country_raw == "VN" and order.customer.vat_number == ""
    assert order.payment_method == "" and order.total == D("0.00")
    assert order.lines == (OrderLine("Pipedream 1442", D(1), D(0), D(0), LineKind.PRODUCT, "", D("0.00")),)
    assert booked(order) == D("0.00")
    assert WooCommerceSource.order_id(data) == "15"


def test_a_refund_is_not_an_order() -> None:
    message = invalid(shared_payload("order-refund-v3-docs-example.json"))
    assert message == "This is a WooCommerce refund (726), not an order; refunds are not processed"


def test_the_shared_payloads_are_not_modified() -> None:
    for name in ("order-v3-docs-example.json", "order-webhook-test-event-pipedream.json"):
        data = shared_payload(name)
        before = copy.deepcopy(data)
        parse_order(data)
        assert data == before


# --- rates ---------------------------------------------------------------------------------------------


def test_rate_comes_from_the_joined_tax_line() -> None:
    order = parse_order(
        payload([item("Mok", 1, "10.00", "2.10"), item("Thee", 1, "5.00", "0.45", rate_id=2)])
    )
    assert [line.vat_rate for line in order.lines] == [D(21), D(9)]


@pytest.mark.parametrize(
    ("net", "tax", "rate"),
    [
        ("10.00", "2.10", "21"),
        ("8.26", "1.74", "21"),  # 9.99 incl. 21%, rounded per line
        ("6.87", "0.62", "9"),
        ("10.00", "1.20", "12"),
        ("10.00", "0.60", "6"),
        ("10.00", "0.00", "0"),
        ("0.05", "0.01", "21"),  # 21% and 12% both round to 0.01; 20% is nearer to 21
        ("6.00", "0.45", "7.5"),
        ("100.00", "19.00", "19"),
    ],
)
def test_rate_derived_from_amounts(net: str, tax: str, rate: str) -> None:
    assert derive_rate(D(net), D(tax)) == D(rate)


def test_rate_derived_when_the_shop_wrote_no_rate_percent() -> None:
    data = payload([item("Mok", 3, "24.77", "5.20"), item("Thee", 1, "6.87", "0.62", rate_id=2)], legacy=True)
    assert [line.vat_rate for line in parse_order(data).lines] == [D(21), D(9)]


def test_zero_rate_and_untaxed_lines() -> None:
    data = payload(
        [item("Boek", 1, "19.99", "0.00", rate_id=3), item("Cadeaubon", 1, "25.00", "0", rate_id=None)]
    )
    order = parse_order(data)
    assert [line.vat_rate for line in order.lines] == [D(0), D(0)]
    assert booked(order) == D("44.99")


def test_clean_rate() -> None:
    assert [clean_rate(D(x)) for x in ("21.0", "21.00", "7.50", "5.5", "0.0")] == [
        D(21),
        D(21),
        D("7.5"),
        D("5.5"),
        D(0),
    ]
    assert str(clean_rate(D("21.0000"))) == "21"


# --- discounts, fees, shipping -------------------------------------------------------------------------


def test_coupon_discount_one_line_per_rate_at_list_prices() -> None:
    # Prices incl. VAT: Mok 2 × 12.95 = 25.90, Thee 7.49; ZOMER10 takes 10%: 2.59 and 0.75 (incl.).
    items = [
        item("Mok", 2, "21.40", "4.50", total="19.26", total_tax="4.05"),
        item("Thee", 1, "6.87", "0.62", total="6.18", total_tax="0.56", rate_id=2),
    ]
    order = parse_order(
        payload(items, coupons=["zomer10"], shipping=[charge("shipping", "PostNL", "4.09", "0.86")])
    )
    assert [(line.kind, line.description, line.amount, line.vat_rate) for line in order.lines] == [
        (LineKind.PRODUCT, "Mok", D("25.90"), D(21)),
        (LineKind.PRODUCT, "Thee", D("7.49"), D(9)),
        (LineKind.DISCOUNT, "Korting (zomer10)", D("-2.59"), D(21)),
        (LineKind.DISCOUNT, "Korting (zomer10)", D("-0.75"), D(9)),
        (LineKind.SHIPPING, "PostNL", D("4.95"), D(21)),
    ]
    assert order.lines[0].unit_price == D("12.9500") and order.lines[0].quantity == D(2)
    assert order.lines[2].quantity == 1 and order.lines[2].unit_price == D("-2.5900")
    assert booked(order) == D("35.00")


def test_several_coupon_codes_and_an_automatic_discount() -> None:
    items = [item("Mok", 1, "10.00", "2.10", total="8.00", total_tax="1.68")]
    two = parse_order(payload(items, coupons=["zomer10", "welkom"]))
    assert two.lines[1].description == "Korting (zomer10, welkom)"
    # A discount plugin lowering the line without a coupon.
    automatic = parse_order(payload(items))
    assert [(x.description, x.amount) for x in automatic.lines[1:]] == [("Korting", D("-2.42"))]
    assert booked(automatic) == D("9.68")


def test_prices_excl_vat_discount_in_net_amounts() -> None:
    items = [
        item("Bureau", 2, "300.00", "63.00", total="270.00", total_tax="56.70"),
        item("Boek", 1, "20.00", "1.80", total="18.00", total_tax="1.62", rate_id=2),
    ]
    order = parse_order(payload(items, incl=False, coupons=["b2b10"]))
    assert order.prices_include_vat is False
    assert [(x.amount, x.vat_rate) for x in order.lines] == [
        (D("300.00"), D(21)),
        (D("20.00"), D(9)),
        (D("-30.00"), D(21)),
        (D("-2.00"), D(9)),
    ]
    assert booked(order) == D("346.32")


def test_a_price_raised_after_checkout_is_no_negative_discount() -> None:
    order = parse_order(payload([item("Mok", 1, "10.00", "2.10", total="11.00", total_tax="2.31")]))
    assert [(x.kind, x.amount) for x in order.lines] == [(LineKind.PRODUCT, D("13.31"))]


def test_free_shipping_left_out_and_every_shipping_line_kept() -> None:
    shipping = [
        charge("shipping", "Gratis verzending", "0.00", "0.00"),
        charge("shipping", "PostNL", "4.09", "0.86"),
        charge("shipping", "Spoedtoeslag", "2.00", "0.42"),
    ]
    order = parse_order(payload([item("Mok", 1, "10.00", "2.10")], shipping=shipping))
    assert [(x.kind, x.description, x.amount) for x in order.lines[1:]] == [
        (LineKind.SHIPPING, "PostNL", D("4.95")),
        (LineKind.SHIPPING, "Spoedtoeslag", D("2.42")),
    ]
    assert booked(order) == D("19.47")


def test_fees_positive_untaxed_and_negative_split_over_rates() -> None:
    fees = [
        charge("fee", "Betaalkosten", "0.29", "0.06"),
        charge("fee", "Statiegeld", "0.15", "0.00", rate_id=None),
        {  # a negative fee: WooCommerce taxes it in proportion to the cart's classes (21%, 9% and 0%)
            "name": "Korting vaste klant",
            "total": "-5.00",
            "total_tax": "-0.64",
            "taxes": [
                {"id": 1, "total": "-0.5543945312", "subtotal": ""},
                {"id": 2, "total": "-0.0866455078", "subtotal": ""},
                {"id": 3, "total": "0", "subtotal": ""},
            ],
        },
    ]
    items = [item("Mok", 1, "10.00", "2.10"), item("Thee", 1, "6.87", "0.62", rate_id=2)]
    order = parse_order(payload(items, fees=fees))
    assert [(x.kind, x.description, x.amount, x.vat_rate) for x in order.lines[2:]] == [
        (LineKind.FEE, "Betaalkosten", D("0.35"), D(21)),
        (LineKind.FEE, "Statiegeld", D("0.15"), D(0)),
        (LineKind.FEE, "Korting vaste klant", D("-3.19"), D(21)),
        (LineKind.FEE, "Korting vaste klant", D("-1.05"), D(9)),
        (LineKind.FEE, "Korting vaste klant", D("-1.40"), D(0)),
    ]
    assert booked(order) == D("14.45")


def test_stacked_taxes_add_up_to_one_rate() -> None:
    # Outside the EU two rates can apply to the same amount (GST 5% + PST 7%).
    data = payload([item("Canoe", 1, "100.00", "12.00")], incl=False)
    data["line_items"][0]["taxes"] = [
        {"id": 8, "total": "5", "subtotal": "5"},
        {"id": 9, "total": "7", "subtotal": "7"},
    ]
    data["tax_lines"] = [
        {"rate_id": 8, "label": "GST", "compound": False, "rate_percent": 5.0},
        {"rate_id": 9, "label": "PST", "compound": False, "rate_percent": 7.0},
    ]
    assert parse_order(data).lines[0].vat_rate == D(12)


def test_the_shops_per_rate_rounding_is_booked_on_a_rounding_line() -> None:
    # "Round tax at subtotal level": three lines of 0.50 at 21% show 0.11 tax each (0.105), the shop
    # charges 0.32 for the rate: 1.82.
    items = [item(f"Knoop {n}", 1, "0.50", "0.11") for n in range(3)]
    for line in items:
        line["taxes"] = [{"id": 1, "total": "0.105", "subtotal": "0.105"}]
    order = parse_order(payload(items, incl=False, total="1.82"))
    invoice = invoice_for(order, "NL")
    assert invoice.gross == D("1.82") and invoice.rounding_difference == D("-0.01")
    assert invoice.lines[-1].kind == LineKind.ROUNDING


def test_incl_vat_shop_a_cent_off_is_accepted() -> None:
    # WooCommerce rounds the total from unrounded net amounts: a cent off the lines is its own rounding.
    order = parse_order(
        payload([item("Mok", 1, "8.26", "1.74"), item("Thee", 1, "8.26", "1.74")], total="20.01")
    )
    assert order.gross_from_net
    assert booked(order) == D("20.01")


# --- the customer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", VAT_NUMBER_KEYS)
def test_vat_number_from_the_usual_meta_keys(key: str) -> None:
    data = payload(
        [item("Mok", 1, "10.00", "0.00", rate_id=3)],
        meta_data=[
            {"id": 1, "key": "is_vat_exempt", "value": "yes"},
            {"id": 2, "key": key, "value": " BE0403019261 "},
        ],
    )
    data["billing"]["company"] = "Brasserie Anvers BV"
    customer = parse_order(data).customer
    assert customer.vat_number == "BE0403019261" and customer.is_business


def test_billing_is_the_invoice_address_and_shipping_fills_a_missing_one() -> None:
    data = payload([item("E-book", 1, "10.00", "0.90", rate_id=2)])
    data["shipping"] = {"first_name": "Ander", "address_1": "Elders 1", "postcode": "1000", "city": "Brussel"}
    assert parse_order(data).customer.street == "Veldstraat 7"  # billing wins
    assert parse_order(data).customer.address2 == "bus 2"
    data["billing"].update(address_1="", address_2="", postcode="", city="", country="")
    data["shipping"]["country"] = "BE"
    customer = parse_order(data).customer
    assert (customer.first_name, customer.street, customer.city, customer.country_raw) == (
        "Lotte",
        "Elders 1",
        "Brussel",
        "BE",
    )
    assert customer.email == "lotte@example.be"


def test_unpaid_order_and_fallbacks() -> None:
    data = payload([item("Mok", 1, "10.00", "2.10")], status="On-Hold", date_paid=None, date_paid_gmt=None)
    data.update(number="", payment_method_title="", payment_method="bacs", date_created=None)
    order = parse_order(data)
    assert (order.status, order.paid, order.number, order.payment_method) == (
        "on-hold",
        False,
        "5001",
        "bacs",
    )
    assert order.created_at == datetime(2024, 6, 1, 16, 45, tzinfo=UTC)  # only the GMT time: UTC


# --- what cannot be read -----------------------------------------------------------------------------------


def test_fields_that_cannot_be_read_are_named() -> None:
    good = payload([item("Mok", 1, "10.00", "2.10")])
    assert invalid({**good, "total": "abc"}).startswith("Order field total:")
    assert invalid({**good, "line_items": []}).startswith("Order field line_items:")
    bad_quantity = copy.deepcopy(good)
    bad_quantity["line_items"][0]["quantity"] = 0
    assert invalid(bad_quantity).startswith("Order field line_items.0.quantity:")
    no_date = {**good, "date_created": None, "date_created_gmt": None}
    assert invalid(no_date).startswith("Order field date_created_gmt:")
    missing_status = {k: v for k, v in good.items() if k != "status"}
    assert invalid(missing_status).startswith("Order field status:")
    with pytest.raises(OrderInvalid):
        order_id({"number": "1"})


def test_money_never_goes_through_float() -> None:
    data = payload([item("Mok", 1, "0.10", "0.02")], total="0.12")
    data["line_items"][0]["total"] = 0.1  # a plugin writing a JSON number
    data["line_items"][0]["subtotal"] = 0.1
    assert parse_order(data).lines[0].amount == D("0.12")


def test_created_between_uses_the_gmt_time() -> None:
    data = payload([item("Mok", 1, "10.00", "2.10")])
    moment = datetime(2024, 6, 1, 16, 45, tzinfo=UTC)
    assert created_between(data, moment, moment + timedelta(seconds=1))
    assert not created_between(data, moment + timedelta(seconds=1), None)
    assert not created_between(data, moment - timedelta(hours=1), moment)
