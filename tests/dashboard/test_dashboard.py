"""The dashboard as a merchant uses it: log in, look at the tabs, open a record, press Process; and never
see another account's records or any secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from koppel.accounts.models import Account, ApiToken
from koppel.connections.models import Connection
from koppel.documents.codes import remedy
from koppel.sync.models import Attempt, Backfill, Record, State
from tests.factories import make_connection, make_record

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def english() -> Client:
    """A browser asking for English (the dashboard's default language is Dutch)."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@dataclass
class World:
    user: object
    connection: Connection
    records: dict[str, Record]
    other_connection: Connection
    other_record: Record
    secrets: tuple[str, ...]

    def client(self, user=None) -> Client:
        client = english()
        client.force_login(user or self.user)
        return client


@pytest.fixture
def world() -> World:
    account = Account.objects.create(name="Bakkerij Jansen")
    user = get_user_model().objects.create_user("jansen", "jansen@example.nl", PASSWORD)
    account.members.add(user)
    connection = make_connection(account, "Webshop Jansen")
    connection.last_polled_at = timezone.now()
    connection.last_poll_error = "SOURCE_UNAVAILABLE: KMO Shops did not answer in time"
    connection.rejected_webhooks = 3
    connection.save()
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
            document={"number": "1001", "lines": [{"description": "Brood"}], "note": "document-marker"},
        ),
        "error": make_record(
            connection,
            "1002",
            State.ERROR,
            4,
            customer_name="Piet Pieters",
            customer_email="piet@example.be",
            error_code="TOTAL_MISMATCH",
            message="The total 59.50 differs from the lines by 10.00",
        ),
        "open": make_record(
            connection, "1003", State.OPEN, 3, error_code="STATUS_NOT_ELIGIBLE", message="Status is new"
        ),
        "queued": make_record(connection, "1004", State.QUEUED, 2),
        "skipped": make_record(
            connection,
            "1005",
            State.SKIPPED,
            1,
            error_code="BEFORE_START_DATE",
            message="Placed before start",
        ),
    }
    Attempt.objects.create(
        record=records["error"],
        finished_at=timezone.now(),
        trigger="webhook",
        worker="worker-1",
        outcome="error",
        error_code="TOTAL_MISMATCH",
        message="The total 59.50 differs from the lines by 10.00",
        calls=[{"method": "GET", "path": "api/v1/orders/src-1002", "status": 200, "ms": 12.5}],
    )
    other_account = Account.objects.create(name="Someone else")
    other_connection = make_connection(other_account, "Other shop")
    other_record = make_record(
        other_connection, "7001", State.ERROR, 1, customer_name="Anna Other", error_code="TARGET_REJECTED"
    )
    secrets = ("SECRET-KEY-1", "SECRET-KEY-2", connection.webhook_secret, other_connection.webhook_secret)
    return World(user, connection, records, other_connection, other_record, secrets)


def order_numbers(response) -> list[str]:
    return [record.order_number for record in response.context["page"]]


