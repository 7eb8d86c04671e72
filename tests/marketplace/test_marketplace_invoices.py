"""bol.com's invoice to the merchant, end to end against the sandboxes: fetched and kept once with its
files, booked once as a Moneybird purchase invoice (costs per line type, turnover left out, PostNL labels
without VAT, an unknown line type on the suspense account, the PDF attached), reconciled against the
orders Koppel booked, downloadable, and kept (not booked) for a sales-only target."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from koppel.documents.codes import Code
from koppel.marketplace import fetching, reconcile
from koppel.marketplace.models import MarketplaceInvoice
from koppel.sync.models import Kind, Record, State
from tests.conftest import connect, drain


def purchase_invoices(moneybird) -> list[dict]:
    return moneybird.state()["purchase_invoices"]


def fetch_and_book(month) -> fetching.FetchSummary:
    """The daily run: the invoices issued in the last 40 days."""
    summary = fetching.fetch(month.connection, *fetching.daily_range())
    drain()
    return summary


def test_an_invoice_is_booked_once_as_a_purchase_with_its_pdf(month, moneybird) -> None:
    issued = month.issue(
        lines=[
            {"type": "COMPENSATION_LOST_GOODS", "amount": "-12.50", "order_id": month.booked[0]["orderId"]},
            {"type": "SHIPMENT_LABEL_POST", "amount": "3.95"},
            {"type": "MYSTERY_FEE", "amount": "2.00", "vat_rate": "21"},
        ]
    )
    first = fetch_and_book(month)
    assert (first.seen, first.new, first.files) == (1, 1, 1)

    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    assert invoice.invoice_id == issued["invoice_id"]
    assert invoice.pdf[:4] == b"%PDF" and b"NL820471616B01" in bytes(invoice.ubl)
    assert invoice.unknown_types == ["MYSTERY_FEE"]
    record = Record.objects.get(connection=month.connection, kind=Kind.MARKETPLACE_INVOICE)
    assert record.state == State.HANDLED, record.message

    (booked,) = purchase_invoices(moneybird)
    assert booked["reference"] == issued["invoice_id"]
    assert [a["filename"] for a in booked["attachments"]] == [issued["invoice_id"] + ".pdf"]
    assert Decimal(booked["total_price_incl_tax"]) == invoice.payable  # to the cent: bol's invoice
    lines = {line["description"]: line for line in booked["details"]}
    accounts = {a["id"]: a for a in moneybird.state()["ledger_accounts"]}
    turnover = next(line for name, line in lines.items() if name.startswith("Verkoopprijs"))
    assert accounts[turnover["ledger_account_id"]]["account_type"] not in ("revenue", "expenses")
    post = next(line for name, line in lines.items() if "PostNL" in name)
    assert post["tax_rate_id"] in (
        None,
        "",
        moneybird.tax_rate_id("Geen btw (vrijgesteld)", "purchase_invoice"),
    )
    commission = next(line for name, line in lines.items() if name.startswith("Commissie"))
    assert commission["tax_rate_id"] == moneybird.tax_rate_id("21% btw", "purchase_invoice")
    unknown = next(line for name, line in lines.items() if "MYSTERY_FEE" in name)
    assert "rubriceren" in accounts[unknown["ledger_account_id"]]["name"].lower()

    again = fetch_and_book(month)  # the next day's run: the same invoice, nothing new
    assert (again.seen, again.new) == (1, 0)
    assert len(purchase_invoices(moneybird)) == 1
    assert Record.objects.filter(connection=month.connection, kind=Kind.MARKETPLACE_INVOICE).count() == 1


def test_the_payout_nets_turnover_against_costs(month) -> None:
    issued = month.issue()
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    result = reconcile.reconcile(invoice)
    assert invoice.payable == Decimal(issued["payable_amount"])
    assert result.payout == result.turnover - result.cost_total
    assert result.payout > 0  # bol pays out: the turnover outweighs the costs
    assert set(result.costs) >= {"commission", "logistics"}


def test_reconciliation_finds_the_order_koppel_never_booked_and_books_it(merchant, month) -> None:
    month.issue(labels=False)
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    result = reconcile.reconcile(invoice)
    assert result.matched == 2
    (missing,) = result.differences
    assert missing.kind == "unbooked" and missing.order_number == month.unseen["orderId"]
    assert missing.can_fetch and missing.paid == Decimal("49.93")

    page = merchant.get(f"/marketplace-invoices/{month.connection.pk}/{invoice.invoice_id}/")
    assert page.status_code == 200 and month.unseen["orderId"] in page.content.decode()
    response = merchant.post(
        f"/marketplace-invoices/{month.connection.pk}/{invoice.invoice_id}/book-order/",
        {"order": month.unseen["orderId"]},
    )
    assert response.status_code == 302
    drain()
    assert reconcile.reconcile(invoice).differences == []
    assert reconcile.reconcile(invoice).matched == 3


def test_an_amount_difference_is_listed_with_its_reason(month) -> None:
    paid = month.booked[1]["orderId"]
    month.issue(labels=False, lines=[{"type": "CORRECTION_TURNOVER", "amount": "10.00", "order_id": paid}])
    fetch_and_book(month)
    result = reconcile.reconcile(MarketplaceInvoice.objects.get(connection=month.connection))
    amounts = [d for d in result.differences if d.kind == "amount"]
    assert [(d.order_number, d.paid, d.booked) for d in amounts] == [
        (paid, Decimal("39.93"), Decimal("49.93"))
    ]


def test_downloads_and_the_reconciliation_in_excel(merchant, month) -> None:
    month.issue()
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    client = merchant
    base = f"/marketplace-invoices/{month.connection.pk}/{invoice.invoice_id}"
    pdf = client.get(f"{base}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    ubl = client.get(f"{base}/ubl/")
    assert b"Invoice" in ubl.content and b"32147382" in ubl.content
    spec = client.get(f"{base}/specification/").json()
    assert {row["code"] for row in spec} >= {"TURNOVER", "COMMISSION"}
    book = load_workbook(io.BytesIO(client.get(f"{base}/reconciliation/").content))
    assert book.sheetnames == ["Samenvatting", "Specificatie", "Verschillen"]
    rows = list(book["Specificatie"].iter_rows(values_only=True))
    assert rows[0][10] == "Koppel"
    turnover_rows = [r for r in rows[1:] if r[1] == "TURNOVER"]
    assert {r[10] for r in turnover_rows} == {"geboekt, bedrag klopt", "niet geboekt door Koppel"}
    listing = client.get(f"/marketplace-invoices/{month.connection.pk}/")
    assert listing.status_code == 200 and invoice.invoice_id in listing.content.decode()


def test_the_api_lists_the_invoices_with_their_reconciliation(month, api) -> None:
    month.issue()
    fetch_and_book(month)
    (item,) = api.get(f"/api/connections/{month.connection.pk}/marketplace-invoices").json()
    assert item["differences"] == 1 and item["matched"] == 2 and item["state"] == "handled"
    assert set(item["files"]) >= {"pdf", "ubl", "specification"}
    detail = api.get(f"/api/connections/{month.connection.pk}/marketplace-invoices/{item['invoice_id']}")
    assert detail.json()["difference_list"][0]["kind"] == "unbooked"
    queued = api.post(
        f"/api/connections/{month.connection.pk}/marketplace-invoices/fetch",
        {"since": "2026-01-01"},
        content_type="application/json",
    )
    assert queued.status_code == 202


def test_the_api_hands_out_the_files_the_dashboard_does(merchant, month, api) -> None:
    month.issue()
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    page = f"/marketplace-invoices/{month.connection.pk}/{invoice.invoice_id}"
    rest = f"/api/connections/{month.connection.pk}/marketplace-invoices/{invoice.invoice_id}"
    names = {}
    for what in ("pdf", "ubl", "specification", "xlsx", "reconciliation"):
        shown, served = merchant.get(f"{page}/{what}/"), api.get(f"{rest}/{what}")
        assert served.status_code == shown.status_code == 200
        assert served["Content-Type"] == shown["Content-Type"]
        assert served["Content-Disposition"] == shown["Content-Disposition"]
        if what != "reconciliation":  # the workbook is made anew, with its own timestamp
            assert served.content == shown.content
        names[what] = shown["Content-Disposition"].removeprefix("attachment; filename=")
    number = invoice.invoice_id
    assert names == {
        "pdf": f'"{number}.pdf"',
        "ubl": f'"{number}-ubl.xml"',
        "specification": f'"{number}-specification.json"',
        "xlsx": f'"{number}-xlsx.xlsx"',
        "reconciliation": f'"{number}-reconciliation.xlsx"',
    }
    assert api.get(f"{rest}/invoice.exe").json()["message"] == "There is no such file."


def test_a_sales_only_target_keeps_the_invoice_for_download(account, bol_shop, administration, retry_fast):
    connection = connect(account, bol_shop, administration, source_settings={"source": "shipment"})
    from tests.marketplace.conftest import Month

    month = Month(bol_shop, connection)
    month.issue()
    fetch_and_book(month)
    record = Record.objects.get(connection=connection, kind=Kind.MARKETPLACE_INVOICE)
    assert record.state == State.SKIPPED and record.error_code == Code.PURCHASES_NOT_SUPPORTED
    assert MarketplaceInvoice.objects.get(connection=connection).pdf[:4] == b"%PDF"


def test_the_specification_per_line_type_sums_to_the_invoice_lines(month, moneybird) -> None:
    month.issue(corrections=True)
    fetch_and_book(month)
    invoice = MarketplaceInvoice.objects.get(connection=month.connection)
    per_type: dict[str, Decimal] = {}
    for line in invoice.lines:
        per_type[line.code] = per_type.get(line.code, Decimal(0)) + line.net
    on_invoice: dict[str, Decimal] = {}
    for row in invoice.invoice_lines:
        on_invoice[row["code"]] = on_invoice.get(row["code"], Decimal(0)) + Decimal(row["net"])
    assert per_type == on_invoice
    assert invoice.unknown_types == []
    (booked,) = purchase_invoices(moneybird)  # every line type known: the total is bol's, to the cent
    assert Decimal(booked["total_price_incl_tax"]) == invoice.payable == invoice.total_incl


def test_a_429_storm_while_fetching_is_waited_out(month, moneybird, bol_shop) -> None:
    month.issue()
    bol_shop.knobs(force_429=6, retry_after=1)
    summary = fetch_and_book(month)
    assert (summary.new, summary.files) == (1, 1)
    record = Record.objects.get(connection=month.connection, kind=Kind.MARKETPLACE_INVOICE)
    assert record.state == State.HANDLED, record.message
    assert len(purchase_invoices(moneybird)) == 1


def test_the_ledger_account_per_line_type_is_chosen_and_used(merchant, month, moneybird) -> None:
    accounts = {a["name"]: a["id"] for a in moneybird.state()["ledger_accounts"]}
    page = merchant.get(f"/marketplace-invoices/{month.connection.pk}/ledgers/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "ledger-COMMISSION" in text and "Default: Kosten verkoopprovisie" in text
    saved = merchant.post(
        f"/marketplace-invoices/{month.connection.pk}/ledgers/",
        {"ledger-COMMISSION": accounts["Bankkosten"], "ledger-SHIPMENT_LABEL": "not-an-account"},
    )
    assert saved.status_code == 302
    month.issue()
    fetch_and_book(month)
    (booked,) = purchase_invoices(moneybird)
    by_ledger = {line["description"]: line["ledger_account_id"] for line in booked["details"]}
    commission = next(v for k, v in by_ledger.items() if k.startswith("Commissie"))
    label = next(v for k, v in by_ledger.items() if k.startswith("Verzendlabel"))
    assert commission == accounts["Bankkosten"]
    assert label == accounts["Verzendkosten"]  # an unknown account id is not kept: the default holds
