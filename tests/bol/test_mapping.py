"""bol.com payloads → canonical orders: the spec's own example order and shipment, discounts, cancelled
quantities, partial shipments, the customer, and the VAT rate of each line with its reason."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from koppel.connectors.bol import mapping
from koppel.connectors.bol.config import BolSettings, vat_rate
from koppel.connectors.bol.connector import BolSource
from koppel.connectors.errors import OrderInvalid
from koppel.documents.checks import CheckContext, check_total
from koppel.documents.model import LineKind, build_invoice
from tests.conftest import shared_file


def sample(name: str) -> dict[str, Any]:
    return json.loads(shared_file(f"specs/bol/samples/spec-derived-v10/{name}.json").read_text("utf-8"))


def test_the_spec_example_order_totals_quantity_times_price_minus_discounts() -> None:
    payload = sample("Order")
    order = BolSource.parse_order(payload)
    item = payload["orderItems"][0]
    paid = Decimal(str(item["quantity"])) * Decimal(str(item["unitPrice"])) - Decimal("10.99")
    assert order.total == paid == Decimal(str(item["totalPrice"])) == Decimal("118.91")
    product, discount = order.lines
    assert (product.description, product.quantity, product.unit_price, product.sku) == (
        "Product Title",
        Decimal(10),
        Decimal("12.99"),
        "0000007740404",
    )
    assert discount.kind == LineKind.DISCOUNT and discount.amount == Decimal("-10.99")
    assert discount.description == "Korting (kiscier x + y promotion)"
    assert check_total(order, CheckContext()).passed
    assert build_invoice(order).gross == Decimal("118.91")
    assert (order.number, order.source_id, order.status, order.paid) == (
        "A2K8290LP8",
        "A2K8290LP8",
        "shipped",
        True,
    )
    assert order.prices_include_vat and order.currency == "EUR"


def test_customer_from_billing_details_with_company_vat_number_relay_email_and_kvk() -> None:
    payload = sample("Order")
    party = BolSource.parse_order(payload).customer
    assert (party.first_name, party.last_name, party.company) == ("Billie", "Jansen", "bol.com")
    assert (party.street, party.house_number, party.address2) == ("Dorpstraat", "1 B", "Apartment")
    assert (party.zipcode, party.city, party.country_raw) == ("1111ZZ", "Utrecht", "NL")
    assert party.vat_number == "NL999999999B99" and party.email == "billie@verkopen.bol.com"
    assert party.phone == "012123456"
    assert mapping.kvk_number(payload) == "99887766"


def test_customer_falls_back_to_shipment_details() -> None:
    payload = sample("Order")
    del payload["billingDetails"]
    party = BolSource.parse_order(payload).customer
    assert (
        party.first_name == "Billie" and party.vat_number == "" and party.email.endswith("@verkopen.bol.com")
    )


def test_cancelled_quantities_are_never_invoiced_and_a_whole_cancellation_is_cancelled() -> None:
    payload = sample("Order")
    item = payload["orderItems"][0]
    item.update(quantityCancelled=4, quantityShipped=6)
    order = BolSource.parse_order(payload)
    product, discount = order.lines
    assert product.quantity == 6
    assert discount.amount == Decimal("-6.59")  # 10.99 for ten, six of them
    assert order.total == Decimal("71.35") == product.amount + discount.amount
    assert order.status == "shipped"
    item.update(quantityCancelled=10, quantityShipped=0)
    cancelled = BolSource.parse_order(payload)
    assert cancelled.status == "cancelled" and cancelled.lines == () and cancelled.total == 0


def test_statuses_open_and_cancellation_requested() -> None:
    payload = sample("Order")
    payload["orderItems"][0].update(quantityShipped=0)
    assert BolSource.parse_order(payload).status == "open"
    payload["orderItems"][0]["cancellationRequest"] = True
    assert BolSource.parse_order(payload).status == "cancellation_requested"
    assert set(BolSource.default_eligible_statuses) == {"open", "shipped"}


def test_a_bare_shipment_of_the_spec() -> None:
    order = BolSource.parse_order(sample("Shipment"))
    assert order.number == "4123456789-541757635" and order.source_id == "541757635"
    assert order.status == "shipped" and order.total == Decimal("129.90")
    assert BolSource.order_id(sample("Shipment")) == "541757635"


def shipment_with_order(shipped: int) -> dict[str, Any]:
    shipment, order = sample("Shipment"), sample("Order")
    item = order["orderItems"][0]
    shipment["order"]["orderId"] = order["orderId"]
    shipment["shipmentItems"][0].update(orderItemId=item["orderItemId"], quantityShipped=shipped)
    del shipment["billingDetails"]
    return {"shipment": shipment, "order": order}


def test_a_shipment_invoices_what_it_shipped_with_its_share_of_the_discount() -> None:
    first = BolSource.parse_order(shipment_with_order(4))
    product, discount = first.lines
    assert product.quantity == 4 and discount.amount == Decimal("-4.40")
    assert first.total == Decimal("47.56")
    assert first.customer.vat_number == "NL999999999B99"  # from the order: the shipment had none
    whole = BolSource.parse_order(shipment_with_order(10))
    assert whole.total == Decimal("118.91")


def test_payloads_are_told_apart_and_garbage_is_refused() -> None:
    assert mapping.kind_of(sample("Order")) == "order"
    assert mapping.kind_of(sample("Shipment")) == "shipment"
    assert mapping.kind_of(shipment_with_order(1)) == "shipment+order"
    with pytest.raises(OrderInvalid):
        BolSource.parse_order({"foo": 1})
    broken = sample("Order")
    broken["orderItems"][0]["unitPrice"] = "abc"
    with pytest.raises(OrderInvalid, match="unitPrice"):
        BolSource.parse_order(broken)


def test_vat_rate_per_ean_default_and_the_reason_per_line() -> None:
    payload = sample("Order")
    settings = {"ean_vat_rates": "0000007740404,9; 8712345678906,21", "default_vat_rate": "21"}
    order = BolSource.parse_order(payload, settings)
    assert [line.vat_rate for line in order.lines] == [Decimal(9), Decimal(9)]
    reasons = mapping.line_reasons(payload, BolSettings(**settings))
    assert reasons == ["9%: the rate for EAN 0000007740404", "9%: the rate of the discounted products"]
    assert BolSource.parse_order(payload).lines[0].vat_rate == Decimal(21)


@pytest.mark.parametrize(
    ("home", "country", "oss", "expected"),
    [
        ("9", "BE", True, "6"),
        ("9", "NL", True, "9"),
        ("21", "BE", True, "21"),
        ("0", "BE", True, "0"),
        ("9", "BE", False, "9"),
        ("12", "NL", True, "9"),
    ],
)
def test_oss_takes_the_destination_country_rate_of_the_same_kind(home, country, oss, expected) -> None:
    settings = BolSettings(default_vat_rate=home, oss=oss)
    assert vat_rate(settings, "8712345678906", country).rate == Decimal(expected)


def test_an_explicit_oss_rate_wins() -> None:
    settings = BolSettings(oss=True, ean_vat_rates="8712345678906,9", oss_vat_rates="BE,8712345678906,12")
    chosen = vat_rate(settings, "8712345678906", "BE")
    assert chosen.rate == Decimal(12) and "OSS" in chosen.reason


def test_settings_name_every_bad_entry() -> None:
    with pytest.raises(ValidationError) as info:
        BolSettings(ean_vat_rates="abc,9; 8712345678906,x; 8712345678906,9")
    text = str(info.value)
    assert "entry 1 ('abc,9')" in text and "entry 2" in text and "entry 3" not in text
    with pytest.raises(ValidationError, match="country code"):
        BolSettings(oss_vat_rates="XX,8712345678906,6")
    with pytest.raises(ValidationError):
        BolSettings(default_vat_rate="hundred")
    assert BolSettings(default_vat_rate="9%").default_vat_rate == "9"


def test_webhook_notices() -> None:
    body = json.dumps(
        {"retailerId": 1, "timestamp": "2026-05-01T10:00:00+02:00", "event": {"resource": "ORDER",
         "type": "ORDER_CREATED", "resourceId": "1234567890"}}
    ).encode()  # fmt: skip
    notice = BolSource.parse_webhook(body, {})
    assert notice is not None and notice.order_id == "1234567890" and notice.event == "ORDER.ORDER_CREATED"
    assert notice.delivery_id == "ORDER:ORDER_CREATED:1234567890:2026-05-01T10:00:00+02:00"
    test = json.loads(body)
    test["event"] = {"resource": "TEST", "type": "TEST", "resourceId": "1"}
    assert BolSource.parse_webhook(json.dumps(test).encode(), {}) is None
    with pytest.raises(ValueError):
        BolSource.parse_webhook(b'{"foo": 1}', {})


def test_payload_is_not_changed() -> None:
    payload = shipment_with_order(3)
    before = copy.deepcopy(payload)
    BolSource.parse_order(payload)
    assert payload == before
