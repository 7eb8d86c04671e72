"""The sandboxes' HTML pages for people (``koppel.sandbox.pages``), over real HTTP against the session
``sandbox`` server: what they show, the PDF links, and the "Add VAT rate" and "Place order" forms."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Shop, TargetAccount, WebhookReceiver

ORDER_FORM = {
    "first_name": "Daan",
    "last_name": "de Vries",
    "email": "daan@example.nl",
    "country": "nl",
    "product": "Theepot",
    "quantity": "2",
    "price": "24,95",
    "vat_rate": "21",
    "status": "paid",
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    item = WebhookReceiver(default_status=204)
    yield item
    item.close()


def html_page(url: str, **params: Any) -> str:
    response = httpx.get(url, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def submit(url: str, fields: dict[str, str]) -> httpx.Response:
    """Post a form the way a browser does (without following the redirect)."""
    return httpx.post(url, data=fields)


def api_rates(target: TargetAccount) -> set[Decimal]:
    """The VAT rates the target's own API lists for the account."""
    if target.kind == "factuursturen":
        response = httpx.get(f"{target.url}/taxes", auth=(target.username, target.api_key))
        return {Decimal(tax["percentage"]) for tax in response.json()}
    if target.kind == "moneybird":
        return {Decimal(rate["percentage"]) for rate in target.api("GET", "tax_rates.json").json()}
    taxes = target.api("GET", "settings", params={"fields": "taxes"}).json()["taxes"]
    return {Decimal(tax["rate"]) for tax in taxes.values()}


def test_a_booked_invoice_is_on_the_account_page_with_its_pdf(target: TargetAccount) -> None:
    reference = f"REF-{uuid.uuid4().hex[:6]}"
    target.book_by_hand(reference)
    [invoice] = target.invoices
    number = invoice.get("invoicenr") or invoice["number"]

    page = html_page(f"{target.control}/page")
    assert reference in page and number in page and "Handmatig" in page
    assert 'http-equiv="refresh"' not in page and "location.reload()" in page
    [pdf_link] = re.findall(r'href="([^"]+/pdf)"', page)
    pdf = httpx.get(f"{target.sandbox.url}{pdf_link}")  # no API key: a person's browser has none
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and number.encode() in pdf.content
    assert "inline" in pdf.headers["content-disposition"]

    assert "location.reload()" not in html_page(f"{target.control}/page", refresh="0")
    missing = httpx.get(f"{target.control}/invoices/999999/pdf")
    assert missing.status_code == 404

    index = html_page(f"{target.sandbox.url}/_sandbox/{target.kind}/page")
    account = target.control.rsplit("/", 1)[1]
    assert f'href="/_sandbox/{target.kind}/accounts/{account}/page"' in index


