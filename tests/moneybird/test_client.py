"""The Moneybird client's reading of answers, without a server: the wait of a 429 (``Retry-After``, else
``RateLimit-Reset``, else a minute) and the text of a 422's ``error`` object."""

from __future__ import annotations

import httpx
import pytest

from koppel.connectors.errors import RateLimited, Rejected
from koppel.connectors.moneybird.client import MoneybirdClient


def client_answering(response: httpx.Response) -> MoneybirdClient:
    return MoneybirdClient(
        "https://moneybird.test/api/v2", "tok", "123", transport=httpx.MockTransport(lambda request: response)
    )


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"Retry-After": "12"}, 12.0), ({"RateLimit-Reset": "40"}, 40.0), ({}, 60.0)],
)
def test_a_429_says_how_long_to_wait(headers, wait):
    client = client_answering(httpx.Response(429, headers=headers, json={"error": "Too many requests"}))
    with pytest.raises(RateLimited) as caught:
        client.get("contacts.json")
    assert caught.value.retry_after == wait


def test_a_422_names_the_fields_and_messages():
    body = {"error": {"contact_id": ["is required"], "details.0.price": ["is not a number"]}}
    client = client_answering(httpx.Response(422, json=body))
    with pytest.raises(Rejected) as caught:
        client.post("sales_invoices.json", {"sales_invoice": {}})
    assert caught.value.message == (
        "Moneybird answered 422: contact_id is required; details.0.price is not a number"
    )


def test_the_administration_is_in_every_path_and_the_token_in_no_log():
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["authorization"]))
        return httpx.Response(200, json=[])

    client = MoneybirdClient(
        "https://moneybird.test/api/v2", "tok", "123", transport=httpx.MockTransport(answer)
    )
    client.get("tax_rates.json")
    assert seen == [("/api/v2/123/tax_rates.json", "Bearer tok")]
    assert "tok" not in repr(client.log.calls)
