"""The Factuursturen sandbox's saved invoices (drafts, ``action`` save), as research A1 lists them:
``GET invoices_saved``, ``GET|DELETE invoices_saved/{id}`` and ``search/invoices_saved/...``."""

from __future__ import annotations

from typing import Any

import httpx

LINES = [{"amount": 1, "description": "Mok", "tax_rate": 21, "price": "12.10"}]


def api(administration, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{administration.url}/{path}",
        auth=(administration.username, administration.api_key),
        **kwargs,
    )


def save(administration, clientnr: str, savename: str, line1: str, **fields: Any) -> httpx.Response:
    body = {
        "clientnr": clientnr,
        "action": "save",
        "savename": savename,
        "reference": {"line1": line1},
        "lines": LINES,
        **fields,
    }
    return api(administration, "POST", "invoices", json=body)


def test_a_saved_invoice_is_listed_found_and_deleted_apart_from_invoices(administration) -> None:
    clientnr = administration.add_client({"company": "Jansen", "email": "j@example.nl"})["client"]["clientnr"]
    created = save(administration, clientnr, "K1001", "K1001")
    assert created.status_code == 201 and created.text == "1"
    assert api(administration, "GET", "invoices").json() == []
    assert api(administration, "GET", "search/invoices/all/K1001").json() == []
    [listed] = api(administration, "GET", "invoices_saved").json()
    assert listed["savename"] == "K1001" and listed["totalintax"] == "14.64" and "invoicenr" not in listed
    assert api(administration, "GET", "invoices_saved/1").json() == {"invoice": listed}
    assert api(administration, "GET", "search/invoices_saved/all/k1001").json() == [listed]
    assert api(administration, "GET", "search/invoices_saved/savename/K10").json() == [listed]
    assert save(administration, clientnr, "x" * 21, "K1002").status_code == 400  # savename: max 20

    assert api(administration, "DELETE", "invoices_saved/1").status_code == 200
    assert api(administration, "GET", "invoices_saved/1").status_code == 404
    assert api(administration, "GET", "search/invoices_saved/all/K1001").json() == []


def test_overwrite_if_exist_replaces_the_saved_invoice_of_that_name(administration) -> None:
    clientnr = administration.add_client({"company": "Jansen"})["client"]["clientnr"]
    assert save(administration, clientnr, "K1", "K1").text == "1"
    assert save(administration, clientnr, "K1", "K1").text == "2"  # names need not be unique
    assert save(administration, clientnr, "K1", "K1-new", overwrite_if_exist=True).text == "1"
    saved = api(administration, "GET", "invoices_saved").json()
    assert [(s["id"], s["reference"]["line1"]) for s in saved] == [("1", "K1-new"), ("2", "K1")]


def test_sending_a_saved_invoice_numbers_it(administration) -> None:
    clientnr = administration.add_client({"company": "Jansen", "email": "j@example.nl"})["client"]["clientnr"]
    save(administration, clientnr, "K7", "K7", sendmethod="email")
    sent = httpx.post(f"{administration.control}/saved/1/send")
    assert sent.status_code == 201, sent.text
    invoice = sent.json()["invoice"]
    assert invoice["invoicenr"] and invoice["sendmethod"] == "email"
    assert "Factuur per e-mail verstuurd naar j@example.nl" in str(invoice["history"])
    assert api(administration, "GET", "invoices_saved").json() == []
    assert [i["id"] for i in api(administration, "GET", "search/invoices/all/K7").json()] == [invoice["id"]]
    assert httpx.post(f"{administration.control}/saved/1/send").status_code == 400


def test_a_crash_after_saving_keeps_the_saved_invoice(administration) -> None:
    clientnr = administration.add_client({"company": "Jansen"})["client"]["clientnr"]
    administration.knobs(fail_after_commit_next=1)
    assert save(administration, clientnr, "K9", "K9").status_code == 502
    assert len(api(administration, "GET", "search/invoices_saved/all/K9").json()) == 1
