"""``koppel preview``: the checks, the invoice and the requests for an order file, and the exit status."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from koppel.preview import EXIT_BLOCKED, EXIT_OK, EXIT_UNREADABLE, main

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
EXAMPLE = SHARED / "specs" / "kmoshops" / "order-example.json"
BASE_ARGS = ["--source", "kmoshops", "--target", "factuursturen"]


@pytest.fixture
def example() -> dict[str, Any]:
    if not EXAMPLE.exists():
        pytest.skip(f"the example order {EXAMPLE} is not available (../shared is absent)")
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def seven_percent_order(example: dict[str, Any], tmp_path: Path) -> Path:
    """The example order with its book at a German 7%: the total is unchanged (prices incl. VAT)."""
    payload = json.loads(json.dumps(example))
    payload["lines"][2]["tax_rate"] = "7.00"
    path = tmp_path / "order-7.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, Any, str]:
    code = main([*BASE_ARGS, *map(str, args)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_example_order_passes_and_shows_everything(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    code, result, err = run(capsys, EXAMPLE)
    assert code == EXIT_OK == 0
    assert err == ""
    assert set(result) == {"checks", "document", "requests"}

    checks = result["checks"]
    assert all(set(c) == {"code", "passed", "message"} for c in checks)
    assert [c["code"] for c in checks] == [
        "STATUS_NOT_ELIGIBLE",
        "BEFORE_START_DATE",
        "ALREADY_PROCESSED",
        "TOTAL_MISMATCH",
        "ICP_VAT_NUMBER_MISSING",
        "VAT_CODE_MISSING",
    ]
    assert all(c["passed"] is True for c in checks)

    document = result["document"]
    assert document["totals"] == {"net": "256.04", "vat": "52.39", "gross": "308.43"}
    assert [(x["vat_rate"], x["net"], x["vat"], x["gross"]) for x in document["lines"]] == [
        ("21.00", "205.79", "43.21", "249.00"),
        ("21.00", "33.04", "6.94", "39.98"),
        ("9.00", "11.47", "1.03", "12.50"),
        ("21.00", "5.74", "1.21", "6.95"),
    ]
    assert document["vat_totals"] == [
        {"vat_rate": "9.00", "net": "11.47", "vat": "1.03", "gross": "12.50"},
        {"vat_rate": "21.00", "net": "244.57", "vat": "51.36", "gross": "295.93"},
    ]
    assert (document["order_number"], document["date"], document["intra_community"]) == (
        "367439",
        "2023-02-13",
        False,
    )

    requests = result["requests"]
    assert all(set(r) == {"method", "path", "json"} for r in requests)
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "search/invoices/all/367439"),
        ("GET", "search/clients/email/info%40example.nl"),
        ("POST", "clients"),
        ("POST", "invoices"),
        ("GET", "invoices/<id from POST invoices>"),  # the invoice number, read back
    ]
    assert requests[0]["json"] is None
    client, invoice = requests[2]["json"], requests[3]["json"]
    assert (client["contact"], client["country"], client["tax_type"], client["sendmethod"]) == (
        "Karin de Wit",
        "Nederland",
        "intax",
        "mail",
    )
    assert invoice["sendmethod"] == "mail"
    assert invoice["reference"]["line1"] == "367439"
    assert [x["price"] for x in invoice["lines"]] == ["249.00", "19.99", "12.50", "6.95"]


def test_vat_rate_the_target_lacks_blocks(
    capsys: pytest.CaptureFixture[str], seven_percent_order: Path
) -> None:
    code, result, _ = run(capsys, seven_percent_order)
    assert code == EXIT_BLOCKED == 3
    failing = [c for c in result["checks"] if not c["passed"]]
    assert [c["code"] for c in failing] == ["VAT_CODE_MISSING"]
    assert "7.00%" in failing[0]["message"]
    assert result["document"]["totals"]["gross"] == "308.43"  # the preview is shown even when blocked


def test_vat_rates_option_adds_the_rate(
    capsys: pytest.CaptureFixture[str], seven_percent_order: Path
) -> None:
    code, result, _ = run(capsys, seven_percent_order, "--vat-rates", "21,9,0,7")
    assert code == EXIT_OK
    assert all(c["passed"] for c in result["checks"])


def test_settings_option_changes_the_sendmethod(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    code, result, _ = run(capsys, EXAMPLE, "--settings", '{"send_invoice": "email"}')
    assert code == EXIT_OK
    bodies = {r["path"]: r["json"] for r in result["requests"] if r["method"] == "POST"}
    assert (bodies["clients"]["sendmethod"], bodies["invoices"]["sendmethod"]) == ("email", "email")


def test_statuses_option(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    code, result, _ = run(capsys, EXAMPLE, "--statuses", "shipped,completed")
    assert code == EXIT_BLOCKED
    status = result["checks"][0]
    assert (status["code"], status["passed"]) == ("STATUS_NOT_ELIGIBLE", False)


def test_shop_country_makes_a_dutch_company_foreign(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    code, result, _ = run(capsys, EXAMPLE, "--shop-country", "be", "--vat-rates", "21,9,0")
    assert code == EXIT_BLOCKED
    failing = [c["code"] for c in result["checks"] if not c["passed"]]
    assert failing == ["ICP_VAT_NUMBER_MISSING"]


def test_the_assumed_vat_rates_are_the_shop_countrys(
    capsys: pytest.CaptureFixture[str], example: Any
) -> None:
    # A Belgian administration has 21, 12, 6 and 0%: the example's 9% book is not among them.
    _, result, _ = run(capsys, EXAMPLE, "--shop-country", "be")
    [vat] = [c for c in result["checks"] if c["code"] == "VAT_CODE_MISSING"]
    assert not vat["passed"] and "0.00%, 6.00%, 12.00%, 21.00%" in vat["message"]


def test_order_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, example: Any
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(example)))
    code, result, _ = run(capsys, "-")
    assert code == EXIT_OK
    assert result["document"]["totals"]["gross"] == "308.43"


def _unreadable(capsys: pytest.CaptureFixture[str], *args: str | Path) -> dict[str, Any]:
    code, result, err = run(capsys, *args)
    assert code == EXIT_UNREADABLE == 2
    assert result is None  # nothing on stdout
    error = json.loads(err)
    assert error["error"] == "ORDER_UNREADABLE"
    assert error["message"]
    return error


def test_file_that_is_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text("<order id='1'/>", encoding="utf-8")
    _unreadable(capsys, path)


def test_json_array(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text("[]", encoding="utf-8")
    assert _unreadable(capsys, path)["message"] == "the order must be a JSON object"


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _unreadable(capsys, tmp_path / "does-not-exist.json")


def test_order_that_cannot_be_mapped_names_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, example: dict[str, Any]
) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps({**example, "lines": []}), encoding="utf-8")
    assert _unreadable(capsys, path)["message"].startswith("Order field lines:")


def test_settings_that_are_not_valid(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    _unreadable(capsys, EXAMPLE, "--settings", '{"send_invoice": "fax"}')


def test_console_script(example: Any) -> None:
    script = Path(sys.executable).parent / "koppel"
    if not script.exists():
        script = ROOT / ".venv" / "bin" / "koppel"
    if not script.exists():
        pytest.skip("the koppel console script is not installed")
    done = subprocess.run(
        [str(script), "preview", *BASE_ARGS, str(EXAMPLE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["document"]["totals"] == {"net": "256.04", "vat": "52.39", "gross": "308.43"}
    assert [r["path"] for r in result["requests"]][-3:-1] == ["clients", "invoices"]


def test_statuses_option_ignores_case(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    code, _, _ = run(capsys, EXAMPLE, "--statuses", "Paid,Shipped")
    assert code == EXIT_OK


# --- --format ubl --------------------------------------------------------------------------------------


@pytest.fixture
def seller_file(tmp_path: Path) -> Path:
    from tests.documents.einvoice import SELLER_JSON

    path = tmp_path / "seller.json"
    path.write_text(json.dumps(SELLER_JSON), encoding="utf-8")
    return path


def run_ubl(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([*BASE_ARGS, "--format", "ubl", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_ubl_format_prints_the_e_invoice(
    capsys: pytest.CaptureFixture[str], example: Any, seller_file: Path
) -> None:
    from tests.documents.einvoice import BUYER_ENDPOINT_RULE, essentials, validate

    code, out, err = run_ubl(capsys, "--seller", seller_file, EXAMPLE)
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith("<?xml")
    found = essentials(out.encode("utf-8"))
    assert (found["kind"], found["type"], found["seller_vat"]) == ("Invoice", "380", ["NL004495445B01"])
    assert found["totals"]["TaxExclusiveAmount"] == Decimal("256.04")
    assert found["tax"] == Decimal("52.39")
    assert found["totals"]["TaxInclusiveAmount"] == Decimal("308.43")
    assert [line[0] for line in found["lines"]] and found["charges"][0][1] == "FC"  # shipping
    # The example's buyer is a company without VAT or KvK number: no Peppol endpoint.
    assert validate(out.encode("utf-8")) == [BUYER_ENDPOINT_RULE]


def test_ubl_of_a_blocked_order_names_the_check_on_stderr(
    capsys: pytest.CaptureFixture[str], seven_percent_order: Path, seller_file: Path
) -> None:
    code, out, err = run_ubl(capsys, "--seller", seller_file, seven_percent_order)
    assert code == EXIT_BLOCKED
    assert out.startswith("<?xml") and "<cbc:Percent>7</cbc:Percent>" in out
    blocked = json.loads(err)
    assert blocked["error"] == "BLOCKED" and [c["code"] for c in blocked["checks"]] == ["VAT_CODE_MISSING"]


def _seller_invalid(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    code, out, err = run_ubl(capsys, *args)
    assert (code, out) == (EXIT_UNREADABLE, "")
    error = json.loads(err)
    assert error["error"] == "SELLER_INVALID"
    return error["message"]


def test_ubl_needs_the_seller(capsys: pytest.CaptureFixture[str], example: Any) -> None:
    assert "--seller SELLER.json" in _seller_invalid(capsys, EXAMPLE)


def test_a_seller_file_that_is_missing_or_not_json(
    capsys: pytest.CaptureFixture[str], example: Any, tmp_path: Path
) -> None:
    assert "cannot read the seller file" in _seller_invalid(capsys, "--seller", tmp_path / "no.json", EXAMPLE)
    path = tmp_path / "seller.json"
    path.write_text("name = Shop", encoding="utf-8")
    assert "is not JSON" in _seller_invalid(capsys, "--seller", path, EXAMPLE)


def test_an_invalid_seller_names_its_fields(
    capsys: pytest.CaptureFixture[str], example: Any, tmp_path: Path
) -> None:
    from tests.documents.einvoice import SELLER_JSON

    path = tmp_path / "seller.json"
    path.write_text(json.dumps({**SELLER_JSON, "iban": "NL00BANK0123456789", "city": ""}), encoding="utf-8")
    message = _seller_invalid(capsys, "--seller", path, EXAMPLE)
    assert "city: missing" in message and "iban: 'NL00BANK0123456789' is not a valid IBAN" in message


def test_the_json_format_stays_the_default_with_a_seller(
    capsys: pytest.CaptureFixture[str], example: Any, seller_file: Path
) -> None:
    code, result, _ = run(capsys, "--seller", seller_file, EXAMPLE)
    assert code == EXIT_OK and set(result) == {"checks", "document", "requests"}
