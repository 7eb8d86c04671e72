"""A merchant whose invoicing system is down opens the connection: it says the system has not answered
since when, until when Koppel waits, and that the orders wait for it; an order's page says the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from koppel.connections import health
from koppel.sync.models import Record
from koppel.sync.worker import run_worker
from tests.browser.test_dashboard_browser import CHROMIUM, browser_page  # noqa: F401 - a fixture
from tests.sync.test_rate_limits import place_and_deliver

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.slow,
]


def test_a_connection_whose_target_is_down_says_so_and_its_orders_wait(
    live_server,
    shop,
    administration,
    connection,
    deliver,
    settings,
    browser_page,  # noqa: F811
) -> None:
    settings.BREAKER_BASE_SECONDS, settings.BREAKER_CAP_SECONDS = 600.0, 600.0
    user = get_user_model().objects.create_user("jansen", password="brood-en-banket-2026")
    connection.account.members.add(user)
    for side in ("source", "target"):  # connected, as the merchant did when setting it up
        assert health.test_side(connection, side).ok
    place_and_deliver(shop, connection, deliver, 6)
    administration.knobs(error_rate=1.0)  # Factuursturen answers every call with a 5xx
    run_worker(batch=True, worker_id="test-worker", housekeeping_enabled=False, interval=0)
    waiting = Record.objects.filter(connection=connection, paused_side="target").first()
    assert waiting is not None

    page = browser_page
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "jansen")
    page.fill("input[name=password]", "brood-en-banket-2026")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    pause = page.locator("dd.pauses").inner_text()
    assert pause.startswith("Factuursturen: ") and "it has not answered since" in pause
    assert "failures in a row); its orders wait and are booked when it answers again" in pause
    card = page.locator("#side-target .side-status").inner_text()
    assert card.startswith("Not answering since ") and "tries again at" in card
    assert page.locator("#side-source .side-status").inner_text().startswith("Connected.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "10-target-down.png"), full_page=True)

    page.goto(live_server.url + waiting.get_absolute_url())
    body = page.locator("body").inner_text()
    assert "Factuursturen has not answered since" in body and "Koppel tries again at" in body

    dutch = Client()  # the default language is Dutch
    dutch.force_login(user)
    html = dutch.get(f"/connections/{connection.pk}/").content.decode()
    assert "Geeft sinds" in html and "fouten op rij); de bestellingen wachten" in html
