"""The simulated bol.com Retailer API v10 over real HTTP: tokens, the Accept header, orders and their
paging and 48-hour window, shipments, cancellations, process statuses, signed push notifications, rate
limits, invoice requests and uploads, the demo environment and the control API."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from koppel.connectors import registry
from koppel.sandbox.pdf import text_pdf
from tests.bol.conftest import MEDIA_TYPE, BolShop, make_order
from tests.conftest import WebhookReceiver, shared_file


def wait_for_process(shop: BolShop, answer: httpx.Response, timeout: float = 5) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    status = answer.json()
    assert status["status"] == "PENDING"
    deadline = time.monotonic() + timeout
    while status["status"] == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = shop.api("GET", f"/shared/process-status/{status['processStatusId']}").json()
    return status


def schema_properties(name: str) -> set[str]:
    spec = json.loads(shared_file("specs/bol/retailer.json").read_text(encoding="utf-8"))
    return set(spec["components"]["schemas"][name]["properties"])


@pytest.fixture
def fast(bol_shop: BolShop) -> BolShop:
    bol_shop.knobs(process_delay_ms=20)
    return bol_shop


# --- mounting and tokens -----------------------------------------------------------------------------------


def test_the_server_mounts_the_bol_sandbox(sandbox) -> None:
    assert "bol" in registry.sandboxes()
    assert httpx.get(f"{sandbox.url}/_sandbox/health").json() == {"ok": True}
    assert "/_sandbox/bol/page" in httpx.get(f"{sandbox.url}/_sandbox/").text


def test_a_token_from_client_credentials(bol_shop: BolShop) -> None:
    response = bol_shop.grant()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 299 and token["scope"] == "RETAILER"
    assert token["access_token"].count(".") == 2  # a JWT
    answer = bol_shop.api("GET", "/retailer/orders", token=token["access_token"])
    assert answer.status_code == 200 and answer.text == "{ }"


def test_wrong_credentials_and_token_parameters_in_the_url(bol_shop: BolShop) -> None:
    wrong = httpx.post(
        bol_shop.token_url, auth=(bol_shop.client_id, "nope"), data={"grant_type": "client_credentials"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client", "error_description": "Bad client credentials"}
    unknown = httpx.post(bol_shop.token_url, auth=("who", "ever"), data={"grant_type": "client_credentials"})
    assert unknown.status_code == 401
    in_url = httpx.post(
        bol_shop.token_url,
        params={"grant_type": "client_credentials"},
        auth=(bol_shop.client_id, bol_shop.client_secret),
    )
    assert in_url.status_code == 400 and in_url.json()["error"] == "invalid_request"
    other = bol_shop.grant(grant_type="password")
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


def test_an_expired_token_is_refused_as_bol_writes_it(bol_shop: BolShop) -> None:
    bol_shop.knobs(token_lifetime=0)
    token = bol_shop.grant().json()
    assert token["expires_in"] == 0
    time.sleep(2.1)  # past the one second of clock skew
    response = bol_shop.api("GET", "/retailer/orders", token=token["access_token"])
    assert response.status_code == 401
    body = response.json()
    assert body["title"] == "Expired JWT" and body["status"] == 401
    assert "JWT expired at" in body["detail"] and "Allowed clock skew: 1000 milliseconds." in body["detail"]
    assert bol_shop.api("GET", "/retailer/orders", token="not-a-token").status_code == 401


def test_too_many_token_requests_are_refused(bol_shop: BolShop) -> None:
    bol_shop.knobs(token_requests_per_minute=2)
    assert [bol_shop.grant().status_code for _ in range(3)] == [200, 200, 429]
    refused = bol_shop.grant()
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


# --- media types, errors -----------------------------------------------------------------------------------


def test_the_v10_accept_header_is_required(bol_shop: BolShop) -> None:
    for accept in (None, "application/json", "application/vnd.retailer.v9+json"):
        response = bol_shop.api("GET", "/retailer/orders", accept=accept)
        assert response.status_code == 406, accept
        assert response.json()["title"] == "Not Acceptable"
    ok = bol_shop.api("GET", "/retailer/orders")
    assert ok.headers["content-type"] == f"{MEDIA_TYPE};charset=UTF-8"
    no_bearer = httpx.get(f"{bol_shop.url}/retailer/orders", headers={"Accept": MEDIA_TYPE})
    assert no_bearer.status_code == 401 and no_bearer.json()["type"] == "https://api.bol.com/problems"


def test_problems_as_in_the_samples(bol_shop: BolShop) -> None:
    missing = bol_shop.api("GET", "/retailer/orders/9999999999")
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "https://api.bol.com/problems",
        "title": "Not Found",
        "status": 404,
        "detail": "Order for order id 9999999999 not found.",
        "host": "Instance-112",
        "instance": "https://api.bol.com/retailer/orders/9999999999",
    }
    bad = bol_shop.api("GET", "/retailer/orders", params={"fulfilment-method": "FBX"}).json()
    assert bad["status"] == 400 and bad["violations"] == [
        {
            "name": "fulfilment-method",
            "reason": "Request contains invalid value(s): 'FBX', allowed values: FBR, FBB, ALL.",
        }
    ]
    bol_shop.knobs(fail_next=[500])
    failed = bol_shop.api("GET", "/retailer/orders")
    assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/html")


# --- orders ------------------------------------------------------------------------------------------------


def test_the_order_list_pages_by_50_and_ends_with_an_empty_object(bol_shop: BolShop) -> None:
    placed = [bol_shop.place(notify=False)["orderId"] for _ in range(51)]
    first = bol_shop.api("GET", "/retailer/orders", params={"page": 1}).json()["orders"]
    second = bol_shop.api("GET", "/retailer/orders", params={"page": 2}).json()["orders"]
    assert [o["orderId"] for o in first + second] == placed
    assert len(first) == 50 and len(second) == 1
    third = bol_shop.api("GET", "/retailer/orders", params={"page": 3})
    assert third.status_code == 200 and third.text == "{ }"
    item = first[0]["orderItems"][0]
    assert set(item) == schema_properties("ReducedOrderItem")
    assert (item["fulfilmentMethod"], item["fulfilmentStatus"], item["quantity"]) == ("FBR", "OPEN", 2)


def test_handled_orders_leave_the_list_after_48_hours(bol_shop: BolShop) -> None:
    now = datetime.now().astimezone()
    old = bol_shop.place(make_order(placed_at=(now - timedelta(hours=60)).isoformat()), notify=False)
    recent = bol_shop.place(make_order(placed_at=(now - timedelta(hours=60)).isoformat()), notify=False)
    old_shipment = bol_shop.ship(old["orderId"], shipped_at=(now - timedelta(hours=49)).isoformat())
    bol_shop.ship(recent["orderId"], shipped_at=(now - timedelta(hours=47)).isoformat())
    listed = bol_shop.api("GET", "/retailer/orders", params={"status": "ALL"}).json()["orders"]
    assert [o["orderId"] for o in listed] == [recent["orderId"]]
    assert {i["fulfilmentStatus"] for i in listed[0]["orderItems"]} == {"HANDLED"}
    assert bol_shop.api("GET", "/retailer/orders").text == "{ }"  # OPEN by default
    day = (now - timedelta(hours=49)).date().isoformat()
    by_day = bol_shop.api(
        "GET", "/retailer/orders", params={"status": "ALL", "latest-change-date": day}
    ).json()
    assert old["orderId"] in [o["orderId"] for o in by_day["orders"]]
    shipments = bol_shop.api("GET", "/retailer/shipments").json()["shipments"]
    assert old_shipment["shipmentId"] in [s["shipmentId"] for s in shipments]  # 3 months back
    assert bol_shop.api("GET", f"/retailer/orders/{old['orderId']}").status_code == 200


def test_the_order_detail_has_the_v10_fields(bol_shop: BolShop) -> None:
    placed = bol_shop.place(notify=False)
    order = bol_shop.api("GET", f"/retailer/orders/{placed['orderId']}").json()
    assert order == placed
    assert set(order) == schema_properties("Order")
    mug, teapot = order["orderItems"]
    assert set(mug) <= schema_properties("OrderOrderItem")
    assert {"orderItemId", "quantity", "quantityShipped", "quantityCancelled", "unitPrice", "totalPrice",
            "discounts", "commission", "cancellationRequest",
            "latestChangedDateTime"} <= set(mug)  # fmt: skip
    assert (mug["unitPrice"], mug["totalPrice"], mug["discounts"]) == (
        12.99,
        24.98,
        [{"title": "Actie", "amount": 1}],
    )
    assert mug["offer"]["reference"] == "MOK-1" and mug["product"] == {
        "ean": "8712345678906",
        "title": "Mok Delfts blauw",
    }
    assert mug["fulfilment"]["method"] == "FBR" and mug["fulfilment"]["distributionParty"] == "RETAILER"
    assert teapot["totalPrice"] == 24.95 and teapot["discounts"] == []
    billing = order["billingDetails"]
    assert (billing["company"], billing["vatNumber"], billing["kvkNumber"], billing["orderReference"]) == (
        "Post BV", "NL123456789B01", "99887766", "PO-42",
    )  # fmt: skip
    assert billing["email"].endswith("@verkopen.bol.com") and order["shipmentDetails"]["surname"] == "Jansen"
    assert len(order["orderId"]) == 10 and order["orderId"].isdigit()
    assert datetime.fromisoformat(order["orderPlacedDateTime"]).utcoffset() is not None


# --- shipments and cancellations ---------------------------------------------------------------------------


def test_a_partial_shipment_through_the_api(fast: BolShop) -> None:
    order = fast.place(notify=False)
    mug = order["orderItems"][0]
    body = {"orderItems": [{"orderItemId": mug["orderItemId"], "quantity": 1}], "shipmentReference": "REF-1",
            "transport": {"transporterCode": "TNT", "trackAndTrace": "3SABCD123456789"}}  # fmt: skip
    status = wait_for_process(fast, fast.api("POST", "/retailer/shipments", json=body))
    assert (status["status"], status["eventType"], status["entityId"]) == (
        "SUCCESS",
        "CREATE_SHIPMENT",
        mug["orderItemId"],
    )
    listed = fast.api("GET", "/retailer/shipments", params={"order-id": order["orderId"]}).json()["shipments"]
    assert len(listed) == 1 and listed[0]["shipmentItems"] == [
        {"orderItemId": mug["orderItemId"], "ean": mug["product"]["ean"]}
    ]
    shipment = fast.api("GET", f"/retailer/shipments/{listed[0]['shipmentId']}").json()
    assert set(shipment) <= schema_properties("Shipment")
    line = shipment["shipmentItems"][0]
    assert (line["quantity"], line["quantityShipped"], line["unitPrice"]) == (2, 1, 12.99)
    assert (
        shipment["billingDetails"]["vatNumber"] == "NL123456789B01"
        and shipment["shipmentReference"] == "REF-1"
    )
    assert shipment["transport"]["trackAndTrace"] == "3SABCD123456789"
    item = fast.api("GET", f"/retailer/orders/{order['orderId']}").json()["orderItems"][0]
    assert (item["quantityShipped"], item["quantity"]) == (1, 2)
    again = {"orderItems": [{"orderItemId": mug["orderItemId"], "quantity": 5}]}
    failed = wait_for_process(fast, fast.api("POST", "/retailer/shipments", json=again))
    assert failed["status"] == "FAILURE" and "has 1 to ship" in failed["errorMessage"]


def test_bol_ships_fbb_items_and_the_retailer_cannot(fast: BolShop) -> None:
    order = fast.place(make_order(fulfilment="FBB"), notify=False)
    item_id = order["orderItems"][0]["orderItemId"]
    refused = wait_for_process(
        fast, fast.api("POST", "/retailer/shipments", json={"orderItems": [{"orderItemId": item_id}]})
    )
    assert refused["status"] == "FAILURE"
    shipment = fast.ship(order["orderId"])
    assert {line["fulfilment"]["method"] for line in shipment["shipmentItems"]} == {"FBB"}
    assert fast.api("GET", "/retailer/shipments").text == "{ }"  # FBR by default
    fbb = fast.api("GET", "/retailer/shipments", params={"fulfilment-method": "FBB"}).json()["shipments"]
    assert [s["shipmentId"] for s in fbb] == [shipment["shipmentId"]]


def test_a_customer_cancellation_request_confirmed_by_the_retailer(fast: BolShop) -> None:
    order = fast.place(notify=False)
    mug_id = order["orderItems"][0]["orderItemId"]
    asked = fast.cancel(order["orderId"], items=[mug_id], request_only=True)
    assert (
        asked["orderItems"][0]["cancellationRequest"] is True
        and asked["orderItems"][0]["quantityCancelled"] == 0
    )
    listed = fast.api("GET", "/retailer/orders").json()["orders"][0]["orderItems"][0]
    assert listed["cancellationRequest"] is True
    bad = fast.api(
        "PUT",
        "/retailer/orders/cancellation",
        json={"orderItems": [{"orderItemId": mug_id, "reasonCode": "NOPE"}]},
    )
    assert bad.status_code == 400 and bad.json()["violations"][0]["name"] == "orderItems[].reasonCode"
    body = {"orderItems": [{"orderItemId": mug_id, "reasonCode": "REQUESTED_BY_CUSTOMER"}]}
    status = wait_for_process(fast, fast.api("PUT", "/retailer/orders/cancellation", json=body))
    assert (status["status"], status["eventType"]) == ("SUCCESS", "CANCEL_ORDER")
    item = fast.api("GET", f"/retailer/orders/{order['orderId']}").json()["orderItems"][0]
    assert (item["quantityCancelled"], item["quantityShipped"]) == (2, 0)
    direct = fast.cancel(order["orderId"])  # the customer cancels what is left
    assert direct["orderItems"][1]["quantityCancelled"] == 1
    assert fast.api("GET", "/retailer/orders").text == "{ }"


def test_json_writes_need_the_v10_content_type(bol_shop: BolShop) -> None:
    response = bol_shop.api(
        "POST",
        "/retailer/shipments",
        json={"orderItems": [{"orderItemId": "1"}]},
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 415


# --- push notifications ------------------------------------------------------------------------------------


def _verify(headers: httpx.Headers, body: bytes, key_set: dict[str, Any]) -> bool:
    parts = dict(part.strip().split("=", 1) for part in headers["signature"].split(","))
    assert parts["algorithm"] == '"rsa-sha256"'
    key = next(k for k in key_set["signatureKeys"] if k["id"] == parts["keyId"])
    public = serialization.load_der_public_key(base64.b64decode(key["publicKey"]))
    try:
        public.verify(base64.b64decode(parts["signature"]), body, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    except InvalidSignature:
        return False
    return True


def test_subscriptions_and_signed_push_notifications(fast: BolShop, receiver: WebhookReceiver) -> None:
    path = f"/push/{fast.name}"
    body = {"resources": ["ORDER", "SHIPMENT"], "url": f"{receiver.url}{path}", "subscriptionType": "WEBHOOK"}
    created = wait_for_process(fast, fast.api("POST", "/retailer/subscriptions", json=body))
    assert created["eventType"] == "CREATE_SUBSCRIPTION" and created["status"] == "SUCCESS"
    subscriptions = fast.api("GET", "/retailer/subscriptions").json()["subscriptions"]
    assert subscriptions == [{"id": created["entityId"], "resources": ["ORDER", "SHIPMENT"],
                              "url": body["url"],
                              "subscriptionType": "WEBHOOK", "enabled": True}]  # fmt: skip
    order = fast.place()
    shipment = fast.ship(order["orderId"])
    deliveries = fast.deliveries(wait_for=2)
    assert {(d["resource"], d["type"], d["resourceId"], d["status"]) for d in deliveries} == {
        ("ORDER", "ORDER_CREATED", order["orderId"], 200),
        ("SHIPMENT", "UPDATE_TRANSPORT_EVENT", shipment["shipmentId"], 200),
    }
    key_set = fast.api("GET", "/retailer/subscriptions/signature-keys").json()
    assert key_set["signatureKeys"][0]["type"] == "RSA"
    pushes = receiver.for_path(path)
    assert len(pushes) == 2
    for push in pushes:
        payload = json.loads(push["body"])
        assert payload["retailerId"] == fast.retailer_id and set(payload) == {
            "retailerId",
            "timestamp",
            "event",
        }
        assert _verify(push["headers"], push["body"], key_set)
        assert not _verify(push["headers"], push["body"].replace(b'"event"', b'"event" '), key_set)
    test = fast.api("POST", f"/retailer/subscriptions/test/{created['entityId']}")
    assert test.status_code == 202 and test.json()["eventType"] == "SEND_SUBSCRIPTION_TST_MSG"
    assert fast.deliveries(wait_for=3)[-1]["resource"] == "TEST"
    deleted = wait_for_process(fast, fast.api("DELETE", f"/retailer/subscriptions/{created['entityId']}"))
    assert deleted["status"] == "SUCCESS" and fast.api("GET", "/retailer/subscriptions").json() == {
        "subscriptions": []
    }


def test_a_failing_webhook_disables_its_subscription(fast: BolShop, receiver: WebhookReceiver) -> None:
    fast.knobs(push_tries=2)
    body = {"resources": ["ORDER"], "url": f"{receiver.url}/failing", "subscriptionType": "WEBHOOK"}
    fast.api("POST", "/retailer/subscriptions", json=body)
    receiver.answer(500, 500)
    fast.place()
    assert [d["status"] for d in fast.deliveries(wait_for=2)] == [500, 500]
    time.sleep(0.1)
    assert fast.api("GET", "/retailer/subscriptions").json()["subscriptions"][0]["enabled"] is False


# --- rate limits -------------------------------------------------------------------------------------------


def test_rate_limit_headers_and_429_with_retry_after(bol_shop: BolShop) -> None:
    first = bol_shop.api("GET", "/retailer/orders")
    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("25", "24")
    assert 1 <= int(first.headers["x-ratelimit-reset"]) <= 60
    detail = bol_shop.api("GET", "/retailer/orders/1")
    assert detail.headers["x-ratelimit-limit"] == "25" and detail.headers["x-ratelimit-reset"] == "1"
    bol_shop.knobs(rate_limit_scale=0.08)  # 25 → 2 a minute
    assert bol_shop.api("GET", "/retailer/orders").headers["x-ratelimit-remaining"] == "0"
    refused = bol_shop.api("GET", "/retailer/orders")
    assert refused.status_code == 429
    seconds = int(refused.headers["retry-after"])
    assert 1 <= seconds <= 60 and refused.json() == {
        "title": "Too Many Requests", "status": 429,
        "detail": f"Too many requests, retry in {seconds} seconds."
    }  # fmt: skip
    assert bol_shop.api("GET", "/retailer/shipments").status_code == 200  # another bucket
    bol_shop.knobs(force_429=2, retry_after=4)
    assert [bol_shop.api("GET", "/retailer/shipments").headers.get("retry-after") for _ in range(3)] == [
        "4",
        "4",
        None,
    ]


# --- invoice requests and uploads --------------------------------------------------------------------------


def _upload(shop: BolShop, shipment_id: str, raw: bytes, name: str = "factuur.pdf") -> httpx.Response:
    files = {"invoice": (name, raw, "application/pdf")}
    return shop.api("POST", f"/retailer/shipments/invoices/{shipment_id}", files=files)


def test_an_invoice_request_answered_with_an_uploaded_pdf(fast: BolShop) -> None:
    order = fast.place(notify=False)
    shipment = fast.ship(order["orderId"])
    asked = fast.request_invoice(shipment["shipmentId"])
    assert asked["status"] == "INVOICE_REQUESTED" and asked["orderId"] == order["orderId"]
    listed = fast.api("GET", "/retailer/shipments/invoices/requests").json()["invoiceRequests"]
    assert [r["shipmentId"] for r in listed] == [shipment["shipmentId"]]
    assert listed[0]["billingDetails"]["vatNumber"] == "NL123456789B01"
    assert listed[0]["products"][0] == {"description": "Mok Delfts blauw", "quantity": 2, "unitPrice": 12.99}
    not_multipart = fast.api(
        "POST", f"/retailer/shipments/invoices/{shipment['shipmentId']}", content=b"%PDF-1.4"
    )
    assert not_multipart.status_code == 415
    assert _upload(fast, shipment["shipmentId"], b"hello").status_code == 400
    assert _upload(fast, "999999999", b"%PDF-1.4").status_code == 404
    pdf = text_pdf([(12, f"Factuur bij zending {shipment['shipmentId']}")])
    status = wait_for_process(fast, _upload(fast, shipment["shipmentId"], pdf))
    assert (status["status"], status["eventType"], status["entityId"]) == (
        "SUCCESS",
        "UPLOAD_INVOICE",
        shipment["shipmentId"],
    )
    assert fast.api("GET", "/retailer/shipments/invoices/requests").text == "{ }"  # no longer OPEN
    every = fast.api("GET", "/retailer/shipments/invoices/requests", params={"state": "ALL"}).json()[
        "invoiceRequests"
    ]
    assert [t["status"] for t in every[0]["statusTransitions"]] == ["INVOICE_REQUESTED", "INVOICE_UPLOADED"]
    uploaded = fast.invoices()
    assert uploaded[0]["shipment_id"] == shipment["shipmentId"] and uploaded[0]["status"] == "SUCCESS"
    assert httpx.get(f"{fast.control}/invoices/{shipment['shipmentId']}").content == pdf


def test_a_damaged_pdf_ends_in_upload_error(fast: BolShop) -> None:
    order = fast.place(notify=False)
    shipment = fast.ship(order["orderId"])
    fast.request_invoice(shipment["shipmentId"])
    status = wait_for_process(fast, _upload(fast, shipment["shipmentId"], b"%PDF-1.4 truncated"))
    assert status["status"] == "FAILURE" and status["errorMessage"]
    errors = fast.api("GET", "/retailer/shipments/invoices/requests", params={"state": "UPLOAD_ERROR"}).json()
    assert errors["invoiceRequests"][0]["status"] == "INVOICE_INCORRECT"
    fast.knobs(invoice_max_bytes=10)
    assert _upload(fast, shipment["shipmentId"], text_pdf([(12, "x")])).status_code == 400


# --- demo environment, control API, pages ------------------------------------------------------------------


def test_the_demo_environment_serves_fixed_data_and_mocked_writes(bol_shop: BolShop) -> None:
    orders = bol_shop.api("GET", "/retailer-demo/orders", params={"fulfilment-method": "ALL"}).json()[
        "orders"
    ]
    assert {"1042823870", "7616222700"} <= {o["orderId"] for o in orders}
    order = bol_shop.api("GET", "/retailer-demo/orders/1042823870").json()
    assert order["orderItems"][0]["fulfilment"]["method"] == "FBB"
    assert (
        bol_shop.api("GET", "/retailer-demo/shipments/914587795").json()["order"]["orderId"] == "7616222250"
    )
    item_id = bol_shop.api("GET", "/retailer-demo/orders/7616222700").json()["orderItems"][0]["orderItemId"]
    written = bol_shop.api(
        "POST", "/retailer-demo/shipments", json={"orderItems": [{"orderItemId": item_id}]}
    )
    assert written.status_code == 202 and written.json()["description"] == "This is a mocked process status."
    assert "/bol/shared-demo/process-status/" in written.json()["links"][0]["href"]
    time.sleep(0.05)
    status = bol_shop.api("GET", f"/shared-demo/process-status/{written.json()['processStatusId']}").json()
    assert status["status"] == "SUCCESS"
    again = bol_shop.api("GET", "/retailer-demo/orders/7616222700").json()["orderItems"][0]
    assert again["quantityShipped"] == 0  # nothing changed
    assert bol_shop.api("GET", "/retailer/orders/1042823870").status_code == 404  # not the shop's own
    assert bol_shop.api("GET", "/retailer-demo/orders").headers["x-ratelimit-limit"] == "20"


def test_the_request_log_holds_no_secrets(bol_shop: BolShop) -> None:
    token = bol_shop.token()
    bol_shop.api("GET", "/retailer/orders", params={"page": 1})
    log = bol_shop.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/token", 200),
        ("GET", "/retailer/orders", 200),
    ]
    text = json.dumps(log)
    assert token not in text and bol_shop.client_secret not in text


def test_an_inactive_account_is_forbidden(bol_shop: BolShop) -> None:
    httpx.post(f"{bol_shop.sandbox.url}/_sandbox/bol/shops", json={"shop": bol_shop.name, "active": False})
    response = bol_shop.api("GET", "/retailer/orders")
    assert response.status_code == 403 and response.json()["title"] == "Forbidden"


def test_the_shop_page_lists_orders_shipments_and_invoice_requests(bol_shop: BolShop) -> None:
    order = bol_shop.place(notify=False)
    shipment = bol_shop.ship(order["orderId"])
    bol_shop.request_invoice(shipment["shipmentId"])
    page = httpx.get(f"{bol_shop.control}/page", params={"refresh": 0})
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert (
        order["orderId"] in page.text
        and shipment["shipmentId"] in page.text
        and "INVOICE_REQUESTED" in page.text
    )
    index = httpx.get(f"{bol_shop.sandbox.url}/_sandbox/bol/page").text
    assert bol_shop.name in index


def test_control_errors(bol_shop: BolShop) -> None:
    assert httpx.post(f"{bol_shop.control}/orders", json={"items": []}).status_code == 400
    assert httpx.post(f"{bol_shop.control}/orders/1/ship", json={}).status_code == 404
    assert httpx.post(f"{bol_shop.control}/knobs", json={"nope": 1}).status_code == 400
    assert httpx.get(f"{bol_shop.sandbox.url}/_sandbox/bol/shops/none/orders/1").status_code == 404
