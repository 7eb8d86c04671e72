"""Every source's example orders (the payloads ``koppel preview`` is tested with) as UBL e-invoices: the
document totals the invoice Koppel books, and it is valid for EN 16931 and Peppol BIS Billing 3.0 (for a
buyer without electronic address, for all but the rule that wants one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from koppel.connectors import registry
from koppel.documents.checks import invoice_for
from koppel.documents.model import Invoice
from koppel.documents.ubl import Seller, invoice_ubl
from tests.documents.einvoice import (
    SELLER_JSON,
    SHARED,
    assert_totals_are_the_invoices,
    expected_fatal,
    validate_many,
)

SPECS = SHARED / "specs"
EXAMPLES: dict[str, tuple[str, str]] = {
    "kmoshops": ("kmoshops", "kmoshops/order-example.json"),
    "woocommerce-docs": ("woocommerce", "woocommerce/order-v3-docs-example.json"),
    "woocommerce-webhook": ("woocommerce", "woocommerce/order-webhook-test-event-pipedream.json"),
    "shopify-webhook": ("shopify", "shopify/orders-webhook-test-payload.json"),
    "shopify-rest": ("shopify", "shopify/order-rest-fixture.json"),
    "bol-order": ("bol", "bol/samples/spec-derived-v10/Order.json"),
    "bol-shipment": ("bol", "bol/samples/spec-derived-v10/Shipment.json"),
}


def _invoice(source: str, relative: str) -> Invoice:
    path = SPECS / relative
    if not path.exists():
        pytest.skip(f"the example order {path} is not available (../shared is absent)")
    source_cls = registry.source(source)
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    return invoice_for(source_cls.parse_order(payload, source_cls.load_settings({})), "NL")


@pytest.fixture(scope="module")
def invoices() -> dict[str, Invoice]:
    return {name: _invoice(*where) for name, where in EXAMPLES.items()}


@pytest.fixture(scope="module")
def documents(invoices: dict[str, Invoice]) -> dict[str, bytes]:
    seller = Seller.from_json(SELLER_JSON)
    return {name: invoice_ubl(invoice, seller) for name, invoice in invoices.items()}


@pytest.fixture(scope="module")
def verdicts(documents: dict[str, bytes]) -> dict[str, list[str]]:
    return dict(zip(documents, validate_many(list(documents.values())), strict=True))


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_order_totals_the_invoice(
    name: str, invoices: dict[str, Invoice], documents: dict[str, bytes]
) -> None:
    assert_totals_are_the_invoices(documents[name], invoices[name])


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_order_is_a_valid_e_invoice(
    name: str, invoices: dict[str, Invoice], verdicts: dict[str, list[str]]
) -> None:
    assert verdicts[name] == expected_fatal(invoices[name])


def test_a_business_with_a_vat_number_is_a_peppol_buyer(invoices: dict[str, Invoice]) -> None:
    # bol.com's example buyer has a Dutch VAT number: the invoice is a complete Peppol document.
    assert invoices["bol-order"].customer.vat_number and expected_fatal(invoices["bol-order"]) == []
