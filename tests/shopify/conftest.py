"""Fixtures for Shopify: a shop in the sandbox (a source: ``kind``, ``url``, ``credentials``) reached with a
legacy custom app's access token or with a Dev Dashboard app's client ID and secret, a connection from it
to a Factuursturen administration, and carts to place."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import WebhookReceiver, connect, shared_file


class ShopifyStore:
    """A Shopify shop in the sandbox, seen the way a merchant's admin and a test see it."""

    kind = "shopify"

    def __init__(self, sandbox, name: str, token: str) -> None:
        self.sandbox, self.name, self.token = sandbox, name, token
        self.credentials = {"access_token": token}
        self.url = f"{sandbox.url}/shopify/{name}"
        self.control = f"{sandbox.url}/_sandbox/shopify/shops/{name}"

    @property
    def state(self):
        """The shop's in-memory state (read it only while no request is in flight)."""
        return self.sandbox.app.shopify.shops[self.name]

    def auth(self) -> dict[str, Any]:
        """How the shop lets Koppel in (sent with every ``configure``)."""
        return {"access_token": self.token}

    def configure(self, **values: Any) -> dict[str, Any]:
        body = {"shop": self.name, **self.auth(), **values}
        response = httpx.post(f"{self.sandbox.url}/_sandbox/shopify/shops", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def place(self, cart: dict[str, Any] | None = None, *, notify: bool = False) -> dict[str, Any]:
        response = httpx.post(
            f"{self.control}/orders", params={"notify": str(notify).lower()}, json=cart or make_cart()
        )
        assert response.status_code == 201, response.text
        return response.json()["order"]

    def update(self, order_id: int, changes: dict[str, Any], *, notify: bool = False) -> dict[str, Any]:
        response = httpx.patch(
            f"{self.control}/orders/{order_id}", params={"notify": str(notify).lower()}, json=changes
        )
        assert response.status_code == 200, response.text
        return response.json()["order"]

    def delete(self, order_id: int) -> None:
        assert (
            httpx.delete(f"{self.control}/orders/{order_id}", params={"notify": "false"}).status_code == 204
        )

    def bulk(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/orders/bulk", json=body, timeout=60)
        assert response.status_code == 201, response.text
        return response.json()

    def knobs(self, **values: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/knobs", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self, wait_for: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
        params = {"wait_for": wait_for, "timeout": timeout} if wait_for else {}
        return httpx.get(f"{self.control}/webhooks", params=params, timeout=timeout + 5).json()["deliveries"]

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/requests").json()["requests"]

    def api(self, path: str, *, token: str | None = None, version: str = "2026-07", **params: Any):
        headers = {"X-Shopify-Access-Token": self.token if token is None else token}
        return httpx.get(f"{self.url}/admin/api/{version}/{path}", params=params, headers=headers)

    def source(self, **credentials: str):
        """A connector with the shop's credentials, or with ``credentials`` instead."""
        from koppel.connectors.shopify.connector import ShopifySource

        return ShopifySource(url=self.url, credentials=credentials or self.credentials)


class ShopifyApp(ShopifyStore):
    """A shop reached through a Dev Dashboard app installed on it: Koppel holds the app's client ID and
    secret and no token; the shop signs its webhooks with the client secret unless told otherwise."""

    def __init__(self, sandbox, name: str, client_id: str, client_secret: str) -> None:
        super().__init__(sandbox, name, "")
        self.client_id, self.client_secret = client_id, client_secret
        self.credentials = {"client_id": client_id, "client_secret": client_secret}

    def auth(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def grant(self, **form: str) -> httpx.Response:
        """``POST /admin/oauth/access_token`` with the form (the app's own fields unless overridden)."""
        fields = {"grant_type": "client_credentials", **self.auth(), **form}
        return httpx.post(f"{self.url}/admin/oauth/access_token", data=fields)

    def tokens(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/tokens").json()["tokens"]

    def revoke_tokens(self) -> None:
        assert httpx.delete(f"{self.control}/tokens").status_code == 204

    def token_requests(self) -> list[dict[str, Any]]:
        return [entry for entry in self.requests() if entry["path"] == "/admin/oauth/access_token"]


def make_cart(**overrides: Any) -> dict[str, Any]:
    """A Dutch consumer's cart: two mugs at 21%, tea at 9%, shipping at 21%; prices incl. VAT; paid."""
    suffix = uuid.uuid4().hex[:6]
    mug = {
        "title": "Mok Delfts blauw",
        "variant_title": "Groot",
        "sku": "MUG-1",
        "quantity": 2,
        "price": "12.95",
    }
    cart: dict[str, Any] = {
        "line_items": [
            {**mug, "tax_rate": "21"},
            {"title": "Thee, losse blad", "sku": "TEA-9", "quantity": 1, "price": "7.49", "tax_rate": "9"},
        ],
        "shipping_lines": [{"title": "PostNL", "price": "4.95", "tax_rate": "21"}],
        "email": f"sanne.{suffix}@example.nl",
        "financial_status": "paid",
    }
    cart.update(overrides)
    return cart


@pytest.fixture
def store(sandbox) -> ShopifyStore:
    item = ShopifyStore(sandbox, f"shop-{uuid.uuid4().hex[:10]}", f"shpat_{uuid.uuid4().hex}")
    item.configure(webhook_url=None, webhook_secret="")
    return item


@pytest.fixture
def app_shop(sandbox) -> ShopifyApp:
    item = ShopifyApp(sandbox, f"shop-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex, f"shpss_{uuid.uuid4().hex}")
    item.configure(webhook_url=None, webhook_secret="")
    return item


@pytest.fixture
def shopify_connection(account, store, administration, retry_fast):
    return connect(account, store, administration)


@pytest.fixture
def real_order() -> dict[str, Any]:
    """Shopify's REST fixture of order #1001 (``GET orders/{id}.json``), envelope included."""
    return json.loads(shared_file("specs/shopify/order-rest-fixture.json").read_text(encoding="utf-8"))


@pytest.fixture
def test_notification() -> dict[str, Any]:
    """The body of Shopify's "send test notification" for an order webhook (#9999)."""
    return json.loads(
        shared_file("specs/shopify/orders-webhook-test-payload.json").read_text(encoding="utf-8")
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    item = WebhookReceiver()
    yield item
    item.close()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