# Login ---------------------------------------------------------------------------------------------------
def test_pages_require_login(world):
    client = english()
    for path in ("/", f"/records/{world.records['error'].pk}/", "/connections/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    response = client.post(f"/records/{world.records['error'].pk}/process/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    world.records["error"].refresh_from_db()
    assert world.records["error"].state == State.ERROR


def test_login_page_logs_in_and_logout_is_a_post_form(world):
    client = english()
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content and b"csrfmiddlewaretoken" in page.content
    response = client.post("/login/", {"username": "jansen", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert re.search(rb'<form class="logout" method="post" action="/logout/">', home.content)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_the_form_again(world):
    response = english().post("/login/", {"username": "jansen", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


# Record list ---------------------------------------------------------------------------------------------
def test_tabs_have_the_right_records_and_counts(world):
    client = world.client()
    response = client.get("/")
    tabs = response.context["tabs"]
    assert [tab["state"] for tab in tabs] == ["handled", "error", "open", "queued", "skipped"]
    assert [str(tab["label"]) for tab in tabs] == ["Report", "Errors", "Open", "Queued", "Skipped"]
    assert all(tab["count"] == 1 for tab in tabs)
    # The Report tab is first: the booked order with its invoice number.
    assert order_numbers(response) == ["1001"]
    assert b"F2025-0042" in response.content
    errors = client.get("/", {"state": "error"})
    assert order_numbers(errors) == ["1002"]
    assert b"TOTAL_MISMATCH" in errors.content and b"differs from the lines" in errors.content
    assert b"Piet Pieters" in errors.content
    assert order_numbers(client.get("/", {"state": "open"})) == ["1003"]
    assert order_numbers(client.get("/", {"state": "queued"})) == ["1004"]
    skipped = client.get("/", {"state": "skipped"})
    assert order_numbers(skipped) == ["1005"] and b"BEFORE_START_DATE" in skipped.content


def test_counts_appear_on_the_tabs(world):
    make_record(world.connection, "1006", State.ERROR, 0.5, error_code="TARGET_REJECTED")
    content = world.client().get("/").content.decode()
    assert re.search(r'tab-error"[^>]*>\s*Errors <span class="count">2</span>', content)
    assert re.search(r'tab-handled"[^>]*>\s*Report <span class="count">1</span>', content)


def test_another_accounts_records_are_not_listed(world):
    client = world.client()
    for state in State.values:
        response = client.get("/", {"state": state})
        assert "7001" not in order_numbers(response)
        assert b"Anna Other" not in response.content
        assert b"Other shop" not in response.content
    assert (
        client.get("/", {"state": "error", "connection": world.other_connection.pk})
        .context["page"]
        .paginator.count
        == 0
    )


def test_a_user_without_an_account_sees_nothing(world):
    stranger = get_user_model().objects.create_user("stranger", password=PASSWORD)
    response = world.client(stranger).get("/", {"state": "error"})
    assert response.status_code == 200
    assert all(tab["count"] == 0 for tab in response.context["tabs"])
    assert world.client(stranger).get(f"/records/{world.records['error'].pk}/").status_code == 404


def test_a_superuser_sees_every_account(world):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.nl", PASSWORD)
    response = world.client(admin).get("/", {"state": "error"})
    assert set(order_numbers(response)) == {"1002", "7001"}
    assert world.client(admin).get(f"/records/{world.other_record.pk}/").status_code == 200


def test_search_and_connection_filter(world):
    second = make_connection(world.connection.account, "Second shop")
    make_record(
        second, "2001", State.ERROR, 0.5, customer_name="Klaas Klant", customer_email="klaas@example.nl"
    )
    client = world.client()
    assert set(order_numbers(client.get("/", {"state": "error"}))) == {"1002", "2001"}
    assert order_numbers(client.get("/", {"state": "error", "q": "pieters"})) == ["1002"]
    assert order_numbers(client.get("/", {"state": "error", "q": "klaas@"})) == ["2001"]
    assert order_numbers(client.get("/", {"state": "error", "q": "2001"})) == ["2001"]
    response = client.get("/", {"state": "error", "connection": second.pk})
    assert order_numbers(response) == ["2001"]
    assert {tab["state"]: tab["count"] for tab in response.context["tabs"]}["handled"] == 0
    # The filters survive a change of tab.
    assert f"connection={second.pk}".encode() in response.content


def test_pagination_fifty_per_page(world):
    Record.objects.bulk_create(
        Record(
            connection=world.connection,
            source_order_id=f"bulk-{n}",
            order_number=f"B{n:03d}",
            state=State.ERROR,
            error_code="TARGET_REJECTED",
            created_at=timezone.now() - timedelta(days=1, minutes=n),
        )
        for n in range(60)
    )
    client = world.client()
    first = client.get("/", {"state": "error"})
    assert len(order_numbers(first)) == 50
    assert order_numbers(first)[0] == "1002"  # newest first
    assert b"page=2" in first.content
    second = client.get("/", {"state": "error", "page": 2})
    assert len(order_numbers(second)) == 11
    assert order_numbers(second)[-1] == "B059"


# Record detail -------------------------------------------------------------------------------------------
def test_detail_shows_reason_remedy_attempts_and_payload(world):
    record = world.records["error"]
    response = world.client().get(f"/records/{record.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "TOTAL_MISMATCH" in content
    assert "The total 59.50 differs from the lines by 10.00" in content
    assert escape(remedy("TOTAL_MISMATCH")) in content
    assert "api/v1/orders/src-1002" in content and re.search(r">12[.,]5<", content)  # the attempt's call
    assert "worker-1" in content
    assert "payload-marker" in content and "&quot;number&quot;: &quot;1002&quot;" in content  # pretty JSON
    assert f'action="/records/{record.pk}/process/"' in content
    assert "csrfmiddlewaretoken" in content


def test_handled_detail_shows_target_ids_and_no_process_button(world):
    record = world.records["handled"]
    content = world.client().get(f"/records/{record.pk}/").content.decode()
    assert "F2025-0042" in content and "9001" in content and "D-7" in content
    assert "document-marker" in content
    assert f'action="/records/{record.pk}/process/"' not in content
    assert "cannot be processed again" in content


def test_process_button_queues_the_record(world):
    record = world.records["error"]
    client = world.client()
    response = client.post(f"/records/{record.pk}/process/")
    assert response.status_code == 302
    assert response["Location"] == f"/records/{record.pk}/?follow=1"  # the page follows the record
    record.refresh_from_db()
    assert record.state == State.QUEUED
    assert DBTaskResult.objects.count() == 1
    assert str(record.pk) in str(DBTaskResult.objects.get().args_kwargs)
    page = client.get(response["Location"])
    assert b"queued for processing" in page.content


def test_process_needs_post(world):
    record = world.records["error"]
    assert world.client().get(f"/records/{record.pk}/process/").status_code == 405
    record.refresh_from_db()
    assert record.state == State.ERROR


def test_process_on_a_handled_record_does_nothing(world):
    record = world.records["handled"]
    client = world.client()
    response = client.post(f"/records/{record.pk}/process/", follow=True)
    assert response.status_code == 200
    assert b"cannot be processed again" in response.content
    record.refresh_from_db()
    assert record.state == State.HANDLED
    assert not DBTaskResult.objects.exists()


def test_another_accounts_record_is_404(world):
    client = world.client()
    assert client.get(f"/records/{world.other_record.pk}/").status_code == 404
    assert client.post(f"/records/{world.other_record.pk}/process/").status_code == 404
    world.other_record.refresh_from_db()
    assert world.other_record.state == State.ERROR
    assert not DBTaskResult.objects.exists()


# Connections ---------------------------------------------------------------------------------------------
def test_connections_page(world):
    response = world.client().get("/connections/")
    content = response.content.decode()
    assert world.connection.webhook_url in content
    assert "KMO Shops did not answer in time" in content
    assert re.search(r"Rejected webhooks</dt><dd>3</dd>", content)
    assert re.search(r'tab-error" href="[^"]*">Errors <span class="count">1</span>', content)
    assert "Other shop" not in content
    assert world.other_connection.webhook_url not in content


# Secrets -------------------------------------------------------------------------------------------------
def test_no_secret_on_any_page(world):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.nl", PASSWORD)
    ApiToken.issue(world.connection.account, "shop integration")
    connection, record = world.connection, world.records["error"]
    pages = [
        "/login/",
        "/",
        "/connections/",
        *(f"/?state={state}" for state in State.values),
        *(f"/records/{r.pk}/" for r in [*world.records.values(), world.other_record]),
    ]
    admin_pages = [
        "/admin/",
        "/admin/connections/connection/",
        f"/admin/connections/connection/{connection.pk}/change/",
        f"/admin/connections/connection/{connection.pk}/delete/",
        f"/admin/connections/connection/{connection.pk}/history/",
        "/admin/connections/connection/add/",
        "/admin/sync/record/",
        f"/admin/sync/record/{record.pk}/change/",
        "/admin/accounts/account/",
        f"/admin/accounts/account/{connection.account.pk}/change/",
        "/admin/accounts/apitoken/",
    ]
    bodies = []
    for user in (world.user, admin):
        client = world.client(user)
        for path in pages:
            response = client.get(path)
            assert response.status_code in (200, 404), path
            bodies.append((path, response.content))
    admin_client = world.client(admin)
    for path in admin_pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        bodies.append((path, response.content))
    bodies.append(("process", world.client().post(f"/records/{record.pk}/process/", follow=True).content))
    for path, body in bodies:
        for secret in world.secrets:
            assert secret and secret.encode() not in body, path
        assert b"_encrypted" not in body, path


def test_admin_connection_form_has_no_credential_fields(world):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.nl", PASSWORD)
    response = world.client(admin).get(f"/admin/connections/connection/{world.connection.pk}/change/")
    form_fields = set(response.context["adminform"].form.fields)
    assert not {f for f in form_fields if "encrypted" in f or "secret" in f or "credentials" in f}


def test_admin_creates_an_api_token_that_works_and_is_shown_once(world):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.nl", PASSWORD)
    client = world.client(admin)
    response = client.post(
        "/admin/accounts/apitoken/add/", {"account": world.connection.account.pk, "name": "erp"}, follow=True
    )
    assert response.status_code == 200
    token = re.search(rb"kp_[A-Za-z0-9_-]{20,}", response.content).group().decode()
    row = ApiToken.authenticate(token)
    assert row is not None and row.account == world.connection.account and row.name == "erp"
    assert token.encode() not in client.get(f"/admin/accounts/apitoken/{row.pk}/change/").content


# Backfills -----------------------------------------------------------------------------------------------
def test_a_merchant_starts_a_backfill_and_sees_its_progress(world):
    client = world.client()
    prefix = f"c{world.connection.pk}"
    response = client.post(
        f"/connections/{world.connection.pk}/backfill/",
        {f"{prefix}-since": "2024-01-01", f"{prefix}-until": "2024-03-31"},
        follow=True,
    )
    assert response.status_code == 200
    [backfill] = world.connection.backfills.all()
    assert f"Backfill {backfill.pk} started." in response.content.decode()
    assert timezone.localtime(backfill.since).date().isoformat() == "2024-01-01"
    assert timezone.localtime(backfill.until).date().isoformat() == "2024-04-01"  # the last day included
    assert DBTaskResult.objects.filter(task_path__endswith="run_backfill").count() == 1
    backfill.orders_seen, backfill.orders_new, backfill.message = 120, 80, "SOURCE_UNAVAILABLE: down"
    backfill.status = "paused"
    backfill.save()
    content = client.get("/connections/").content.decode()
    assert re.search(r"<td>Paused</td>\s*<td>120</td>\s*<td>80</td>", content)
    assert "SOURCE_UNAVAILABLE: down" in content


def test_a_backfill_needs_a_sensible_range_and_the_right_account(world):
    client = world.client()
    prefix = f"c{world.connection.pk}"
    response = client.post(
        f"/connections/{world.connection.pk}/backfill/",
        {f"{prefix}-since": "2024-03-01", f"{prefix}-until": "2024-01-01"},
        follow=True,
    )
    assert "The last day must not be before the first." in response.content.decode()
    assert not Backfill.objects.exists()
    other = f"c{world.other_connection.pk}"
    response = client.post(
        f"/connections/{world.other_connection.pk}/backfill/", {f"{other}-since": "2024-01-01"}
    )
    assert response.status_code == 404
    assert client.get(f"/connections/{world.connection.pk}/backfill/").status_code == 405
    assert not Backfill.objects.exists()


def test_process_on_a_queued_record_brings_a_retry_forward_once(world):
    record = world.records["queued"]
    client = world.client()
    client.post(f"/records/{record.pk}/process/")
    assert not DBTaskResult.objects.exists()  # due already: its task is in the queue
    Record.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    client.post(f"/records/{record.pk}/process/")
    client.post(f"/records/{record.pk}/process/")
    assert DBTaskResult.objects.count() == 1
    record.refresh_from_db()
    assert record.next_attempt_at is None


def test_the_dashboard_speaks_dutch_by_default_and_english_on_request(world):
    dutch = Client()
    dutch.force_login(world.user)
    content = dutch.get("/").content.decode()
    assert '<html lang="nl">' in content
    assert "Fouten" in content and "Koppelingen" in content and "Uitloggen" in content
    switched = dutch.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    assert "Errors" in switched.content.decode() and '<html lang="en">' in switched.content.decode()
