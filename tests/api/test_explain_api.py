"""Where is order X?, through the API: the explanation of an order by number, and fetching an order Koppel
has not seen yet; and the on/off switch releasing what was held."""

from __future__ import annotations

from koppel.sync.models import Record, State
from tests.conftest import connect, drain, make_order


def test_an_order_is_explained_by_number_and_fetched_when_koppel_has_not_seen_it(
    api, account, shop, administration, retry_fast, settings
):
    settings.LANGUAGE_CODE = "en"
    connection = connect(account, shop, administration)
    order = make_order()
    shop.place(order)  # no webhook
    answer = api.get(f"/api/orders/explain?number={order['number']}").json()
    assert answer["verdict"] == "not_polled_yet" and answer["can_fetch"] is True
    assert answer["connection_id"] == connection.pk and answer["source_order_id"] == str(order["id"])

    fetched = api.post(
        f"/api/connections/{connection.pk}/fetch",
        {"order_id": answer["source_order_id"]},
        content_type="application/json",
    )
    assert fetched.status_code == 202, fetched.content
    drain()
    answer = api.get(f"/api/orders/explain?number={order['number']}").json()
    assert answer["verdict"] == "booked" and answer["record_id"] == fetched.json()["id"]
    assert Record.objects.get().target_invoice_number in answer["message"]

    missing = api.get("/api/orders/explain?number=NOPE-1&ask_shop=false").json()
    assert missing["verdict"] == "not_found"
    assert api.get("/api/orders/explain?number=1&connection=999999").status_code == 404
    assert "/api/orders/explain" in api.get("/api/openapi.json").json()["paths"]


def test_switching_on_through_the_api_books_what_arrived_while_off(
    api, account, shop, administration, deliver, retry_fast
):
    connection = connect(account, shop, administration)
    assert (
        api.patch(
            f"/api/connections/{connection.pk}", {"active": False}, content_type="application/json"
        ).json()["active"]
        is False
    )
    order = make_order()
    shop.place(order)
    assert deliver(connection, order["id"]).json()["held"] is True
    drain()
    assert not Record.objects.exists()
    api.patch(
        f"/api/connections/{connection.pk}?check=false", {"active": True}, content_type="application/json"
    )
    drain()
    assert Record.objects.get().state == State.HANDLED


def test_options_says_which_methods_a_path_takes(client, db):
    for path, allowed in (
        ("/api/connections", "GET, POST, OPTIONS"),
        ("/api/connections/1", "GET, PATCH, DELETE, OPTIONS"),
        ("/api/orders/explain", "GET, OPTIONS"),
    ):
        response = client.options(path)
        assert (response.status_code, response["Allow"]) == (204, allowed)
        refused = client.put(path)
        assert refused.status_code == 405 and refused["Allow"] == allowed
    unknown = client.options("/api/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NOT_FOUND"
