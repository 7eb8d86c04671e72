"""A bookkeeper in a real browser (Debian's chromium via Playwright): opens the connection's bol.com
invoices, reads the month's turnover, costs and payout, opens the reconciliation, downloads the Excel export
and finds the order Koppel never booked in it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from openpyxl import load_workbook

from koppel.marketplace.models import MarketplaceInvoice
from tests.browser.test_dashboard_browser import CHROMIUM, browser_page  # noqa: F401 - a fixture
from tests.marketplace.test_marketplace_invoices import fetch_and_book

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.slow,
]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_reconciliation_page_and_its_excel_export(live_server, account, month, browser_page) -> None:  # noqa: F811
    user = get_user_model().objects.create_user("boekhouder", password="grootboek-2026")
    account.members.add(user)
    month.issue(lines=[{"type": "COMPENSATION_LOST_GOODS", "amount": "-8.00"}])
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    page = browser_page

    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "boekhouder")
    page.fill("input[name=password]", "grootboek-2026")
    page.click("button[type=submit]")
    page.goto(live_server.url + month.connection.get_absolute_url())
    page.get_by_role("link", name="bol.com invoices").click()
    row = page.locator("tr.invoice-row", has_text=invoice.invoice_id)
    assert "ALL_IN_ONE" in row.inner_text()
    assert row.locator(".differences").inner_text().strip() == "1"
    page.wait_for_function("document.querySelector('#chart-periods').width > 0")
    shot(page, "7-bol-invoices-per-period")

    row.get_by_role("link", name=invoice.invoice_id).click()
    missing = page.locator("tr.difference-unbooked")
    assert month.unseen["orderId"] in missing.inner_text()
    assert missing.get_by_role("button", name="Fetch and book").count() == 1
    shot(page, "8-bol-reconciliation")

    with page.expect_download() as caught:
        page.get_by_role("link", name="Reconciliation (Excel)").click()
    download = caught.value
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    differences = list(book["Verschillen"].iter_rows(values_only=True))
    assert differences[1][:2] == ("Betaald door bol, niet geboekt", month.unseen["orderId"])
    summary = {row[0]: row[1] for row in book["Samenvatting"].iter_rows(values_only=True)}
    assert summary["Factuur"] == invoice.invoice_id and summary["Verschillen"] == 1
