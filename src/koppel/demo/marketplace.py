"""bol.com's own invoices in ``koppel demo`` (tag ``[bol→MB]``): a second bol.com retailer account, connected
to a Moneybird administration in the sandbox, with last month's trade already behind it.

At the start the demo places a month of orders in the bol.com sandbox, dated last month and shipped,
and has Koppel book all of them but one (as if that one had been lost before Koppel was installed); then
bol.com issues its monthly ALL_IN_ONE invoice over those shipments (turnover, commission, labels and a
correction) and an advertising invoice, and Koppel fetches both and books them into Moneybird as purchase
invoices. The connection's "bol.com invoices" page shows the month's turnover, costs and payout, and the
reconciliation finds the missing order, with a button that fetches and books it.

Imported by :mod:`koppel.demo`, which lists this connection in ``DEMO_TARGETS``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import httpx

from .bol import BolSandboxShop
from .orders import OrderMaker
from .targets import SANDBOX_ACCOUNTS, SANDBOX_CONTROL_PAGES, TargetAccount

if TYPE_CHECKING:
    from koppel.connections.models import Connection

#: Orders of last month in the demo, and the one of them Koppel never booked.
MONTH_ORDERS, MISSING = 6, 3


def _moneybird_account(client: httpx.Client, name: str) -> TargetAccount:
    """A Moneybird administration with a fresh API token and the Dutch tax rates, emptied."""
    token = secrets.token_urlsafe(24)
    response = client.post("/_sandbox/moneybird/administrations", json={"name": name, "token": token})
    response.raise_for_status()
    client.post(f"/_sandbox/moneybird/accounts/{name}/reset").raise_for_status()
    credentials = {"api_token": token, "administration_id": str(response.json()["id"])}
    return TargetAccount(str(client.base_url.join("moneybird/api/v2")), credentials)


SANDBOX_ACCOUNTS["moneybird"] = _moneybird_account
SANDBOX_CONTROL_PAGES["moneybird"] = "/_sandbox/moneybird/accounts/{name}/page"


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def seed_last_month(connection: Connection, sandbox_url: str, shop: str, maker: OrderMaker) -> str:
    """Last month's orders (all but one booked by Koppel), bol.com's invoices over them, fetched by Koppel
    and queued for booking in Moneybird. Answers a line for the banner."""
    start, end = last_month(date.today())
    placed = []
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/bol/shops/{shop}", timeout=10.0) as client:
        for n in range(MONTH_ORDERS):
            day = start + timedelta(days=2 + n * 4)
            moment = datetime.combine(day, time(10, 0), tzinfo=UTC)
            body = {**BolSandboxShop().order_body(maker, "shipped"), "placed_at": moment.isoformat()}
            order = client.post("/orders", params={"notify": "false"}, json=body).raise_for_status().json()
            shipped = (moment + timedelta(hours=5)).isoformat()
            path = f"/orders/{order['order']['orderId']}/ship"  # no push: last month, before the demo began
            client.post(path, params={"notify": "false"}, json={"shipped_at": shipped}).raise_for_status()
            placed.append(order["order"]["orderId"])
        book_earlier(connection, [oid for n, oid in enumerate(placed) if n != MISSING])
        period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        client.post(
            "/invoices",
            json={
                **period,
                "from_shipments": True,
                "corrections": True,
                "issue_date": date.today().isoformat(),
            },
        ).raise_for_status()
        client.post(
            "/invoices",
            json={**period, "invoice_type": "ADVERTISING_VIA_BOL", "issue_date": date.today().isoformat()},
        ).raise_for_status()
    fetch_now(connection)
    return (
        f"bol.com invoices of {start:%B %Y}: {MONTH_ORDERS} orders, order {placed[MISSING]} never booked "
        "(the reconciliation finds it)"
    )


def book_earlier(connection: Connection, order_ids: list[str]) -> None:
    """Koppel booked these orders last month: each order's shipments get their records, queued."""
    from koppel.sync.services import note_order

    source = connection.source()
    try:
        for order_id in order_ids:
            payload = source.find_order_by_number(order_id)
            if payload is not None:
                note_order(connection, source.order_id(payload), via="backfill", payload=payload)
    finally:
        source.close()


def fetch_now(connection: Connection) -> None:
    from koppel.marketplace.tasks import fetch_marketplace_invoices

    fetch_marketplace_invoices.enqueue(connection.pk)
