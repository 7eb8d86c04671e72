"""The simulated WooCommerce, spoken to over real HTTP: the REST API (auth, orders, pagination, filters,
errors, rate limit), WooCommerce's arithmetic, the control API and the webhooks it sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal

import httpx
import pytest

from tests.conftest import WebhookReceiver
from tests.woocommerce.conftest import WooStore, new_store, shared_payload, wc_order

D = Decimal


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["data"]["status"] == response.status_code
    return response.status_code, body["code"], body["message"]


# --- the REST API ----------------------------------------------------------------------------------------


def test_keys_are_checked_like_woocommerce(store: WooStore) -> None:
    placed = store.place(wc_order())
    url = f"{store.api_url}/orders"
    assert error(httpx.get(url)) == (401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert error(httpx.get(f"{url}/{placed['id']}"))[2] == "Sorry, you cannot view this resource."
    key, secret = store.credentials["consumer_key"], store.credentials["consumer_secret"]
    wrong_key = httpx.get(url, auth=("ck_wrong", secret))
    assert error(wrong_key) == (401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    wrong_secret = httpx.get(url, auth=(key, "cs_wrong"))
    assert error(wrong_secret) == (
        401,
        "woocommerce_rest_authentication_error",
        "Consumer secret is invalid.",
    )
    assert store.api("orders").status_code == 200
    assert httpx.get(url, params={"consumer_key": key, "consumer_secret": secret}).status_code == 200
    assert all("consumer_secret" not in entry["query"] for entry in store.requests())


def test_order_errors_and_routes(store: WooStore) -> None:
    placed = store.place(wc_order())
    response = store.api(f"orders/{placed['id']}")
    assert response.status_code == 200 and response.json() == placed
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert b"\\/wp-json\\/wc\\/v3\\/orders" in response.content  # written by PHP: slashes escaped
    assert b'"currency_symbol":"\\u20ac"' in response.content
    assert error(store.api("orders/999999")) == (404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    no_route = (404, "rest_no_route", "No route was found matching the URL and request method.")
    assert error(store.api("orders/abc")) == no_route
    assert error(store.api("customers")) == no_route
    assert error(httpx.post(f"{store.api_url}/orders", json={})) == no_route
    page = httpx.get(f"{store.url}/shop/")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{store.sandbox.url}/woocommerce/no-such-store/wp-json/wc/v3/orders").status_code == 404


def test_order_has_every_field_of_a_real_woocommerce_8_order(store: WooStore) -> None:
    real = shared_payload("order-webhook-test-event-pipedream.json")
    placed = store.place(wc_order(status="completed"))
    assert set(real) <= set(placed)
    assert set(real["line_items"][0]) <= set(placed["line_items"][0])
    assert set(real["billing"]) == set(placed["billing"]) and set(real["shipping"]) == set(placed["shipping"])
    assert isinstance(placed["id"], int) and isinstance(placed["number"], str)
    assert isinstance(placed["line_items"][0]["quantity"], int) and isinstance(placed["total"], str)
    assert placed["date_completed_gmt"] and placed["date_paid_gmt"] and placed["version"]
    # The site is in Europe/Amsterdam: date_created is local time, date_created_gmt UTC.
    assert placed["date_created"] != placed["date_created_gmt"]


# --- WooCommerce's arithmetic --------------------------------------------------------------------------


def test_prices_incl_vat_rounded_per_line(store: WooStore) -> None:
    order = store.place(wc_order())
    mug, tea = order["line_items"]
    assert (mug["subtotal"], mug["subtotal_tax"], mug["total"], mug["total_tax"]) == (
        "21.40",
        "4.50",
        "21.40",
        "4.50",
    )
    assert mug["taxes"] == [{"id": 1, "total": "4.4950413223", "subtotal": "4.4950413223"}]
    assert (tea["total"], tea["total_tax"], tea["tax_class"]) == ("6.87", "0.62", "reduced-rate")
    [shipping] = order["shipping_lines"]
    assert (shipping["total"], shipping["total_tax"], shipping["taxes"][0]["total"]) == (
        "4.09",
        "0.86",
        "0.8589",
    )
    totals = {k: order[k] for k in ("cart_tax", "shipping_total", "shipping_tax", "total_tax", "total")}
    assert totals == {
        "cart_tax": "5.12",
        "shipping_total": "4.09",
        "shipping_tax": "0.86",
        "total_tax": "5.98",
        "total": "38.34",
    }
    assert [
        (t["rate_id"], t["rate_percent"], t["tax_total"], t["shipping_tax_total"]) for t in order["tax_lines"]
    ] == [
        (1, 21.0, "4.50", "0.86"),
        (2, 9.0, "0.62", "0.00"),
    ]
    assert order["tax_lines"][0]["rate_code"] == "NL-BTW-1" and order["prices_include_tax"] is True


def test_prices_excl_vat(sandbox) -> None:
    store = new_store(sandbox, settings={"prices_include_tax": False})
    order = store.place(wc_order())
    assert order["prices_include_tax"] is False
    assert [(x["total"], x["total_tax"]) for x in order["line_items"]] == [
        ("25.90", "5.44"),
        ("7.49", "0.67"),
    ]
    assert order["total"] == "44.45"


def test_percent_coupon_in_whole_cents_with_the_remainder(store: WooStore) -> None:
    coupon = {"code": "ZOMER10", "discount_type": "percent", "amount": "10"}
    order = store.place(wc_order(coupon_lines=[coupon]))
    mug, tea = order["line_items"]
    # 10% of 25.90 is 2.59 and of 7.49 floor(74.9) = 0.74; 10% of 33.39 is 3.34: one more cent on the mug.
    assert (mug["total"], mug["total_tax"]) == ("19.26", "4.04")  # 23.30 incl.
    assert (tea["total"], tea["total_tax"]) == ("6.19", "0.56")  # 6.75 incl.
    assert order["coupon_lines"][0] | {"id": 0} == {
        "id": 0,
        "code": "zomer10",
        "discount": "2.83",
        "discount_tax": "0.51",
        "meta_data": [],
    }
    # The order's discount is the sum of the unrounded net differences (2.148760 + 0.678899).
    assert (order["discount_total"], order["discount_tax"]) == ("2.83", "0.52")
    assert order["total"] == "35.00"  # 38.34 - 3.34


def test_fixed_cart_coupon_spread_per_unit(store: WooStore) -> None:
    coupon = {"code": "VIJF", "discount_type": "fixed_cart", "amount": "5"}
    order = store.place(wc_order(coupon_lines=[coupon], shipping_lines=[]))
    mug, tea = order["line_items"]
    # 5.00 over 3 units: 1.66 each, the 2 cents left go to the first units.
    assert D(mug["total"]) + D(mug["total_tax"]) == D("25.90") - D("3.34")
    assert D(tea["total"]) + D(tea["total_tax"]) == D("7.49") - D("1.66")
    assert order["total"] == "28.39"


def test_negative_fee_taxed_over_the_cart_classes_and_tax_at_subtotal(sandbox) -> None:
    store = new_store(sandbox, settings={"tax_round_at_subtotal": True, "legacy_tax_lines": True})
    order = store.place(wc_order(fee_lines=[{"name": "Korting", "total": "-5.00"}]))
    [fee] = order["fee_lines"]
    assert [t["id"] for t in fee["taxes"]] == [1, 2]
    # In proportion to the items' net amounts (21.40 at 21%, 6.87 at 9%): -3.78 and -1.22 net, taxed
    # -0.794843 and -0.109353, rounded together: tax is rounded at the subtotal here.
    assert D(fee["total_tax"]) == D("-0.90")
    assert all("rate_percent" not in line for line in order["tax_lines"])
    # Unrounded taxes stay unrounded on the line.
    assert (
        order["line_items"][0]["total_tax"] == "4.50"
        and order["line_items"][0]["taxes"][0]["total"] == "4.4950413223"
    )


def test_vat_exempt_customer_pays_the_price_without_tax(store: WooStore) -> None:
    order = store.place(wc_order(vat_exempt=True, shipping_lines=[]))
    assert order["total_tax"] == "0.00" and order["total"] == "28.27"  # 21.40 + 6.87
    assert {"id": 100, "key": "is_vat_exempt", "value": "yes"} in order["meta_data"]
    assert all(line["taxes"] == [] for line in order["line_items"])


# --- listing -------------------------------------------------------------------------------------------


def test_list_pages_headers_and_links(store: WooStore) -> None:
    ids = store.bulk(count=25, template=wc_order(), start_gmt="2024-03-01T08:00:00", interval_seconds=60)
    seen = []
    for page in (1, 2, 3):
        response = store.api("orders", page=page, per_page=10, orderby="date", order="asc")
        assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("25", "3")
        seen += [order["id"] for order in response.json()]
        assert ('rel="next"' in response.headers.get("Link", "")) == (page < 3)
    assert seen == ids
    newest_first = store.api("orders", per_page=5).json()
    assert [o["id"] for o in newest_first] == ids[::-1][:5]  # default: orderby=date, order=desc
    assert store.api("orders", page=9).json() == []


def test_date_filters_are_exclusive_and_follow_dates_are_gmt(store: WooStore) -> None:
    ids = store.bulk(count=5, template=wc_order(), start_gmt="2024-01-15T12:00:00", interval_seconds=60)
    listed = lambda **q: [o["id"] for o in store.api("orders", order="asc", **q).json()]  # noqa: E731
    gmt = {"dates_are_gmt": "true"}
    assert listed(after="2024-01-15T12:01:00", **gmt) == ids[2:]
    assert listed(before="2024-01-15T12:01:00", **gmt) == ids[:1]
    assert listed(after="2024-01-15T11:59:59", before="2024-01-15T12:02:00", **gmt) == ids[:2]
    # Without dates_are_gmt the site's time (Amsterdam, UTC+1 in January) is meant.
    assert listed(after="2024-01-15T13:02:00") == ids[3:]
    # WordPress ignores an offset in these filters: the wall time counts.
    assert listed(after="2024-01-15T12:02:00+05:00", **gmt) == ids[3:]
    assert listed(modified_after="2024-01-15T12:03:00", **gmt) == ids[4:]


def test_status_filter_trash_and_invalid_parameters(store: WooStore) -> None:
    pending = store.place(wc_order(status="pending"))
    done = store.place(wc_order(status="completed"))
    store.place(wc_order(status="checkout-draft"))
    assert store.delete(pending["id"]).json()["status"] == "trash"
    assert error(store.delete(pending["id"]))[:2] == (410, "woocommerce_rest_already_trashed")
    assert [o["id"] for o in store.api("orders").json()] == [done["id"]]
    assert [o["id"] for o in store.api("orders", status="trash").json()] == [pending["id"]]
    assert len(store.api("orders", status="trash,completed").json()) == 2
    assert store.api(f"orders/{pending['id']}").json()["status"] == "trash"
    for params in (
        {"per_page": 101},
        {"page": 0},
        {"after": "yesterday"},
        {"orderby": "total"},
        {"status": "x"},
    ):
        code, name, message = error(store.api("orders", **params))
        assert (code, name) == (400, "rest_invalid_param") and message.startswith("Invalid parameter(s): ")
    assert store.delete(done["id"], force=True).status_code == 200
    assert store.api(f"orders/{done['id']}").status_code == 404


# --- knobs ---------------------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(store: WooStore) -> None:
    store.knobs(rate_limit_per_minute=3)
    assert [store.api("orders").status_code for _ in range(3)] == [200, 200, 200]
    limited = store.api("orders")
    assert error(limited)[:2] == (429, "rest_too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    store.knobs(rate_limit_per_minute=0)
    assert store.api("orders").status_code == 200


def test_faults_latency_and_the_request_log(store: WooStore) -> None:
    assert store.knobs(fail_next=[500, 503, 429])["rate_limit_per_minute"] == 0
    first, second, third = (store.api("orders") for _ in range(3))
    assert error(first)[:2] == (500, "internal_server_error")
    assert second.status_code == 503 and second.headers["content-type"] == "text/html"
    assert third.status_code == 429 and third.headers["Retry-After"] == "1"
    assert store.api("orders").status_code == 200
    log = store.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log[-4:]] == [
        ("GET", "/wp-json/wc/v3/orders", s) for s in (500, 503, 429, 200)
    ]
    assert httpx.post(f"{store.control}/knobs", json={"nonsense": 1}).status_code == 400
    assert httpx.post(f"{store.control}/knobs", json={"error_rate": 2}).status_code == 400
    store.knobs(latency_ms=150)
    started = time.perf_counter()
    store.api("orders")
    assert time.perf_counter() - started >= 0.15


# --- the control API -------------------------------------------------------------------------------------


def test_store_summary_and_settings(sandbox) -> None:
    store = new_store(sandbox, settings={"country": "BE"})
    summary = httpx.get(store.control).json()
    assert summary["url"] == store.url and summary["api_url"] == store.api_url
    assert [r["rate"] for r in summary["tax_rates"]] == ["21.0000", "12.0000", "6.0000", "0.0000"]
    order = store.place(
        wc_order(line_items=[{"name": "Boek", "price": "10.60", "tax_class": "reduced-rate"}])
    )
    assert order["line_items"][0]["total_tax"] == "0.60"
    bad = httpx.post(f"{sandbox.url}/_sandbox/woocommerce/stores", json={"store": "nieuw"})
    assert bad.status_code == 400
    assert httpx.get(f"{sandbox.url}/_sandbox/woocommerce/stores/none").status_code == 404


def test_updates_set_payment_dates_and_recompute(store: WooStore) -> None:
    order = store.place(wc_order(status="pending"))
    assert order["date_paid"] is None and order["needs_payment"] is True
    time.sleep(1.0)
    paid = store.update(order["id"], {"status": "processing"}, notify=False)
    assert paid["date_paid_gmt"] and paid["date_modified_gmt"] > order["date_modified_gmt"]
    assert paid["date_created_gmt"] == order["date_created_gmt"]
    more = store.update(order["id"], {"line_items": [{"name": "Mok", "quantity": 3, "price": "12.95"}]})
    assert more["total"] == "43.80" and more["billing"] == order["billing"]  # 38.85 + 4.95
    renamed = store.update(order["id"], {"billing": {"first_name": "Sara"}}, notify=False)
    assert renamed["billing"]["first_name"] == "Sara" and renamed["billing"]["city"] == "Utrecht"


def test_a_deleted_product_leaves_its_line(store: WooStore) -> None:
    order = store.place(wc_order())
    assert store.delete_product(11) == {"product_id": 11, "orders": 1}
    line = store.api(f"orders/{order['id']}").json()["line_items"][0]
    assert (line["name"], line["product_id"], line["sku"], line["total"]) == (
        "Mok Delfts blauw",
        0,
        None,
        "21.40",
    )
    assert line["image"] == {"id": "", "src": ""}
    fresh = store.place(wc_order(line_items=[{"name": "Oude mok", "price": "5.00", "deleted": True}]))
    assert fresh["line_items"][0]["product_id"] == 0


def test_bulk_seeding_is_fast(store: WooStore) -> None:
    started = time.perf_counter()
    ids = store.bulk(
        count=2000, template=wc_order(billing={"email": "klant.{n}@example.nl"}), interval_seconds=1
    )
    assert len(ids) == 2000 and time.perf_counter() - started < 5
    assert store.api(f"orders/{ids[7]}").json()["billing"]["email"] == "klant.7@example.nl"
    assert store.api("orders", per_page=100, page=20).headers["X-WP-Total"] == "2000"


# --- webhooks --------------------------------------------------------------------------------------------


def hooked(sandbox, receiver: WebhookReceiver, secret: str = "geheim-äé") -> tuple[WooStore, str]:
    store = new_store(sandbox)
    path = f"/hooks/{store.name}"
    store.hook_up(receiver.url + path, secret)
    return store, path


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_pings_when_the_webhooks_are_created(sandbox, receiver: WebhookReceiver) -> None:
    store, path = hooked(sandbox, receiver)
    hooks = store.webhooks()
    assert [(h["topic"], h["status"], h["ping_status"]) for h in hooks] == [
        ("order.created", "active", 200),
        ("order.updated", "active", 200),
    ]
    pings = receiver.for_path(path)
    assert sorted(p["body"] for p in pings) == [f"webhook_id={h['id']}".encode() for h in hooks]
    assert not any(k.lower().startswith("x-wc-") for k in pings[0]["headers"])
    assert pings[0]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert [d["kind"] for d in store.deliveries()] == ["ping", "ping"]


def test_signed_deliveries_with_woocommerces_headers(sandbox, receiver: WebhookReceiver) -> None:
    store, path = hooked(sandbox, receiver)
    order = store.place(wc_order(), notify=True)
    store.deliveries(wait_for=3)
    hit = receiver.for_path(path)[-1]
    headers, body = hit["headers"], hit["body"]
    assert headers["X-WC-Webhook-Signature"] == signature(body, "geheim-äé")
    assert (
        headers["X-WC-Webhook-Topic"],
        headers["X-WC-Webhook-Resource"],
        headers["X-WC-Webhook-Event"],
    ) == (
        "order.created",
        "order",
        "created",
    )
    assert headers["X-WC-Webhook-Source"] == store.url + "/"
    assert headers["X-WC-Webhook-ID"] == str(store.webhooks()[0]["id"])
    assert len(headers["X-WC-Webhook-Delivery-ID"]) == 32
    assert headers["User-Agent"].startswith("WooCommerce/") and "Hookshot" in headers["User-Agent"]
    assert body == store.api(f"orders/{order['id']}").content  # the REST order, byte for byte
    store.update(order["id"], {"status": "completed"})
    store.deliveries(wait_for=4)
    updated = receiver.for_path(path)[-1]
    assert updated["headers"]["X-WC-Webhook-Topic"] == "order.updated"
    assert json.loads(updated["body"])["status"] == "completed"


def test_webhook_is_disabled_after_more_than_five_failures(sandbox, receiver: WebhookReceiver) -> None:
    store, _path = hooked(sandbox, receiver)
    order = store.place(wc_order())
    receiver.answer(*[500] * 7)
    for n in range(7):
        store.update(order["id"], {"customer_note": f"wijziging {n}"})
        store.deliveries(wait_for=3 + n)
    log = [d for d in store.deliveries() if d["kind"] == "delivery"]
    assert [(d["status"], d["failure_count"], d["webhook_status"]) for d in log] == [
        *[(500, n, "active") for n in range(1, 7)],
        (500, 6, "disabled"),
    ]
    updated_hook = store.webhooks()[1]
    assert (updated_hook["status"], updated_hook["failure_count"]) == ("disabled", 6)
    api_view = store.api(f"webhooks/{updated_hook['id']}").json()
    assert api_view["status"] == "disabled" and api_view["topic"] == "order.updated"
    store.update(order["id"], {"customer_note": "niet verstuurd"})
    time.sleep(0.2)
    assert len(store.deliveries()) == 9
    # Set active again (as a merchant does); a success resets the count.
    assert (
        httpx.post(f"{store.control}/webhooks/{updated_hook['id']}", json={"status": "active"}).status_code
        == 200
    )
    store.update(order["id"], {"customer_note": "weer actief"})
    assert store.deliveries(wait_for=10)[-1]["status"] == 200
    assert store.webhooks()[1]["failure_count"] == 0


def test_duplicate_and_same_second_deliveries_share_the_delivery_id(
    sandbox, receiver: WebhookReceiver
) -> None:
    store, path = hooked(sandbox, receiver)
    store.knobs(duplicate_webhooks=2)
    store.place(wc_order(), notify=True)
    log = store.deliveries(wait_for=5)[2:]
    assert len({d["delivery_id"] for d in log}) == 1 and len(log) == 3
    assert len({hit["body"] for hit in receiver.for_path(path)[2:]}) == 1
    # Two orders in one second: WooCommerce's delivery id is the webhook id and the second, so it repeats.
    store.knobs(duplicate_webhooks=0)
    ids = store.bulk(count=2, template=wc_order(), notify=True)
    log = store.deliveries(wait_for=7)[5:]
    assert sorted(d["order_id"] for d in log) == [str(i) for i in ids]
    assert log[0]["delivery_id"] == log[1]["delivery_id"]


def test_out_of_order_delivery_holds_the_older_update_back(sandbox, receiver: WebhookReceiver) -> None:
    store, path = hooked(sandbox, receiver)
    order = store.place(wc_order(status="on-hold"))
    store.knobs(out_of_order_webhooks=True)
    store.update(order["id"], {"customer_note": "eerste"})
    time.sleep(0.1)
    assert len(store.deliveries()) == 2  # held back
    store.update(order["id"], {"customer_note": "tweede"})
    store.deliveries(wait_for=4)
    notes = [json.loads(hit["body"])["customer_note"] for hit in receiver.for_path(path)[2:]]
    assert notes == ["tweede", "eerste"]
    store.update(order["id"], {"customer_note": "derde"})
    assert httpx.post(f"{store.control}/webhooks/flush").json() == {"sent": 1}
    store.deliveries(wait_for=5)
    assert json.loads(receiver.for_path(path)[-1]["body"])["customer_note"] == "derde"


def test_disabled_webhooks_knob_resend_and_the_api_webhooks(sandbox, receiver: WebhookReceiver) -> None:
    store, _path = hooked(sandbox, receiver)
    store.knobs(webhooks_enabled=False)
    order = store.place(wc_order(), notify=True)
    time.sleep(0.2)
    assert len(store.deliveries()) == 2
    resent = httpx.post(f"{store.control}/webhooks/resend", json={"order_id": order["id"]})
    assert resent.status_code == 202
    assert store.deliveries(wait_for=3)[-1]["topic"] == "order.updated"
    listed = store.api("webhooks")
    assert listed.headers["X-WP-Total"] == "2" and {h["event"] for h in listed.json()} == {
        "created",
        "updated",
    }
    hook_id = listed.json()[0]["id"]
    auth = (store.credentials["consumer_key"], store.credentials["consumer_secret"])
    paused = httpx.put(f"{store.api_url}/webhooks/{hook_id}", json={"status": "paused"}, auth=auth)
    assert paused.json()["status"] == "paused"
    bad = httpx.put(f"{store.api_url}/webhooks/{hook_id}", json={"status": "kapot"}, auth=auth)
    assert error(bad)[:2] == (400, "rest_invalid_param")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook"])
def test_unreachable_webhook_url_counts_as_a_failure(sandbox, url: str) -> None:
    store = new_store(sandbox)
    store.configure(webhook_url=url, webhook_secret="x")
    pings = store.deliveries(wait_for=2)
    assert all(p["status"] is None and p["error"] for p in pings)
    store.place(wc_order(), notify=True)
    [delivery] = store.deliveries(wait_for=3)[2:]
    assert delivery["status"] is None and delivery["failure_count"] == 1
    assert all(h["ping_status"] is None for h in store.webhooks())
