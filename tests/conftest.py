"""Shared fixtures: the sandboxes on loopback, a shop and an invoicing administration per test (Factuursturen,
or each target in turn through ``target``), a connection between them, signed webhooks, and a worker that
runs what is queued."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_order_ids = itertools.count(int(time.time()) % 100_000 * 100)


class WebhookReceiver:
    """A tiny webhook endpoint for the sandboxes' tests: records every POST (headers looked up in any case)
    and answers the statuses queued with :meth:`answer` first, then ``default_status``."""

    def __init__(self, default_status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    headers = httpx.Headers(list(self.headers.items()))
                    receiver.received.append({"path": self.path, "headers": headers, "body": body})
                    status = receiver.answers.pop(0) if receiver.answers else default_status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_path(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for item in self.received if item["path"] == path]

    def answer(self, *statuses: int) -> None:
        with self.lock:
            self.answers.extend(statuses)

    def close(self) -> None:
        self.server.shutdown()


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared/{relative} is not available")
    return path


@pytest.fixture
def example() -> dict[str, Any]:
    """The example order of ``shared/specs/kmoshops`` (skips when ../shared is absent)."""
    return json.loads(shared_file("specs/kmoshops/order-example.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, connections that threads of the tests (live server, thread pools) took from psycopg's
    pool outlive them; the test database can only be dropped once they are gone."""
    yield
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        for wrapper in connections.all(initialized_only=True):
            if getattr(wrapper, "pool", None) is not None:
                wrapper.close_pool()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()


@pytest.fixture(scope="session")
def sandbox():
    from koppel.sandbox.server import SandboxServer

    with SandboxServer() as server:
        yield server


class Shop:
    """A KMO Shops webshop in the sandbox. A source in tests offers ``kind``, ``url`` and ``credentials``."""

    kind = "kmoshops"

    def __init__(self, sandbox, name: str, api_key: str) -> None:
        self.sandbox, self.name, self.api_key = sandbox, name, api_key
        self.credentials = {"api_key": api_key}
        self.url = f"{sandbox.url}/kmoshops/{name}"
        self.control = f"{sandbox.url}/_sandbox/kmoshops/shops/{name}"

    def place(self, order: dict[str, Any], *, notify: bool = False) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/orders", params={"notify": str(notify).lower()}, json=order)
        assert response.status_code == 201, response.text
        return response.json()

    def place_many(self, orders: list[dict[str, Any]]) -> list[int]:
        """Seed orders without webhooks (as a shop that existed before Koppel)."""
        response = httpx.post(f"{self.control}/orders/bulk", json={"orders": orders}, timeout=60)
        assert response.status_code == 201, response.text
        return response.json()["ids"]

    def requests(self) -> list[dict[str, Any]]:
        data = httpx.get(f"{self.control}/requests").json()
        return data["requests"] if isinstance(data, dict) else data

    def update(self, order_id: str | int, changes: dict[str, Any]) -> dict[str, Any]:
        response = httpx.patch(f"{self.control}/orders/{order_id}", json=changes)
        assert response.status_code == 200, response.text
        return response.json()

    def delete(self, order_id: str | int) -> None:
        assert httpx.delete(f"{self.control}/orders/{order_id}").status_code in (200, 204)

    def knobs(self, **values: Any) -> None:
        assert httpx.post(f"{self.control}/knobs", json=values).status_code == 200

    def configure(self, **values: Any) -> None:
        body = {"shop": self.name, "api_key": self.api_key, **values}
        assert httpx.post(f"{self.sandbox.url}/_sandbox/kmoshops/shops", json=body).status_code in (200, 201)


