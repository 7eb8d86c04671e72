"""bol.com's own invoices into the books: a bol.com shop with shipments booked by Koppel, an invoice bol
issues over them, and a connection into Moneybird (or a sales-only target)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol import signatures
from tests.bol.conftest import bol_shop, make_order  # noqa: F401 - the fixture is used here
from tests.conftest import connect, drain


@pytest.fixture(autouse=True)
def fresh_process_state():
    bol_client.BUCKETS.clear()
    signatures.KEYS.clear()
    yield


class Month:
    """Last month's trade: two orders shipped and booked by Koppel, one shipped that Koppel never saw."""

    def __init__(self, shop, connection) -> None:
        self.shop, self.connection = shop, connection
        today = date.today()
        self.end = today - timedelta(days=1)
        self.start = self.end - timedelta(days=20)
        when = datetime.combine(self.start + timedelta(days=3), datetime.min.time(), tzinfo=UTC)
        self.booked = [self.ship(when, transporter) for transporter in ("TNT", "DHL")]
        self.unseen = self.ship(when + timedelta(days=1), "DHL")

    def ship(self, when: datetime, transporter: str) -> dict[str, Any]:
        order = self.shop.place(make_order(placed_at=when.isoformat()), notify=False)
        self.shop.ship(
            order["orderId"], shipped_at=(when + timedelta(hours=2)).isoformat(), transporter_code=transporter
        )
        return order

    def book_the_first_two(self) -> None:
        from koppel.sync.services import note_order

        source = self.connection.source()
        try:
            for order in self.booked:
                payload = source.find_order_by_number(order["orderId"])
                note_order(self.connection, source.order_id(payload), via="poll", payload=payload)
        finally:
            source.close()
        drain()

    def issue(self, **body: Any) -> dict[str, Any]:
        return self.shop.issue_invoice(
            period_start=self.start.isoformat(),
            period_end=self.end.isoformat(),
            issue_date=date.today().isoformat(),
            from_shipments=True,
            **body,
        )


@pytest.fixture
def bol_to_moneybird(account, bol_shop, moneybird, retry_fast):  # noqa: F811
    return connect(account, bol_shop, moneybird, source_settings={"source": "shipment"})


@pytest.fixture
def month(bol_shop, bol_to_moneybird) -> Month:  # noqa: F811
    item = Month(bol_shop, bol_to_moneybird)
    item.book_the_first_two()
    return item


@pytest.fixture
def merchant(account, django_user_model):
    """A logged-in member of the account, reading the dashboard in English."""
    from django.test import Client

    user = django_user_model.objects.create_user("anna@bakkerij.nl", "anna@bakkerij.nl", "x")
    account.members.add(user)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def api(account):
    from django.test import Client

    from koppel.accounts.models import ApiToken

    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(account, 'integration')[1]}")
