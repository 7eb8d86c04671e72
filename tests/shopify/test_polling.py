"""The safety net and the migration: polling finds orders whose webhook never came; a backfill pages through
the orders placed in a range, resumes from its cursor and skips none while orders change or are placed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from koppel.connectors.shopify.connector import ShopifySource
from koppel.sync.models import Record, State
from koppel.sync.tasks import poll_connection
from tests.conftest import drain
from tests.shopify.conftest import ShopifyStore, make_cart

# 620 orders, one every 72 minutes from 1 January 2026 00:00 Amsterdam time (23:00 UTC the day before).
JANUARY = {
    "count": 620,
    "created_from": "2026-01-01T00:00:00+01:00",
    "created_to": "2026-02-01T00:00:00+01:00",
}
SINCE = datetime(2026, 1, 4, 23, 0, tzinfo=UTC)  # 5 January 00:00 in Amsterdam: order 80 exactly
UNTIL = datetime(2026, 1, 24, 23, 0, tzinfo=UTC)  # 25 January 00:00: order 480, the first one left out


# --- polling ---------------------------------------------------------------------------------------------


def test_polling_books_orders_whose_webhooks_never_came(
    store: ShopifyStore, shopify_connection, administration
):
    orders = [store.place(notify=False) for _ in range(3)]
    store.update(orders[2]["id"], {"close": True})  # archived in the admin: only status=any lists it
    poll_connection.enqueue(shopify_connection.pk)
    drain()
    assert sorted(Record.objects.values_list("state", flat=True)) == [State.HANDLED] * 3
    assert len(administration.invoices) == 3
    paths = [entry["path"] for entry in store.requests()]
    assert paths == ["/admin/api/2026-07/orders.json"]  # the page's payloads were booked as they came
    shopify_connection.refresh_from_db()
    assert shopify_connection.last_poll_error == ""
    poll_connection.enqueue(shopify_connection.pk)  # the next poll (with its overlap) books nothing again
    drain()
    assert len(administration.invoices) == 3


def test_a_poll_with_a_revoked_token_is_reported(store: ShopifyStore, shopify_connection):
    shopify_connection.source_credentials = {"access_token": "shpat_revoked"}
    shopify_connection.save()
    poll_connection.enqueue(shopify_connection.pk)
    drain()
    shopify_connection.refresh_from_db()
    assert shopify_connection.last_poll_error.startswith("SOURCE_AUTH_FAILED: Shopify answered 401")


# --- backfill --------------------------------------------------------------------------------------------


@pytest.fixture
def january(store: ShopifyStore) -> list[int]:
    """The ids of the 620 January orders, plus orders placed before and after January."""
    store.place(make_cart(created_at="2025-12-31T23:59:59+01:00"))
    made = store.bulk(**JANUARY)
    store.place(make_cart(created_at="2026-02-01T00:00:00+01:00"))
    ids = sorted(store.state.ids)
    return [order_id for order_id in ids if made["first_id"] <= order_id <= made["last_id"]]


def read_all(
    source: ShopifySource, cursor: str | None = None, since=SINCE, until=UNTIL
) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    while True:
        page = source.backfill_page(since, until, cursor)
        orders.extend(page.orders)
        cursor = page.next_cursor
        if cursor is None:
            return orders


def test_backfill_pages_through_the_range_and_nothing_else(store: ShopifyStore, january: list[int]) -> None:
    source = store.source()
    first = source.backfill_page(SINCE, UNTIL, None)
    assert first.total == 400 and len(first.orders) == 250
    assert first.next_cursor == f"since_id={first.orders[-1]['id']}"
    second = source.backfill_page(SINCE, UNTIL, first.next_cursor)
    assert second.total is None and len(second.orders) == 150 and second.next_cursor is None
    source.close()
    got = [order["id"] for order in first.orders + second.orders]
    assert got == january[80:480]
    assert first.orders[0]["created_at"] == "2026-01-05T00:00:00+01:00"  # ``since`` is included
    assert second.orders[-1]["created_at"] == "2026-01-24T22:48:00+01:00"  # ``until`` is not
    params = [entry["query"] for entry in store.requests()]
    assert params[1] == {
        "status": "any",
        "since_id": "0",
        "created_at_min": "2026-01-04T23:00:00+00:00",
        "created_at_max": "2026-01-24T22:59:59+00:00",
        "limit": "250",
    }


def test_backfill_up_to_now(store: ShopifyStore, january: list[int]) -> None:
    source = store.source()
    orders = read_all(source, since=datetime(2026, 1, 31, tzinfo=UTC), until=None)
    source.close()
    assert [o["created_at"] for o in orders][-1] == "2026-02-01T00:00:00+01:00"
    # 19 on 31 January from 01:00 Amsterdam time (one every 72 minutes) and the one in February
    assert len(orders) == 20


def test_a_stopped_backfill_resumes_from_its_cursor(store: ShopifyStore, january: list[int]) -> None:
    before = store.source()
    first = before.backfill_page(SINCE, UNTIL, None)
    before.close()  # the worker died; the cursor was stored with the page
    after = store.source()
    rest = read_all(after, first.next_cursor)
    after.close()
    assert [o["id"] for o in first.orders + rest] == january[80:480]


def test_orders_changed_or_placed_between_pages_are_not_skipped(
    store: ShopifyStore, january: list[int]
) -> None:
    source = store.source()
    first = source.backfill_page(SINCE, UNTIL, None)
    read_first = {o["id"] for o in first.orders}
    store.update(january[100], {"financial_status": "refunded"})  # read already
    store.update(january[400], {"financial_status": "refunded", "note": "retour"})  # not read yet
    late = store.place(make_cart(created_at="2026-01-10T12:00:00+01:00"))  # an import, placed in the range
    store.delete(january[450])
    rest = read_all(source, first.next_cursor)
    source.close()
    seen = read_first | {o["id"] for o in rest}
    expected = (set(january[80:480]) - {january[450]}) | {late["id"]}
    assert seen == expected
    changed = next(o for o in rest if o["id"] == january[400])
    assert changed["financial_status"] == "refunded"


def test_the_backfill_pace_leaves_room_in_the_bucket() -> None:
    assert ShopifySource.backfill_requests_per_second < 2  # Shopify leaks 2 calls a second
    assert timedelta(seconds=20_000 / 250 / ShopifySource.backfill_requests_per_second) < timedelta(minutes=2)