class TargetAccount:
    """An account in a target's sandbox, seen the way a test checks it: what the invoices and debtors are,
    whatever the target calls their fields. One subclass per target."""

    kind: str
    url: str
    control: str
    credentials: dict[str, str]
    #: How the target is made to refuse an order: (settings, customer fields, words in its message).
    rejection: tuple[dict[str, Any], dict[str, Any], str]

    def state(self) -> dict[str, Any]:
        return httpx.get(self.control).json()

    @property
    def invoices(self) -> list[dict[str, Any]]:
        return self.state()["invoices"]

    @property
    def clients(self) -> list[dict[str, Any]]:
        return self.state()["clients"]

    def requests(self) -> list[dict[str, Any]]:
        data = httpx.get(f"{self.control}/requests").json()
        return data["requests"] if isinstance(data, dict) else data

    def knobs(self, **values: Any) -> None:
        response = httpx.post(f"{self.control}/knobs", json=values)
        assert response.status_code == 200, response.text

    def connector(self, settings: dict[str, Any] | None = None):
        from koppel.connectors import registry

        return registry.target(self.kind)(url=self.url, credentials=self.credentials, settings=settings)

    # What each target calls things ------------------------------------------------------------------------
    def wrong_credentials(self) -> dict[str, str]:
        return {**self.credentials, "api_key": "not-the-key"}

    def invoice_total(self, invoice: dict[str, Any]) -> Decimal:
        raise NotImplementedError

    def invoice_client(self, invoice: dict[str, Any]) -> str:
        raise NotImplementedError

    def client_id(self, client: dict[str, Any]) -> str:
        raise NotImplementedError

    def client_email(self, client: dict[str, Any]) -> str:
        raise NotImplementedError

    def client_city(self, client: dict[str, Any]) -> str:
        return client["city"]

    def client_vat_number(self, client: dict[str, Any]) -> str:
        raise NotImplementedError

    def book_by_hand(self, reference: str) -> None:
        """An invoice a bookkeeper typed in, with ``reference`` as its reference, through the real API."""
        raise NotImplementedError

    def invoice_posts(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests()
            if r["method"] == "POST" and r["path"].rstrip("/").endswith("/invoices")
        ]

    # Credit notes -------------------------------------------------------------------------------------------
    @property
    def credit_notes(self) -> list[dict[str, Any]]:
        """The target's credit notes (negative invoices, credit notes, credit invoices), however made."""
        return [note for note in self.invoices if self.invoice_total(note) < 0]

    def credit_reference(self, note: dict[str, Any]) -> str:
        """The reference a credit note is found by."""
        raise NotImplementedError

    def credit_refers_to(self, note: dict[str, Any], number: str, invoice_id: str) -> bool:
        """Whether the credit note names (or links to) the invoice it credits."""
        raise NotImplementedError

    def book_credit_by_hand(self, reference: str) -> None:
        """A credit note a bookkeeper typed in (minus 10.00 at 21%) with ``reference``, through the API."""
        raise NotImplementedError


class Administration(TargetAccount):
    """A Factuursturen administration in the sandbox."""

    kind = "factuursturen"
    # Automatic e-mailing needs an e-mail address; Factuursturen refuses such a debtor without one.
    rejection = ({"send_invoice": "email"}, {"email": ""}, "email")

    def __init__(self, sandbox, username: str, api_key: str) -> None:
        self.sandbox, self.username, self.api_key = sandbox, username, api_key
        self.url = f"{sandbox.url}/factuursturen/api/v1"
        self.control = f"{sandbox.url}/_sandbox/factuursturen/accounts/{username}"
        self.credentials = {"username": username, "api_key": api_key}

    def add_client(self, client: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.control}/clients", json=client)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def create_invoice(self, body: dict[str, Any]) -> str:
        """Book an invoice by hand, through the real API, as a merchant's bookkeeper would."""
        response = httpx.post(f"{self.url}/invoices", json=body, auth=(self.username, self.api_key))
        assert response.status_code == 201, response.text
        return response.text

    def invoice_total(self, invoice: dict[str, Any]) -> Decimal:
        return Decimal(invoice["totalintax"])

    def invoice_client(self, invoice: dict[str, Any]) -> str:
        return str(invoice["clientnr"])

    def client_id(self, client: dict[str, Any]) -> str:
        return str(client["clientnr"])

    def client_email(self, client: dict[str, Any]) -> str:
        return client["email"]

    def client_vat_number(self, client: dict[str, Any]) -> str:
        return client["taxnumber"]

    def book_by_hand(self, reference: str) -> None:
        client = self.add_client({"contact": "Handmatig", "email": f"hand.{uuid.uuid4().hex[:6]}@example.nl"})
        self.create_invoice(
            {
                "clientnr": client.get("clientnr", "1"),
                "action": "send",
                "sendmethod": "mail",
                "reference": {"line1": reference},
                "lines": [{"amount": "1", "description": "Handmatig", "tax_rate": "21", "price": "10.00"}],
            }
        )

    def credit_reference(self, note: dict[str, Any]) -> str:
        return note["reference"]["line1"]

    def credit_refers_to(self, note: dict[str, Any], number: str, invoice_id: str) -> bool:
        return bool(number) and number in note["reference"]["line2"]

    def book_credit_by_hand(self, reference: str) -> None:
        client = self.add_client({"contact": "Handmatig", "email": f"hand.{uuid.uuid4().hex[:6]}@example.nl"})
        self.create_invoice(
            {
                "clientnr": client.get("clientnr", "1"),
                "action": "send",
                "sendmethod": "mail",
                "reference": {"line1": reference, "line2": "Creditfactuur"},
                "lines": [{"amount": "1", "description": "Retour", "tax_rate": "21", "price": "-10.00"}],
            }
        )


