"""Input no endpoint may answer with a 5xx: signed webhooks with NUL bytes, invalid UTF-8, ids too long
for their columns, deep nesting, non-ASCII signature headers, impossible connection ids; dashboard ids in
other scripts. Each gets a clear 4xx (JSON for the webhooks) and what arrived is stored losslessly."""

from __future__ import annotations

import json

import pytest

from koppel.intake.models import WebhookDelivery
from koppel.sync.models import Record
from tests.conftest import signed


def post_signed(client, connection, body: bytes, **headers):
    return client.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_X_KMO_SIGNATURE=signed(body, connection.webhook_secret),
        **headers,
    )


def test_a_nul_byte_and_invalid_utf8_are_kept_exactly(client, connection):
    body = b'{"event": "order.created", "order_id": "77", "shop": "t\x00e\xff"}'
    response = post_signed(client, connection, body)
    assert response.status_code in (202, 400), response.content
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.raw_body) == body
    assert "\x00" not in delivery.body


@pytest.mark.parametrize(
    "order_id, reason",
    [
        ("1" + "0" * 120, "longer than 100"),
        ("7\u00007", "control characters"),
        ("\ud800", "control characters"),
    ],
)
def test_an_order_id_that_does_not_fit_is_refused_not_cut(client, connection, order_id, reason):
    body = json.dumps({"event": "order.created", "order_id": order_id, "shop": "t"}).encode()
    response = post_signed(client, connection, body)
    assert response.status_code == 400
    assert response.json()["error"] == "WEBHOOK_INVALID" and reason in response.json()["message"]
    assert WebhookDelivery.objects.get().outcome == "invalid"
    assert not Record.objects.exists()


def test_deeply_nested_json_is_refused(client, connection):
    body = b'{"order_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = post_signed(client, connection, body)
    assert response.status_code == 400 and response.json()["error"] == "WEBHOOK_INVALID"


def test_a_non_ascii_signature_is_a_mismatch_and_counted(client, connection):
    body = b'{"event": "order.created", "order_id": "5", "shop": "t"}'
    response = client.post(
        connection.webhook_path, body, content_type="application/json", HTTP_X_KMO_SIGNATURE="sïgnätüre"
    )
    assert response.status_code == 401 and response.json()["error"] == "SIGNATURE_INVALID"
    connection.refresh_from_db()
    assert connection.rejected_webhooks == 1


@pytest.mark.parametrize(
    "path", ["/webhooks/kmoshops/-1", "/webhooks/kmoshops/abc", "/webhooks/kmoshops/" + "9" * 30]
)
def test_impossible_connection_ids_get_a_json_404(client, db, path):
    response = client.post(path, b"{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"] == "CONNECTION_UNKNOWN"


def test_a_dashboard_filter_with_a_digit_of_another_script_is_ignored(admin_client):
    assert admin_client.get("/?connection=²").status_code == 200
    assert admin_client.get("/where/?connection=²&number=1&").status_code == 200


@pytest.mark.parametrize(
    "since, until",
    [("0001-01-01T00:00:00+00:00", None), ("2024-01-01T00:00:00+00:00", "9999-12-31T23:59:59-12:00")],
)
def test_impossible_backfill_dates_are_refused_at_the_door(account, connection, since, until):
    from django.test import Client

    from koppel.accounts.models import ApiToken
    from koppel.sync.models import Backfill

    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(connection.account, 'x')[1]}")
    body = {"since": since, **({"until": until} if until else {})}
    response = api.post(f"/api/connections/{connection.pk}/backfills", body, content_type="application/json")
    assert response.status_code == 422
    assert "2000 to 2099" in response.content.decode()
    assert not Backfill.objects.exists()
    assert api.get("/api/connections").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "offset=" + "9" * 30,
        "connection=" + "9" * 30,
        "connection=-1",
        "q=a%00b",
    ],
)
def test_api_queries_no_database_can_take_are_a_json_422(account, query):
    from django.test import Client

    from koppel.accounts.models import ApiToken

    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(account, 'x')[1]}")
    response = api.get(f"/api/records?{query}")
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "body, words",
    [
        ('{"name": "Shop\\u0000"}', "NUL byte"),
        ('{"name": "Shop \\ud800"}', "unicode string"),
        ('{"active": 0}', "valid boolean"),
        ('{"poll_minutes": "5"}', "valid integer"),
        ('{"shop_country": "NLD"}', "at most 2"),
    ],
)
def test_api_bodies_no_column_can_take_are_refused_not_cut(connection, body, words):
    from django.test import Client

    from koppel.accounts.models import ApiToken

    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(connection.account, 'x')[1]}")
    response = api.patch(f"/api/connections/{connection.pk}", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert words in response.json()["message"]
    connection.refresh_from_db()
    assert connection.active and connection.shop_country == "NL"


def test_the_ubl_of_a_stored_order_that_no_longer_reads_is_a_409(connection):
    from django.test import Client

    from koppel.accounts.models import ApiToken
    from koppel.sync.models import State
    from tests.factories import make_record

    record = make_record(connection, "1001", State.HANDLED, 1)  # its payload is no KMO Shops order
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(connection.account, 'x')[1]}")
    response = api.get(f"/api/records/{record.pk}/ubl")
    assert response.status_code == 409
    assert response.json()["error"] == "NO_EINVOICE"
    assert "cannot be read again" in response.json()["message"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--since", "0001-01-01"], "outside the years 2000 to 2099"),
        (["--since", "2024-01-01", "--until", "9999-12-31"], "outside the years 2000 to 2099"),
        (["--since", "2024-01-01T00:00:00", "--until", "9999-12-31T23:59:59-12:00"], "outside the years"),
    ],
)
def test_the_backfill_command_refuses_impossible_dates(connection, args, words):
    from django.core.management import CommandError, call_command

    from koppel.sync.models import Backfill

    with pytest.raises(CommandError, match=words):
        call_command("backfill", str(connection.pk), *args)
    with pytest.raises(CommandError, match="No single connection"):
        call_command("backfill", "²", "--since", "2024-01-01")
    assert not Backfill.objects.exists()


def test_no_way_in_can_store_an_impossible_backfill(connection):
    from datetime import UTC, datetime

    from koppel.sync import backfill
    from koppel.sync.models import Backfill

    for since, until in [
        (datetime(1, 1, 1, tzinfo=UTC), None),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)),
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)),
    ]:
        with pytest.raises(ValueError):
            backfill.start_in_background(connection, since, until)
    assert not Backfill.objects.exists()


def test_dashboard_searches_with_a_nul_byte_find_nothing_instead_of_failing(admin_client):
    assert admin_client.get("/?q=%00").status_code == 200
    assert admin_client.get("/where/?number=%00").status_code == 200