def test_the_add_vat_rate_form_adds_a_rate_the_api_then_lists(target: TargetAccount) -> None:
    page = html_page(f"{target.control}/page")
    action = f"/_sandbox/{target.kind}/accounts/{target.control.rsplit('/', 1)[1]}/page/taxes"
    assert f'action="{action}"' in page
    assert 'name="rate"' in page and ">Add VAT rate</button>" in page
    assert Decimal("5.5") not in api_rates(target)

    answer = submit(f"{target.sandbox.url}{action}", {"rate": "5,5"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{action.removesuffix('/taxes')}"
    assert Decimal("5.5") in api_rates(target)
    assert "5.5" in html_page(f"{target.control}/page")

    rates = api_rates(target)
    again = submit(f"{target.sandbox.url}{action}", {"rate": "5.50"})
    assert again.status_code == 303 and api_rates(target) == rates  # a rate is listed once
    for wrong in ("", "abc", "-1", "100", "5.555"):
        refused = submit(f"{target.sandbox.url}{action}", {"rate": wrong})
        assert refused.status_code == 400, wrong
        assert "VAT rate" in refused.text and refused.headers["content-type"].startswith("text/html")
    assert api_rates(target) == rates


def test_the_place_order_form_places_an_order_and_sends_its_webhook(
    sandbox, shop: Shop, receiver: WebhookReceiver
) -> None:
    hook = f"/webhooks/{shop.name}"
    shop.configure(webhook_url=receiver.url + hook, webhook_secret="s3cret")
    page = html_page(f"{shop.control}/page")
    for name in ORDER_FORM:
        assert f'name="{name}"' in page
    assert ">Place order</button>" in page

    answer = submit(f"{shop.control}/page/orders", ORDER_FORM)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/_sandbox/kmoshops/shops/{shop.name}/page"

    orders = httpx.get(f"{shop.url}/api/v1/orders", headers={"X-Api-Key": shop.api_key}).json()["orders"]
    [order] = orders
    assert order["customer"]["firstname"] == "Daan" and order["customer"]["email"] == "daan@example.nl"
    assert order["customer"]["country"] == "NL" and order["status"] == "paid" and order["paid"] is True
    [line] = order["lines"]
    assert (line["description"], line["amount"], line["price"], line["tax_rate"]) == (
        "Theepot",
        2,
        "24.95",
        "21.00",
    )
    assert order["total"] == "49.90" and order["shipping"] is None

    log = httpx.get(f"{shop.control}/webhooks", params={"wait_for": 1, "timeout": 5}).json()
    assert [(entry["event"], entry["order_id"]) for entry in log] == [("order.created", str(order["id"]))]
    assert len(receiver.for_path(hook)) == 1

    page = html_page(f"{shop.control}/page")
    assert "Daan de Vries" in page and "daan@example.nl" in page and "49.90" in page
    assert f"<td>{order['id']}</td>" in page
    assert f'href="/_sandbox/kmoshops/shops/{shop.name}/page"' in html_page(
        f"{sandbox.url}/_sandbox/kmoshops/page"
    )

    for field, wrong in (("quantity", "0"), ("quantity", "1.5"), ("price", "gratis"), ("vat_rate", "121")):
        refused = submit(f"{shop.control}/page/orders", {**ORDER_FORM, field: wrong})
        assert refused.status_code == 400, field
    assert (
        len(httpx.get(f"{shop.url}/api/v1/orders", headers={"X-Api-Key": shop.api_key}).json()["orders"]) == 1
    )


def test_values_are_escaped(shop: Shop, administration) -> None:
    evil = "<script>alert(1)</script>"
    assert submit(f"{shop.control}/page/orders", {**ORDER_FORM, "first_name": evil}).status_code == 303
    page = html_page(f"{shop.control}/page")
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    administration.add_client({"contact": evil, "company": 'Quote" & Co'})
    page = html_page(f"{administration.control}/page")
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Quote&quot; &amp; Co" in page


def test_the_index_links_every_sandbox_and_the_shops_pages(sandbox, shop: Shop, administration) -> None:
    store, shopify = f"store-{uuid.uuid4().hex[:8]}", f"shop-{uuid.uuid4().hex[:8]}"
    woo = f"{sandbox.url}/_sandbox/woocommerce/stores"
    assert httpx.post(woo, json={"store": store, "consumer_key": "ck", "consumer_secret": "cs"}).is_success
    placed = httpx.post(
        f"{woo}/{store}/orders",
        params={"notify": "false"},
        json={
            "billing": {"first_name": "Emma", "last_name": "<Bakker>", "email": "emma@example.nl"},
            "line_items": [{"name": "Mok", "quantity": 1, "price": "12.95"}],
        },
    )
    assert placed.status_code == 201, placed.text
    control = f"{sandbox.url}/_sandbox/shopify/shops"
    assert httpx.post(control, json={"shop": shopify, "access_token": "shpat_x"}).is_success
    cart = {"line_items": [{"title": "Mok", "quantity": 1, "price": "12.95", "tax_rate": "21"}]}
    cart["email"] = "lotte@example.nl"
    assert httpx.post(f"{control}/{shopify}/orders", params={"notify": "false"}, json=cart).status_code == 201

    index = html_page(f"{sandbox.url}/_sandbox/")
    assert html_page(f"{sandbox.url}/_sandbox") == index
    for kind in ("kmoshops", "woocommerce", "shopify", "factuursturen", "eenvoudigfactureren"):
        assert f'href="/_sandbox/{kind}/page"' in index
    for path in (
        f"kmoshops/shops/{shop.name}",
        f"woocommerce/stores/{store}",
        f"shopify/shops/{shopify}",
        f"factuursturen/accounts/{administration.username}",
    ):
        assert f'href="/_sandbox/{path}/page"' in index, path

    woo_page = html_page(f"{woo}/{store}/page")
    assert "Emma &lt;Bakker&gt;" in woo_page and "emma@example.nl" in woo_page
    shopify_page = html_page(f"{control}/{shopify}/page")
    assert "lotte@example.nl" in shopify_page and "#1001" in shopify_page and "paid" in shopify_page
    assert httpx.get(f"{control}/no-such-shop/page").status_code == 404
