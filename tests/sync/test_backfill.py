"""Backfill ("migration") of past orders from a KMO Shops sandbox into Factuursturen: what a merchant checks
is that every past order in the range is booked once, orders booked before are not booked again, a stopped
backfill resumes without duplicates, and the start date still holds for everything else."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.sync import backfill as backfills
from koppel.sync.models import Backfill, Record, State
from tests.conftest import drain, make_order, record_of

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 2, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_pace(monkeypatch):
    """The shop's real pace (0.8 pages a second) is for production; tests read as fast as they can."""
    monkeypatch.setattr(KmoShopsSource, "backfill_requests_per_second", 1000.0)


@pytest.fixture
def installed_now(connection):
    """A connection installed today: its start date keeps older orders out, except through a backfill."""
    connection.start_at = datetime.now(UTC)
    connection.save()
    return connection


def past_orders(count: int, day: datetime = SINCE) -> list[dict]:
    return [
        make_order(created_at=(day + timedelta(hours=i % 600)).isoformat(timespec="seconds"))
        for i in range(count)
    ]


def run(connection, since=SINCE, until=UNTIL, **kwargs) -> Backfill:
    item, _ = backfills.start(connection, since, until)
    return backfills.run(item.pk, "test-runner", **kwargs)


def test_past_orders_in_the_range_are_booked_despite_the_start_date(shop, administration, installed_now):
    inside = past_orders(120)
    before = make_order(created_at="2023-12-31T23:00:00+00:00")
    after = make_order(created_at="2024-02-01T00:00:00+00:00")  # until is exclusive
    shop.place_many([before, *inside, after])

    item = run(installed_now)
    assert item.status == Backfill.Status.DONE
    assert (item.orders_seen, item.orders_new, item.orders_known) == (120, 120, 0)
    assert item.pages_read >= 3  # 122 orders changed since the 1st, 50 a page
    drain(timeout=120)

    records = Record.objects.filter(connection=installed_now)
    assert records.count() == 120
    assert set(records.values_list("state", flat=True)) == {State.HANDLED}
    assert not records.filter(source_order_id__in=[str(before["id"]), str(after["id"])]).exists()
    assert len(administration.invoices) == 120
    # The payload of the page was used: the shop was asked for pages, never for one order.
    assert all(r["path"].endswith("/orders") for r in shop.requests())
    assert backfills.progress(item)["records"]["handled"] == 120


def test_the_start_date_still_holds_outside_a_backfill(shop, administration, installed_now, deliver):
    old = make_order(created_at="2024-01-05T10:00:00+00:00")
    shop.place(old)
    deliver(installed_now, old["id"])
    drain()
    assert record_of(installed_now, old).error_code == "BEFORE_START_DATE"
    assert administration.invoices == []


def test_orders_booked_before_are_not_booked_again(shop, administration, installed_now, deliver):
    booked, by_hand, new = past_orders(3)  # placed at 00:00, 01:00 and 02:00 on the 1st
    shop.place_many([booked, by_hand, new])
    # One was booked by Koppel already, by an earlier backfill of the first half hour ...
    run(installed_now, until=SINCE + timedelta(minutes=30))
    drain()
    assert record_of(installed_now, booked).state == State.HANDLED
    # ... one was typed into Factuursturen by hand.
    administration.book_by_hand(reference=by_hand["number"])

    item = run(installed_now)
    assert (item.orders_seen, item.orders_new, item.orders_known) == (3, 2, 1)
    drain()
    assert record_of(installed_now, booked).state == State.HANDLED
    assert record_of(installed_now, by_hand).error_code == "ALREADY_PROCESSED"
    assert record_of(installed_now, new).state == State.HANDLED
    assert len(administration.invoices) == 3  # booked + by hand + new: nothing twice


def test_an_interrupted_backfill_resumes_without_duplicates(shop, administration, installed_now):
    shop.place_many(past_orders(230))
    stop = threading.Event()

    def stop_after_a_hundred(item: Backfill) -> None:
        if item.orders_seen >= 100:
            stop.set()

    with pytest.raises(backfills.Interrupted):
        run(installed_now, listener=stop_after_a_hundred, stop=stop)
    paused = Backfill.objects.get(connection=installed_now)
    assert paused.status == Backfill.Status.PAUSED and paused.orders_seen == 100
    assert Record.objects.filter(connection=installed_now).count() == 100

    resumed = run(installed_now)  # the same range picks up the paused backfill
    assert resumed.pk == paused.pk and resumed.status == Backfill.Status.DONE
    assert resumed.orders_new == 230
    drain(timeout=120)
    assert Record.objects.filter(connection=installed_now).count() == 230
    assert len(administration.invoices) == 230