class EenvoudigFacturerenAccount(TargetAccount):
    """An EenvoudigFactureren account in the sandbox."""

    kind = "eenvoudigfactureren"
    # EenvoudigFactureren checks that an e-mail address looks like one.
    rejection = ({}, {"email": "sanne@@example"}, "email_address")

    def __init__(self, sandbox, name: str, api_key: str) -> None:
        self.sandbox, self.name, self.api_key = sandbox, name, api_key
        self.url = f"{sandbox.url}/eenvoudigfactureren/api/v1"
        self.control = f"{sandbox.url}/_sandbox/eenvoudigfactureren/accounts/{name}"
        self.credentials = {"api_key": api_key}

    @property
    def emails(self) -> list[dict[str, Any]]:
        return self.state()["emails"]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": self.api_key, "Accept": "application/json"}
        return httpx.request(method, f"{self.url}/{path}", headers=headers, **kwargs)

    def add_client(self, client: dict[str, Any]) -> dict[str, Any]:
        response = self.api("POST", "clients", json=client)
        assert response.status_code == 201, response.text
        return response.json()

    def invoice_total(self, invoice: dict[str, Any]) -> Decimal:
        return Decimal(str(invoice["total_with_tax"]))

    def invoice_client(self, invoice: dict[str, Any]) -> str:
        return str(invoice["client_id"])

    def client_id(self, client: dict[str, Any]) -> str:
        return str(client["client_id"])

    def client_email(self, client: dict[str, Any]) -> str:
        return client["email_address"]

    def client_vat_number(self, client: dict[str, Any]) -> str:
        return client["tax_code"]

    def book_by_hand(self, reference: str) -> None:
        client = self.add_client(
            {"name": "Handmatig", "email_address": f"hand.{uuid.uuid4().hex[:6]}@example.be"}
        )
        response = self.api(
            "POST",
            "invoices",
            json={
                "client_id": client["client_id"],
                "reference": reference,
                "items": [{"description": "Handmatig", "quantity": 1, "amount": "10.00", "tax_rate": 21}],
            },
        )
        assert response.status_code == 201, response.text

    @property
    def credit_notes(self) -> list[dict[str, Any]]:
        return [invoice for invoice in self.invoices if invoice["type"] == "creditnote"]

    def credit_reference(self, note: dict[str, Any]) -> str:
        return note["reference"]

    def credit_refers_to(self, note: dict[str, Any], number: str, invoice_id: str) -> bool:
        return bool(number) and number in note["remarks"]

    def book_credit_by_hand(self, reference: str) -> None:
        client = self.add_client(
            {"name": "Handmatig", "email_address": f"hand.{uuid.uuid4().hex[:6]}@example.be"}
        )
        item = {"description": "Retour", "quantity": 1, "amount": "-10.00", "tax_rate": 21}
        body = {"client_id": client["client_id"], "reference": reference, "items": [item]}
        response = self.api("POST", "invoices", json=body)
        assert response.status_code == 201, response.text


