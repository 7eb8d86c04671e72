"""KMO Shops order JSON → canonical Order (``shared/specs/kmoshops/README.md``)."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from koppel.connectors.errors import OrderInvalid
from koppel.connectors.kmoshops.mapping import order_id, parse_order
from koppel.documents.codes import Code
from koppel.documents.model import LineKind, Order, OrderLine, Party

D = Decimal


def small_order(**changes: Any) -> dict[str, Any]:
    """A minimal consumer order from a Belgian customer, independent of the shared example."""
    payload: dict[str, Any] = {
        "id": 900001,
        "number": "WEB-900001",
        "created_at": "2024-06-01T18:45:00+02:00",
        "status": "paid",
        "currency": "EUR",
        "priceincltax": True,
        "payment_method": "Bancontact",
        "paid": True,
        "customer": {
            "firstname": "Lotte",
            "lastname": "Peeters",
            "address1": "Veldstraat",
            "house_number": "7",
            "zipcode": "9000",
            "city": "Gent",
            "country": "BE",
            "email": "lotte@example.be",
        },
        "lines": [{"sku": "MUG-1", "description": "Mok", "amount": 2, "price": "8.50", "tax_rate": "21.00"}],
        "total": "17.00",
    }
    payload.update(changes)
    return payload


def with_customer(**fields: Any) -> dict[str, Any]:
    payload = small_order()
    payload["customer"] = {**payload["customer"], **fields}
    return payload


def with_line(**fields: Any) -> dict[str, Any]:
    payload = small_order()
    payload["lines"] = [{**payload["lines"][0], **fields}]
    return payload


def invalid(payload: dict[str, Any]) -> str:
    with pytest.raises(OrderInvalid) as info:
        parse_order(payload)
    assert info.value.code == Code.ORDER_INVALID
    assert info.value.side == "source"
    return info.value.message


# --- the example order ---------------------------------------------------------------------------------


def test_example_order_header(example: dict[str, Any]) -> None:
    order = parse_order(example)
    assert order.source == "kmoshops"
    assert order.source_id == "367439"
    assert order.number == "367439"
    assert order.created_at == datetime(2023, 2, 13, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert order.order_date == date(2023, 2, 13)
    assert order.status == "paid"
    assert order.currency == "EUR"
    assert order.prices_include_vat is True
    assert order.payment_method == "Credit card"
    assert order.paid is True
    assert order.total == D("308.43")


def test_example_order_customer(example: dict[str, Any]) -> None:
    assert parse_order(example).customer == Party(
        first_name="Karin",
        last_name="de Wit",
        company="Bakery De Witte",
        street="Stationstraat",
        address2="",
        house_number="12",
        zipcode="1000 AA",
        city="Amsterdam",
        country_raw="NL",
        phone="0201234567",
        mobile="0632281625",
        email="info@example.nl",
        vat_number="",
    )


def test_example_order_lines_and_shipping(example: dict[str, Any]) -> None:
    order = parse_order(example)
    assert order.lines == (
        OrderLine("Bed Boxspring", D(1), D("249.00"), D("21.00"), LineKind.PRODUCT, "BED-01"),
        OrderLine("Hoofdkussen", D(2), D("19.99"), D("21.00"), LineKind.PRODUCT, "PIL-02"),
        OrderLine("Slaapgids (boek)", D(1), D("12.50"), D("9.00"), LineKind.PRODUCT, "BOOK-7"),
    )
    assert order.shipping == OrderLine("Verzendkosten", D(1), D("6.95"), D("21.00"), LineKind.SHIPPING)
    assert order.all_lines[-1] == order.shipping
    assert order.vat_rates == (D("9"), D("21"))


def test_the_shared_example_is_not_modified(example: dict[str, Any]) -> None:
    before = copy.deepcopy(example)
    parse_order(example)
    assert example == before


# --- required fields and malformed values --------------------------------------------------------------


def test_empty_lines() -> None:
    assert invalid(small_order(lines=[])).startswith("Order field lines:")


def test_missing_lines() -> None:
    payload = small_order()
    del payload["lines"]
    assert invalid(payload).startswith("Order field lines:")


def test_total_not_a_number() -> None:
    message = invalid(small_order(total="abc"))
    assert message.startswith("Order field total:")
    assert "'abc' is not a number" in message


def test_total_missing() -> None:
    payload = small_order()
    del payload["total"]
    assert invalid(payload).startswith("Order field total:")


@pytest.mark.parametrize("created_at", ["2024-06-01T18:45:00", "2024-06-01"])
def test_created_at_without_offset(created_at: str) -> None:
    message = invalid(small_order(created_at=created_at))
    assert message == "Order field created_at: Value error, created_at needs a UTC offset"


@pytest.mark.parametrize("created_at", ["yesterday", "", None])
def test_created_at_not_a_date(created_at: object) -> None:
    assert invalid(small_order(created_at=created_at)).startswith("Order field created_at:")


@pytest.mark.parametrize("amount", [0, "0", -1, "-2"])
def test_line_amount_must_be_positive(amount: object) -> None:
    assert invalid(with_line(amount=amount)).startswith("Order field lines.0.amount:")


def test_second_line_is_named_by_its_position() -> None:
    payload = small_order()
    payload["lines"].append({"description": "Onderzetter", "amount": 1, "price": "x", "tax_rate": "21"})
    assert invalid(payload).startswith("Order field lines.1.price:")


@pytest.mark.parametrize("rate", ["-1", "121", "abc"])
def test_line_tax_rate_out_of_range(rate: str) -> None:
    assert invalid(with_line(tax_rate=rate)).startswith("Order field lines.0.tax_rate:")


def test_line_without_description() -> None:
    payload = small_order()
    del payload["lines"][0]["description"]
    assert invalid(payload).startswith("Order field lines.0.description:")


@pytest.mark.parametrize("field", ["customer", "status", "created_at", "id"])
def test_missing_required_field(field: str) -> None:
    payload = small_order()
    del payload[field]
    assert invalid(payload).startswith(f"Order field {field}:")


def test_shipping_price_not_a_number() -> None:
    payload = small_order(shipping={"description": "Verzendkosten", "price": "gratis", "tax_rate": "21"})
    assert invalid(payload).startswith("Order field shipping.price:")


def test_order_id_helper() -> None:
    assert order_id({"id": 367439}) == "367439"
    assert order_id({"id": "A-1"}) == "A-1"
    for payload in ({}, {"id": None}, {"id": ""}):
        with pytest.raises(OrderInvalid, match="no id"):
            order_id(payload)


# --- money: strings and ints, never floats -------------------------------------------------------------


def test_money_given_as_json_ints_is_accepted() -> None:
    payload = small_order(total=17)
    payload["lines"][0]["price"] = 8
    payload["lines"][0]["tax_rate"] = 21
    payload["shipping"] = {"price": 1, "tax_rate": 21}
    payload["total"] = 17
    order = parse_order(payload)
    assert order.lines[0].unit_price == D(8)
    assert order.lines[0].vat_rate == D(21)
    assert order.shipping is not None and order.shipping.unit_price == D(1)
    assert order.total == D(17)


@pytest.mark.parametrize(
    ("where", "payload"),
    [
        ("lines.0.price", with_line(price=8.5)),
        ("lines.0.amount", with_line(amount=2.0)),
        ("lines.0.tax_rate", with_line(tax_rate=21.0)),
        ("total", small_order(total=17.0)),
        ("shipping.price", small_order(shipping={"price": 4.95, "tax_rate": "21"})),
    ],
)
def test_money_given_as_json_floats_is_refused(where: str, payload: dict[str, Any]) -> None:
    message = invalid(payload)
    assert message.startswith(f"Order field {where}:")
    assert "expected a decimal string" in message


def test_decimal_comma_is_read() -> None:
    assert parse_order(with_line(price="8,50")).lines[0].unit_price == D("8.50")


def test_fractional_quantity_is_kept() -> None:
    assert parse_order(with_line(amount="1.5")).lines[0].quantity == D("1.5")


# --- country, status and the other fields --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "alpha2"),
    [
        ("BE", "BE"),
        ("be", "BE"),
        ("BEL", "BE"),
        ("België", "BE"),
        ("Belgium", "BE"),
        ("Nederland", "NL"),
        ("", None),
    ],
)
def test_country_as_code_name_or_empty(raw: str, alpha2: str | None) -> None:
    customer = parse_order(with_customer(country=raw)).customer
    assert customer.country_raw == raw.strip()
    assert (customer.country.alpha2 if customer.country else None) == alpha2


def test_missing_or_null_customer_fields_are_empty() -> None:
    customer = parse_order(with_customer(country=None, company=None, vatnumber=None, telnr=None)).customer
    assert (customer.country_raw, customer.company, customer.vat_number, customer.phone) == ("", "", "", "")
    assert customer.country is None
    assert not customer.is_business


def test_numbers_given_as_ints_become_text() -> None:
    customer = parse_order(with_customer(house_number=7, zipcode=9000, telnr=92341234)).customer
    assert (customer.house_number, customer.zipcode, customer.phone) == ("7", "9000", "92341234")


def test_whitespace_around_values_is_dropped() -> None:
    customer = parse_order(with_customer(firstname=" Lotte ", email=" lotte@example.be\n")).customer
    assert (customer.first_name, customer.email) == ("Lotte", "lotte@example.be")


@pytest.mark.parametrize(
    ("raw", "status"), [("PAID", "paid"), ("Shipped", "shipped"), (" Completed ", "completed")]
)
def test_status_is_lower_cased(raw: str, status: str) -> None:
    assert parse_order(small_order(status=raw)).status == status


def test_currency_is_upper_cased() -> None:
    assert parse_order(small_order(currency="eur")).currency == "EUR"


def test_order_without_number_uses_its_id() -> None:
    order = parse_order(small_order(number=""))
    assert (order.number, order.source_id) == ("900001", "900001")


def test_no_shipping() -> None:
    order = parse_order(small_order())
    assert order.shipping is None
    assert order.all_lines == order.lines


def test_shipping_without_description_is_called_verzendkosten() -> None:
    order = parse_order(small_order(shipping={"price": "4.95", "tax_rate": "21.00"}))
    assert order.shipping == OrderLine("Verzendkosten", D(1), D("4.95"), D("21.00"), LineKind.SHIPPING)


def test_prices_excl_vat_and_unpaid() -> None:
    order = parse_order(small_order(priceincltax=False, paid=False, payment_method=""))
    assert (order.prices_include_vat, order.paid, order.payment_method) == (False, False, "")


def test_defaults_when_optional_fields_are_absent() -> None:
    payload = small_order()
    for key in ("currency", "priceincltax", "payment_method", "paid", "number"):
        del payload[key]
    order: Order = parse_order(payload)
    assert (order.currency, order.prices_include_vat, order.payment_method, order.paid) == (
        "EUR",
        True,
        "",
        False,
    )


def test_unknown_fields_are_ignored() -> None:
    order = parse_order(small_order(discount_code="ZOMER", updated_at="2024-06-01T19:00:00+02:00"))
    assert order.number == "WEB-900001"
