"""The REST API as a client sees it: token auth, account scoping, filters, the record detail, Process, and
no secret in any response."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from koppel.accounts.models import Account, ApiToken
from koppel.connections.models import Connection
from koppel.documents.codes import remedy
from koppel.sync.models import Attempt, Record, State
from tests.factories import make_connection, make_record

pytestmark = pytest.mark.django_db

SECRETS = ("SECRET-KEY-1", "SECRET-KEY-2")


@dataclass
class World:
    account: Account
    connection: Connection
    token: str
    records: dict[str, Record]
    other_connection: Connection
    other_record: Record
    other_token: str
    secrets: tuple[str, ...] = field(default=())

    def client(self, token: str | None = None) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token or self.token}")


@pytest.fixture
def world() -> World:
    account = Account.objects.create(name="Bakkerij Jansen")
    connection = make_connection(account, "Webshop → Factuursturen")
    records = {
        "handled": make_record(
            connection,
            "1001",
            State.HANDLED,
            5,
            target_debtor_id="D-7",
            target_invoice_id="9001",
            target_invoice_number="F2025-0042",
            handled_at=timezone.now(),
            document={"number": "1001", "lines": [{"description": "Brood", "total": "121.00"}]},
        ),
        "error": make_record(
            connection,
            "1002",
            State.ERROR,
            4,
            total=Decimal("59.5"),
            customer_name="Piet Pieters",
            customer_email="piet@example.be",
            error_code="TOTAL_MISMATCH",
            message="The total 59.50 differs from the lines (49.50) by 10.00.",
        ),
        "open": make_record(
            connection, "1003", State.OPEN, 3, error_code="STATUS_NOT_ELIGIBLE", message="Status is 'new'."
        ),
        "queued": make_record(connection, "1004", State.QUEUED, 2),
        "skipped": make_record(
            connection,
            "1005",
            State.SKIPPED,
            1,
            error_code="BEFORE_START_DATE",
            message="Placed before start.",
        ),
    }
    Attempt.objects.create(
        record=records["error"],
        finished_at=timezone.now(),
        trigger="webhook",
        worker="worker-1",
        outcome="error",
        error_code="TOTAL_MISMATCH",
        message="The total 59.50 differs from the lines (49.50) by 10.00.",
        calls=[{"method": "GET", "path": "api/v1/orders/src-1002", "status": 200, "ms": 12.5}],
    )
    other_account = Account.objects.create(name="Someone else")
    other_connection = make_connection(other_account, "Other shop")
    other_record = make_record(
        other_connection, "7001", State.ERROR, 1, customer_name="Anna Other", error_code="TARGET_REJECTED"
    )
    _, token = ApiToken.issue(account, "tests")
    _, other_token = ApiToken.issue(other_account, "tests")
    secrets = (*SECRETS, connection.webhook_secret, other_connection.webhook_secret)
    return World(account, connection, token, records, other_connection, other_record, other_token, secrets)


ENDPOINTS = [
    ("get", "/api/connections"),
    ("get", "/api/records"),
    ("get", "/api/records/{id}"),
    ("post", "/api/records/{id}/process"),
]


def call(client: Client, method: str, path: str, record: Record):
    return getattr(client, method)(path.format(id=record.pk))


# Authentication ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header", [None, "Bearer kp_not-a-real-token", "Bearer ", "Bearer not-kp-at-all", "Token kp_whatever"]
)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_missing_or_wrong_token_is_401_json(world, header, method, path):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = call(client, method, path, world.records["error"])
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "UNAUTHORIZED"
    assert response.json()["message"]
    world.records["error"].refresh_from_db()
    assert world.records["error"].state == State.ERROR


def test_a_valid_token_marks_its_last_use(world):
    assert world.client().get("/api/connections").status_code == 200
    assert ApiToken.objects.get(account=world.account).last_used_at is not None


# Connections ---------------------------------------------------------------------------------------------
def test_connections_lists_only_the_accounts_own_with_counts(world):
    response = world.client().get("/api/connections")
    assert response.status_code == 200
    (item,) = response.json()
    assert item["id"] == world.connection.pk
    assert item["name"] == "Webshop → Factuursturen"
    assert item["source"] == "kmoshops" and item["target"] == "factuursturen"
    assert item["webhook_url"].endswith(f"/webhooks/kmoshops/{world.connection.pk}")
    assert item["counts"] == {"open": 1, "queued": 1, "handled": 1, "error": 1, "skipped": 1}
    assert not any("encrypted" in key or "secret" in key for key in item)
    # Which credentials are set and the public user name; never a secret.
    assert item["source_credentials"] == {"set": ["api_key"], "public": {}, "complete": True, "problem": ""}
    assert item["target_credentials"]["public"] == {"username": "u"}
    assert item["target_credentials"]["set"] == ["api_key", "username"]


# Record list ---------------------------------------------------------------------------------------------
def test_records_are_the_accounts_own_newest_first(world):
    body = world.client().get("/api/records").json()
    assert body["count"] == 5
    assert [item["order_number"] for item in body["items"]] == ["1005", "1004", "1003", "1002", "1001"]
    assert world.other_record.pk not in {item["id"] for item in body["items"]}


def test_the_other_account_sees_only_its_own(world):
    body = world.client(world.other_token).get("/api/records").json()
    assert [item["id"] for item in body["items"]] == [world.other_record.pk]


@pytest.mark.parametrize("state", ["open", "queued", "handled", "error", "skipped"])
def test_filter_by_state(world, state):
    body = world.client().get("/api/records", {"state": state}).json()
    assert body["count"] == 1
    assert body["items"][0]["id"] == world.records[state].pk
    assert body["items"][0]["state"] == state


def test_an_unknown_state_is_a_validation_error(world):
    response = world.client().get("/api/records", {"state": "booked"})
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"
    assert "state" in response.json()["message"]


def test_search_matches_order_number_customer_and_email(world):
    client = world.client()
    assert [i["order_number"] for i in client.get("/api/records", {"q": "1002"}).json()["items"]] == ["1002"]
    assert [i["order_number"] for i in client.get("/api/records", {"q": "pieters"}).json()["items"]] == [
        "1002"
    ]
    assert [i["order_number"] for i in client.get("/api/records", {"q": "PIET@"}).json()["items"]] == ["1002"]
    # The other account's "Anna Other" is not found by this account.
    assert client.get("/api/records", {"q": "Other"}).json()["count"] == 0


def test_filter_by_code_and_connection(world):
    client = world.client()
    body = client.get("/api/records", {"code": "TOTAL_MISMATCH"}).json()
    assert [i["id"] for i in body["items"]] == [world.records["error"].pk]
    assert client.get("/api/records", {"connection": world.connection.pk}).json()["count"] == 5
    assert client.get("/api/records", {"connection": world.other_connection.pk}).json()["count"] == 0
    assert client.get("/api/records", {"code": "NOPE"}).status_code == 422


def test_limit_and_offset(world):
    client = world.client()
    body = client.get("/api/records", {"limit": 2, "offset": 1}).json()
    assert body["count"] == 5
    assert [i["order_number"] for i in body["items"]] == ["1004", "1003"]
    assert client.get("/api/records", {"limit": 501}).json()["error"] == "VALIDATION_ERROR"
    assert client.get("/api/records", {"limit": 0}).status_code == 422
    assert client.get("/api/records", {"offset": -1}).status_code == 422


# Record detail -------------------------------------------------------------------------------------------
def test_record_detail_has_reason_remedy_attempts_and_payload(world):
    record = world.records["error"]
    body = world.client().get(f"/api/records/{record.pk}").json()
    assert body["id"] == record.pk
    assert body["connection_id"] == world.connection.pk
    assert body["source_order_id"] == "src-1002"
    assert body["state"] == "error"
    assert body["error_code"] == "TOTAL_MISMATCH"
    assert body["message"].startswith("The total 59.50")
    assert body["remedy"] == remedy("TOTAL_MISMATCH")
    assert body["total"] == "59.50"
    assert body["currency"] == "EUR"
    assert body["customer_name"] == "Piet Pieters"
    assert body["order_date"] is not None
    assert body["payload"] == {
        "id": "src-1002",
        "number": "1002",
        "total": "121.00",
        "note": "payload-marker",
    }
    assert body["document"] is None
    (attempt,) = body["attempts"]
    assert (
        attempt["outcome"] == "error" and attempt["trigger"] == "webhook" and attempt["worker"] == "worker-1"
    )
    assert attempt["calls"] == [
        {"method": "GET", "path": "api/v1/orders/src-1002", "status": 200, "ms": 12.5, "error": None}
    ]


def test_handled_record_detail_has_target_ids_and_document(world):
    body = world.client().get(f"/api/records/{world.records['handled'].pk}").json()
    assert body["total"] == "121.00"
    assert body["remedy"] is None
    assert (body["target_debtor_id"], body["target_invoice_id"], body["target_invoice_number"]) == (
        "D-7",
        "9001",
        "F2025-0042",
    )
    assert body["handled_at"] is not None
    assert body["document"]["lines"][0]["description"] == "Brood"
    assert body["attempts"] == []


def test_another_accounts_record_does_not_exist(world):
    client = world.client()
    for method, path in ENDPOINTS[2:]:
        response = call(client, method, path, world.other_record)
        assert response.status_code == 404
        assert response.json()["error"] == "NOT_FOUND"
    world.other_record.refresh_from_db()
    assert world.other_record.state == State.ERROR
    assert not DBTaskResult.objects.exists()


def test_unknown_and_malformed_ids(world):
    client = world.client()
    assert client.get("/api/records/999999").json()["error"] == "NOT_FOUND"
    response = client.get("/api/records/abc")
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


# Process -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["error", "open", "skipped", "queued"])
def test_process_queues_the_record(world, state):
    record = world.records[state]
    if state == "queued":  # waiting for its next retry: Process brings it forward
        Record.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    response = world.client().post(f"/api/records/{record.pk}/process")
    assert response.status_code == 202
    assert response.json()["id"] == record.pk
    assert response.json()["state"] == "queued"
    record.refresh_from_db()
    assert record.state == State.QUEUED
    tasks = [row.args_kwargs for row in DBTaskResult.objects.all()]
    assert tasks and all(str(record.pk) in str(args) for args in tasks)


def test_process_on_a_handled_record_is_409(world):
    record = world.records["handled"]
    response = world.client().post(f"/api/records/{record.pk}/process")
    assert response.status_code == 409
    assert response.json()["error"] == "ALREADY_PROCESSED"
    assert "F2025-0042" in response.json()["message"]
    record.refresh_from_db()
    assert record.state == State.HANDLED
    assert not DBTaskResult.objects.exists()


def test_wrong_methods_and_unknown_paths_answer_in_json(world):
    client = world.client()
    response = client.get(f"/api/records/{world.records['error'].pk}/process")
    assert response.status_code == 405
    assert response.json()["error"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "POST, OPTIONS"
    assert client.delete("/api/records").json()["error"] == "METHOD_NOT_ALLOWED"
    for path in ("/api/", "/api/nope", f"/api/records/{world.records['error'].pk}/nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "NOT_FOUND"
    world.records["error"].refresh_from_db()
    assert world.records["error"].state == State.ERROR


# OpenAPI and secrets -------------------------------------------------------------------------------------
def test_openapi_lists_the_operations(client):
    schema = client.get("/api/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations == {
        ("GET", "/api/connections"),
        ("POST", "/api/connections"),
        ("GET", "/api/connections/{connection_id}"),
        ("PATCH", "/api/connections/{connection_id}"),
        ("DELETE", "/api/connections/{connection_id}"),
        ("POST", "/api/connections/{connection_id}/test"),
        ("POST", "/api/accounts"),
        ("GET", "/api/accounts"),
        ("POST", "/api/accounts/{account_id}/tokens"),
        ("GET", "/api/accounts/{account_id}/tokens"),
        ("DELETE", "/api/tokens/{token_id}"),
        ("GET", "/api/records"),
        ("GET", "/api/records/{record_id}"),
        ("POST", "/api/records/{record_id}/process"),
        ("GET", "/api/records/{record_id}/ubl"),
        ("GET", "/api/orders/explain"),
        ("POST", "/api/connections/{connection_id}/fetch"),
        ("POST", "/api/connections/{connection_id}/backfills"),
        ("GET", "/api/backfills/{backfill_id}"),
        ("POST", "/api/backfills/{backfill_id}/resume"),
        ("GET", "/api/connections/{connection_id}/marketplace-invoices"),
        ("POST", "/api/connections/{connection_id}/marketplace-invoices/fetch"),
        ("GET", "/api/connections/{connection_id}/marketplace-invoices/{invoice_id}"),
        ("GET", "/api/connections/{connection_id}/marketplace-invoices/{invoice_id}/{what}"),
    }
    assert schema["components"]["securitySchemes"]["AccountToken"]["scheme"] == "bearer"
    assert client.get("/api/docs").status_code == 200


def test_no_secret_in_any_response(world):
    bodies = [Client().get("/api/openapi.json").content, Client().get("/api/docs").content]
    for client in (world.client(), world.client(world.other_token), Client()):
        for method, path in ENDPOINTS:
            for record in [*world.records.values(), world.other_record]:
                bodies.append(call(client, method, path, record).content)
        bodies.append(client.get("/api/records", {"limit": 500}).content)
        bodies.append(client.get("/api/records", {"state": "nope"}).content)
    assert world.client().get("/api/connections").json()  # the check below looks at real content
    for body in bodies:
        for secret in world.secrets:
            assert secret.encode() not in body
    for secret in world.secrets:
        assert secret  # the webhook secrets were really set
