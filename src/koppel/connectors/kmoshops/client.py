"""HTTP client for the KMO Shops order API assumed in ``shared/specs/kmoshops/README.md``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from koppel.connectors.errors import Rejected
from koppel.connectors.http import ApiClient, CallLog


class KmoShopsClient(ApiClient):
    side = "source"
    system = "KMO Shops"

    def __init__(
        self,
        shop_url: str,
        api_key: str,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(shop_url, headers={"X-Api-Key": api_key}, log=log, transport=transport)

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self._json(self.request("GET", f"api/v1/orders/{order_id}"))

    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        page, pages = 1, 1
        while page <= pages:
            orders, pages = self.orders_page(updated_since, page)
            yield from orders
            page += 1

    def orders_page(self, updated_since: datetime, page: int) -> tuple[list[dict[str, Any]], int]:
        """One page (50 orders, oldest change first) and the number of pages."""
        params = {"updated_since": updated_since.isoformat(), "page": page}
        data = self._json(self.request("GET", "api/v1/orders", params=params))
        orders = [order for order in data.get("orders", []) if isinstance(order, dict)]
        return orders, int(data.get("pages", 1) or 1)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise Rejected("KMO Shops answered with something that is not JSON", side="source") from None
        if not isinstance(data, dict):
            raise Rejected("KMO Shops answered with unexpected JSON", side="source")
        return data
