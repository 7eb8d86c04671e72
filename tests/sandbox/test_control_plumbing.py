"""The control-API plumbing the sandboxes share (``koppel.sandbox.control``), over real HTTP against the
session ``sandbox`` server: each sandbox looks its tenants up, answers and refuses knobs, and keeps its logs
the same way, each in its own platform's words."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

#: A sandbox's control API: where its tenants are made, the body that makes one, the words of its 404.
SANDBOXES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "kmoshops": ("shops", {"shop": "{name}", "api_key": "key-{name}"}, {"error": "not_found"}),
    "shopify": ("shops", {"shop": "{name}", "access_token": "token"}, {"errors": "Shop {name} not found"}),
    "woocommerce": (
        "stores",
        {"store": "{name}", "consumer_key": "ck_1", "consumer_secret": "cs_1"},
        {"code": "woocommerce_sandbox_no_store"},
    ),
    "factuursturen": ("accounts", {"username": "{name}", "api_key": "key-{name}"}, {"error": "not_found"}),
    "eenvoudigfactureren": (
        "accounts",
        {"name": "{name}", "api_key": "key-{name}"},
        {"error": "Account {name} not found"},
    ),
}


def filled(values: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        key: value.format(name=name) if isinstance(value, str) else value for key, value in values.items()
    }


@pytest.fixture(params=sorted(SANDBOXES))
def tenant(request, sandbox) -> tuple[str, str, str]:
    """A new tenant of one sandbox: the sandbox, the control URL of its tenants, the tenant's name."""
    kind = request.param
    plural, body, _missing = SANDBOXES[kind]
    name = f"plumb-{uuid.uuid4().hex[:8]}"
    tenants = f"{sandbox.url}/_sandbox/{kind}/{plural}"
    response = httpx.post(tenants, json=filled(body, name))
    assert response.status_code in (200, 201), response.text
    return kind, tenants, name


def test_knobs_are_read_changed_and_refused_the_same_way(tenant):
    _kind, tenants, name = tenant
    knobs = httpx.get(f"{tenants}/{name}/knobs")
    assert knobs.status_code == 200 and knobs.json()["error_rate"] == 0
    changed = httpx.post(f"{tenants}/{name}/knobs", json={"latency_ms": 5})
    assert changed.status_code == 200, changed.text
    assert changed.json()["latency_ms"] == 5
    refused = httpx.post(f"{tenants}/{name}/knobs", json={"error_rate": 2})
    assert refused.status_code == 400
    assert "error_rate" in refused.text
    assert httpx.get(f"{tenants}/{name}/knobs").json()["error_rate"] == 0  # nothing changed


def test_an_unknown_tenant_is_answered_404_in_the_sandboxs_words(tenant):
    kind, tenants, _name = tenant
    missing = f"nobody-{uuid.uuid4().hex[:6]}"
    response = httpx.get(f"{tenants}/{missing}/knobs")
    assert response.status_code == 404
    expected = filled(SANDBOXES[kind][2], missing)
    assert {key: response.json()[key] for key in expected} == expected


def test_the_request_log_is_kept_per_tenant(tenant):
    _kind, tenants, name = tenant
    log = httpx.get(f"{tenants}/{name}/requests")
    assert log.status_code == 200
    entries = log.json()["requests"] if isinstance(log.json(), dict) else log.json()
    assert entries == []
