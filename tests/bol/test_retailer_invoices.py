"""bol.com's own invoices to the retailer, through real HTTP against the bol sandbox: the list in periods of
at most 31 days walked over months, the PDF, UBL and JSON invoice and the JSON and Excel specification in
their media types, the specification paged and read whole, the invoices' rate limit waited out, the
settlement sign of a generated invoice, the UBL read to bol's VAT and KvK number, unknown line types kept
and flagged, and the real v5-era samples read."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import httpx
import pytest
from lxml import etree
from openpyxl import load_workbook

from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol.client import BolClient
from koppel.connectors.bol.line_types import GROUPS, LINE_TYPES, line_type
from koppel.connectors.bol.retailer_invoices import (
    PDF,
    XLSX,
    XML,
    BolInvoices,
    parse_date,
    parse_specification_line,
    parse_summary,
    parse_ubl,
    windows,
)
from koppel.connectors.bol.sandbox.state import now
from koppel.connectors.errors import NotFound
from tests.bol.conftest import make_order
from tests.conftest import shared_file

SAMPLES = "specs/bol/samples/123lens"


def today() -> date:
    """Today as the sandbox (and bol) sees it: in Amsterdam."""
    return now().date()


@pytest.fixture(autouse=True)
def fresh_buckets() -> Iterator[None]:
    bol_client.BUCKETS.clear()
    yield


@pytest.fixture
def invoices(bol_shop) -> Iterator[BolInvoices]:
    client = BolClient(bol_shop.url, bol_shop.client_id, bol_shop.client_secret)
    yield BolInvoices(client)
    client.close()


def lines(n: int, code: str = "COMMISSION") -> list[dict]:
    return [
        {"type": code, "amount": f"{i + 1}.00", "order_id": f"11{i:08d}", "ean": "8712345678906"}
        for i in range(n)
    ]


def period(start: date, end: date) -> dict[str, str]:
    return {"period-start-date": start.isoformat(), "period-end-date": end.isoformat()}


def test_a_period_longer_than_31_days_is_refused(bol_shop) -> None:
    start = today() - timedelta(days=40)
    ok = bol_shop.api("GET", "/retailer/invoices", params=period(start, start + timedelta(days=30)))
    assert ok.status_code == 200 and ok.json()["invoiceListItems"] == []
    too_long = bol_shop.api("GET", "/retailer/invoices", params=period(start, start + timedelta(days=31)))
    assert too_long.status_code == 400
    assert too_long.json()["violations"][0]["name"] == "period-end-date"
    assert "31 days" in too_long.json()["violations"][0]["reason"]
    only_one = bol_shop.api("GET", "/retailer/invoices", params={"period-start-date": start.isoformat()})
    assert only_one.status_code == 400 and only_one.json()["violations"][0]["name"] == "period-end-date"
    default = bol_shop.api("GET", "/retailer/invoices").json()
    assert default["period"].startswith((today() - timedelta(weeks=4)).isoformat())


def test_the_window_walk_covers_three_months_in_calls_of_at_most_31_days(bol_shop, invoices) -> None:
    until = today() - timedelta(days=1)
    since = until - timedelta(days=91)
    issued = []
    for days_back in (91, 70, 45, 31, 30, 5, 0):
        day = until - timedelta(days=days_back)
        issued.append(
            bol_shop.issue_invoice(
                from_shipments=False, period_start=(day - timedelta(days=27)).isoformat(),
                period_end=day.isoformat(), issue_date=day.isoformat(), lines=lines(1),
            )["invoice_id"]
        )  # fmt: skip
    bol_shop.issue_invoice(
        from_shipments=False, issue_date=(since - timedelta(days=1)).isoformat(), lines=lines(1)
    )
    found = list(invoices.invoices(since, until))
    assert [s.invoice_id for s in found] == issued
    calls = [r["query"] for r in bol_shop.requests() if r["path"] == "/retailer/invoices"]
    spans = [
        (date.fromisoformat(q["period-start-date"]), date.fromisoformat(q["period-end-date"])) for q in calls
    ]
    assert len(spans) == 3 and spans[0][0] == since and spans[-1][1] == until
    assert all((end - start).days + 1 <= 31 for start, end in spans)
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(spans))
    assert list(windows(since, until)) == spans


def test_the_invoice_and_its_specification_in_every_media_type(bol_shop, invoices) -> None:
    invoice_id = bol_shop.issue_invoice(from_shipments=False, lines=lines(2))["invoice_id"]
    answers = {
        kind: bol_shop.api("GET", f"/retailer/invoices/{invoice_id}", accept=kind)
        for kind in (PDF, XML, "application/vnd.retailer.v10+json")
    }
    assert answers[PDF].headers["content-type"] == PDF and answers[PDF].content.startswith(b"%PDF-")
    assert answers[XML].headers["content-type"].startswith(XML)
    assert etree.QName(etree.fromstring(answers[XML].content)).localname == "Invoice"
    as_json = answers["application/vnd.retailer.v10+json"].json()
    assert as_json["ID"]["value"] == invoice_id and len(as_json["InvoiceLine"]) == 1
    assert (
        as_json["AccountingSupplierParty"]["Party"]["PartyTaxScheme"]["CompanyID"]["value"]
        == "NL820471616B01"
    )
    refused = bol_shop.api("GET", f"/retailer/invoices/{invoice_id}", accept="application/pdf")
    assert refused.status_code == 406
    sheet_answer = bol_shop.api("GET", f"/retailer/invoices/{invoice_id}/specification", accept=XLSX)
    assert sheet_answer.headers["content-type"] == XLSX

    pdf = invoices.pdf(invoice_id)
    assert pdf.startswith(b"%PDF-") and invoice_id.encode() in pdf and b"%%EOF" in pdf[-10:]
    assert invoices.ubl(invoice_id).invoice_id == invoice_id
    assert invoices.ubl_json(invoice_id)["ID"]["value"] == invoice_id
    sheet = load_workbook(BytesIO(invoices.specification_xlsx(invoice_id))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Specificatie bij factuur", invoice_id) + (None,) * (len(rows[6]) - 2)
    assert rows[6][:3] == ("Factuurnummer", "Factuurregel", "Type") and len(rows) == 7 + 2
    assert rows[7][2] == "COMMISSION" and Decimal(str(rows[7][9])) == Decimal("1.00")
    with pytest.raises(NotFound):
        invoices.pdf("4599999999999")


def test_the_specification_is_paged_and_read_whole(bol_shop, invoices) -> None:
    bol_shop.knobs(specification_page_size=3)
    invoice_id = bol_shop.issue_invoice(from_shipments=False, lines=lines(8))["invoice_id"]
    invoices.page_size = 3
    read = invoices.specification(invoice_id)
    assert read is not None and [line.amount for line in read] == [Decimal(f"{i}.00") for i in range(1, 9)]
    pages = [r["query"]["page"] for r in bol_shop.requests() if r["path"].endswith("/specification")]
    assert pages == ["1", "2", "3"]
    past_the_end = bol_shop.api("GET", f"/retailer/invoices/{invoice_id}/specification", params={"page": 4})
    assert past_the_end.status_code == 200 and past_the_end.json() == {}
    six = bol_shop.issue_invoice(from_shipments=False, lines=lines(6))["invoice_id"]
    assert len(invoices.specification(six) or []) == 6  # the third page is empty
    rows = list(load_workbook(BytesIO(invoices.specification_xlsx(invoice_id, page=3))).active.iter_rows())
    assert len(rows) == 7 + 2
    without = bol_shop.issue_invoice(from_shipments=False, lines=lines(1), specification=False)["invoice_id"]
    answer = bol_shop.api("GET", f"/retailer/invoices/{without}/specification")
    assert answer.status_code == 404 and invoices.specification(without) is None


def test_the_invoices_rate_limit_is_waited_out(bol_shop, invoices) -> None:
    bol_shop.knobs(rate_limit_window_scale=0.1)  # bol's 24 a minute, in 6 seconds
    invoice_id = bol_shop.issue_invoice(from_shipments=False, lines=lines(1))["invoice_id"]
    waits: list[float] = []
    sleep = invoices.client.sleep
    invoices.client.sleep = lambda seconds: (waits.append(seconds), sleep(seconds))
    for _ in range(26):
        invoices.pdf(invoice_id)
    statuses = [r["status"] for r in bol_shop.requests() if r["path"].startswith("/retailer/invoices/")]
    assert statuses == [200] * 26 and waits and sum(waits) <= 7
    answer = bol_shop.api("GET", f"/retailer/invoices/{invoice_id}", accept=PDF)
    assert answer.headers["x-ratelimit-limit"] == "24"


def test_a_generated_invoice_pays_out_the_turnover_less_the_costs(bol_shop, invoices) -> None:
    first = bol_shop.place(notify=False)
    bol_shop.ship(first["orderId"])
    second = bol_shop.place(make_order(items=[{"ean": "8712345678920", "unit_price": "9.95"}]), notify=False)
    bol_shop.ship(second["orderId"], transporter_code="POSTNL")
    third = bol_shop.place(notify=False)
    bol_shop.cancel(third["orderId"], items=[third["orderItems"][1]["orderItemId"]])  # the teapot
    issued = bol_shop.issue_invoice(corrections=True)
    read = invoices.specification(issued["invoice_id"]) or []
    by_type: dict[str, list] = {}
    for line in read:
        by_type.setdefault(line.line_type_code, []).append(line)
    assert sorted(by_type) == sorted(
        ["TURNOVER", "COMMISSION", "SHIPMENT_LABEL", "SHIPMENT_LABEL_POST", "CORRECTION_TURNOVER",
         "CORRECTION_COMMISSION"]
    )  # fmt: skip
    assert sorted(-line.amount for line in by_type["TURNOVER"]) == [
        Decimal("9.95"),
        Decimal("24.95"),
        Decimal("24.98"),
    ]
    assert all(line.vat_amount == 0 for code in ("TURNOVER", "SHIPMENT_LABEL_POST") for line in by_type[code])
    assert all(
        line.vat_amount == (line.amount * Decimal("0.21")).quantize(Decimal("0.01"))
        for line in by_type["COMMISSION"]
    )
    assert (
        by_type["TURNOVER"][0].order_id == first["orderId"] and by_type["TURNOVER"][0].ean == "8712345678906"
    )
    turnover = -sum(line.amount for line in read if line.line_type.group == "turnover")
    costs = sum(line.amount + line.vat_amount for line in read if line.line_type.group != "turnover")
    (summary,) = invoices.listing(today() - timedelta(days=30), today())
    assert summary.payable_amount == costs - turnover == Decimal(issued["payable_amount"]) < 0
    assert summary.is_payout and summary.invoice_type == "ALL_IN_ONE" and summary.issue_date == today()
    assert invoices.ubl(issued["invoice_id"]).payable_amount == summary.payable_amount


def test_the_ubl_names_bol_with_its_vat_and_kvk_number(bol_shop, invoices) -> None:
    bol_shop.place(notify=False)
    invoice_id = bol_shop.issue_invoice(retailer={"name": "Winkel BV", "vat_number": "NL859876543B01"})[
        "invoice_id"
    ]
    ubl = invoices.ubl(invoice_id)
    supplier, customer = ubl.supplier, ubl.customer
    assert supplier is not None and customer is not None
    assert (supplier.name, supplier.vat_number, supplier.company_id) == (
        "Bol.com B.V.",
        "NL820471616B01",
        "32147382",
    )
    assert (supplier.street, supplier.building_number, supplier.postal_zone, supplier.city) == (
        "Papendorpseweg", "100", "3528 BJ", "Utrecht",
    )  # fmt: skip
    assert customer.name == "Winkel BV" and customer.vat_number == "NL859876543B01"
    assert ubl.currency == "EUR" and ubl.issue_date == today()
    assert ubl.tax_amount == sum((line.vat_amount or Decimal(0)) for line in ubl.lines)

    sample = parse_ubl(shared_file(f"{SAMPLES}/200-get-invoice.xml").read_bytes())
    assert sample.invoice_id == "4500022543921" and sample.issue_date == date(2021, 3, 1)
    assert sample.supplier is not None and sample.supplier.vat_number == "NL820471616B01"
    assert sample.supplier.company_id == "32147382" and sample.period_end == date(2021, 2, 28)


def test_an_unknown_line_type_is_kept_and_flagged(bol_shop, invoices) -> None:
    body = [
        {"type": "MYSTERY_FEE", "amount": "2.50", "order_id": "1234567890"},
        {
            "type": "COMPENSATION_LOST_GOODS",
            "amount": "-19.99",
            "deal": {"name": "Casenummer", "value": "C-7"},
        },
    ]
    invoice_id = bol_shop.issue_invoice(from_shipments=False, lines=body)["invoice_id"]
    mystery, compensation = invoices.specification(invoice_id) or []
    assert mystery.line_type_code == "MYSTERY_FEE" and not mystery.line_type.known
    assert mystery.line_type.group == "unknown" and mystery.amount == Decimal("2.50")
    assert compensation.line_type.group == "compensations" and compensation.properties["Casenummer"] == "C-7"
    assert compensation.vat_amount == 0 and compensation.line_type.vat_exempt
    codes = [(line.line_type_code, line.line_type.known) for line in invoices.ubl(invoice_id).lines]
    assert codes == [("MYSTERY_FEE", False), ("COMPENSATION_LOST_GOODS", True)]
    assert line_type(" mystery_fee ").code == "MYSTERY_FEE" and line_type(None).known is False


def test_the_line_types_bol_names() -> None:
    named = [
        "TURNOVER",
        "CORRECTION_TURNOVER",
        "COMMISSION",
        "CORRECTION_COMMISSION",
        "SHIPMENT_LABEL",
        "SHIPMENT_LABEL_POST",
        "CORRECTION_SHIPMENT_LABEL",
        "CORRECTION_SHIPMENT_LABEL_POST",
        "PLAZA_RETURN_SHIPPING_LABEL",
        "CORRECTION_PLAZA_RETURN_SHIPPING_LABEL",
        "PICK_PACK",
        "CORRECTION_PICK_PACK",
        "OUTBOUND",
        "CORRECTION_OUTBOUND",
        "FIRST_MILE",
        "CORRECTION_FIRST_MILE",
        "INBOUND",
        "STOCK",
        "NCK_STOCK",
        "LOGISTICAL_CHARGE",
        "COMPENSATION",
        "COMPENSATION_LOST_GOODS",
        "RETAILER_AUTHORIZATION",
        "CORRECTION_RETAILER_AUTHORIZATION",
        "CORRECTION_CORRECTION",
        "ADVERTISING_VIA_BOL",
        "BRMG",
        "BRMG_REFUND",
        "DISTRIBUTION_BY_BOLCOM_LABEL",
        "RETURN_SHIPMENT_LABEL",
        "SPONSORED_PRODUCTS",
        "SPONSORED_PRODUCTS_CORRECTION",
        "SPONSORED_PRODUCTS_DISCOUNT",
        "PROMO_BOOSTER_PLUS_HALF_DISCOUNT",
    ]
    assert all(line_type(code).known for code in named)
    assert all(t.group in GROUPS and t.label_nl and t.label_en for t in LINE_TYPES.values())
    exempt = {code for code, t in LINE_TYPES.items() if t.vat_exempt}
    assert {"TURNOVER", "SHIPMENT_LABEL_POST"} <= exempt and "SHIPMENT_LABEL" not in exempt
    assert line_type("CORRECTION_COMMISSION").corrects == "COMMISSION"
    assert line_type("SPONSORED_PRODUCTS").group == "advertising" and line_type("PICK_PACK").group == "fbb"


def test_an_advertising_invoice_and_the_demo_invoice(bol_shop, invoices) -> None:
    issued = bol_shop.issue_invoice(invoice_type="ADVERTISING_VIA_BOL")
    (line,) = invoices.specification(issued["invoice_id"]) or []
    assert line.line_type_code == "SPONSORED_PRODUCTS" and line.properties["Campagnenaam"]
    assert bol_shop.issued_invoices()[0]["invoice_type"] == "ADVERTISING_VIA_BOL"

    demo = BolInvoices(BolClient(bol_shop.url, bol_shop.client_id, bol_shop.client_secret, demo=True))
    (summary,) = demo.listing(today() - timedelta(days=10), today())
    assert summary.invoice_id == "4500022543921" and summary.payable_amount is not None
    spec = demo.specification("4500022543921") or []
    assert {line.line_type_code for line in spec} >= {"TURNOVER", "COMMISSION", "COMPENSATION_LOST_GOODS"}
    assert demo.pdf("4500022543921").startswith(b"%PDF-")
    demo.client.close()


def test_dates_as_bol_wrote_them_over_the_versions() -> None:
    assert parse_date(1525125600) == date(2018, 5, 1)  # epoch seconds, midnight in Amsterdam
    assert parse_date(1554069600000) == date(2019, 4, 1)  # epoch milliseconds
    assert parse_date("2021-03-01+01:00") == parse_date("2021-03-01") == date(2021, 3, 1)
    assert parse_date("2019-03-31T22:00:00Z") == date(2019, 4, 1) and parse_date(None) is None
    old = {
        "id": "A00075J48J#7445931066009#TURNOVER", "invoicelineref": "X#TURNOVER",
        "invoicedQuantity": {"value": 1}, "lineExtensionAmount": {"value": -19.99},
        "taxTotal": [{"TaxAmount": {"value": 0}}],
        "item": {"Description": [{"value": "Verkoopprijs"}],
                 "AdditionalItemProperty": [{"Name": "Bestelnummer", "Value": {"value": "A00075J48J"}}]},
    }  # fmt: skip
    line = parse_specification_line(old)
    assert (line.line_type_code, line.order_id, line.ean) == ("TURNOVER", "A00075J48J", "7445931066009")
    assert line.amount == Decimal("-19.99") and line.vat_amount == 0 and line.invoice_line_ref == "X#TURNOVER"


def test_the_client_reads_the_real_v5_invoice_list() -> None:
    raw = shared_file(f"{SAMPLES}/200-get-all-invoices.json").read_bytes()
    (item,) = json.loads(raw)["invoiceListItems"]
    summary = parse_summary(item)
    assert (summary.invoice_id, summary.invoice_type, summary.currency) == (
        "4500022543921",
        "ALL_IN_ONE",
        "EUR",
    )
    assert (summary.issue_date, summary.period_start, summary.period_end) == (
        date(2018, 5, 1), date(2019, 4, 1), date(2019, 4, 30),
    )  # fmt: skip
    assert summary.payable_amount == Decimal("-1336.30") and summary.tax_exclusive_amount == Decimal(
        "-1290.66"
    )
    assert summary.is_payout and "application/pdf" in summary.invoice_media_types

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 299})
        return httpx.Response(200, content=raw, headers={"content-type": "application/vnd.retailer.v10+json"})

    client = BolClient("https://api.example", "id", "secret", transport=httpx.MockTransport(answer))
    assert [s.invoice_id for s in BolInvoices(client).listing(date(2018, 4, 12), date(2018, 5, 9))] == [
        "4500022543921"
    ]
    client.close()
