"""HTTP client for the WooCommerce REST API v3 (``/wp-json/wc/v3/``), with the shop's consumer key and
secret as HTTP Basic credentials (WooCommerce accepts them over HTTPS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from koppel.connectors.errors import AuthFailed, NotFound, Rejected
from koppel.connectors.http import ApiClient, CallLog

API_PATH = "wp-json/wc/v3/"
#: WooCommerce's largest page.
PER_PAGE = 100


def api_base(shop_url: str) -> str:
    """The REST API's address for the shop's address: ``https://shop.example.nl`` (or a WordPress in a
    folder, or the API address itself) → ``https://shop.example.nl/wp-json/wc/v3/``."""
    base = shop_url.strip().rstrip("/")
    if "/wp-json" in base:
        base = base[: base.index("/wp-json")]
    return f"{base}/{API_PATH}"


@dataclass(frozen=True, slots=True)
class OrdersPage:
    orders: list[dict[str, Any]]
    #: ``X-WP-Total`` and ``X-WP-TotalPages``: the orders matching the query and the number of pages.
    total: int | None
    pages: int


def _header_int(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None


def error_code(response: httpx.Response) -> str:
    """WordPress's error ``code`` (``woocommerce_rest_shop_order_invalid_id``, ``rest_no_route``...)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("code", "")) if isinstance(data, dict) else ""


class WooCommerceClient(ApiClient):
    side = "source"
    system = "WooCommerce"

    def __init__(
        self,
        shop_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = api_base(shop_url)
        super().__init__(self.base, auth=(consumer_key, consumer_secret), log=log, transport=transport)

    def classify(self, response: httpx.Response) -> None:
        """WordPress's signals about the shop address.

        A redirect means the shop lives at another address (``http`` → ``https``, ``www``): Koppel does not
        follow it with the key, and says which address to enter. A 404 means "no such order" only with
        WordPress's ``..._invalid_id`` code; any other 404 (the ``rest_no_route`` of a site without
        WooCommerce's API, a web server's page) means the shop address in the connection is not a
        WooCommerce shop: a setting to correct, not a missing order.
        """
        if response.is_redirect:
            where = response.headers.get("location", "")
            raise AuthFailed(
                f"The shop address {self.base} redirects to {where}: enter the address it redirects to "
                "(https, with or without www) as the shop address in the connection",
                side=self.side,
            )
        if response.status_code == 404:
            code = error_code(response)
            if not code.endswith("_invalid_id"):
                raise AuthFailed(
                    f"WooCommerce's REST API was not found at {self.base} ({code or 'HTTP 404'}): check the "
                    "shop address in the connection, that WooCommerce is active and that WordPress uses "
                    "pretty permalinks",
                    side=self.side,
                )
            raise NotFound(f"WooCommerce answered 404: the order does not exist ({code})", side=self.side)
        super().classify(response)

    def get_order(self, order_id: str) -> dict[str, Any]:
        data = self._json(self.request("GET", f"orders/{quote(order_id, safe='')}"))
        if not isinstance(data, dict):
            raise Rejected("WooCommerce answered an order request with unexpected JSON", side=self.side)
        return data

    def get_refunds(self, order_id: str) -> list[dict[str, Any]]:
        """``GET orders/{id}/refunds``: every refund of the order, 100 a page."""
        result: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            params = {"per_page": PER_PAGE, "page": page}
            response = self.request("GET", f"orders/{quote(order_id, safe='')}/refunds", params=params)
            data = self._json(response)
            if not isinstance(data, list):
                raise Rejected("WooCommerce answered the refund list with unexpected JSON", side=self.side)
            result.extend(refund for refund in data if isinstance(refund, dict))
            pages = _header_int(response, "x-wp-totalpages") or page
            page += 1
        return result

    def orders_page(self, params: Mapping[str, str | int]) -> OrdersPage:
        """One page of ``GET orders`` (100 orders, dates as UTC)."""
        query = {**params, "per_page": PER_PAGE, "dates_are_gmt": "true"}
        response = self.request("GET", "orders", params=query)
        data = self._json(response)
        if not isinstance(data, list):
            raise Rejected("WooCommerce answered the order list with unexpected JSON", side=self.side)
        orders = [order for order in data if isinstance(order, dict)]
        pages = _header_int(response, "x-wp-totalpages")
        if pages is None:  # a proxy dropped the header: a full page may have a next one
            number = int(params.get("page", 1))
            pages = number + 1 if len(orders) >= PER_PAGE else number
        return OrdersPage(orders, _header_int(response, "x-wp-total"), pages)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise Rejected(
                f"WooCommerce answered with something that is not JSON (check the shop address {self.base}; "
                "a plugin printing PHP notices also causes this)",
                side=self.side,
            ) from None
