"""The polling and backfill glue the webshop sources (KMO Shops, WooCommerce, Shopify) share, written once.

Each of them reads its shop over one HTTP client and its payloads with a mapping module of its own; what
differs is how a list of orders is paged (:meth:`SourceConnector.backfill_page`, ``iter_orders``), which
each keeps. :class:`WebshopSource` holds the rest: closing the client, fetching an order and its refunds,
the mapping's ``parse_order`` and ``order_id``, the order number's fields, and the check that keeps a
backfill page to the orders placed in its range. :func:`every_order` reads a keyset-paged list to its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from koppel.documents.model import Order
from koppel.documents.refunds import Refund

from .base import BackfillPage, SourceConnector


def every_order(page: Callable[[str | None], BackfillPage]) -> Iterator[dict[str, Any]]:
    """The orders of ``page(cursor)`` from the first page (``None``) to the one that names no next."""
    cursor: str | None = None
    while True:
        current = page(cursor)
        yield from current.orders
        cursor = current.next_cursor
        if cursor is None:
            return


class WebshopSource(SourceConnector):
    """A webshop read over one HTTP client, ``self.client`` (made by the subclass's ``__init__``; it has
    ``close``, ``get_order`` and, with :attr:`refund_reader`, ``get_refunds``)."""

    #: The platform's mapping module: ``parse_order(payload)``, ``order_id(payload)`` and
    #: ``created_between(payload, since, until)``.
    mapping: ClassVar[Any]
    #: The platform's refunds module, ``parse_refunds(order, refunds)``, when refunds are fetched apart
    #: from the order (``GET orders/{id}/refunds``); ``None`` reads them from the order.
    refund_reader: ClassVar[Any] = None
    #: The payload's fields that may hold the order number the merchant knows, the first one set wins.
    number_fields: ClassVar[tuple[str, ...]] = ("number", "id")
    client: Any

    def close(self) -> None:
        self.client.close()

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        return self.client.get_order(order_id)

    def fetch_refunds(self, order_id: str) -> list[Refund]:
        """The order's refunds read with the order (their lines' VAT rates are the order's)."""
        if self.refund_reader is None:
            return super().fetch_refunds(order_id)
        return self.refund_reader.parse_refunds(self.fetch_order(order_id), self.client.get_refunds(order_id))

    @classmethod
    def parse_order(cls, payload: Mapping[str, Any], settings: Any = None) -> Order:
        return cls.mapping.parse_order(payload)

    @classmethod
    def order_id(cls, payload: Mapping[str, Any]) -> str:
        return cls.mapping.order_id(payload)

    @classmethod
    def order_number(cls, payload: Mapping[str, Any]) -> str:
        return str(next((value for name in cls.number_fields if (value := payload.get(name))), ""))

    def placed_between(
        self, orders: Iterable[dict[str, Any]], since: datetime, until: datetime | None
    ) -> list[dict[str, Any]]:
        """The orders placed in ``[since, until)``; one without a readable date is kept (its record will
        say what is wrong with it)."""
        return [order for order in orders if self.mapping.created_between(order, since, until)]
