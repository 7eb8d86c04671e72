"""A merchant in a real browser opens a refund's record: it says it is a refund, which invoice its credit
note credits, and offers the e-invoice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from koppel.accounts.models import Account
from koppel.sync.models import Kind, State
from tests.browser.test_dashboard_browser import CHROMIUM, browser_page  # noqa: F401 - a fixture
from tests.factories import make_connection, make_record

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.slow,
]


def test_a_refund_record_names_the_invoice_it_credits(live_server, transactional_db, browser_page) -> None:  # noqa: F811
    account = Account.objects.create(name="Bakkerij Jansen")
    user = get_user_model().objects.create_user("jansen", password="brood-en-banket-2026")
    account.members.add(user)
    connection = make_connection(account, "Shopify → Factuursturen")
    document = {
        "order_number": "1001-CR9001",
        "credit_for": "F2026-0042",
        "credit_reason": "Thee was op",
        "lines": [
            {"kind": "product", "description": "Thee, losse blad", "quantity": "1", "unit_price": "7.49",
             "vat_rate": "9.00", "net": "6.87", "vat": "0.62", "gross": "7.49"},
        ],
        "totals": {"net": "6.87", "vat": "0.62", "gross": "7.49"},
    }  # fmt: skip
    refund = make_record(
        connection,
        "1001 (refund 9001)",
        State.HANDLED,
        1,
        kind=Kind.REFUND,
        source_order_id="9001",
        total="7.49",
        document=document,
        target_invoice_number="F2026-0043",
        message="Booked as Factuursturen credit note F2026-0043 for invoice F2026-0042: 7.49",
    )
    page = browser_page
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "jansen")
    page.fill("input[name=password]", "brood-en-banket-2026")
    page.click("button[type=submit]")
    page.goto(live_server.url + refund.get_absolute_url())
    assert page.locator("h1").inner_text().startswith("Refund 1001 (refund 9001)")
    assert "F2026-0042 (Thee was op)" in page.locator("dd.credits").inner_text()
    assert page.get_by_role("link", name="E-invoice (UBL)").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "9-refund-record.png"), full_page=True)
