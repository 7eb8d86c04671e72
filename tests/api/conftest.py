"""Fixtures for the API's connection and staff endpoints: a client with the account's token, a staff client
with a token of an operator account, and the body of a connection between the sandbox shop and
administration."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from koppel.accounts.models import Account, ApiToken


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def api(account) -> Client:
    """A client with a token of ``account`` (a merchant; not staff)."""
    return bearer(ApiToken.issue(account, "integration")[1])


@pytest.fixture
def staff_api(transactional_db) -> Client:
    """A client with a token of an operator account: its only member is a staff user."""
    operator = Account.objects.create(name="Operator")
    operator.members.add(get_user_model().objects.create_user("ops", "ops@example.nl", "x", is_staff=True))
    return bearer(ApiToken.issue(operator, "staff")[1])


@pytest.fixture
def connection_body(shop, administration) -> dict[str, Any]:
    return {
        "name": "Webshop → Factuursturen",
        "source": "kmoshops",
        "source_url": shop.url,
        "source_credentials": dict(shop.credentials),
        "target": "factuursturen",
        "target_url": administration.url,
        "target_credentials": dict(administration.credentials),
        "target_settings": {"send_invoice": "email"},
        "shop_country": "NL",
        "eligible_statuses": ["paid", "shipped"],
        "start_at": "2024-01-01T00:00:00+01:00",
    }
