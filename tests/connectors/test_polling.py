"""The glue the webshop sources share (``koppel.connectors.polling``): a keyset-paged list read to its end,
and the order number, id and mapping each source reads through it."""

from __future__ import annotations

import pytest

from koppel.connectors.base import BackfillPage
from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.connectors.polling import WebshopSource, every_order
from koppel.connectors.shopify.connector import ShopifySource
from koppel.connectors.woocommerce.connector import WooCommerceSource


def test_every_order_follows_the_cursors_to_the_page_that_names_none():
    pages = {
        None: BackfillPage([{"id": 1}, {"id": 2}], "a"),
        "a": BackfillPage([], "b"),
        "b": BackfillPage([{"id": 3}], None),
    }
    asked: list[str | None] = []

    def page(cursor: str | None) -> BackfillPage:
        asked.append(cursor)
        return pages[cursor]

    orders = every_order(page)
    assert asked == []  # nothing is asked before the orders are read
    assert [order["id"] for order in orders] == [1, 2, 3]
    assert asked == [None, "a", "b"]


@pytest.mark.parametrize(
    ("source", "payload", "number"),
    [
        (KmoShopsSource, {"id": 100001, "number": "KMO-7"}, "KMO-7"),
        (KmoShopsSource, {"id": 100001, "number": ""}, "100001"),
        (WooCommerceSource, {"id": 55}, "55"),
        (ShopifySource, {"id": 9, "name": "#1001", "order_number": 1001}, "#1001"),
        (ShopifySource, {"id": 9, "order_number": 1001}, "1001"),
        (ShopifySource, {}, ""),
    ],
)
def test_the_order_number_is_the_first_field_set(source: type[WebshopSource], payload, number):
    assert issubclass(source, WebshopSource)
    assert source.order_number(payload) == number
    if payload.get("id"):
        assert source.order_id(payload) == str(payload["id"])
