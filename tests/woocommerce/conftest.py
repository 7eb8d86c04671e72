"""WooCommerce fixtures: a store in the sandbox (a source for ``connect``: ``kind``, ``url``,
``credentials``), Dutch orders to place in it, a webhook receiver, and a connection to Factuursturen."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import WebhookReceiver, connect, shared_file

_emails = itertools.count(int(time.time()) % 100_000 * 100)


def shared_payload(name: str) -> dict[str, Any]:
    """One of the real payloads of ``shared/specs/woocommerce`` (skips when ../shared is absent)."""
    return json.loads(shared_path(name).read_text(encoding="utf-8"))


def shared_path(name: str) -> Path:
    return shared_file(f"specs/woocommerce/{name}")


class WooStore:
    """A WooCommerce shop in the sandbox, driven through its control API."""

    kind = "woocommerce"

    def __init__(self, sandbox, name: str, key: str, secret: str) -> None:
        self.sandbox, self.name = sandbox, name
        self.credentials = {"consumer_key": key, "consumer_secret": secret}
        self.url = f"{sandbox.url}/woocommerce/{name}"
        self.api_url = f"{self.url}/wp-json/wc/v3"
        self.control = f"{sandbox.url}/_sandbox/woocommerce/stores/{name}"

    def configure(self, **body: Any) -> dict[str, Any]:
        body = {"store": self.name, **self.credentials, **body}
        response = httpx.post(f"{self.sandbox.url}/_sandbox/woocommerce/stores", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def hook_up(self, url: str, secret: str, **body: Any) -> None:
        """Point the store's order.created and order.updated webhooks at ``url``; wait for their pings."""
        before = len(self.deliveries())
        self.configure(webhook_url=url, webhook_secret=secret, **body)
        if body.get("ping", True):
            self.deliveries(wait_for=before + 2)

    def place(self, order: dict[str, Any], *, notify: bool = False) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/orders", params={"notify": str(notify).lower()}, json=order)
        assert response.status_code == 201, response.text
        return response.json()

    def bulk(self, **body: Any) -> list[int]:
        response = httpx.post(f"{self.control}/orders/bulk", json=body, timeout=60)
        assert response.status_code == 201, response.text
        return response.json()["ids"]

    def update(self, order_id: int | str, changes: dict[str, Any], *, notify: bool = True) -> dict[str, Any]:
        response = httpx.patch(
            f"{self.control}/orders/{order_id}", params={"notify": str(notify).lower()}, json=changes
        )
        assert response.status_code == 200, response.text
        return response.json()

    def delete(self, order_id: int | str, *, force: bool = False) -> httpx.Response:
        return httpx.delete(f"{self.control}/orders/{order_id}", params={"force": str(force).lower()})

    def delete_product(self, product_id: int) -> dict[str, Any]:
        response = httpx.delete(f"{self.control}/products/{product_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def knobs(self, **values: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/knobs", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    def webhooks(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/webhooks").json()

    def deliveries(self, wait_for: int | None = None, timeout: float = 10) -> list[dict[str, Any]]:
        params = {} if wait_for is None else {"wait_for": wait_for, "timeout": timeout}
        return httpx.get(f"{self.control}/deliveries", params=params, timeout=timeout + 5).json()

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/requests").json()

    def api(self, path: str, **params: Any) -> httpx.Response:
        auth = (self.credentials["consumer_key"], self.credentials["consumer_secret"])
        return httpx.get(f"{self.api_url}/{path}", params=params, auth=auth)

    def connector(self):
        from koppel.connectors.woocommerce.connector import WooCommerceSource

        return WooCommerceSource(url=self.url, credentials=self.credentials)


def new_store(sandbox, **body: Any) -> WooStore:
    item = WooStore(sandbox, f"wc-{uuid.uuid4().hex[:8]}", f"ck_{uuid.uuid4().hex}", f"cs_{uuid.uuid4().hex}")
    item.configure(**body)
    return item


@pytest.fixture
def store(sandbox) -> WooStore:
    """A Dutch shop with prices incl. VAT (21%, 9% reduced, 0% zero rate) and no webhooks."""
    return new_store(sandbox)


def wc_order(**overrides: Any) -> dict[str, Any]:
    """A paid Dutch consumer order (control API shape): 2 × 12.95 at 21%, 1 × 7.49 at 9%, PostNL 4.09
    net. In a shop with prices incl. VAT it costs 25.90 + 7.49 + 4.95 = 38.34."""
    n = next(_emails)
    billing = {
        "first_name": "Sanne",
        "last_name": "Jansen",
        "address_1": "Kerkstraat 7",
        "postcode": "3511 LK",
        "city": "Utrecht",
        "country": "NL",
        "email": f"sanne.{n}@example.nl",
        "phone": "0301234567",
    }
    billing.update(overrides.pop("billing", {}))
    order = {
        "status": "processing",
        "billing": billing,
        "shipping": {
            k: billing[k] for k in ("first_name", "last_name", "address_1", "postcode", "city", "country")
        },
        "line_items": [
            {"name": "Mok Delfts blauw", "product_id": 11, "sku": "MUG-1", "quantity": 2, "price": "12.95"},
            {
                "name": "Thee, losse blad",
                "product_id": 12,
                "sku": "TEA-9",
                "quantity": 1,
                "price": "7.49",
                "tax_class": "reduced-rate",
            },
        ],
        "shipping_lines": [{"method_title": "PostNL", "total": "4.09"}],
    }
    order.update(overrides)
    return order


@pytest.fixture
def wc_connection(account, store, administration, retry_fast):
    """A connection from ``store`` to a Factuursturen administration."""
    return connect(account, store, administration)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    item = WebhookReceiver()
    yield item
    item.close()
