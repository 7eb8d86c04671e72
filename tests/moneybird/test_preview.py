"""``koppel preview --source kmoshops --target moneybird``: the requests Moneybird would receive, without
calling anything (tax rate ids and new ids as placeholders)."""

from __future__ import annotations

import json

from koppel.preview import EXIT_OK, main
from tests.conftest import make_order


def test_preview_shows_the_moneybird_requests(tmp_path, capsys):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_order()), encoding="utf-8")
    code = main(["--source", "kmoshops", "--target", "moneybird", str(path)])
    result = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    paths = [(r["method"], r["path"].split("?")[0]) for r in result["requests"]]
    assert paths == [
        ("GET", "sales_invoices.json"),
        ("GET", "contacts.json"),
        ("POST", "contacts.json"),
        ("GET", "tax_rates.json"),
        ("POST", "sales_invoices.json"),
        ("PATCH", "sales_invoices/<id from POST sales_invoices.json>/send_invoice.json"),
        ("POST", "sales_invoices/<id from POST sales_invoices.json>/payments.json"),
    ]
    body = result["requests"][4]["json"]["sales_invoice"]
    assert body["contact_id"] == "<id from POST contacts.json>"
    assert body["details_attributes"][0]["tax_rate_id"].startswith("<tax_rate_id of 21%")