class MoneybirdAccount(TargetAccount):
    """A Moneybird administration in the sandbox (Dutch tax rates, a chart of accounts, two layouts)."""

    kind = "moneybird"
    # Moneybird checks that an e-mail address looks like one (a 422 naming the field).
    rejection = ({}, {"email": "sanne@@example"}, "email")

    def __init__(self, sandbox, name: str, token: str) -> None:
        self.sandbox, self.name, self.api_key = sandbox, name, token
        self.url = f"{sandbox.url}/moneybird/api/v2"
        self.control = f"{sandbox.url}/_sandbox/moneybird/accounts/{name}"
        self.administration_id = ""
        self.credentials: dict[str, str] = {}

    def created(self, summary: dict[str, Any]) -> MoneybirdAccount:
        self.administration_id = summary["id"]
        self.credentials = {"api_token": self.api_key, "administration_id": self.administration_id}
        return self

    @property
    def invoices(self) -> list[dict[str, Any]]:
        """The sales invoices, each with the ``number`` a person sees (a draft's: "Concept N")."""
        return [
            {**invoice, "number": invoice["invoice_id"] or f"Concept {invoice['draft_id']}"}
            for invoice in self.state()["sales_invoices"]
        ]

    @property
    def clients(self) -> list[dict[str, Any]]:
        return self.state()["contacts"]

    def api(self, method: str, resource: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        url = f"{self.url}/{self.administration_id}/{resource}"
        return httpx.request(method, url, headers=headers, **kwargs)

    def tax_rate_id(self, name: str, kind: str = "sales_invoice") -> str:
        return next(
            r["id"] for r in self.state()["tax_rates"] if (r["name"], r["tax_rate_type"]) == (name, kind)
        )

    def wrong_credentials(self) -> dict[str, str]:
        return {**self.credentials, "api_token": "not-the-key"}

    def invoice_total(self, invoice: dict[str, Any]) -> Decimal:
        return Decimal(invoice["total_price_incl_tax"])

    def invoice_client(self, invoice: dict[str, Any]) -> str:
        return str(invoice["contact_id"])

    def client_id(self, client: dict[str, Any]) -> str:
        return str(client["id"])

    def client_email(self, client: dict[str, Any]) -> str:
        return client["send_invoices_to_email"]

    def client_vat_number(self, client: dict[str, Any]) -> str:
        return client["tax_number"]

    def book_by_hand(self, reference: str) -> None:
        contact = {"contact": {"company_name": "Handmatig", "send_invoices_to_email": "hand@example.nl"}}
        response = self.api("POST", "contacts.json", json=contact)
        assert response.status_code == 201, response.text
        line = {
            "description": "Handmatig",
            "price": "10.00",
            "amount": "1",
            "tax_rate_id": self.tax_rate_id("21% btw"),
        }
        body = {
            "sales_invoice": {
                "contact_id": response.json()["id"],
                "reference": reference,
                "details_attributes": [line],
            }
        }
        response = self.api("POST", "sales_invoices.json", json=body)
        assert response.status_code == 201, response.text

    def invoice_posts(self) -> list[dict[str, Any]]:
        return [
            r for r in self.requests() if r["method"] == "POST" and r["path"].endswith("/sales_invoices.json")
        ]

    def credit_reference(self, note: dict[str, Any]) -> str:
        return note["reference"]

    def credit_refers_to(self, note: dict[str, Any], number: str, invoice_id: str) -> bool:
        """Linked by ``original_sales_invoice_id`` (Moneybird's duplicate), or named in the first detail."""
        if invoice_id and note.get("original_sales_invoice_id") == invoice_id:
            return True
        return bool(number) and any(number in detail["description"] for detail in note["details"][:1])

    def book_credit_by_hand(self, reference: str) -> None:
        contact = {"contact": {"company_name": "Handmatig", "send_invoices_to_email": "hand@example.nl"}}
        response = self.api("POST", "contacts.json", json=contact)
        assert response.status_code == 201, response.text
        rate = self.tax_rate_id("21% btw")
        line = {"description": "Retour", "price": "10.00", "amount": "-1", "tax_rate_id": rate}
        invoice = {"contact_id": response.json()["id"], "reference": reference, "details_attributes": [line]}
        response = self.api("POST", "sales_invoices.json", json={"sales_invoice": invoice})
        assert response.status_code == 201, response.text


@pytest.fixture
def shop(sandbox) -> Shop:
    item = Shop(sandbox, f"shop-{uuid.uuid4().hex[:8]}", f"kmo-{uuid.uuid4().hex}")
    item.configure(webhook_url=None, webhook_secret="")
    return item


@pytest.fixture
def administration(sandbox) -> Administration:
    item = Administration(sandbox, f"fs-{uuid.uuid4().hex[:8]}", f"fskey-{uuid.uuid4().hex}")
    body = {"username": item.username, "api_key": item.api_key, "hourly_limit": 100_000}
    assert httpx.post(f"{sandbox.url}/_sandbox/factuursturen/accounts", json=body).status_code in (200, 201)
    return item


def new_eenvoudigfactureren_account(sandbox, **settings: Any) -> EenvoudigFacturerenAccount:
    item = EenvoudigFacturerenAccount(sandbox, f"ef-{uuid.uuid4().hex[:8]}", f"efkey-{uuid.uuid4().hex}")
    body = {"name": item.name, "api_key": item.api_key, **settings}
    response = httpx.post(f"{sandbox.url}/_sandbox/eenvoudigfactureren/accounts", json=body)
    assert response.status_code in (200, 201), response.text
    return item


@pytest.fixture
def eenvoudigfactureren(sandbox) -> EenvoudigFacturerenAccount:
    """An EenvoudigFactureren account with the Dutch rates (21, 9 and the 0% every account has)."""
    return new_eenvoudigfactureren_account(sandbox, taxes=["21", "9"])


def new_moneybird_administration(sandbox, **options: Any) -> MoneybirdAccount:
    item = MoneybirdAccount(sandbox, f"mb-{uuid.uuid4().hex[:8]}", f"mbtoken-{uuid.uuid4().hex}")
    body = {"name": item.name, "token": item.api_key, **options}
    response = httpx.post(f"{sandbox.url}/_sandbox/moneybird/administrations", json=body)
    assert response.status_code in (200, 201), response.text
    return item.created(response.json())


@pytest.fixture
def moneybird(sandbox) -> MoneybirdAccount:
    """A Moneybird administration with the Dutch tax rates (21, 9, 0, Geen btw, Btw verlegd)."""
    return new_moneybird_administration(sandbox)


TARGETS = ("factuursturen", "eenvoudigfactureren", "moneybird")


@pytest.fixture(params=TARGETS)
def target(request, sandbox) -> TargetAccount:
    """Each target in turn: an account with the Dutch VAT rates 21, 9 and 0."""
    if request.param == "factuursturen":
        return request.getfixturevalue("administration")
    if request.param == "moneybird":
        return request.getfixturevalue("moneybird")
    return request.getfixturevalue("eenvoudigfactureren")


@pytest.fixture
def retry_fast(settings):
    settings.RETRY_BASE_SECONDS = 0.02
    settings.RETRY_CAP_SECONDS = 0.1
    settings.RETRY_MAX_ATTEMPTS = 4
    settings.BOOKING_DOUBT_SECONDS = 0.3
    settings.BOOKING_DOUBT_RECHECK_SECONDS = 0.05
    return settings


@pytest.fixture
def account(transactional_db):
    from koppel.accounts.models import Account

    return Account.objects.create(name="Bakkerij De Witte BV")


def connect(account, source, target: TargetAccount, **fields: Any):
    """A saved connection from ``source`` (a sandbox shop: ``kind``, ``url``, ``credentials``) to
    ``target``, booking everything since 2020."""
    from koppel.connections.models import Connection

    item = Connection(
        account=account,
        name=f"{source.kind} → {target.kind}",
        source_kind=source.kind,
        source_url=source.url,
        target_kind=target.kind,
        target_url=target.url,
        shop_country="NL",
        start_at=datetime(2020, 1, 1, tzinfo=UTC),
        **fields,
    )
    item.source_credentials = dict(source.credentials)
    item.target_credentials = dict(target.credentials)
    item.new_webhook_secret()
    item.save()
    return item


@pytest.fixture
def connection(account, shop, administration, retry_fast):
    return connect(account, shop, administration)


@pytest.fixture
def target_connection(account, shop, target, retry_fast):
    """A connection from ``shop`` to each target in turn."""
    return connect(account, shop, target)


def make_order(**overrides: Any) -> dict[str, Any]:
    """A paid Dutch consumer order of two lines plus shipping, placed now; override any field."""
    order_id = next(_order_ids)
    customer = {
        "firstname": "Sanne",
        "lastname": "Jansen",
        "company": "",
        "address1": "Kerkstraat",
        "address2": "",
        "house_number": "7",
        "zipcode": "3511 LK",
        "city": "Utrecht",
        "country": "NL",
        "telnr": "0301234567",
        "mobile": "0612345678",
        "email": f"sanne.{order_id}@example.nl",
        "vatnumber": "",
    }
    customer.update(overrides.pop("customer", {}))
    order = {
        "id": order_id,
        "number": f"K{order_id}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "paid",
        "currency": "EUR",
        "priceincltax": True,
        "payment_method": "iDEAL",
        "paid": True,
        "customer": customer,
        "lines": [
            {
                "sku": "MUG-1",
                "description": "Mok Delfts blauw",
                "amount": 2,
                "price": "12.95",
                "tax_rate": "21.00",
            },
            {
                "sku": "TEA-9",
                "description": "Thee, losse blad",
                "amount": 1,
                "price": "7.49",
                "tax_rate": "9.00",
            },
        ],
        "shipping": {"description": "Verzendkosten", "price": "4.95", "tax_rate": "21.00"},
    }
    order.update(overrides)
    if "total" not in order:
        order["total"] = str(
            sum(Decimal(str(line["amount"])) * Decimal(line["price"]) for line in order["lines"])
            + Decimal(order["shipping"]["price"] if order.get("shipping") else "0")
        )
    return order


def signed(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(order_id: Any, event: str = "order.created") -> bytes:
    return json.dumps(
        {"event": event, "order_id": str(order_id), "shop": "test"}, separators=(",", ":")
    ).encode()


@pytest.fixture
def deliver(client):
    """Send Koppel a correctly signed KMO Shops webhook for an order, as the shop would."""

    def send(connection, order_id: Any, event: str = "order.created"):
        body = webhook_body(order_id, event)
        return client.post(
            connection.webhook_path,
            body,
            content_type="application/json",
            HTTP_X_KMO_SIGNATURE=signed(body, connection.webhook_secret),
        )

    return send


def drain(timeout: float = 20.0) -> None:
    """Run queued tasks in this process until none is ready or due within ``timeout`` seconds."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from koppel.sync.worker import run_worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_worker(batch=True, worker_id="test-worker", housekeeping_enabled=False, interval=0)
        if not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists():
            return
        time.sleep(0.02)
    raise AssertionError("tasks were still queued after the timeout")


@pytest.fixture
def run_queue():
    return drain


def record_of(connection, order: dict[str, Any]):
    from koppel.sync.models import Record

    return Record.objects.get(connection=connection, source_order_id=str(order["id"]))


def book(shop, connection, deliver, order):
    """Place ``order`` in the KMO Shops sandbox, deliver its signed webhook, run the queue: its record."""
    shop.place(order)
    response = deliver(connection, order["id"])
    assert response.status_code == 202, response.content
    drain()
    return record_of(connection, order)


def in_past(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


@pytest.fixture
def koppel_web(transactional_db):
    """Koppel's own ASGI app (as ``koppel serve`` runs it) on loopback, for tests through real HTTP."""
    from koppel.asgi import application, webhook_gate
    from koppel.sandbox.server import SandboxServer

    try:
        with SandboxServer(app=application, health_path="/health") as server:
            yield server
    finally:
        webhook_gate.close()  # its writer's database connection goes before the test database does