def test_orders_changed_during_the_backfill_are_not_skipped(shop, administration, installed_now):
    orders = past_orders(150)
    ids = shop.place_many(orders)

    def change_early_orders(item: Backfill) -> None:
        if item.pages_read == 1:  # orders of page 1 change a second later: they move behind the cursor
            time.sleep(1.1)
            for order_id in ids[:10]:
                shop.update(order_id, {"status": "completed"})

    item = run(installed_now, listener=change_early_orders)
    assert item.status == Backfill.Status.DONE
    assert Record.objects.filter(connection=installed_now).count() == 150


def test_a_rate_limit_is_waited_out(shop, administration, installed_now, retry_fast):
    shop.place_many(past_orders(60))
    shop.knobs(fail_next=[429, 503])
    item = run(installed_now)
    assert item.status == Backfill.Status.DONE and item.orders_new == 60


def test_a_refused_key_fails_the_backfill_with_the_reason(shop, administration, installed_now):
    shop.place_many(past_orders(5))
    installed_now.source_credentials = {"api_key": "not-the-key"}
    installed_now.save()
    item = run(installed_now)
    assert item.status == Backfill.Status.FAILED
    assert item.message.startswith("SOURCE_AUTH_FAILED")
    assert "not-the-key" not in item.message


def test_the_command_shows_progress_and_resumes(shop, administration, installed_now):
    shop.place_many(past_orders(75))
    out = io.StringIO()
    call_command(
        "backfill", str(installed_now.pk), "--since", "2024-01-01", "--until", "2024-01-31", stdout=out
    )
    text = out.getvalue()
    assert "Starting backfill" in text
    assert "Read 75 orders in " in text and "75 queued for booking, 0 already known" in text
    # The same command again finds the range done and starts a new pass that finds everything known.
    out = io.StringIO()
    call_command("backfill", installed_now.name, "--since", "2024-01-01", "--until", "2024-01-31", stdout=out)
    assert "0 queued for booking, 75 already known" in out.getvalue()
    drain(timeout=60)
    assert len(administration.invoices) == 75


def test_the_command_refuses_bad_input(installed_now):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a date"):
        call_command("backfill", str(installed_now.pk), "--since", "yesterday")
    with pytest.raises(CommandError, match="No single connection"):
        call_command("backfill", "9999", "--since", "2024-01-01")
    with pytest.raises(CommandError, match="must not be before"):
        call_command("backfill", str(installed_now.pk), "--since", "2024-02-01", "--until", "2024-01-01")


def test_the_api_starts_a_backfill_and_reports_progress(client, shop, administration, installed_now):
    from koppel.accounts.models import ApiToken

    shop.place_many(past_orders(40))
    token = ApiToken.issue(installed_now.account, "test")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.post(
        f"/api/connections/{installed_now.pk}/backfills",
        {"since": "2024-01-01T00:00:00+00:00", "until": "2024-02-01T00:00:00+00:00"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 202, response.content
    started = response.json()
    assert started["status"] == "running" and started["orders_seen"] == 0
    drain(timeout=60)  # a worker reads the pages, then books the orders
    progress = client.get(f"/api/backfills/{started['id']}", **auth).json()
    assert progress["status"] == "done"
    assert (progress["orders_new"], progress["records"]["handled"], progress["settled"]) == (40, 40, 40)
    assert len(administration.invoices) == 40
    resume = client.post(f"/api/backfills/{started['id']}/resume", **auth)
    assert resume.status_code == 409 and resume.json()["error"] == "CONFLICT"


def test_a_page_with_an_order_without_id_fails_the_backfill_and_says_why(
    shop, administration, installed_now, monkeypatch
):
    shop.place_many(past_orders(3))
    real = KmoShopsSource.backfill_page

    def page_with_a_broken_order(self, since, until, cursor):
        page = real(self, since, until, cursor)
        return type(page)([*page.orders, {"number": "no-id"}], page.next_cursor, page.total)

    monkeypatch.setattr(KmoShopsSource, "backfill_page", page_with_a_broken_order)
    item = run(installed_now)
    assert item.status == Backfill.Status.FAILED
    assert item.message.startswith("ORDER_INVALID: The order has no id")
    assert not Record.objects.filter(connection=installed_now).exists()  # the page is all or nothing
