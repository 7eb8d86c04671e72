"""Fixtures for bol.com: a retailer account in the sandbox (a source: ``kind``, ``url``, ``credentials``),
reached with its client id and secret, and helpers to place, ship and cancel orders through the control
API and to call the Retailer API with a token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import WebhookReceiver

MEDIA_TYPE = "application/vnd.retailer.v10+json"


class BolShop:
    """A bol.com retailer account in the sandbox, as a test and a connector see it."""

    kind = "bol"

    def __init__(self, sandbox, name: str) -> None:
        self.sandbox, self.name = sandbox, name
        self.control = f"{sandbox.url}/_sandbox/bol/shops/{name}"
        info = httpx.post(f"{sandbox.url}/_sandbox/bol/shops", json={"shop": name}).json()
        self.client_id, self.client_secret = info["client_id"], info["client_secret"]
        self.retailer_id = info["retailer_id"]
        self.url = f"{sandbox.url}/bol"
        self.token_url = info["token_url"]
        self.credentials = {"client_id": self.client_id, "client_secret": self.client_secret}
        self._token: str | None = None

    @property
    def state(self):
        """The shop's in-memory state (read it only while no request is in flight)."""
        return self.sandbox.app.bol.shops[self.name]

    def grant(self, **form: str) -> httpx.Response:
        data = {"grant_type": "client_credentials", **form}
        return httpx.post(self.token_url, auth=(self.client_id, self.client_secret), data=data)

    def token(self, fresh: bool = False) -> str:
        if self._token is None or fresh:
            response = self.grant()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        accept: str | None = MEDIA_TYPE,
        **kwargs: Any,
    ) -> httpx.Response:
        """A Retailer/Shared API call: ``path`` below ``/bol`` (``/retailer/orders``)."""
        headers = {"Authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        if accept is not None:
            headers["Accept"] = accept
        if "json" in kwargs:
            headers.setdefault("Content-Type", MEDIA_TYPE)
            kwargs["content"] = httpx.Request("POST", "http://x", json=kwargs.pop("json")).content
        return httpx.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    def place(self, body: dict[str, Any] | None = None, *, notify: bool = True) -> dict[str, Any]:
        response = httpx.post(
            f"{self.control}/orders", params={"notify": str(notify).lower()}, json=body or make_order()
        )
        assert response.status_code == 201, response.text
        return response.json()["order"]

    def ship(self, order_id: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/orders/{order_id}/ship", json=body)
        assert response.status_code == 201, response.text
        return response.json()["shipment"]

    def cancel(self, order_id: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/orders/{order_id}/cancel", json=body)
        assert response.status_code == 200, response.text
        return response.json()["order"]

    def return_items(self, order_id: str, **body: Any) -> dict[str, Any]:
        """The customer returns shipped items (``items``, ``reason``, ``handle``: see ``return_control``)."""
        response = httpx.post(f"{self.control}/orders/{order_id}/return", json=body)
        assert response.status_code == 201, response.text
        return response.json()["return"]

    def handle_return(self, rma_id: str, handling_result: str = "RETURN_RECEIVED", **body: Any) -> dict:
        """The retailer (or bol's warehouse) handles a return item at once."""
        body = {"handling_result": handling_result, **body}
        response = httpx.post(f"{self.control}/returns/{rma_id}/handle", json=body)
        assert response.status_code == 200, response.text
        return response.json()["return"]

    def request_invoice(self, shipment_id: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/shipments/{shipment_id}/invoice-request", json=body)
        assert response.status_code == 201, response.text
        return response.json()["invoice_request"]

    def knobs(self, **values: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/knobs", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self, wait_for: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
        params = {"wait_for": wait_for, "timeout": timeout} if wait_for else {}
        return httpx.get(f"{self.control}/deliveries", params=params, timeout=timeout + 5).json()[
            "deliveries"
        ]

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/requests").json()["requests"]

    def invoices(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/invoices").json()["invoices"]

    def issue_invoice(self, **body: Any) -> dict[str, Any]:
        """bol issues one of its own invoices to the retailer (see ``sandbox.invoice_state``)."""
        response = httpx.post(f"{self.control}/invoices", json=body)
        assert response.status_code == 201, response.text
        return response.json()["invoice"]

    def issued_invoices(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/invoices/issued").json()["invoices"]


def make_order(**overrides: Any) -> dict[str, Any]:
    """A Dutch business customer's order: two mugs (one with a discount) and a teapot, FBR."""
    body: dict[str, Any] = {
        "items": [
            {"ean": "8712345678906", "title": "Mok Delfts blauw", "quantity": 2, "unit_price": "12.99",
             "discount": "1.00", "offer_reference": "MOK-1"},
            {"ean": "8712345678913", "title": "Theepot", "quantity": 1, "unit_price": "24.95"},
        ],
        "customer": {"salutation": "FEMALE", "first_name": "Sanne", "surname": "Jansen",
                     "street_name": "Dorpstraat", "house_number": "1", "house_number_extension": "B",
                     "zip_code": "1111ZZ", "city": "Utrecht", "country_code": "NL"},
        "billing": {"salutation": "MALE", "first_name": "Pieter", "surname": "Post",
                    "street_name": "Kerkstraat",
                    "house_number": "21", "zip_code": "3511AB", "city": "Utrecht", "country_code": "NL",
                    "company": "Post BV", "vat_number": "NL123456789B01", "kvk_number": "99887766",
                    "order_reference": "PO-42"},
    }  # fmt: skip
    body.update(overrides)
    return body


@pytest.fixture
def bol_shop(sandbox) -> BolShop:
    return BolShop(sandbox, f"bol-{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    item = WebhookReceiver()
    yield item
    item.close()
