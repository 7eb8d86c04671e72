"""The simulated Factuursturen API, spoken to over real HTTP like Koppel's connector will.

Uses the session ``sandbox`` server of ``tests/conftest.py``; ``account`` here is an API client for a
fresh sandbox account (it replaces the shared, database-backed fixture of that name).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from koppel.sandbox.server import SandboxServer

EXAMPLE_LINES = [
    {"amount": 1, "description": "Matras", "price": "249.00", "tax_rate": "21.00"},
    {"amount": 2, "description": "Kussen", "price": "19.99", "tax_rate": "21.00"},
    {"amount": 1, "description": "Boek", "price": "12.50", "tax_rate": "9.00"},
    {"amount": 1, "description": "Verzending", "price": "6.95", "tax_rate": "21.00"},
]


class Account(httpx.Client):
    """An API client logged in to a fresh sandbox account, plus that account's control URL."""

    def __init__(self, api_url: str, username: str, control: str) -> None:
        super().__init__(base_url=api_url, auth=(username, "key"), headers={"Accept": "application/json"})
        self.username = username
        self.control = control


@pytest.fixture
def account(sandbox: SandboxServer) -> Iterator[Account]:
    username = f"user-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{sandbox.url}/_sandbox/factuursturen/accounts", json={"username": username, "api_key": "key"}
    )
    assert created.status_code == 201
    assert created.json()["api_url"] == f"{sandbox.url}/factuursturen/api/v1"
    with Account(
        created.json()["api_url"], username, f"{sandbox.url}/_sandbox/factuursturen/accounts/{username}"
    ) as client:
        yield client


def create_client(api: httpx.Client, **fields: Any) -> str:
    response = api.post("clients", json={"company": "Jansen Meubels", **fields})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def create_invoice(api: httpx.Client, clientnr: str, **fields: Any) -> httpx.Response:
    body = {"clientnr": clientnr, "action": "send", "sendmethod": "email", "lines": EXAMPLE_LINES, **fields}
    return api.post("invoices", json=body)


def test_auth(account: Account) -> None:
    for auth in ((account.username, "wrong"), ("nobody", "key")):
        response = account.get("clients", auth=auth)
        assert response.status_code == 401
        assert response.text == "Unauthorized: invalid username or API key"
    assert account.get("clients", auth=None, headers={"Authorization": ""}).status_code == 401
    assert account.get("clients").json() == []
    xml = account.get("clients", headers={"Accept": "application/xml"})
    assert xml.status_code == 406


def test_client_create_and_read_back_stringified(account: Account) -> None:
    nr = create_client(
        account,
        contact="Jan Jansen",
        email="Info@Example.nl",
        country="Nederland",
        zipcode="1000 AA",
        showcontact=False,
        top=14,
        reference={"line1": "webshop"},
        sendmethod="email",
    )
    assert nr == "1"
    client = account.get(f"clients/{nr}").json()["client"]
    assert client["clientnr"] == "1" and client["country"] == "146" and client["showcontact"] == "false"
    assert client["top"] == "14" and client["tax_type"] == "extax" and client["active"] == "true"
    assert client["reference"] == {"line1": "webshop", "line2": "", "line3": ""}
    assert all(isinstance(value, str) for key, value in client.items() if key != "reference")
    assert account.get("clients").json() == [client]

    belgian = create_client(account, country="Belgium", zipcode="1000", tax_type="intax")
    assert account.get(f"clients/{belgian}").json()["client"]["country"] == create_country_id(
        account, "België"
    )

    missing = account.get("clients/99")
    assert (missing.status_code, missing.text) == (404, "Client not found")

    assert account.put(f"clients/{nr}", json={"city": "Amsterdam"}).status_code == 200
    assert account.get(f"clients/{nr}").json()["client"]["city"] == "Amsterdam"
    assert account.delete(f"clients/{belgian}").status_code == 200
    assert account.get(f"clients/{belgian}").status_code == 404


def create_country_id(api: httpx.Client, name: str) -> str:
    return next(c["id"] for c in api.get("countrylist/nl").json() if c["name"] == name)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"company": "", "contact": ""}, "contact or company"),
        ({"zipcode": "1000 AAA"}, "zipcode"),
        ({"sendmethod": "email", "email": ""}, "email"),
        ({"sendmethod": "fax"}, "sendmethod"),
        ({"tax_type": "inclusive"}, "tax_type"),
        ({"showcontact": "yes"}, "showcontact"),
        ({"country": "NL"}, "Unknown country: NL"),
        ({"country": "Atlantis"}, "Unknown country: Atlantis"),
        ({"company": "x" * 51}, "company"),
    ],
)
def test_client_validation(account: Account, fields: dict[str, Any], message: str) -> None:
    response = account.post("clients", json={"company": "Bakery", **fields})
    assert response.status_code == 400
    assert message in response.text


