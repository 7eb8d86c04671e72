"""bol.com sends no VAT: the rate Koppel chose for each line, and why, stays on the line of the record."""

from __future__ import annotations

from typing import Any

from koppel.connectors.bol import mapping
from koppel.connectors.bol.config import BolSettings
from koppel.documents.model import build_invoice
from tests.bol.test_mapping import sample


def rates_and_reasons(payload: dict[str, Any], settings: BolSettings) -> list[tuple[str, str]]:
    invoice = build_invoice(mapping.parse_order(payload, settings))
    return [(line["vat_rate"], line.get("vat_reason", "")) for line in invoice.as_dict()["lines"]]


def test_every_line_of_the_spec_order_says_which_rate_and_why():
    payload = sample("Order")
    ean = payload["orderItems"][0]["product"]["ean"]
    default = rates_and_reasons(payload, BolSettings())
    assert default and all(rate == "21.00" and why for rate, why in default)
    special = rates_and_reasons(payload, BolSettings(ean_vat_rates=f"{ean},9"))
    rate, why = special[0]
    assert rate == "9.00" and ean in why


def test_the_kvk_number_of_a_business_customer_is_kept():
    payload = sample("Order")
    kvk = payload["billingDetails"].get("kvkNumber")
    customer = build_invoice(mapping.parse_order(payload, BolSettings())).as_dict()["customer"]
    assert kvk and customer["company_number"] == kvk
