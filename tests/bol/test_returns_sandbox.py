"""The simulated bol.com returns over real HTTP: the list (paging, the handled filter, its order, FBR and
FBB), one return, handling a return item (202, then ACCEPTED or REJECTED), the retailer registering a
return, the problems as bol writes them, the rate limits, and the control API's returns."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.bol.conftest import BolShop, make_order
from tests.bol.test_sandbox import wait_for_process
from tests.conftest import shared_file


def shipped_order(shop: BolShop, **overrides: Any) -> dict[str, Any]:
    order = shop.place(make_order(**overrides), notify=False)
    shop.ship(order["orderId"])
    return shop.api("GET", f"/retailer/orders/{order['orderId']}").json()


def returns(shop: BolShop, **params: Any) -> httpx.Response:
    return shop.api("GET", "/retailer/returns", params=params)


def test_the_list_pages_by_50_and_an_empty_page_is_braces(bol_shop: BolShop) -> None:
    items = [{"ean": f"87123456{n:05d}", "title": f"Kaart {n}", "unit_price": "2.50"} for n in range(51)]
    order = shipped_order(bol_shop, items=items)
    for item in order["orderItems"]:
        bol_shop.return_items(order["orderId"], items=[{"order_item_id": item["orderItemId"]}])
    first = returns(bol_shop, handled="false", page=1).json()["returns"]
    second = returns(bol_shop, handled="false", page=2).json()["returns"]
    assert len(first) == 50 and len(second) == 1
    empty = returns(bol_shop, handled="false", page=3)
    assert empty.status_code == 200 and empty.content == b"{ }"
    assert returns(bol_shop, **{"fulfilment-method": "FBB"}).content == b"{ }"
    assert returns(bol_shop, handled="false").headers["X-RateLimit-Limit"] == "20"


def test_the_handled_filter_shows_the_items_that_match_in_bols_order(bol_shop: BolShop) -> None:
    order = shipped_order(bol_shop)
    mug, pot = (i["orderItemId"] for i in order["orderItems"])
    early = bol_shop.return_items(
        order["orderId"], items=[{"order_item_id": mug, "quantity": 1}], registered_at="2026-01-02T10:00:00"
    )
    late = bol_shop.return_items(
        order["orderId"], reason="Verkeerd besteld", registered_at="2026-01-05T10:00"
    )
    assert [i["orderItemId"] for i in late["returnItems"]] == [mug, pot]  # what was left to return
    bol_shop.handle_return(late["returnItems"][1]["rmaId"])
    unhandled = returns(bol_shop, handled="false").json()["returns"]
    assert [r["returnId"] for r in unhandled] == [early["returnId"], late["returnId"]]  # oldest first
    assert [i["rmaId"] for i in unhandled[1]["returnItems"]] == [late["returnItems"][0]["rmaId"]]
    bol_shop.handle_return(early["returnItems"][0]["rmaId"], "RETURN_DOES_NOT_MEET_CONDITIONS")
    handled = returns(bol_shop, handled="true").json()["returns"]
    assert [r["returnId"] for r in handled] == [late["returnId"], early["returnId"]]  # newest first
    item = handled[0]["returnItems"][0]
    assert set(item) == {
        "rmaId", "orderId", "ean", "expectedQuantity", "returnReason", "handled", "processingResults"
    }  # fmt: skip
    assert item["returnReason"] == {"mainReason": "Verkeerd besteld", "customerComments": ""}
    assert [(r["processingResult"], r["handlingResult"]) for r in item["processingResults"]] == [
        ("ACCEPTED", "RETURN_RECEIVED")
    ]
    rejected = handled[1]["returnItems"][0]["processingResults"]
    assert [(r["quantity"], r["processingResult"]) for r in rejected] == [(1, "REJECTED")]
    assert len(returns(bol_shop, handled="0").json()["returns"]) == 1  # Spring reads 0 as false


def test_a_return_by_id_has_the_title_transport_and_customer(bol_shop: BolShop) -> None:
    order = shipped_order(bol_shop)
    created = bol_shop.return_items(order["orderId"], items=[order["orderItems"][1]["orderItemId"]])
    found = bol_shop.api("GET", f"/retailer/returns/{created['returnId']}").json()
    (item,) = found["returnItems"]
    assert found["fulfilmentMethod"] == "FBR" and item["title"] == "Theepot"
    assert item["transporterName"] == "PostNL" and item["trackAndTrace"].startswith("3SBLCR")
    assert item["customerDetails"]["surname"] == "Jansen" and item["handled"] is False
    assert item["customerDetails"]["vatNumber"] == "NL123456789B01"
    properties = json.loads(shared_file("specs/bol/retailer.json").read_text("utf-8"))["components"]
    assert set(item) <= set(properties["schemas"]["ReturnItem"]["properties"])
    assert set(found) == set(properties["schemas"]["Return"]["properties"])


def test_handling_answers_202_and_bol_processes_it(bol_shop: BolShop) -> None:
    bol_shop.knobs(process_delay_ms=0)
    order = shipped_order(bol_shop)
    created = bol_shop.return_items(order["orderId"])
    mug, pot = (i["rmaId"] for i in created["returnItems"])
    answer = bol_shop.api(
        "PUT", f"/retailer/returns/{mug}", json={"handlingResult": "RETURN_RECEIVED", "quantityReturned": 1}
    )
    status = wait_for_process(bol_shop, answer)
    assert status["status"] == "SUCCESS" and status["eventType"] == "HANDLE_RETURN_ITEM"
    assert status["entityId"] == mug
    answer = bol_shop.api(
        "PUT", f"/retailer/returns/{pot}", json={"handlingResult": "EXCHANGE_PRODUCT", "quantityReturned": 1}
    )
    assert wait_for_process(bol_shop, answer)["status"] == "SUCCESS"
    found = bol_shop.api("GET", f"/retailer/returns/{created['returnId']}").json()["returnItems"]
    assert [(r["quantity"], r["processingResult"]) for r in found[0]["processingResults"]] == [
        (1, "ACCEPTED")
    ]
    assert found[1]["processingResults"][0]["handlingResult"] == "EXCHANGE_PRODUCT"
    too_many = {"handlingResult": "RETURN_RECEIVED", "quantityReturned": 3}
    status = wait_for_process(bol_shop, bol_shop.api("PUT", f"/retailer/returns/{mug}", json=too_many))
    assert status["status"] == "FAILURE" and "expects 2" in status["errorMessage"]
    unknown = {"handlingResult": "RETURN_RECEIVED", "quantityReturned": 1}
    status = wait_for_process(bol_shop, bol_shop.api("PUT", "/retailer/returns/81234567", json=unknown))
    assert status["status"] == "FAILURE" and "not found" in status["errorMessage"]


def test_the_retailer_registers_a_return_handled_at_once(bol_shop: BolShop) -> None:
    bol_shop.knobs(process_delay_ms=0)
    order = shipped_order(bol_shop)
    mug = order["orderItems"][0]["orderItemId"]
    body = {"orderItemId": mug, "quantityReturned": 2, "handlingResult": "RETURN_RECEIVED"}
    status = wait_for_process(bol_shop, bol_shop.api("POST", "/retailer/returns", json=body))
    assert status["status"] == "SUCCESS" and status["eventType"] == "CREATE_RETURN_ITEM"
    found = bol_shop.api("GET", f"/retailer/returns/{status['entityId']}").json()
    (item,) = found["returnItems"]
    assert item["expectedQuantity"] == 2 and item["processingResults"][0]["processingResult"] == "ACCEPTED"
    again = wait_for_process(bol_shop, bol_shop.api("POST", "/retailer/returns", json=body))
    assert again["status"] == "FAILURE" and "has 0 to return" in again["errorMessage"]
    still = {**body, "handlingResult": "STILL_APPROVED"}
    refused = bol_shop.api("POST", "/retailer/returns", json=still).json()
    assert refused["violations"][0]["name"] == "handlingResult"


def test_problems_as_in_the_real_samples(bol_shop: BolShop) -> None:
    recorded = json.loads(
        shared_file(
            "specs/bol/samples/123lens/400-returns-invalid-fulfilment-method-validation-exception.json"
        ).read_text("utf-8")
    )
    bad = bol_shop.api("GET", "/retailer/returns?fulfilment-method=FBX&handled=0&page=1")
    assert bad.status_code == 400 and bad.json() == recorded
    assert returns(bol_shop, handled="maybe").json()["violations"][0]["name"] == "handled"
    missing = bol_shop.api("GET", "/retailer/returns/12345678")
    assert (
        missing.status_code == 404 and missing.json()["detail"] == "Return for return id 12345678 not found."
    )
    wrong = bol_shop.api("PUT", "/retailer/returns/1", json={"handlingResult": "LOST", "quantityReturned": 1})
    assert wrong.json()["violations"][0]["reason"].startswith("Request contains invalid value(s): 'LOST'")
    zero = bol_shop.api("PUT", "/retailer/returns/1", json={"handlingResult": "RETURN_RECEIVED"})
    assert zero.json()["violations"] == [{"name": "quantityReturned", "reason": "must be between 1 and 9999"}]
    assert bol_shop.api("PUT", "/retailer/returns/x1", json={}).json()["violations"][0]["name"] == "rma-id"
    body = {"resources": ["RETURN"], "url": "https://example.com/hook", "subscriptionType": "WEBHOOK"}
    assert bol_shop.api("POST", "/retailer/subscriptions", json=body).status_code == 400  # v10 has none


def test_the_control_api_refuses_what_was_not_shipped_and_fbb_is_listed_apart(bol_shop: BolShop) -> None:
    order = bol_shop.place(notify=False)
    refused = httpx.post(f"{bol_shop.control}/orders/{order['orderId']}/return", json={})
    assert refused.status_code == 400 and "nothing shipped" in refused.json()["error"]
    fbb = shipped_order(bol_shop, fulfilment="FBB")
    created = bol_shop.return_items(fbb["orderId"], handle={"handling_result": "RETURN_RECEIVED"})
    assert all(i["handled"] for i in created["returnItems"])
    listed = returns(bol_shop, handled="true", **{"fulfilment-method": "FBB"}).json()["returns"]
    assert [r["returnId"] for r in listed] == [created["returnId"]] and listed[0]["fulfilmentMethod"] == "FBB"
    assert returns(bol_shop, handled="true").content == b"{ }"  # FBR by default
    unknown = httpx.post(f"{bol_shop.control}/returns/81234567/handle", json={"handling_result": "X"})
    assert unknown.status_code == 404
