"""A merchant in a real browser (Debian's chromium via Playwright): log in, find a failed order under
Errors, read why, press Process."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.auth import get_user_model

from koppel.accounts.models import Account
from koppel.sync.models import Record, State
from tests.factories import make_connection, make_record

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Headless as root, and no background traffic: the machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.slow,
]


@pytest.fixture
def browser_page(monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
        )
        page = browser.new_page(locale="en-GB")
        yield page
        browser.close()


def test_merchant_finds_the_failed_order_and_processes_it(live_server, transactional_db, browser_page):
    account = Account.objects.create(name="Bakkerij Jansen")
    user = get_user_model().objects.create_user("jansen", password="brood-en-banket-2026")
    account.members.add(user)
    connection = make_connection(account, "Webshop → Factuursturen")
    make_record(connection, "5001", State.HANDLED, 2, target_invoice_id="20260001")
    failed = make_record(
        connection,
        "5002",
        State.ERROR,
        1,
        error_code="ICP_VAT_NUMBER_MISSING",
        message="Business order from Belgium (Brasserie Anvers BV) has no VAT number",
    )
    page = browser_page

    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "jansen")
    page.fill("input[name=password]", "brood-en-banket-2026")
    page.click("button[type=submit]")
    page.get_by_role("link", name="Errors").click()
    row = page.locator("tr", has_text="5002")
    assert "ICP_VAT_NUMBER_MISSING" in row.inner_text()
    assert page.locator("tr", has_text="5001").count() == 0  # handled orders are under Report

    row.get_by_role("link", name="5002").click()
    assert "has no VAT number" in page.content()
    assert "Add it to the order or customer in the shop" in page.content()
    page.get_by_role("button", name="Process").click()
    page.wait_for_load_state()

    failed.refresh_from_db()
    assert failed.state == State.QUEUED
    assert page.locator(".messages").count() == 1
    assert Record.objects.get(order_number="5001").state == State.HANDLED
