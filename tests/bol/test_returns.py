"""bol.com returns and cancellations as canonical refunds, through real HTTP against the sandbox: a returned
item at the rate and price its invoice had (an EAN at 9%, OSS), a partial return, a rejected or exchanged
return (no refund), the shipment a returned item shipped in, a cancellation after the order's invoice,
bol's real return samples read by the connector, and a polled return credited on its booked invoice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol import mapping, refunds
from koppel.connectors.bol.client import BolClient, Buckets
from koppel.connectors.bol.connector import BolSource
from tests.bol.conftest import BolShop, make_order
from tests.conftest import shared_file

MUG, POT = "8712345678906", "8712345678913"


@pytest.fixture(autouse=True)
def fresh_buckets():
    bol_client.BUCKETS.clear()
    yield


def source(shop: BolShop, **settings: Any) -> BolSource:
    return BolSource(url=shop.url, credentials=shop.credentials, settings=settings)


def recent() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


def shipped(shop: BolShop, **overrides: Any) -> dict[str, Any]:
    order = shop.place(make_order(**overrides), notify=False)
    shop.ship(order["orderId"])
    return order


def item_id(order: dict[str, Any], ean: str) -> str:
    return next(i["orderItemId"] for i in order["orderItems"] if i["product"]["ean"] == ean)


def returned(shop: BolShop, order: dict[str, Any], *items: tuple[str, int], **handle: Any) -> dict[str, Any]:
    """The customer returns ``items`` (EAN, quantity) and they are handled (RETURN_RECEIVED by default)."""
    wanted = [{"order_item_id": item_id(order, ean), "quantity": quantity} for ean, quantity in items]
    body: dict[str, Any] = {
        "items": wanted,
        "reason": "Verkeerd besteld",
        "detailed_reason": "Dubbel besteld",
    }
    return shop.return_items(
        order["orderId"], **body, handle={"handling_result": "RETURN_RECEIVED", **handle}
    )


def test_a_returned_item_of_a_9_percent_ean_is_refunded_at_9_percent_and_its_price(bol_shop) -> None:
    connector = source(bol_shop, source="order", ean_vat_rates=f"{POT},9")
    order = shipped(bol_shop)
    rma = returned(bol_shop, order, (POT, 1))["returnItems"][0]["rmaId"]
    (refund,) = connector.iter_refunds(recent())
    assert (refund.refund_id, refund.order_id, refund.source) == (rma, order["orderId"], "bol")
    (line,) = refund.lines
    assert (line.quantity, line.amount, line.vat_rate, line.sku) == (1, Decimal("24.95"), 9, POT)
    invoiced = mapping.parse_order(connector.fetch_order(order["orderId"]), connector.settings)
    pot = next(ln for ln in invoiced.lines if ln.sku == POT)
    assert (line.vat_rate, line.vat_reason, line.description) == (pot.vat_rate, pot.vat_reason, "Theepot")
    assert refund.total == Decimal("24.95") and refund.prices_include_vat and refund.currency == "EUR"
    assert refund.reason == "Retour: Verkeerd besteld, Dubbel besteld"
    assert refund.raw["returnItems"][0]["rmaId"] == rma and refund.created_at >= recent()


def test_a_partial_return_refunds_its_share_of_the_discount(bol_shop) -> None:
    connector = source(bol_shop, source="order")
    order = shipped(bol_shop)
    returned(bol_shop, order, (MUG, 1))
    (refund,) = connector.iter_refunds(recent())
    (line,) = refund.lines
    assert (line.quantity, line.amount, line.vat_rate) == (1, Decimal("12.49"), 21)  # 12.99 - 1.00 / 2
    assert line.vat_reason == "21%: the default rate"
    announced = bol_shop.return_items(order["orderId"], items=[{"order_item_id": item_id(order, POT)}])
    bol_shop.knobs(process_delay_ms=0)
    bol_shop.api(  # the retailer takes the teapot back: what bol answers is read by the next poll
        "PUT",
        f"/retailer/returns/{announced['returnItems'][0]['rmaId']}",
        json={"handlingResult": "RETURN_RECEIVED", "quantityReturned": 1},
    )
    assert sorted(r.total for r in connector.iter_refunds(recent())) == [Decimal("12.49"), Decimal("24.95")]


def test_a_rejected_or_exchanged_or_unhandled_return_gives_no_refund(bol_shop) -> None:
    connector = source(bol_shop, source="order")
    order = shipped(bol_shop)
    returned(bol_shop, order, (MUG, 2), handling_result="RETURN_DOES_NOT_MEET_CONDITIONS")
    returned(bol_shop, order, (POT, 1), handling_result="EXCHANGE_PRODUCT")  # ACCEPTED, but a new teapot
    other = shipped(bol_shop)
    bol_shop.return_items(other["orderId"])  # announced, never handled
    assert list(connector.iter_refunds(recent())) == []
    handled = bol_shop.api("GET", "/retailer/returns", params={"handled": "true"}).json()["returns"]
    results = {i["processingResults"][0]["processingResult"] for r in handled for i in r["returnItems"]}
    assert results == {"REJECTED", "ACCEPTED"}


def test_the_shipment_source_refunds_the_shipment_that_shipped_the_item(bol_shop) -> None:
    connector = source(bol_shop, source="shipment")
    order = bol_shop.place(notify=False)
    first = bol_shop.ship(order["orderId"], items=[{"order_item_id": item_id(order, MUG), "quantity": 1}])
    second = bol_shop.ship(order["orderId"])  # the other mug and the teapot
    items = returned(bol_shop, order, (POT, 1), (MUG, 2))["returnItems"]
    pot_rma, mug_rma = (i["rmaId"] for i in items)
    found = {r.refund_id: r for r in connector.iter_refunds(recent())}
    assert set(found) == {pot_rma, f"{mug_rma}-{first['shipmentId']}", f"{mug_rma}-{second['shipmentId']}"}
    assert found[pot_rma].order_id == second["shipmentId"]
    for shipment in (first, second):
        mug = found[f"{mug_rma}-{shipment['shipmentId']}"]
        assert mug.order_id == shipment["shipmentId"] and mug.lines[0].quantity == 1
        invoiced = mapping.parse_order(connector.fetch_order(shipment["shipmentId"]))
        teapot = Decimal("24.95") if shipment is second else 0
        assert mug.total == invoiced.total - teapot == Decimal("12.49")  # what its invoice charged


def test_a_cancellation_after_the_order_invoice_is_a_refund_of_the_item(bol_shop) -> None:
    connector = source(bol_shop, source="order")
    order = bol_shop.place(notify=False)
    bol_shop.ship(order["orderId"], items=[{"order_item_id": item_id(order, MUG), "quantity": 1}])
    bol_shop.cancel(order["orderId"])  # the other mug and the teapot
    found = {r.refund_id: r for r in connector.fetch_refunds(order["orderId"])}
    assert set(found) == {f"cancel-{item_id(order, MUG)}", f"cancel-{item_id(order, POT)}"}
    pot = found[f"cancel-{item_id(order, POT)}"]
    assert (pot.order_id, pot.total, pot.lines[0].vat_rate, pot.reason) == (
        order["orderId"], Decimal("24.95"), 21, "Geannuleerd"
    )  # fmt: skip
    assert pot.reduces_invoice and found[f"cancel-{item_id(order, MUG)}"].total == Decimal("12.49")
    assert connector.refunds_of(connector.fetch_order(order["orderId"])) == list(found.values())
    by_shipment = source(bol_shop, source="shipment")
    shipment = bol_shop.api("GET", "/retailer/shipments", params={"order-id": order["orderId"]}).json()
    payload = by_shipment.fetch_order(shipment["shipments"][0]["shipmentId"])
    assert by_shipment.refunds_of(payload) == [] and by_shipment.fetch_refunds("1") == []
    assert BolSource.supports_refunds


def test_fbb_returns_oss_rates_and_what_was_handled_before_since(bol_shop) -> None:
    belgian = {**make_order()["billing"], "country_code": "BE", "zip_code": "2000", "city": "Antwerpen"}
    connector = source(bol_shop, source="order", oss=True, ean_vat_rates=f"{POT},9")
    order = shipped(bol_shop, fulfilment="FBB", billing=belgian)
    returned(bol_shop, order, (POT, 1))
    earlier = shipped(bol_shop)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    returned(bol_shop, earlier, (MUG, 1), at=yesterday)
    (refund,) = connector.iter_refunds(recent())
    assert refund.order_id == order["orderId"] and refund.lines[0].vat_rate == 6  # NL 9% is BE 6%
    invoiced = mapping.parse_order(connector.fetch_order(order["orderId"]), connector.settings)
    assert refund.lines[0].vat_reason == next(ln.vat_reason for ln in invoiced.lines if ln.sku == POT)
    assert len(list(connector.iter_refunds(datetime.now(UTC) - timedelta(days=2)))) == 2
    methods = {
        r["query"].get("fulfilment-method") for r in bol_shop.requests() if r["path"].endswith("returns")
    }
    assert methods == {"FBR", "FBB"}


# -- bol's real samples ------------------------------------------------------------------------------------

SAMPLES = "specs/bol/samples/123lens"
DETAILS = {
    "15892026": "200-get-return-by-id.json",
    "15896813": "200-get-return-by-id-multiple-return-items-with-customer-details.json",
    "15897410": "200-get-return-by-id-multiple-return-items.json",
}


def sample(name: str) -> dict[str, Any]:
    return json.loads(shared_file(f"{SAMPLES}/{name}").read_text("utf-8"))


def sample_order(order_id: str, eans: list[str]) -> dict[str, Any]:
    items = [
        {"orderItemId": f"6{order_id}{n}", "product": {"ean": ean, "title": f"EAN {ean}"}, "quantity": 1,
         "quantityShipped": 1, "unitPrice": 10.0, "totalPrice": 10.0, "fulfilment": {"method": "FBR"}}
        for n, ean in enumerate(eans)
    ]  # fmt: skip
    billing = {"countryCode": "NL", "surname": "Skywalker"}
    placed = "2018-10-01T10:00:00+02:00"
    return {
        "orderId": order_id,
        "orderPlacedDateTime": placed,
        "billingDetails": billing,
        "orderItems": items,
    }


def sample_api(calls: list[str]) -> httpx.MockTransport:
    """bol's API answering with the recorded returns (and an order of each return item's EAN)."""
    eans: dict[str, list[str]] = {"7616247328": ["8718526069334"]}
    for name in DETAILS.values():
        for item in sample(name)["returnItems"]:
            eans.setdefault(item["orderId"], []).append(item["ean"])
    lists = {"FBR": sample("200-get-handled-returns.json"), "FBB": sample("200-get-handled-fbb-returns.json")}

    def answer(request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        calls.append(path)
        if path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 299})
        if path == "/retailer/returns":
            page = request.url.params["page"]
            return httpx.Response(
                200, json=lists[request.url.params["fulfilment-method"]] if page == "1" else {}
            )
        if path.startswith("/retailer/returns/"):
            return httpx.Response(200, json=sample(DETAILS[path.rpartition("/")[2]]))
        order_id = path.rpartition("/")[2]
        return httpx.Response(200, json=sample_order(order_id, eans[order_id]))

    return httpx.MockTransport(answer)


def test_the_real_return_samples_are_read() -> None:
    calls: list[str] = []
    connector = BolSource(url="http://bol.test", credentials={"client_id": "a", "client_secret": "b"},
                          settings={"source": "order"})  # fmt: skip
    connector.client = BolClient("http://bol.test", "a", "b", transport=sample_api(calls), buckets=Buckets())
    found = {r.refund_id: r for r in connector.iter_refunds(datetime(2018, 1, 1, tzinfo=UTC))}
    # 60282945 was CANCELLED (EXPIRED), 60283608 is not handled; the FBB item's two results are one unit
    assert set(found) == {"60278123", "60282944", "60283607", "86127199"}
    assert all(r.total == Decimal("10.00") and r.lines[0].quantity == 1 for r in found.values())
    assert found["60283607"].order_id == "1044796550" and found["60283607"].lines[0].sku == "0634154562079"
    assert found["60282944"].created_at == datetime.fromisoformat("2019-05-09T13:05:09+02:00")
    assert found["60278123"].reason == "Retour: Geen reden"
    assert sorted(c for c in calls if c.startswith("/retailer/returns/")) == sorted(
        f"/retailer/returns/{r}" for r in DETAILS
    )  # the old list has no processingResults: each return is read whole
    assert list(found) == sorted(found, key=lambda r: found[r].created_at)  # oldest first


def test_the_sample_items_on_their_own() -> None:
    fbb = sample("200-get-handled-fbb-returns.json")["returns"][0]
    (item,) = fbb["returnItems"]
    assert refunds.refunded_quantity(item) == 1 and not refunds.needs_details(fbb)
    assert refunds.needs_details(sample("200-get-handled-returns.json")["returns"][0])
    unhandled = sample("200-get-unhandled-returns.json")["returns"][0]["returnItems"][0]
    assert refunds.refunded_quantity(unhandled) == 0 and refunds.refunded_at(unhandled) is None
    assert refunds.allocate([("A", 1), ("B", 2)], 2) == [("A", 1), ("B", 1)]
    assert refunds.allocate([("A", 1), ("B", 1)], 3) == [("A", 1), ("B", 2)]
    assert refunds.allocate([("A", 0), ("B", 0)], 1) == [("B", 1)]


# -- through the pipeline ------------------------------------------------------------------------------------


def test_a_polled_return_is_credited_on_the_booked_order(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    from koppel.sync.models import Kind, Record, State
    from koppel.sync.refunds import poll_refunds
    from tests.bol.test_pipeline import bol_connection, push
    from tests.conftest import drain

    connection = bol_connection(account, bol_shop, administration, source="order", ean_vat_rates=f"{POT},9")
    order = shipped(bol_shop)
    assert push(client, sandbox, connection, "ORDER", order["orderId"]).status_code == 202
    drain()
    rma = returned(bol_shop, order, (POT, 1))["returnItems"][0]["rmaId"]
    assert poll_refunds(connection, recent()) == 1
    assert poll_refunds(connection, recent()) == 0  # seen again: nothing new
    drain()
    (record,) = Record.objects.filter(connection=connection, kind=Kind.REFUND)
    assert record.source_order_id == rma and record.total == Decimal("24.95")
    assert record.payload["order_id"] == order["orderId"]
    assert record.state == State.HANDLED, record.message
    invoice, credit = administration.invoices
    assert credit["reference"]["line1"] == f"{order['orderId']}-CR{rma}"
    assert [(ln["description"], ln["tax_rate"], ln["linetotal"]) for ln in credit["lines"].values()] == [
        ("Theepot", 9, -24.95)
    ]
    assert {ln["tax_rate"] for ln in invoice["lines"].values() if ln["description"] == "Theepot"} == {9}
