"""Helpers of the Moneybird tests: a connector on the sandbox administration, and invoices from orders."""

from __future__ import annotations

from typing import Any

import pytest

from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.documents.model import Invoice, build_invoice
from koppel.documents.vat import is_intra_community_supply
from tests.conftest import make_order


def invoice_of(**overrides: Any) -> Invoice:
    order = KmoShopsSource.parse_order(make_order(**overrides))
    return build_invoice(order, intra_community=is_intra_community_supply(order, "NL"))


@pytest.fixture
def connect_to(moneybird):
    """``connect_to(**settings)``: a Moneybird connector on the test's administration, closed afterwards."""
    made = []

    def make(**settings: Any):
        connector = moneybird.connector(settings)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def book(connector, invoice: Invoice):
    debtor = connector.find_debtor(invoice.customer) or connector.create_debtor(invoice)
    return connector.create_invoice(invoice, debtor)
