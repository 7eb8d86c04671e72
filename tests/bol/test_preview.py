"""``koppel preview --source bol``: the spec's own example Order and Shipment (v10), told apart by their
fields, booked at 21% unless ``--source-setting`` gives other rates, with the exact target requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from koppel.preview import EXIT_OK, EXIT_UNREADABLE, main
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[2]
EAN = "0000007740404"  # the example's product (an EAN-8 as bol writes it)

#: The debtor both examples make in Factuursturen (the same billing details).
FS_CLIENT = {
    "contact": "Billie Jansen",
    "showcontact": True,
    "company": "bol.com",
    "address": "Dorpstraat Apartment 1 B",
    "zipcode": "1111ZZ",
    "city": "Utrecht",
    "country": "Nederland",
    "phone": "012123456",
    "mobile": "",
    "email": "billie@verkopen.bol.com",
    "bankcode": "",
    "taxnumber": "NL999999999B99",
    "tax_shifted": False,
    "sendmethod": "mail",
    "paymentmethod": "bank",
    "mailintro": "Geachte Billie Jansen,",
    "reference": {"line1": "Bedankt voor uw bestelling", "line2": "", "line3": ""},
    "notes_on_invoice": False,
    "tax_type": "intax",
}
EF_CLIENT = {
    "name": "bol.com",
    "attention": "Billie Jansen",
    "street": "Dorpstraat 1 B",
    "street2": "Apartment",
    "postal_code": "1111ZZ",
    "city": "Utrecht",
    "email_address": "billie@verkopen.bol.com",
    "phone_number": "012123456",
    "mobile_number": "",
    "tax_code": "NL999999999B99",
    "country_code": "NL",
    "contacts": [
        {"name": "Billie Jansen", "email_address": "billie@verkopen.bol.com", "phone_number": "012123456"}
    ],
}
PRODUCT_FS = {"amount": "10", "description": "Product Title", "tax_rate": "21.00", "price": "12.99"}
DISCOUNT_FS = {
    "amount": "1",
    "description": "Korting (kiscier x + y promotion)",
    "tax_rate": "21.00",
    "price": "-10.99",
}


def sample(name: str) -> Path:
    return shared_file(f"specs/bol/samples/spec-derived-v10/{name}.json")


def run(capsys: pytest.CaptureFixture[str], target: str, *args: str | Path) -> tuple[int, Any, str]:
    code = main(["--source", "bol", "--target", target, *map(str, args)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def rates(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(x["kind"], x["vat_rate"], x["net"], x["gross"]) for x in document["lines"]]


def test_order_totals_what_the_customer_paid(capsys: pytest.CaptureFixture[str]) -> None:
    order = json.loads(sample("Order").read_text(encoding="utf-8"))
    item = order["orderItems"][0]
    paid = item["quantity"] * item["unitPrice"] - sum(d["amount"] for d in item["discounts"])
    assert f"{paid:.2f}" == f"{item['totalPrice']:.2f}" == "118.91"

    code, result, err = run(capsys, "factuursturen", sample("Order"))
    assert (code, err) == (EXIT_OK, "")
    assert all(check["passed"] for check in result["checks"])
    document = result["document"]
    assert document["order_number"] == "A2K8290LP8"
    assert document["totals"] == {"net": "98.28", "vat": "20.63", "gross": "118.91"}
    assert rates(document) == [
        ("product", "21.00", "107.36", "129.90"),
        ("discount", "21.00", "-9.08", "-10.99"),
    ]
    assert result["requests"] == [
        {"method": "GET", "path": "search/invoices/all/A2K8290LP8", "json": None},
        {"method": "GET", "path": "search/clients/email/billie%40verkopen.bol.com", "json": None},
        {"method": "POST", "path": "clients", "json": FS_CLIENT},
        {
            "method": "POST",
            "path": "invoices",
            "json": {
                "clientnr": "<clientnr from POST clients>",
                "action": "send",
                "sendmethod": "mail",
                "sent": "2017-02-09",
                "reference": {"line1": "A2K8290LP8", "line2": "Betaalmethode: bol.com", "line3": ""},
                "lines": [PRODUCT_FS, DISCOUNT_FS],
                "alreadypaid": "full",
                "alreadypaidmethod": "bol.com",
            },
        },
        {"method": "GET", "path": "invoices/<id from POST invoices>", "json": None},
    ]


def test_order_into_eenvoudigfactureren(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run(capsys, "eenvoudigfactureren", sample("Order"))
    assert code == EXIT_OK
    assert result["document"]["totals"]["gross"] == "118.91"
    assert result["requests"] == [
        {"method": "GET", "path": "invoices?filter=external_invoice_id%3DA2K8290LP8", "json": None},
        {"method": "GET", "path": "invoices?search=A2K8290LP8", "json": None},
        {
            "method": "GET",
            "path": "clients?filter=email_address%3Dbillie%40verkopen.bol.com&limit=10",
            "json": None,
        },
        {"method": "POST", "path": "clients", "json": EF_CLIENT},
        {
            "method": "POST",
            "path": "invoices",
            "json": {
                "client_id": "<client_id from POST clients>",
                "external_invoice_id": "A2K8290LP8",
                "date": "2017-02-09",
                "expiry_date": "2017-02-23",
                "reference": "A2K8290LP8",
                "tax_included": True,
                "items": [
                    {
                        "description": "Product Title",
                        "quantity": "10",
                        "amount_with_tax": "12.99",
                        "tax_rate": "21",
                    },
                    {
                        "description": "Korting (kiscier x + y promotion)",
                        "quantity": "1",
                        "amount_with_tax": "-10.99",
                        "tax_rate": "21",
                    },
                ],
                "payments": [{"date": "2017-02-09", "remaining_amount": "yes", "description": "bol.com"}],
            },
        },
    ]


def test_shipment_invoices_the_shipped_items(capsys: pytest.CaptureFixture[str]) -> None:
    """A bare Shipment (``GET /retailer/shipments/{id}``) holds no discounts: 10 × 12.99 shipped."""
    code, result, err = run(capsys, "factuursturen", sample("Shipment"))
    assert (code, err) == (EXIT_OK, "")
    document = result["document"]
    assert document["order_number"] == "4123456789-541757635"  # order number and shipment id
    assert (document["date"], document["totals"]) == (
        "2018-04-17",
        {"net": "107.36", "vat": "22.54", "gross": "129.90"},
    )
    assert rates(document) == [("product", "21.00", "107.36", "129.90")]
    number = "4123456789-541757635"
    assert result["requests"] == [
        {"method": "GET", "path": f"search/invoices/all/{number}", "json": None},
        {"method": "GET", "path": "search/clients/email/billie%40verkopen.bol.com", "json": None},
        {"method": "POST", "path": "clients", "json": FS_CLIENT},
        {
            "method": "POST",
            "path": "invoices",
            "json": {
                "clientnr": "<clientnr from POST clients>",
                "action": "send",
                "sendmethod": "mail",
                "sent": "2018-04-17",
                "reference": {"line1": number, "line2": "Betaalmethode: bol.com", "line3": ""},
                "lines": [PRODUCT_FS],
                "alreadypaid": "full",
                "alreadypaidmethod": "bol.com",
            },
        },
        {"method": "GET", "path": "invoices/<id from POST invoices>", "json": None},
    ]


def test_shipment_into_eenvoudigfactureren(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run(capsys, "eenvoudigfactureren", sample("Shipment"))
    assert code == EXIT_OK
    invoice = result["requests"][-1]
    assert (invoice["method"], invoice["path"]) == ("POST", "invoices")
    assert invoice["json"]["external_invoice_id"] == invoice["json"]["reference"] == "4123456789-541757635"
    assert invoice["json"]["items"] == [
        {"description": "Product Title", "quantity": "10", "amount_with_tax": "12.99", "tax_rate": "21"}
    ]


@pytest.mark.parametrize("name", ["Order", "Shipment"])
def test_ean_rate_from_the_source_settings(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, result, _ = run(capsys, "factuursturen", sample(name), "--source-setting", f"ean_vat_rates={EAN},9")
    assert code == EXIT_OK
    document = result["document"]
    assert {line["vat_rate"] for line in document["lines"]} == {"9.00"}  # the discount follows its product
    assert document["lines"][0]["vat_reason"] == f"9%: the rate for EAN {EAN}"
    assert document["totals"]["gross"] == ("118.91" if name == "Order" else "129.90")  # incl. VAT: unchanged
    invoice = result["requests"][3]["json"]
    assert {line["tax_rate"] for line in invoice["lines"]} == {"9.00"}


def test_default_rate_and_several_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run(
        capsys,
        "factuursturen",
        sample("Order"),
        "--source-setting",
        "default_vat_rate=9",
        "--source-setting",
        "ean_vat_rates=8712345678906,0",  # another product: the example's stays at the default
    )
    assert code == EXIT_OK
    assert [line["vat_rate"] for line in result["document"]["lines"]] == ["9.00", "9.00"]
    assert result["document"]["lines"][0]["vat_reason"] == "9%: the default rate"


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("vat=9", "bol has no setting vat"),
        ("default_vat_rate=abc", "'abc' is not a VAT percentage"),
        ("ean_vat_rates=123,9", "'123' is not an EAN"),
    ],
)
def test_source_settings_that_are_not_valid(
    capsys: pytest.CaptureFixture[str], setting: str, words: str
) -> None:
    code, result, err = run(capsys, "factuursturen", sample("Order"), "--source-setting", setting)
    assert (code, result) == (EXIT_UNREADABLE, None)
    problem = json.loads(err)
    assert problem["error"] == "SETTINGS_INVALID"
    assert words in problem["message"]


def test_console_script() -> None:
    script = Path(sys.executable).parent / "koppel"
    if not script.exists():
        script = ROOT / ".venv" / "bin" / "koppel"
    if not script.exists():
        pytest.skip("the koppel console script is not installed")
    args = ["preview", "--source", "bol", "--target", "factuursturen", str(sample("Order"))]
    done = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["document"]["totals"]["gross"] == "118.91"
