"""The lists of a connection's marketplace invoices (the dashboard page and the API) reconcile every invoice
with the same figures as its own page, and read the connection's orders once: six invoices cost as many
queries as two."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from koppel.marketplace import fetching
from tests.conftest import drain


def fetch_and_book(month) -> None:
    fetching.fetch(month.connection, *fetching.daily_range())
    drain()


def issue(month, start=None, end=None, **body: Any) -> str:
    """An invoice over the month (or another period), made of the given lines only."""
    body = {"from_shipments": False, "issue_date": date.today().isoformat(), **body}
    issued = month.shop.issue_invoice(
        period_start=(start or month.start).isoformat(), period_end=(end or month.end).isoformat(), **body
    )
    return issued["invoice_id"]


def queries(client, url: str) -> tuple[int, Any]:
    """The queries of one request, but for the API token's "last used" (written at most once a minute)."""
    with CaptureQueriesContext(db) as captured:
        response = client.get(url)
    assert response.status_code == 200
    counted = [q for q in captured.captured_queries if not q["sql"].startswith('UPDATE "accounts_apitoken"')]
    return len(counted), response


def figures(item: dict[str, Any]) -> tuple:
    return item["turnover"], item["payout"], item["matched"], item["differences"]


def test_the_lists_read_the_orders_once_with_the_figures_of_each_invoice(merchant, api, month) -> None:
    first, second = month.booked[0]["orderId"], month.booked[1]["orderId"]
    paid_first = issue(
        month,
        lines=[
            {"type": "TURNOVER", "amount": "-49.93", "order_id": first},
            {"type": "COMMISSION", "amount": "5.00", "order_id": first},
        ],
    )
    advertising = issue(month, invoice_type="ADVERTISING_VIA_BOL")
    fetch_and_book(month)
    page_url = f"/marketplace-invoices/{month.connection.pk}/"
    api_url = f"/api/connections/{month.connection.pk}/marketplace-invoices"
    page_two, _ = queries(merchant, page_url)
    api_two, listed = queries(api, api_url)
    by_id = {item["invoice_id"]: item for item in listed.json()}
    assert figures(by_id[paid_first]) == ("49.93", "43.88", 1, 1)  # the second order: paid by none
    assert figures(by_id[advertising]) == ("0.00", "-30.25", 0, 0)

    everything = issue(month, from_shipments=True)  # pays for all three: the second is paid now
    corrected = issue(month, lines=[{"type": "CORRECTION_TURNOVER", "amount": "10.00", "order_id": second}])
    earlier = [
        issue(
            month,
            month.start - timedelta(days=60 + n),
            month.start - timedelta(days=40 + n),
            invoice_type="ADVERTISING_VIA_BOL",
        )
        for n in (0, 5)
    ]
    fetch_and_book(month)
    page_six, page = queries(merchant, page_url)
    api_six, listed = queries(api, api_url)
    assert (page_six, api_six) == (page_two, api_two)

    items = listed.json()
    assert len(items) == 6
    by_id = {item["invoice_id"]: item for item in items}
    assert figures(by_id[paid_first]) == ("49.93", "43.88", 1, 0)
    assert figures(by_id[advertising]) == ("0.00", "-30.25", 0, 0)
    assert figures(by_id[everything])[2:] == (2, 1)
    assert figures(by_id[corrected]) == ("10.00", "-10.00", 0, 1)
    assert [figures(by_id[i]) for i in earlier] == [("0.00", "-30.25", 0, 0)] * 2
    for item in items:  # the list's figures are each invoice's own
        detail = api.get(f"{api_url}/{item['invoice_id']}").json()
        assert {k: detail[k] for k in item} == item
    rows = {row.invoice.invoice_id: row for row in page.context["rows"]}
    assert {i: (str(r.turnover), str(r.payout), r.matched, len(r.differences)) for i, r in rows.items()} == {
        i: figures(item) for i, item in by_id.items()
    }
    assert Decimal(by_id[everything]["turnover"]) > 0