def test_search(account: Account) -> None:
    nr = create_client(account, email="pete+shop@acme.com", reference={"line2": "Order 424242"})
    create_client(account, email="other@example.nl")
    found = account.get("search/clients/email/pete%2Bshop%40acme.com").json()
    assert [c["clientnr"] for c in found] == [nr]
    assert [c["clientnr"] for c in account.get("search/clients/email/PETE+SHOP").json()] == [nr]
    assert [c["clientnr"] for c in account.get("search/clients/all/424242").json()] == [nr]
    assert len(account.get("search/clients/company/meubel").json()) == 2
    assert account.get("search/clients/email/nobody%40example.nl").json() == []
    assert account.get("search/products/all/x").json() == []
    assert account.get("search/clients/nonsense/x").status_code == 400

    invoice_id = create_invoice(account, nr, reference={"line1": "KMO-424242"}).text
    [invoice] = account.get("search/invoices/all/kmo-424242").json()
    assert invoice["id"] == invoice_id
    assert account.get("search/invoices/reference/KMO-424242").json() == [invoice]
    assert account.get(f"search/invoices/totalintax/{invoice['totalintax']}").json() == [invoice]
    assert account.get("search/invoices/all/KMO-999").json() == []


def test_invoice_totals_intax(account: Account) -> None:
    nr = create_client(account, tax_type="intax", city="Amsterdam", country="146")
    response = create_invoice(
        account,
        nr,
        reference={"line1": "424242"},
        alreadypaid="full",
        alreadypaidmethod="Credit card",
        sent="2026-02-13",
    )
    assert response.status_code == 201 and response.headers["content-type"].startswith("text/plain")
    assert re.fullmatch(r"\d+", response.text)
    invoice = account.get(f"invoices/{response.text}").json()["invoice"]
    assert invoice["totalintax"] == "308.43" and invoice["tax"] == "52.39"
    assert invoice["taxes"] == {
        "tax1": {"rate": 21, "sum": "51.36", "sum_of": "244.57"},
        "tax2": {"rate": 9, "sum": "1.03", "sum_of": "11.47"},
    }
    assert invoice["invoicenr"] == "F20260001" and invoice["id"] == "20260001"
    assert (
        invoice["open"] == "0.00"
        and invoice["paiddate"] == "2026-02-13"
        and invoice["duedate"] == "2026-03-15"
    )
    assert invoice["lines"]["line2"] == {
        "amount": 2,
        "amount_desc": "",
        "description": "Kussen",
        "tax_rate": 21,
        "price": 19.99,
        "discount_pct": 0,
        "linetotal": 39.98,
    }
    assert invoice["tax_type"] == "intax" and invoice["tax_shifted"] == "false"
    assert (
        invoice["clientnr"] == nr
        and invoice["company"] == "Jansen Meubels"
        and invoice["city"] == "Amsterdam"
    )
    assert invoice["history"]["item1"]["description"] == "Factuur aangemaakt"
    assert account.get("invoices/F20260001").json() == {"invoice": invoice}
    assert account.get("invoices").json() == [invoice]
    assert account.get(f"clients/{nr}").json()["client"]["lastinvoice"] == "2026-02-13"


def test_invoice_totals_extax_partly_paid(account: Account) -> None:
    nr = create_client(account)
    lines = [*EXAMPLE_LINES, {"description": "Bedankt voor uw bestelling!"}]
    response = create_invoice(account, nr, lines=lines, alreadypaid="100", sent="2026-03-01")
    invoice = account.get(f"invoices/{response.text}").json()["invoice"]
    # 295.93 @21 → 62.15 VAT; 12.50 @9 → 1.125 → 1.13 VAT (half-up)
    assert invoice["totalintax"] == "371.71" and invoice["tax"] == "63.28"
    assert invoice["open"] == "271.71" and invoice["paiddate"] == ""
    assert invoice["lines"]["line5"]["description"] == "Bedankt voor uw bestelling!"
    assert account.get("invoices", params={"filter": "partly"}).json() == [invoice]
    assert account.get("invoices", params={"filter": "paid"}).json() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"clientnr": "99"}, "Client 99 not found"),
        ({"lines": [{**EXAMPLE_LINES[0], "tax_rate": 7}]}, "Invalid tax rate 7 on line 1"),
        (
            {"lines": [EXAMPLE_LINES[0], {**EXAMPLE_LINES[0], "tax_rate": "7.00"}]},
            "Invalid tax rate 7.00 on line 2",
        ),
        ({"action": None}, "action"),
        ({"action": "save"}, "savename"),
        ({"sendmethod": None}, "sendmethod"),
        ({"profile": "9"}, "profile"),
        ({"alreadypaidmethod": "x" * 33}, "alreadypaidmethod"),
        ({"sent": "13-02-2026"}, "sent"),
        ({"lines": []}, "lines"),
    ],
)
def test_invoice_validation(account: Account, fields: dict[str, Any], message: str) -> None:
    nr = create_client(account)
    response = create_invoice(account, **{"clientnr": nr, **fields})
    assert response.status_code == 400
    assert message in response.text
    assert account.get("invoices").json() == []


