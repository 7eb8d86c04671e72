"""The simulated EenvoudigFactureren API, spoken to over real HTTP like Koppel's connector will.

Uses the session ``sandbox`` server of ``tests/conftest.py``; ``api`` here is a JSON-speaking API client
for a fresh sandbox account (``X-API-Key``), with that account's control URL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree

from koppel.sandbox.server import SandboxServer

CONTROL = "/_sandbox/eenvoudigfactureren"


class Api(httpx.Client):
    """An API client for a fresh sandbox account, plus the account's name, key and control URL."""

    def __init__(self, api_url: str, name: str, key: str, control: str, **headers: str) -> None:
        super().__init__(base_url=f"{api_url}/", headers={"X-API-Key": key, **headers})
        self.name, self.key, self.control = name, key, control

    def knobs(self, **values: Any) -> None:
        response = httpx.post(f"{self.control}/knobs", json=values)
        assert response.status_code == 200, response.text

    def log(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.control}/requests").json()["requests"]


def new_account(sandbox: SandboxServer, **settings: Any) -> dict[str, Any]:
    name = f"ef-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "api_key": f"efkey-{uuid.uuid4().hex}", **settings}
    response = httpx.post(f"{sandbox.url}{CONTROL}/accounts", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["api_url"] == f"{sandbox.url}/eenvoudigfactureren/api/v1"
    return {
        **body,
        "api_url": response.json()["api_url"],
        "control": f"{sandbox.url}{CONTROL}/accounts/{name}",
    }


def connect(account: dict[str, Any], **headers: str) -> Api:
    return Api(account["api_url"], account["name"], account["api_key"], account["control"], **headers)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    with connect(new_account(sandbox), Accept="application/json") as client:
        yield client


def create_client(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("clients", json={"name": "Bakkerij De Witte", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def create_invoice(
    api: httpx.Client, client_id: int, items: list[dict[str, Any]], **fields: Any
) -> httpx.Response:
    return api.post("invoices", json={"client_id": client_id, "items": items, **fields})


def xml(response: httpx.Response) -> etree._Element:
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    return etree.fromstring(response.content)


# ---------------------------------------------------------------------------- auth and formats


def test_api_key_wrong_key_and_missing_credentials(api: Api) -> None:
    assert api.get("clients").status_code == 200
    for headers in ({"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        response = api.get("clients", headers=headers)
        assert (response.status_code, response.json()) == (401, {"error": "Authentication failed"})
        assert response.headers["WWW-Authenticate"] == 'Basic realm="EenvoudigFactureren API"'
    with httpx.Client(base_url=str(api.base_url)) as anonymous:
        response = anonymous.get("clients")
        assert response.status_code == 401 and xml(response).text == "Authentication failed"


def test_basic_auth_with_email_and_password(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, email="boekhouding@bakkerij.be", password="geheim!")
    base = account["api_url"] + "/"
    fmt = {"format": "json"}
    ok = httpx.get(f"{base}accounts/current", params=fmt, auth=("Boekhouding@bakkerij.be", "geheim!"))
    assert ok.status_code == 200 and ok.json()["email_address"] == "boekhouding@bakkerij.be"
    assert ok.json()["name"] == account["name"] and isinstance(ok.json()["account_id"], int)
    wrong = httpx.get(f"{base}accounts/current", params=fmt, auth=("boekhouding@bakkerij.be", "nope"))
    assert wrong.status_code == 401
    log = httpx.get(f"{account['control']}/requests").json()["requests"]
    assert [entry["status"] for entry in log] == [200, 401]  # a wrong password for a known address is logged


def test_scopes(sandbox: SandboxServer) -> None:
    limited = new_account(sandbox, scopes=["invoices", "clients", "layouts"])
    with connect(limited, Accept="application/json") as api:
        assert api.get("layouts").status_code == 200
        assert api.get("clients").status_code == 200
        denied = api.get("settings", params={"fields": "taxes"})
        assert (denied.status_code, denied.json()) == (403, {"error": "Access denied"})
        assert api.get("accounts/current").status_code == 403


def test_xml_by_default_and_json_when_asked(api: Api) -> None:
    created = create_client(api, city="Gent", contacts=[{"name": "Piet", "email_address": "piet@witte.be"}])
    plain = {"Accept": "*/*"}
    root = xml(api.get("clients", headers=plain))
    assert root.tag == "clients" and [child.tag for child in root] == ["client"]
    assert root.findtext("client/client_id") == str(created["client_id"])
    assert root.findtext("client/country") == "België" and root.findtext("client/city") == "Gent"
    assert root.findtext("client/contacts/contact/name") == "Piet"
    assert root.find("client/delivery_address").text is None

    one = xml(api.get(f"clients/{created['client_id']}", headers=plain))
    assert one.tag == "client" and one.findtext("name") == "Bakkerij De Witte"
    forced = api.get("clients", params={"format": "xml"})  # the fixture's Accept asks for JSON
    assert xml(forced).tag == "clients"

    assert api.get("clients", headers=plain, params={"format": "json"}).json() == [created]
    assert api.get("clients").json() == [created]  # Accept: application/json
    by_content_type = api.post(
        "clients",
        content=json.dumps({"name": "Via Content-Type"}),
        headers={**plain, "Content-Type": "application/json"},
    )
    assert by_content_type.status_code == 201 and by_content_type.json()["name"] == "Via Content-Type"

    error = api.get("clients/999", headers=plain)
    assert error.status_code == 404 and xml(error).tag == "error" and xml(error).text == "Not found"
    assert api.get("clients", params={"format": "csv"}).status_code == 400


def test_xml_and_form_encoded_bodies(api: Api) -> None:
    body = (
        b"<?xml version='1.0'?><client><name>Caf\xc3\xa9 &amp; Co</name><email_address>info@cafe.be"
        b"</email_address><contacts><contact><name>An</name></contact></contacts></client>"
    )
    response = api.post("clients", content=body, headers={"Content-Type": "application/xml"})
    assert response.status_code == 201 and response.json()["name"] == "Café & Co"
    assert response.json()["contacts"][0]["name"] == "An"

    form = api.post(
        "clients",
        data={
            "name": "Form BV",
            "country_code": "NL",
            "postal_code": "1011 AB",
            "email_address": "f@form.nl",
        },
        headers={"Accept": "*/*"},
    )
    assert form.status_code == 201 and form.headers["content-type"] == "application/xml; charset=utf-8"
    client = api.get(f"clients/{xml(form).findtext('client_id')}").json()
    assert (client["name"], client["country"], client["postal_code"]) == ("Form BV", "Nederland", "1011 AB")

    broken = api.post("clients", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()) == (400, {"error": "Invalid request body"})
    entity = b'<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><client><name>&x;</name></client>'
    assert api.post("clients", content=entity, headers={"Content-Type": "application/xml"}).status_code == 400


# ---------------------------------------------------------------------------- list queries


@pytest.fixture
def three_clients(api: Api) -> list[dict[str, Any]]:
    return [
        create_client(api, name="Jansen Meubels", email_address="Pete+Shop@Acme.com", city="Gent"),
        create_client(api, name="Bakkerij Peeters", email_address="info@peeters.be", city="Antwerpen"),
        create_client(
            api, name="Jansen & Zoon", email_address="zoon@jansen.be", city="Gent", tax_code="BE0123"
        ),
    ]


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [obj["invoice_id"] if "invoice_id" in obj else obj["client_id"] for obj in response.json()]


def test_filters(api: Api, three_clients: list[dict[str, Any]]) -> None:
    first, second, third = (client["client_id"] for client in three_clients)
    assert ids(api.get("clients", params={"filter": "email_address=pete+shop@acme.com"})) == [first]
    assert ids(api.get("clients", params={"filter": "email_address__eq__PETE+SHOP@ACME.COM"})) == [first]
    assert ids(api.get("clients", params={"filter": "name=~jansen"})) == [first, third]
    assert ids(api.get("clients", params={"filter": "name=~jansen,city=gent,tax_code!="})) == [third]
    assert ids(api.get("clients", params={"filter": "city__ne__Gent"})) == [second]
    assert ids(api.get("clients", params={"filter": f"client_id>={second}"})) == [second, third]
    assert ids(api.get("clients", params={"filter": f"client_id__lt__{second}"})) == [first]
    # what an encoded query looks like on the wire
    assert ids(api.get("clients?filter=email_address%3Dinfo%40peeters.be")) == [second]
    for bad in ("colour=red", "name__like__x", "name", "client_id=abc"):
        response = api.get("clients", params={"filter": bad})
        assert response.status_code == 400 and response.json()["error"].startswith("Invalid filter")


def test_search_fields_sort_and_paging(api: Api, three_clients: list[dict[str, Any]]) -> None:
    first, second, third = (client["client_id"] for client in three_clients)
    assert ids(api.get("clients", params={"search": "JANSEN"})) == [first, third]
    assert ids(api.get("clients", params={"search": "antwerp"})) == [second]
    assert ids(api.get("clients", params={"search": "be0123"})) == [third]

    slim = api.get("clients", params={"fields": "client_id,name"}).json()
    assert slim[0] == {"client_id": first, "name": "Jansen Meubels"}
    assert api.get("clients", params={"fields": "client_id,colour"}).status_code == 400
    assert api.get(f"clients/{first}", params={"fields": "number"}).json() == {"number": "1001"}

    assert ids(api.get("clients", params={"sort": "name"})) == [second, third, first]
    assert ids(api.get("clients", params={"sort": "-client_id"})) == [third, second, first]
    assert ids(api.get("clients?sort=city%2B-name")) == [second, first, third]
    assert api.get("clients", params={"sort": "colour"}).status_code == 400

    page = api.get("clients", params={"limit": 2, "offset": 1})
    assert ids(page) == [second, third] and page.headers["X-Total-Count"] == "3"
    filtered = api.get("clients", params={"filter": "city=gent", "limit": 1})
    assert ids(filtered) == [first] and filtered.headers["X-Total-Count"] == "2"
    assert api.get("clients", params={"limit": "-1"}).status_code == 400


# ---------------------------------------------------------------------------- clients


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Field name is required"),
        ({"name": "x" * 76}, "Field name is too long (max 75 characters)"),
        ({"postal_code": "12345678901"}, "Field postal_code is too long (max 10 characters)"),
        ({"external_client_id": "x" * 51}, "Field external_client_id is too long (max 50 characters)"),
        ({"emial_address": "a@b.be"}, "Unknown field: emial_address"),
        ({"country_code": "be"}, "Invalid value for field country_code: be"),
        ({"country_code": "XX"}, "Invalid value for field country_code: XX"),
        ({"country": "Atlantis"}, "Unknown country: Atlantis"),
        ({"email_address": "not-an-address"}, "email_address is not a valid e-mail address"),
        ({"language": "es"}, "Invalid value for field language: es"),
        ({"delivery_address": {"street": "x", "colour": "red"}}, "Unknown field: delivery_address.colour"),
        ({"contacts": [{"name": "A", "email_address": "nope"}]}, "contacts[1].email_address"),
    ],
)
def test_client_validation(api: Api, fields: dict[str, Any], message: str) -> None:
    response = api.post("clients", json={"name": "Bakkerij", **fields})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert api.get("clients").json() == []


def test_client_defaults_update_replace_delete(api: Api) -> None:
    client = create_client(api, attention="Jan", country="Frankrijk", tax_code="FR12345678901")
    assert client["country_code"] == "FR" and client["country"] == "Frankrijk"
    assert client["number"] == "1001" and client["language"] == "nl" and client["delivery_address"] is None
    client_id = client["client_id"]
    assert client["uri"].endswith(f"/eenvoudigfactureren/api/v1/clients/{client_id}")
    assert create_client(api, number="K-7")["number"] == "K-7"
    assert create_client(api)["number"] == "1002"

    changed = api.post(f"clients/{client_id}", json={"city": "Lille", "contacts": [{"name": "Marie"}]}).json()
    assert (
        changed["city"] == "Lille"
        and changed["attention"] == "Jan"
        and changed["tax_code"] == "FR12345678901"
    )
    contact_id = changed["contacts"][0]["contact_id"]
    assert api.get(f"clients/{client_id}/contacts").json() == changed["contacts"]

    replaced = api.put(f"clients/{client_id}", json={"name": "Nieuw", "contacts": changed["contacts"]}).json()
    assert replaced["attention"] == "" and replaced["country_code"] == "BE" and replaced["city"] == ""
    assert replaced["number"] == "1001" and replaced["contacts"][0]["contact_id"] == contact_id
    assert replaced["created"] == client["created"]

    deleted = api.delete(f"clients/{client_id}")
    assert deleted.json() == {"client_id": client_id, "deleted": "yes"}
    assert api.get(f"clients/{client_id}").status_code == 404


# ---------------------------------------------------------------------------- invoices

MUG = {"description": "Mok", "quantity": 3, "amount_with_tax": "9.99", "tax_rate": 21}


def test_invoice_totals_tax_included(api: Api) -> None:
    client = create_client(api, attention="Piet")
    items = [
        MUG,
        {"description": "Verzending", "quantity": "1", "amount_with_tax": 4.95, "tax_rate": "21.00"},
    ]
    response = create_invoice(api, client["client_id"], items, tax_included=True, reference="Bestelling 1001")
    assert response.status_code == 201, response.text
    invoice = response.json()
    mug = invoice["items"][0]
    # 3 x 9.99 = 29.97 incl.; 29.97 / 1.21 = 24.7686 -> 24.77 excl.; per item, half-up
    assert (mug["total_with_tax"], mug["total_without_tax"], mug["total_tax"]) == ("29.97", "24.77", "5.20")
    assert (mug["quantity"], mug["amount_with_tax"], mug["amount"], mug["tax_rate"]) == (
        "3",
        "9.99",
        "8.2562",
        "21.00",
    )
    assert isinstance(mug["item_id"], int)
    assert (invoice["total_with_tax"], invoice["total_without_tax"], invoice["total_tax"]) == (
        "34.92",
        "28.86",
        "6.06",
    )
    assert invoice["type"] == "invoice" and invoice["status"] == "open" and invoice["open_amount"] == "34.92"
    assert invoice["client_name"] == "Bakkerij De Witte" and invoice["client_attention"] == "Piet"
    assert invoice["tax_included"] == "yes" and invoice["sent"] == "no" and invoice["layout_id"] == 1
    assert api.get(f"invoices/{invoice['invoice_id']}").json() == invoice
    assert api.get(f"invoices/{invoice['invoice_id']}/items").json() == invoice["items"]


def test_invoice_totals_tax_excluded(api: Api) -> None:
    client_id = create_client(api)["client_id"]
    items = [
        {"description": "Brood", "quantity": "1.5", "amount": "2.35", "tax_rate": 6},
        {"description": "Taart", "quantity": 2, "amount_with_tax": "12.10", "tax_rate": 21},
        {"description": "Korting", "quantity": 1, "amount": "-1.0050", "tax_rate": 6},
    ]
    invoice = create_invoice(api, client_id, items, tax_included="no").json()
    brood, taart, korting = invoice["items"]
    # 1.5 x 2.35 = 3.525 -> 3.53, VAT 0.2118 -> 0.21
    assert (brood["total_without_tax"], brood["total_tax"], brood["amount_with_tax"]) == (
        "3.53",
        "0.21",
        "2.491",
    )
    assert (taart["amount"], taart["total_without_tax"], taart["total_tax"]) == ("10.00", "20.00", "4.20")
    assert (korting["amount"], korting["total_without_tax"], korting["total_tax"]) == (
        "-1.005",
        "-1.01",
        "-0.06",
    )
    assert (invoice["total_without_tax"], invoice["total_tax"], invoice["total_with_tax"]) == (
        "22.52",
        "4.35",
        "26.87",
    )

    credit = create_invoice(
        api, client_id, [{"description": "Retour", "amount": "-10", "tax_rate": 21}]
    ).json()
    assert credit["type"] == "creditnote" and credit["total_with_tax"] == "-12.10"
    refused = create_invoice(api, client_id, [{"description": "Retour", "amount": "-10"}], type="invoice")
    assert refused.status_code == 400 and "type" in refused.json()["error"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_id": 999}, "Client 999 does not exist"),
        ({"items": []}, "At least one item is required"),
        (
            {"items": [{**MUG, "tax_rate": 9}]},
            "Tax rate 9 is not available in this account (available: 21, 12, 6, 0)",
        ),
        ({"items": [{**MUG, "tax_rate_special_status": "ICL"}]}, "requires tax_rate 0"),
        ({"items": [{**MUG, "tax_rate": 0, "tax_rate_special_status": "XYZ"}]}, "tax_rate_special_status"),
        ({"items": [{**MUG, "description": ""}]}, "Field items[1].description is required"),
        ({"items": [{**MUG, "amount_with_tax": "9.99999"}]}, "too many decimals (max 4)"),
        ({"items": [{**MUG, "general_ledger_account": "12345"}]}, "6 to 8 digits"),
        ({"items": [{**MUG, "stockitem_code": "x" * 21}]}, "stockitem_code is too long"),
        ({"items": [{**MUG, "colour": "red"}]}, "Unknown field: items[1].colour"),
        ({"layout_id": 9}, "Layout 9 does not exist"),
        ({"tax_included": "maybe"}, "tax_included"),
        ({"date": "21-11-2026"}, "Invalid date for field date"),
        ({"date": "2026-03-10", "expiry_date": "2026-03-09"}, "expiry_date must not be before date"),
        ({"reference": "x" * 256}, "Field reference is too long (max 255 characters)"),
        ({"discount": "10"}, "Unknown field: discount"),
    ],
)
def test_invoice_validation(api: Api, changes: dict[str, Any], message: str) -> None:
    client_id = create_client(api)["client_id"]
    body = {"client_id": client_id, "items": [MUG], "tax_included": True, **changes}
    response = api.post("invoices", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert api.get("invoices").json() == []


def test_special_status_with_rate_zero_and_custom_taxes(sandbox: SandboxServer) -> None:
    with connect(new_account(sandbox, taxes=["21", "9"]), Accept="application/json") as api:
        client_id = create_client(api, country_code="DE", tax_code="DE123456789")["client_id"]
        item = {"description": "Export", "amount": "100", "tax_rate": 0, "tax_rate_special_status": "icl"}
        invoice = create_invoice(
            api, client_id, [item, {"description": "Boek", "amount": 10, "tax_rate": 9}]
        ).json()
        assert invoice["items"][0]["tax_rate_special_status"] == "ICL" and invoice["total_tax"] == "0.90"
        refused = create_invoice(api, client_id, [{**item, "tax_rate": 12, "tax_rate_special_status": ""}])
        assert refused.json()["error"] == "Tax rate 12 is not available in this account (available: 21, 9, 0)"
        taxes = api.get("settings", params={"fields": "taxes"}).json()
        assert taxes == {"taxes": {"tax1": {"rate": "21.00"}, "tax2": {"rate": "9.00"}}}


def test_numbering_and_duplicate_number(api: Api) -> None:
    client_id = create_client(api)["client_id"]
    first = create_invoice(api, client_id, [MUG], date="2026-01-05").json()
    given = create_invoice(api, client_id, [MUG], date="2026-01-06", number="367439").json()
    second = create_invoice(api, client_id, [MUG], date="2026-02-01").json()
    older = create_invoice(api, client_id, [MUG], date="2025-12-31").json()
    assert [first["number"], given["number"], second["number"], older["number"]] == [
        "2026-0001",
        "367439",
        "2026-0002",
        "2025-0001",
    ]
    duplicate = create_invoice(api, client_id, [MUG], number="367439")
    assert (duplicate.status_code, duplicate.json()) == (
        400,
        {"error": "Invoice number 367439 already exists"},
    )
    taken = create_invoice(api, client_id, [MUG], date="2026-03-01", number="2026-0003").json()
    assert create_invoice(api, client_id, [MUG], date="2026-03-02").json()["number"] == "2026-0004"
    assert taken["number"] == "2026-0003"
    assert ids(api.get("invoices", params={"filter": "number=367439"})) == [given["invoice_id"]]
    assert ids(api.get("invoices", params={"filter": "date__ge__2026-02-01,date__le__2026-02-28"})) == [
        second["invoice_id"]
    ]


def test_expiry_date(sandbox: SandboxServer) -> None:
    with connect(new_account(sandbox, payment_term_days=14), Accept="application/json") as api:
        client_id = create_client(api)["client_id"]
        dated = create_invoice(api, client_id, [MUG], date="2026-02-20").json()
        assert dated["expiry_date"] == "2026-03-06"
        today = create_invoice(api, client_id, [MUG]).json()
        assert date.fromisoformat(today["expiry_date"]) - date.fromisoformat(today["date"]) == timedelta(
            days=14
        )
        given = create_invoice(api, client_id, [MUG], date="2026-02-20", expiry_date="2026-02-20").json()
        assert given["expiry_date"] == "2026-02-20"


def test_payments_remaining_amount_and_partial_update(api: Api) -> None:
    client_id = create_client(api)["client_id"]
    paid = create_invoice(
        api,
        client_id,
        [MUG],
        tax_included=1,
        payments=[{"remaining_amount": "yes", "description": "WooCommerce"}],
    ).json()
    assert paid["status"] == "paid" and paid["paid_amount"] == "29.97" and paid["open_amount"] == "0.00"
    assert paid["payments"][0]["amount"] == "29.97" and isinstance(paid["payments"][0]["payment_id"], int)
    assert api.get(f"invoices/{paid['invoice_id']}/payments").json() == paid["payments"]

    invoice = create_invoice(api, client_id, [MUG], tax_included=True).json()
    partly = api.post(
        f"invoices/{invoice['invoice_id']}", json={"payments": [{"amount": "10", "date": "2026-03-01"}]}
    )
    assert (
        partly.status_code == 200
        and partly.json()["status"] == "open"
        and partly.json()["open_amount"] == "19.97"
    )
    changed = api.post(f"invoices/{invoice['invoice_id']}", json={"reference": "Order 7"}).json()
    assert changed["reference"] == "Order 7" and changed["number"] == invoice["number"]
    assert changed["items"] == invoice["items"] and changed["payments"] == partly.json()["payments"]
    rest = [*changed["payments"], {"remaining_amount": True}]
    assert api.post(f"invoices/{invoice['invoice_id']}", json={"payments": rest}).json()["status"] == "paid"
    assert ids(api.get("invoices", params={"filter": "status=paid"})) == [
        paid["invoice_id"],
        invoice["invoice_id"],
    ]

    deleted = api.delete(f"invoices/{paid['invoice_id']}")
    assert deleted.json() == {"invoice_id": paid["invoice_id"], "deleted": "yes"}
    assert api.get(f"invoices/{paid['invoice_id']}").status_code == 404


def test_sendemail_and_send(api: Api) -> None:
    with_mail = create_client(api, email_address="klant@example.be")["client_id"]
    without = create_client(api)["client_id"]
    invoice = create_invoice(api, with_mail, [MUG]).json()
    response = api.post(f"invoices/{invoice['invoice_id']}/sendemail", json={"recipient": "main_contact"})
    assert response.json() == {
        "invoice_id": invoice["invoice_id"],
        "sent": "yes",
        "recipient": "klant@example.be",
    }
    assert api.get(f"invoices/{invoice['invoice_id']}").json()["sent"] == "yes"
    sent = api.post(
        f"invoices/{invoice['invoice_id']}/send",
        json={"methods": {"email": {"recipient": "boekhouder@example.be"}}},
    )
    assert sent.status_code == 200 and sent.json()["recipient"] == "boekhouder@example.be"
    emails = httpx.get(api.control).json()["emails"]
    assert [(e["invoice_id"], e["number"], e["to"]) for e in emails] == [
        (invoice["invoice_id"], invoice["number"], "klant@example.be"),
        (invoice["invoice_id"], invoice["number"], "boekhouder@example.be"),
    ]

    other = create_invoice(api, without, [MUG]).json()
    refused = api.post(f"invoices/{other['invoice_id']}/sendemail", json={"recipient": "main_contact"})
    assert (refused.status_code, refused.json()) == (400, {"error": "The client has no e-mail address"})
    peppol = api.post(f"invoices/{other['invoice_id']}/send", json={"methods": {"peppol": {}, "email": {}}})
    assert peppol.status_code == 400  # Peppol needs the client's VAT number (its Peppol identifier)
    assert peppol.json() == {"error": "The client has no VAT number: it cannot be reached through Peppol"}
    assert api.get(f"invoices/{other['invoice_id']}").json()["sent"] == "no"
    assert len(httpx.get(api.control).json()["emails"]) == 2


def test_pdf(api: Api) -> None:
    client_id = create_client(api, name="Bakkerij (De) Witte")["client_id"]
    invoice = create_invoice(api, client_id, [MUG], tax_included=True).json()
    response = api.get(f"invoices/{invoice['invoice_id']}", params={"format": "pdf"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    number = invoice["number"]
    assert response.headers["content-disposition"] == f'attachment; filename="invoice-{number}.pdf"'
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert f"(Factuur {number})".encode() in pdf and b"Bakkerij \\(De\\) Witte" in pdf
    assert b"3 x Mok" in pdf and b"EUR 29.97" in pdf
    xref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[xref:].startswith(b"xref")
    assert api.get("invoices/999", params={"format": "pdf"}).status_code == 404
    assert api.get("clients", params={"format": "pdf"}).status_code == 400


# ---------------------------------------------------------------------------- knobs


def test_fail_next_and_error_rate(api: Api) -> None:
    api.knobs(fail_next=[503, 500])
    first, second, third = api.get("clients"), api.get("clients"), api.get("clients")
    assert (first.status_code, first.json()) == (503, {"error": "Service Unavailable"})
    assert (second.status_code, third.status_code) == (500, 200)
    api.knobs(error_rate=1)
    assert {api.get("layouts").status_code for _ in range(6)} <= {500, 502, 503}
    api.knobs(error_rate=0)
    assert api.get("layouts").status_code == 200


def test_fail_after_commit_stores_the_invoice(api: Api) -> None:
    client_id = create_client(api)["client_id"]
    api.knobs(fail_after_commit_next=1)
    crashed = create_invoice(api, client_id, [MUG], external_invoice_id="ORDER-1")
    assert (crashed.status_code, crashed.json()) == (502, {"error": "Bad Gateway"})
    [stored] = api.get("invoices", params={"filter": "external_invoice_id=order-1"}).json()
    assert stored["number"].endswith("-0001") and stored["external_invoice_id"] == "ORDER-1"
    assert create_invoice(api, client_id, [MUG], external_invoice_id="ORDER-2").status_code == 201


def test_rate_limit_window_and_burst(api: Api) -> None:
    api.knobs(rate_limit_per_minute=2)
    first, second, blocked = api.get("layouts"), api.get("layouts"), api.get("layouts")
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == ("1", "0")
    assert (blocked.status_code, blocked.json()) == (429, {"error": "Too many requests"})
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert api.get("layouts", headers={"X-API-Key": "wrong"}).status_code == 401  # not counted, no headers

    api.knobs(rate_limit_per_minute=0, rate_limit_burst=2)
    statuses = [api.get("layouts") for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "1" and "X-RateLimit-Limit" not in statuses[2].headers


# ---------------------------------------------------------------------------- lookups, control API, log


def test_settings_layouts_and_unknown_paths(api: Api) -> None:
    settings = api.get("settings").json()
    assert settings["taxes"] == {
        "tax1": {"rate": "21.00"},
        "tax2": {"rate": "12.00"},
        "tax3": {"rate": "6.00"},
    }
    assert settings["invoice_numbering"]["next_number"].endswith("-0001")
    assert api.get("settings", params={"fields": "taxes,colour"}).status_code == 400
    layouts = api.get("layouts/").json()
    assert layouts == [
        {"layout_id": 1, "name": "Standaard", "default": "yes"},
        {"layout_id": 2, "name": "Webshop", "default": "no"},
    ]
    assert api.get("layouts/2").json()["name"] == "Webshop" and api.get("layouts/3").status_code == 404
    assert api.get("accounts/current").json()["number"].isdigit()
    unknown = api.get("stockitems")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Not found"})
    wrong_method = api.delete("invoices")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_control_api(sandbox: SandboxServer) -> None:
    accounts = f"{sandbox.url}{CONTROL}/accounts"
    account = new_account(sandbox, display_name="Bakkerij De Witte", knobs={"latency_ms": 1})
    again = httpx.post(
        accounts, json={"name": account["name"], "layouts": [{"layout_id": 7, "name": "Enig"}]}
    )
    assert again.status_code == 200 and again.json()["layouts"] == [
        {"layout_id": 7, "name": "Enig", "default": "yes"}
    ]
    assert "api_key" not in again.json() and again.json()["knobs"]["latency_ms"] == 1
    for bad in (
        {"name": "bad name", "api_key": "k"},
        {"name": f"new-{uuid.uuid4().hex[:6]}"},
        {"name": account["name"], "taxes": ["21", "abc"]},
        {"name": account["name"], "taxes": ["21", "12", "6", "3", "2", "1"]},
        {"name": account["name"], "knobs": {"error_rate": "high"}},
        {"name": account["name"], "colour": "red"},
    ):
        response = httpx.post(accounts, json=bad)
        assert response.status_code == 400 and "error" in response.json(), bad

    control = account["control"]
    seeded = httpx.post(f"{control}/clients", json={"name": "Seeded", "email_address": "s@seed.be"})
    assert seeded.status_code == 201 and seeded.json()["number"] == "1001"
    assert httpx.post(f"{control}/clients", json={"name": ""}).status_code == 400
    with connect(account, Accept="application/json") as api:
        assert api.get("accounts/current").json()["name"] == "Bakkerij De Witte"
        create_invoice(api, seeded.json()["client_id"], [MUG])
    state = httpx.get(control).json()
    assert state["name"] == account["name"] and [c["name"] for c in state["clients"]] == ["Seeded"]
    assert len(state["invoices"]) == 1 and state["taxes"] == ["21.00", "12.00", "6.00"]

    assert httpx.post(f"{control}/knobs", json={"fail_next": [503]}).json()["fail_next"] == [503]
    assert httpx.post(f"{control}/knobs", json={"nonsense": 1}).status_code == 400
    assert httpx.post(f"{control}/knobs", json={"error_rate": 2}).status_code == 400
    assert httpx.get(f"{control}/knobs").json()["fail_next"] == [503]

    assert httpx.post(f"{control}/reset").status_code == 200
    state = httpx.get(control).json()
    assert state["clients"] == state["invoices"] == state["emails"] == []
    assert state["knobs"]["fail_next"] == [] and state["knobs"]["latency_ms"] == 0
    assert httpx.get(f"{control}/requests").json() == {"requests": []}
    assert httpx.get(f"{accounts}/nobody-{uuid.uuid4().hex[:6]}").status_code == 404


def test_request_log_never_holds_the_api_key(api: Api) -> None:
    create_client(api, name="Log Me")
    api.get("clients", params={"filter": "name=log me", "api_key": api.key})
    api.get("clients", headers={"X-API-Key": "wrong"})  # names no account: not logged
    log = api.log()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/v1/clients", 201),
        ("GET", "/api/v1/clients", 200),
    ]
    assert log[0]["json"] == {"name": "Log Me"} and log[0]["query"] == {}
    assert log[1]["query"]["filter"] == "name=log me" and log[1]["query"]["api_key"] == "***"
    assert api.key not in json.dumps(log)
    assert set(log[0]) == {"time", "method", "path", "query", "json", "status"}
