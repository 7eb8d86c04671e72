"""The whole installation in a real browser (Debian's chromium via Playwright) against the sandboxes, as a new
merchant does it, in English and in Dutch: sign up, connect KMO Shops (a wrong key first: the red dot with the
shop's own message; then the right one: green), connect Factuursturen, pick a layout and how invoices are
sent, place an order in the sandbox shop and see it under Report with its invoice number within seconds; an
order with a VAT rate the administration lacks waits under Errors until the rate is added in the sandbox
administration and Process is pressed. A second merchant sees none of it. The English run saves the
screenshots the README shows (docs/screenshots/)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection

from koppel.connections.models import Connection
from koppel.sync.models import Record, State
from tests.browser.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.slow,
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

#: What the merchant reads on the buttons and links, per language.
WORDS = {
    "en": {
        "locale": "en-GB",
        "create": "Create account",
        "continue": "Continue",
        "connect": "Connect",
        "save_test": "Save and test",
        "save": "Save",
        "saved": "The configuration is saved.",
        "report": "Report",
        "errors": "Errors",
        "process_all": "Process all with this code",
    },
    "nl": {
        "locale": "nl-NL",
        "create": "Account aanmaken",
        "continue": "Verder",
        "connect": "Verbinden",
        "save_test": "Opslaan en testen",
        "save": "Opslaan",
        "saved": "De configuratie is opgeslagen.",
        "report": "Rapportage",
        "errors": "Fouten",
        "process_all": "Alles met deze code verwerken",
    },
}


class BackgroundWorker(threading.Thread):
    """``koppel worker`` in a thread of the test (batch runs back to back), so webhooks become invoices."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        from koppel.sync.worker import run_worker

        try:
            while not self.stopping.is_set():
                run_worker(batch=True, worker_id="browser-worker", housekeeping_enabled=False, interval=0)
                self.stopping.wait(0.1)
        finally:
            db_connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


@pytest.fixture
def worker(transactional_db):
    item = BackgroundWorker()
    item.start()
    yield item
    item.stop()


@pytest.fixture
def browser(monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        item = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield item
        item.close()


def shoot(page, name: str, language: str, *, full_page: bool = True) -> None:
    if language == "en":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def wait_for(condition, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sign_up(page, base: str, words: dict, email: str, company: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=company]", company)
    page.fill("input[name=name]", "Anna de Vries")
    page.fill("input[name=email]", email)
    page.select_option("select[name=shop_country]", "NL")
    page.fill("input[name=password]", "een-lang-wachtwoord-42")
    page.check("input[name=terms]")
    page.get_by_role("button", name=words["create"]).click()


def connect_side(page, side: str, words: dict, **fields: str) -> None:
    box = page.locator(f"#side-{side}")
    if not box.locator("details").get_attribute("open") is not None:
        box.locator("summary").click()
    for name, value in fields.items():
        box.locator(f"input[name='{side}-{name}']").fill(value)
    box.get_by_role("button", name=words["save_test"]).click()
    page.wait_for_load_state()


def place_in_shop(page, shop, **fields: str) -> None:
    page.goto(f"{shop.sandbox.url}/_sandbox/kmoshops/shops/{shop.name}/page?refresh=0")
    for name, value in fields.items():
        page.fill(f"input[name={name}]", value)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_merchant_installs_koppel_and_books_orders_in_the_browser(
    live_server, sandbox, shop, administration, worker, browser, settings, language
):
    settings.PUBLIC_URL = live_server.url
    words = WORDS[language]
    base = live_server.url
    page = browser.new_page(locale=words["locale"], viewport={"width": 1280, "height": 900})

    sign_up(page, base, words, "anna@bakkerij.nl", "Bakkerij Anna")
    page.check("input[name=source][value=kmoshops]")
    page.check("input[name=target][value=factuursturen]")
    shoot(page, "1-choose-systems", language)
    page.get_by_role("button", name=words["continue"]).click()

    connect_side(page, "source", words, url=shop.url, api_key="not-the-key")
    source = page.locator("#side-source")
    assert source.locator(".dot-failed").count() == 1
    assert "KMO Shops answered 401: Invalid API key" in source.inner_text()  # the shop's own message
    shoot(page, "2-connect-wrong-key", language)
    connect_side(page, "source", words, url=shop.url, api_key=shop.api_key)
    assert page.locator("#side-source .dot-ok").count() == 1

    connect_side(
        page,
        "target",
        words,
        url=administration.url,
        username=administration.username,
        api_key=administration.api_key,
    )
    assert "tab=configuration" in page.url
    assert page.locator(".dot-ok").count() == 2
    webhook_url = page.locator("code.webhook-url").inner_text()
    secret = page.locator("code.webhook-secret").inner_text()
    shoot(page, "3-connected-configuration", language)
    connection = Connection.objects.get()
    assert webhook_url == connection.webhook_url

    page.select_option("select[name=setting_profile]", label="Webshop")
    page.select_option("select[name=setting_send_invoice]", value="email")  # "send invoice": yes
    page.get_by_role("button", name=words["save"], exact=True).first.click()
    assert words["saved"] in page.locator(".messages").inner_text()
    connection.refresh_from_db()
    assert connection.target_settings["profile"] == "2"
    assert connection.target_settings["send_invoice"] == "email"

    shop.configure(webhook_url=webhook_url, webhook_secret=secret)  # pasted into the shop's settings
    place_in_shop(page, shop, email="sanne@example.nl", product="Mok Delfts blauw", vat_rate="21")
    record = wait_for(lambda: Record.objects.filter(state=State.HANDLED).first(), what="the first invoice")
    page.goto(f"{base}{connection.get_absolute_url()}")
    page.locator(".tabs").get_by_role("link", name=words["report"]).click()
    row = page.locator("tr", has_text=record.order_number)
    assert record.target_invoice_number and record.target_invoice_number in row.inner_text()
    shoot(page, "4-report-with-invoice", language)

    place_in_shop(page, shop, email="kees@example.nl", product="Boek", vat_rate="6")
    failed = wait_for(lambda: Record.objects.filter(state=State.ERROR).first(), what="the VAT error")
    assert failed.error_code == "VAT_CODE_MISSING"
    page.goto(f"{base}{connection.get_absolute_url()}?tab=errors")
    assert "VAT_CODE_MISSING" in page.locator(f"tr:has-text('{failed.order_number}')").inner_text()
    shoot(page, "5-errors-vat-code-missing", language)

    page.goto(f"{administration.control}/page?refresh=0")
    page.fill("input[name=rate]", "6")
    page.get_by_role("button", name="Add VAT rate").click()
    page.goto(f"{base}{connection.get_absolute_url()}?tab=errors")
    page.get_by_role("button", name=words["process_all"]).click()
    wait_for(lambda: Record.objects.get(pk=failed.pk).state == State.HANDLED, what="the fixed order booked")
    assert len(administration.invoices) == 2
    page.goto(f"{base}{connection.get_absolute_url()}")
    shoot(page, "6-connection-with-chart", language)

    other = browser.new_page(locale=words["locale"])
    sign_up(other, base, words, "bert@anderewinkel.nl", "Winkel Bert")
    other.goto(f"{base}/connections/")
    assert connection.name not in other.content()
    response = other.goto(f"{base}{connection.get_absolute_url()}")
    assert response.status == 404
    response = other.goto(f"{base}/records/{record.pk}/")
    assert response.status == 404