def test_hourly_budget_and_burst(account: Account) -> None:
    account.post(f"{account.control}/knobs", json={"hourly_limit": 3})
    remaining = [account.get("taxes").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    blocked = account.get("taxes")
    assert blocked.status_code == 403 and blocked.headers["X-RateLimit-Remaining"] == "0"
    assert blocked.text == "Too many requests: API limit reached for this hour"

    account.post(f"{account.control}/reset")
    account.post(f"{account.control}/knobs", json={"hourly_limit": 1000, "rate_limit_burst": 2})
    assert [account.get("profiles").status_code for _ in range(3)] == [403, 403, 200]
    assert httpx.get(account.control).json()["rate_limit_remaining"] == 999


def test_fail_after_commit_stores_invoice(account: Account) -> None:
    nr = create_client(account)
    account.post(f"{account.control}/knobs", json={"fail_after_commit_next": 1})
    crashed = create_invoice(account, nr, reference={"line1": "ORDER-1"})
    assert crashed.status_code == 502
    [stored] = account.get("search/invoices/all/ORDER-1").json()
    assert create_invoice(account, nr, reference={"line1": "ORDER-2"}).status_code == 201
    assert len(account.get("invoices").json()) == 2 and stored["invoicenr"] == "F" + stored["id"]


def test_fault_knobs_and_request_log(account: Account) -> None:
    account.post(f"{account.control}/knobs", json={"fail_next": [503, 500]})
    first, second = account.get("clients"), account.get("clients")
    assert (first.status_code, first.text, second.status_code) == (503, "Service Unavailable", 500)
    assert "X-RateLimit-Remaining" in first.headers
    create_client(account, contact="Log Me")
    log = httpx.get(f"{account.control}/requests").json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/api/v1/clients", 503),
        ("GET", "/api/v1/clients", 500),
        ("POST", "/api/v1/clients", 201),
    ]
    assert log[-1]["json"]["contact"] == "Log Me"
    seeded = httpx.post(f"{account.control}/clients", json={"company": "Seeded", "email": "s@x.nl"})
    assert seeded.status_code == 201 and seeded.json()["client"]["clientnr"] == "2"
    assert len(account.get("search/clients/email/s%40x.nl").json()) == 1


def test_pdf(account: Account) -> None:
    invoice_id = create_invoice(account, create_client(account)).text
    response = account.get(f"invoices_pdf/F{invoice_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert f"(Factuur F{invoice_id})".encode() in pdf and b"EUR 371.71" in pdf
    xref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[xref:].startswith(b"xref")
    offsets = [int(line.split()[0]) for line in pdf[xref:].splitlines()[3:8]]
    assert [pdf[offset:].split(b"\n", 1)[0] for offset in offsets] == [b"%d 0 obj" % n for n in range(1, 6)]
    assert account.get("invoices_pdf/F000").status_code == 404


def test_lookups(account: Account) -> None:
    taxes = account.get("taxes").json()
    assert [t["percentage"] for t in taxes] == ["21", "9", "0"]
    assert taxes[0] == {"percentage": "21", "type": "H", "default": "true", "country": "NL"}
    profiles = account.get("profiles").json()
    assert profiles[0] == {"id": "1", "name": "Standaard", "default": "true"}
    dutch = account.get("countrylist").json()
    assert {"id": "146", "name": "Nederland"} in dutch
    assert {"id": "146", "name": "Netherlands"} in account.get("countrylist/en").json()
    assert len(dutch) > 200 and len({c["id"] for c in dutch}) == len(dutch)
    assert account.get("balance").json() == {"balance": "0.00"}
    unknown = account.get("nothing/here")
    assert (unknown.status_code, unknown.text) == (404, "Not found")
