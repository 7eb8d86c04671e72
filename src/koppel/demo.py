"""``koppel demo``: Koppel working end to end on one machine, in one command.

It migrates the database in the data directory, starts the sandboxes (``koppel sandbox``: the simulated KMO
Shops, WooCommerce, Shopify, Factuursturen and EenvoudigFactureren), the web app (``koppel serve``) and a
worker (``koppel worker``) as child processes, sets up a demo user, account, API token and five connections
(a KMO Shops shop to each target, a WooCommerce shop to Factuursturen, a Shopify shop to
EenvoudigFactureren and a bol.com shop to Factuursturen), and then keeps placing orders in the five simulated
shops in turn, printing each order's outcome, tagged with its connection, as it arrives. Some KMO Shops
orders fail a pre-check on purpose; the WooCommerce and Shopify orders show coupon codes (a "Korting" line
per VAT rate), an unpaid order that is paid a little later, and a webhook delivered twice; the bol.com
orders (:mod:`koppel.demo_bol`) are shipped, one in two parts, with a promotion, cancellations and a
customer asking bol.com for the invoice.

Ctrl-C (or SIGTERM) stops every child and exits 0. The pieces that start and stop the processes, set up a
connection to the sandboxes and make up orders are used by the benchmarks in ``bench/`` as well.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.accounts.models import Account
    from koppel.connections.models import Connection

HOST = "127.0.0.1"
DEMO_USER = "demo"
DEMO_PASSWORD = "koppel-demo"
DEMO_ACCOUNT = "Demo"
#: The spec's example order, in the reference material next to the repository (absent elsewhere).
EXAMPLE_ORDER = Path(__file__).resolve().parents[3] / "shared" / "specs" / "kmoshops" / "order-example.json"
STOP_TIMEOUT = 10.0


def koppel_command(*args: str) -> list[str]:
    """``koppel ARGS`` run with this interpreter, so it works without the console script on PATH."""
    return [sys.executable, "-m", "koppel.cli", *args]


def port_taken(port: int, host: str = HOST) -> bool:
    """True when something listens on ``host:port`` (binds the way uvicorn does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------- processes


class ChildDied(RuntimeError):
    def __init__(self, name: str, code: int | None, log: Path) -> None:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
        super().__init__(f"{name} stopped unexpectedly (exit code {code}); last lines of {log}:\n{tail}")
        self.name = name


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    """Koppel's processes (sandboxes, web app, workers), started as children and stopped together.

    Each child runs in its own session, so a Ctrl-C in the terminal reaches only the parent, which then
    stops the children in reverse order of starting: workers first, the sandboxes last.
    """

    env: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name.replace(' ', '-')}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                koppel_command(*args),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def check(self) -> None:
        """Raise :class:`ChildDied` when a child has exited."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildDied(child.name, code, child.log)

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Wait until ``url`` answers 200, watching that no child dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Terminate every child (SIGTERM, then SIGKILL after ``timeout`` s); the names of those killed."""
        killed = []
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
                    killed.append(child.name)
        self.children.clear()
        return killed


def stack_env(data_dir: Path, public_url: str, **extra: str) -> dict[str, str]:
    """The environment of the children (and of this process, which talks to the same database)."""
    env = dict(os.environ)
    env.update(KOPPEL_DATA_DIR=str(data_dir), KOPPEL_PUBLIC_URL=public_url, PYTHONUNBUFFERED="1", **extra)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with the children's environment, and migrate the database."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
    Path(env["KOPPEL_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


# ---------------------------------------------------------------------------------------- set-up


def ensure_demo_login() -> Account:
    """The demo user (staff and superuser, so the admin shows everything) and its account."""
    from django.contrib.auth import get_user_model

    from koppel.accounts.models import Account

    user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
    user.set_password(DEMO_PASSWORD)
    user.is_staff = user.is_superuser = user.is_active = True
    user.save()
    account = Account.objects.filter(name=DEMO_ACCOUNT).order_by("pk").first()
    if account is None:
        account = Account.objects.create(name=DEMO_ACCOUNT)
    account.members.add(user)
    return account


def issue_demo_token(account: Account) -> str:
    """A fresh API token each run (only its hash is stored, so an old one cannot be shown again)."""
    from koppel.accounts.models import ApiToken

    ApiToken.objects.filter(account=account, name="demo").delete()
    return ApiToken.issue(account, "demo")[1]


@dataclass(frozen=True)
class TargetAccount:
    """A sandbox target account as a connection reaches it: the API base URL and the credentials."""

    url: str
    credentials: dict[str, str]


#: The control page of a target's sandbox account, where it is not ``/_sandbox/<target>/accounts/<name>``.
SANDBOX_CONTROL_PAGES: dict[str, str] = {}


def sandbox_account_url(sandbox_url: str, target: str, name: str) -> str:
    """The control page of a target sandbox account (its clients, invoices and, where kept, e-mails)."""
    page = SANDBOX_CONTROL_PAGES.get(target, "/_sandbox/{target}/accounts/{name}")
    return sandbox_url + page.format(target=target, name=name)


def _factuursturen_account(client: httpx.Client, name: str) -> TargetAccount:
    """A Factuursturen account named ``name`` with a fresh API key, emptied, with an unlimited budget."""
    key = secrets.token_urlsafe(24)
    accounts = "/_sandbox/factuursturen/accounts"
    client.post(accounts, json={"username": name, "api_key": key, "hourly_limit": 10**9}).raise_for_status()
    client.post(f"{accounts}/{name}/reset").raise_for_status()
    return TargetAccount(
        str(client.base_url.join("factuursturen/api/v1")), {"username": name, "api_key": key}
    )


def _eenvoudigfactureren_account(client: httpx.Client, name: str) -> TargetAccount:
    """An EenvoudigFactureren account with a fresh API key and a Dutch shop's rates (21% and 9%; 0% is
    always there), emptied; its rate limit is off by default."""
    key = secrets.token_urlsafe(24)
    accounts = "/_sandbox/eenvoudigfactureren/accounts"
    client.post(accounts, json={"name": name, "api_key": key, "taxes": ["21", "9"]}).raise_for_status()
    client.post(f"{accounts}/{name}/reset").raise_for_status()
    return TargetAccount(str(client.base_url.join("eenvoudigfactureren/api/v1")), {"api_key": key})


#: How to make a sandbox account for each target kind: the only place that knows their shapes.
SANDBOX_ACCOUNTS: dict[str, Callable[[httpx.Client, str], TargetAccount]] = {
    "factuursturen": _factuursturen_account,
    "eenvoudigfactureren": _eenvoudigfactureren_account,
}


def create_sandbox_account(sandbox_url: str, target: str, name: str) -> TargetAccount:
    """Create (or empty) the sandbox account ``name`` of ``target`` with a fresh API key."""
    try:
        make = SANDBOX_ACCOUNTS[target]
    except KeyError:
        raise LookupError(
            f"No sandbox account for target {target!r}; known: {', '.join(SANDBOX_ACCOUNTS)}"
        ) from None
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        return make(client, name)


def connect_sandboxes(
    account: Account,
    sandbox_url: str,
    *,
    name: str,
    shop: str,
    target_account: str,
    target: str = "factuursturen",
    source: str = "kmoshops",
    shop_knobs: dict[str, Any] | None = None,
    poll: bool = True,
) -> Connection:
    """Create (or reset) a connection from a new sandbox shop of ``source`` (``kmoshops``, ``woocommerce``
    or ``shopify``) named ``shop`` to a new sandbox account of ``target`` (``factuursturen`` or
    ``eenvoudigfactureren``) named ``target_account``.

    The sandboxes keep their state in memory, so each run starts with an empty shop and administration;
    the connection's records, debtor claims and received webhooks are cleared to match (a claim would point
    at a debtor of the previous run's administration). The shop's webhooks go to the connection's webhook
    URL, signed with the connection's secret; Shopify signs with a key the shop chooses, which becomes the
    connection's secret. ``poll=False`` puts the safety-net poll an hour away.
    """
    from django.utils import timezone

    from koppel.connections.models import Connection

    sandbox_shop = sandbox_shop_of(source)
    target_sandbox = create_sandbox_account(sandbox_url, target, target_account)
    connection = Connection.objects.filter(account=account, name=name).first() or Connection(
        account=account, name=name
    )
    credentials = sandbox_shop.new_credentials()
    connection.source_kind, connection.target_kind = source, target
    connection.source_url = sandbox_shop.source_url(sandbox_url, shop)
    connection.target_url = target_sandbox.url
    connection.source_credentials = credentials
    connection.source_settings = dict(sandbox_shop.source_settings)
    connection.target_credentials = target_sandbox.credentials
    secret = connection.new_webhook_secret()
    connection.active, connection.shop_country = True, "NL"
    connection.start_at = timezone.now() - timedelta(minutes=5)
    connection.poll_cursor = connection.last_polled_at = connection.target_paused_until = None
    connection.source_paused_until = None
    connection.target_vat_rates = connection.target_vat_rates_at = None
    connection.next_poll_at = None if poll else timezone.now() + timedelta(hours=1)
    connection.save()
    connection.records.all().delete()
    connection.debtor_claims.all().delete()
    connection.webhook_deliveries.all().delete()

    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        shop_key = sandbox_shop.create(
            client,
            shop,
            credentials,
            webhook_url=connection.webhook_url,
            secret=secret,
            knobs=shop_knobs or {},
        )
    if shop_key is not None:
        connection.webhook_secret = shop_key
        connection.save(update_fields=["webhook_secret_encrypted"])
    sandbox_shop.after_connect(connection)
    return connection


# ---------------------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class Customer:
    firstname: str
    lastname: str
    address1: str
    house_number: str
    zipcode: str
    city: str
    country: str
    email: str
    telnr: str = ""
    company: str = ""
    vatnumber: str = ""

    def as_json(self) -> dict[str, str]:
        return {"address2": "", "mobile": "", **asdict(self)}


def _customers(table: str) -> tuple[Customer, ...]:
    return tuple(Customer(*map(str.strip, row.split("|"))) for row in table.strip().splitlines())


# first name|last name|street|number|postcode|city|country|e-mail|phone|company|VAT number
CONSUMERS = _customers("""
Sanne|Jansen|Kerkstraat|14|3511 LK|Utrecht|NL|sanne.jansen@example.nl|||
Daan|de Vries|Lange Voorhout|3|2514 EA|Den Haag|NL|daan@devries.example|||
Fleur|Bakker|Oudegracht|210|3511 NR|Utrecht|NL|fleur.bakker@example.nl|||
Mohamed|El Amrani|Witte de Withstraat|50|3012 BR|Rotterdam|NL|m.elamrani@example.nl|010 1234567||
Lotte|Visser|Vismarkt|7|9712 CA|Groningen|NL|lotte.visser@example.nl|||
Lieselot|Peeters|Meir|45|2000|Antwerpen|BE|lieselot.peeters@example.be|+32 3 1234567||
Wout|Janssens|Veldstraat|12|9000|Gent|BE|wout.janssens@example.be|||
Camille|Dubois|Rue Neuve|8|1000|Bruxelles|BE|camille.dubois@example.be|||
""")
#: Domestic businesses: prices excluding VAT, paid on account.
NL_BUSINESSES = _customers("""
Pieter|Mulder|Keizersgracht|100|1015 CX|Amsterdam|NL|inkoop@noord.example||Studio Noord BV|NL853746333B01
Gert|Verbeek|Markt|3|5211 JV|'s-Hertogenbosch|NL|gert@bloemenhuis.example||Bloemenhuis Verbeek|
""")
#: Belgian businesses with a valid VAT number: intra-community supplies at 0%.
BE_BUSINESSES = _customers("""
Lien|Vandenberghe|Kortrijksesteenweg|200|9830|Latem|BE|lien@drukkerij-vdb.example||Drukkerij VDB|BE0045678981
Julien|Lemaire|Rue de Namur|10|5000|Namur|BE|julien@lemaire.example||Atelier Lemaire SRL|BE 0065.432.141
""")
#: Belgian businesses without a (valid) VAT number, whose orders cannot be booked as they are.
BE_BUSINESS_WITHOUT_VAT, BE_BUSINESS_BAD_VAT = _customers("""
Els|Claes|Bruul|20|2800|Mechelen|BE|els@dezoeteinval.example||Koffiebar De Zoete Inval|
Tom|Willems|Diestsestraat|88|3000|Leuven|BE|tom@fietsenwillems.example||Fietsen Willems BV|BE0123456789
""")

#: (sku, description, unit price incl. VAT, VAT rate): books and food at 9%, the rest at 21%.
PRODUCTS = (
    ("KOF-1KG", "Koffiebonen espresso 1 kg", "24.95", "9.00"),
    ("THEE-BIO", "Theepakket biologisch", "12.50", "9.00"),
    ("BOEK-VEG", "Kookboek Vegetarisch Koken", "29.99", "9.00"),
    ("STROOP-B", "Stroopwafels in blik", "6.45", "9.00"),
    ("MOK-KER", "Keramische mok", "9.95", "21.00"),
    ("LAMP-LED", "Bureaulamp LED", "49.00", "21.00"),
    ("DOEK-LIN", "Linnen theedoeken (set van 3)", "17.50", "21.00"),
    ("PLAID-WOL", "Wollen plaid", "79.00", "21.00"),
    ("NOTE-A5", "Notitieboek A5", "7.95", "21.00"),
    ("FIETS-LICHT", "Fietsverlichtingset", "34.95", "21.00"),
)
SEVEN_PERCENT_LINE = {
    "sku": "KINDERBOEK-DE",
    "description": "Kinderboek (Duitse import, 7% btw)",
    "amount": 1,
    "price": "14.00",
    "tax_rate": "7.00",
}
FREE_SHIPPING_FROM = Decimal("75.00")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    expect: str
    """What Koppel should make of it: ``handled``, or the error code."""


SCENARIOS = {
    s.key: s
    for s in (
        Scenario("example", "the example order of the KMO Shops spec", "handled"),
        Scenario("consumer", "consumer order, prices incl. VAT", "handled"),
        Scenario("business", "Dutch business, prices excl. VAT, on account", "handled"),
        Scenario("icp", "Belgian business with VAT number: intra-community, 0% VAT", "handled"),
        Scenario("pending", "pending order, paid a little later", "open, then handled"),
        Scenario("mismatch", "a discount the shop did not put on a line", "TOTAL_MISMATCH"),
        Scenario("icp-missing", "Belgian business without VAT number", "ICP_VAT_NUMBER_MISSING"),
        Scenario("icp-invalid", "Belgian business with a wrong VAT number", "ICP_VAT_NUMBER_INVALID"),
        Scenario("vat7", "a line at 7% VAT, a rate the administration lacks", "VAT_CODE_MISSING"),
    )
}
#: The first orders show every kind once; after them the mix is mostly good orders.
OPENING = ("example", "mismatch", "icp", "icp-missing", "pending", "vat7", "business", "icp-invalid")
GOOD_MIX = ("consumer",) * 6 + ("business",) * 2 + ("icp",) * 1
FAILING = ("mismatch", "icp-missing", "icp-invalid", "vat7", "pending")

#: What the WooCommerce and Shopify shops show: what is new with them (discounts, payment later, a webhook
#: delivered twice), all booked in the end.
SHOP_SCENARIOS = {
    s.key: s
    for s in (
        Scenario("consumer", "consumer order, prices incl. VAT", "handled"),
        Scenario("business", "Dutch business with a VAT number, prices incl. VAT", "handled"),
        Scenario("icp", "Belgian business with VAT number: intra-community, 0% VAT", "handled"),
        Scenario("coupon", "coupon code: a Korting line per VAT rate", "handled"),
        Scenario("pending", "unpaid order, paid a little later", "open, then handled"),
        Scenario("duplicate", "its webhook delivered twice (sandbox knob)", "handled"),
    )
}
SHOP_OPENING = ("coupon", "consumer", "pending", "duplicate", "icp", "coupon", "business")
SHOP_MIX = ("consumer",) * 5 + ("coupon",) * 2 + ("business", "icp", "pending")


@dataclass(frozen=True)
class DiscountCode:
    code: str
    kind: str
    """``percent`` or ``fixed`` (an amount off the cart, incl. VAT)."""
    amount: str


DISCOUNT_CODES = (DiscountCode("WELKOM10", "percent", "10"), DiscountCode("VOORJAAR5", "fixed", "5.00"))


@dataclass(frozen=True)
class Basket:
    """What a customer bought, before any platform's order shape: the lines and shipping as a KMO Shops
    order has them, at the shop's prices incl. VAT."""

    customer: Customer
    lines: list[dict[str, Any]]
    shipping: dict[str, str]
    payment: str
    paid: bool
    discount: DiscountCode | None = None
    intra_community: bool = False
    """A business customer from another EU country with a VAT number: the shop charges no VAT."""


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}"


def example_order() -> dict[str, Any] | None:
    """The spec's example order, placed now (its own date would be before the connection's start)."""
    try:
        order = json.loads(EXAMPLE_ORDER.read_text())
    except (OSError, ValueError):
        return None
    for key in ("id", "number", "created_at", "updated_at"):
        order.pop(key, None)
    return order


class OrderMaker:
    """Realistic KMO Shops orders: Dutch and Belgian customers, 21% and 9% lines, shipping, repeat
    customers (so debtors are found again rather than created), and on request the ones that fail."""

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)
        self.seen: list[Customer] = []

    def scenarios(self, *, failing: bool = True) -> Iterator[str]:
        """The demo's sequence: the opening, then roughly one failing order in six."""
        if failing:
            yield from OPENING if EXAMPLE_ORDER.exists() else ("consumer", *OPENING[1:])
        while True:
            if failing and self.random.random() < 1 / 6:
                yield self.random.choice(FAILING)
            else:
                yield self.random.choice(GOOD_MIX)

    def consumer(self) -> Customer:
        if self.seen and self.random.random() < 0.4:
            return self.random.choice(self.seen)
        customer = self.random.choice(CONSUMERS)
        self.seen.append(customer)
        return customer

    def lines(self, count: int, *, include_vat: bool, zero_rated: bool = False) -> list[dict[str, Any]]:
        return [
            self.line(product, include_vat=include_vat, zero_rated=zero_rated)
            for product in self.random.sample(PRODUCTS, count)
        ]

    def line(
        self, product: tuple[str, str, str, str], *, include_vat: bool, zero_rated: bool = False
    ) -> dict[str, Any]:
        sku, description, price, rate = product
        gross = Decimal(price)
        net = gross / (1 + Decimal(rate) / 100)
        return {
            "sku": sku,
            "description": description,
            "amount": self.random.choice((1, 1, 1, 2, 3)),
            "price": _money(gross if include_vat else net),
            "tax_rate": "0.00" if zero_rated else rate,
        }

    def mixed_lines(self) -> list[dict[str, Any]]:
        """A product at 9% and one at 21%, sometimes a third: a discount then falls on both rates."""
        picked = [
            self.random.choice([p for p in PRODUCTS if p[3] == "9.00"]),
            self.random.choice([p for p in PRODUCTS if p[3] == "21.00"]),
        ]
        if self.random.random() < 0.5:
            picked.append(self.random.choice([p for p in PRODUCTS if p not in picked]))
        return [self.line(product, include_vat=True) for product in picked]

    @staticmethod
    def shipping(customer: Customer, lines: list[dict[str, Any]], *, zero_rated: bool) -> dict[str, str]:
        subtotal = sum(Decimal(line["price"]) * line["amount"] for line in lines)
        price = "0.00" if subtotal >= FREE_SHIPPING_FROM else "9.95" if customer.country == "BE" else "6.95"
        return {"description": "Verzendkosten", "price": price, "tax_rate": "0.00" if zero_rated else "21.00"}

    def make(self, scenario: str) -> dict[str, Any]:
        """An order body for ``POST /_sandbox/kmoshops/shops/{shop}/orders`` (id and total by the shop)."""
        if scenario == "example" and (order := example_order()) is not None:
            return order  # without the file: a consumer order
        include_vat, zero_rated, status, paid, payment = True, False, "paid", True, "iDEAL"
        if scenario == "business":
            customer = self.random.choice(NL_BUSINESSES)
            include_vat, status, paid, payment = False, "processing", False, "Op rekening"
        elif scenario == "icp":
            customer = self.random.choice(BE_BUSINESSES)
            include_vat, zero_rated, payment = False, True, "Overschrijving"
        elif scenario == "icp-missing":
            customer = BE_BUSINESS_WITHOUT_VAT
        elif scenario == "icp-invalid":
            customer = BE_BUSINESS_BAD_VAT
        else:
            customer = self.consumer()
        if scenario == "pending":
            status, paid, payment = "pending", False, "Bankoverschrijving"
        elif customer.country == "BE" and not customer.company:
            payment = "Bancontact"
        lines = self.lines(self.random.randint(1, 3), include_vat=include_vat, zero_rated=zero_rated)
        if scenario == "vat7":
            lines.append(dict(SEVEN_PERCENT_LINE))
        order: dict[str, Any] = {
            "status": status,
            "paid": paid,
            "priceincltax": include_vat,
            "payment_method": payment,
            "customer": customer.as_json(),
            "lines": lines,
            "shipping": self.shipping(customer, lines, zero_rated=zero_rated),
        }
        if scenario == "mismatch":
            from koppel.connectors.kmoshops.sandbox import order_total

            order["total"] = _money(Decimal(order_total(order)) - Decimal("5.00"))
        return order

    def shop_scenarios(self) -> Iterator[str]:
        """The WooCommerce and Shopify shops' sequence (keys of :data:`SHOP_SCENARIOS`): the opening, then
        mostly plain orders, with coupons and now and then an order paid later."""
        yield from SHOP_OPENING
        while True:
            yield self.random.choice(SHOP_MIX)

    def basket(self, scenario: str) -> Basket:
        """A basket for one of :data:`SHOP_SCENARIOS`, from the same customers and products."""
        payment, icp = "iDEAL", False
        if scenario == "business":
            customer = self.random.choice(NL_BUSINESSES)
        elif scenario == "icp":
            customer, payment, icp = self.random.choice(BE_BUSINESSES), "Overschrijving", True
        else:
            customer = self.consumer()
            if customer.country == "BE":
                payment = "Bancontact"
        if scenario == "coupon":
            lines, discount = self.mixed_lines(), self.random.choice(DISCOUNT_CODES)
        else:
            lines, discount = self.lines(self.random.randint(1, 3), include_vat=True), None
        shipping = self.shipping(customer, lines, zero_rated=False)
        return Basket(customer, lines, shipping, payment, scenario != "pending", discount, icp)


# ---------------------------------------------------------------------------------------- shops


@dataclass(frozen=True)
class PlacedOrder:
    """An order the demo placed: the shop's order id and number, what the shop charged (when known), and
    what the shop does to it a little later (besides paying a pending order)."""

    order_id: str
    number: str
    charged: Decimal | None = None
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True)
class Done:
    """What a follow-up did: the line to print ("" prints none), a new order to label in the outcome lines
    (a second shipment: its order and scenario), and what comes next."""

    change: str
    watch: tuple[PlacedOrder, Scenario] | None = None
    then: FollowUp | None = None


@dataclass(frozen=True)
class FollowUp:
    """Something a shop does to an order ``delay`` seconds after the last step (ships the rest, a customer
    asks for the invoice); ``word`` is printed in the state column."""

    delay: float
    word: str
    act: Callable[[httpx.Client, Connection], Done]


COUNTRY_NAMES = {"NL": "Netherlands", "BE": "Belgium"}
#: The shops' product ids of :data:`PRODUCTS`, by SKU.
PRODUCT_IDS = {product[0]: 101 + n for n, product in enumerate(PRODUCTS)}
#: WooCommerce's tax class of each VAT rate (the sandbox's Dutch rates: standard 21%, reduced 9%).
WOO_TAX_CLASSES = {"21.00": "", "9.00": "reduced-rate"}
#: A payment method of :class:`OrderMaker` as WooCommerce's gateway (id, title) and as Shopify's gateway.
WOO_PAYMENTS = {
    "iDEAL": ("mollie_wc_gateway_ideal", "iDEAL"),
    "Bancontact": ("mollie_wc_gateway_bancontact", "Bancontact"),
    "Overschrijving": ("bacs", "Directe bankoverschrijving"),
}
SHOPIFY_GATEWAYS = {
    "iDEAL": "Mollie - iDEAL",
    "Bancontact": "Mollie - Bancontact",
    "Overschrijving": "Bank Deposit",
}


def _net(gross: str, rate: str) -> str:
    return _money(Decimal(gross) / (1 + Decimal(rate) / 100))


def _shipping_title(basket: Basket) -> str:
    if not Decimal(basket.shipping["price"]):
        return "Gratis verzending"
    return "PostNL" if basket.customer.country == "NL" else "bpost"


def woo_order(basket: Basket) -> dict[str, Any]:
    """A basket as an order body for ``POST /_sandbox/woocommerce/stores/{store}/orders`` in a shop with
    prices incl. VAT: the shop computes the VAT, the discount and the total, as WooCommerce's checkout does.
    Shipping costs are entered excl. VAT in WooCommerce (5.74 makes 6.95 at 21%)."""
    customer = basket.customer
    address = {
        "first_name": customer.firstname,
        "last_name": customer.lastname,
        "company": customer.company,
        "address_1": f"{customer.address1} {customer.house_number}",
        "postcode": customer.zipcode,
        "city": customer.city,
        "country": customer.country,
    }
    gateway, title = WOO_PAYMENTS[basket.payment]
    free = not Decimal(basket.shipping["price"])
    order: dict[str, Any] = {
        "status": "processing" if basket.paid else "pending",
        "payment_method": gateway,
        "payment_method_title": title,
        "billing": {**address, "email": customer.email, "phone": customer.telnr},
        "shipping": address,
        "line_items": [
            {
                "name": line["description"],
                "product_id": PRODUCT_IDS[line["sku"]],
                "sku": line["sku"],
                "quantity": line["amount"],
                "price": line["price"],
                "tax_class": WOO_TAX_CLASSES[line["tax_rate"]],
            }
            for line in basket.lines
        ],
        "shipping_lines": [
            {
                "method_title": _shipping_title(basket),
                "method_id": "free_shipping" if free else "flat_rate",
                "total": _net(basket.shipping["price"], basket.shipping["tax_rate"]),
                "tax_class": WOO_TAX_CLASSES[basket.shipping["tax_rate"]],
            }
        ],
    }
    if basket.discount is not None:
        kind = "percent" if basket.discount.kind == "percent" else "fixed_cart"
        order["coupon_lines"] = [
            {"code": basket.discount.code.lower(), "discount_type": kind, "amount": basket.discount.amount}
        ]
    if customer.vatnumber:
        order["meta_data"] = [{"key": "_billing_vat_number", "value": customer.vatnumber}]
    if basket.intra_community:
        order["vat_exempt"] = True  # the shop's VAT plugin: the customer pays the prices without VAT
    return order


def shopify_cart(basket: Basket) -> dict[str, Any]:
    """A basket as a cart for ``POST /_sandbox/shopify/shops/{shop}/orders`` in a shop with taxes included:
    the shop allocates the discount over the lines, computes the VAT per line and the total. An unpaid
    order is a manual payment (bank deposit), ``pending`` until the shop marks it paid."""
    customer, icp = basket.customer, basket.intra_community

    def priced(item: dict[str, Any], price: str) -> dict[str, Any]:
        rate = item["tax_rate"]
        return {"price": _net(price, rate) if icp else price, "tax_rate": "0.00" if icp else rate}

    cart: dict[str, Any] = {
        "line_items": [
            {"title": line["description"], "sku": line["sku"], "quantity": line["amount"]}
            | priced(line, line["price"])
            for line in basket.lines
        ],
        "shipping_lines": [
            {"title": _shipping_title(basket)} | priced(basket.shipping, basket.shipping["price"])
        ],
        "email": customer.email,
        "financial_status": "paid" if basket.paid else "pending",
        "payment_gateway_names": [SHOPIFY_GATEWAYS[basket.payment if basket.paid else "Overschrijving"]],
        "billing_address": {
            "first_name": customer.firstname,
            "last_name": customer.lastname,
            "company": customer.company or None,
            "address1": f"{customer.address1} {customer.house_number}",
            "city": customer.city,
            "zip": customer.zipcode,
            "country": COUNTRY_NAMES[customer.country],
            "country_code": customer.country,
            "phone": customer.telnr or None,
        },
    }
    if basket.discount is not None:
        kind = "percentage" if basket.discount.kind == "percent" else "fixed_amount"
        cart["discounts"] = [
            {"code": basket.discount.code, "value_type": kind, "value": basket.discount.amount}
        ]
    if customer.vatnumber:
        cart["note_attributes"] = [{"name": "VAT number", "value": customer.vatnumber}]
    return cart


class SandboxShop:
    """One source's sandbox as the demo drives it through the control API: where a shop lives and what
    its credentials are, creating it with its webhooks pointed at a connection, and placing and paying
    orders."""

    kind = ""
    label = ""
    control = ""
    """The control API's path of the shops, under the sandbox URL."""
    webhook_log = "webhooks"
    """The path, under a shop's control path, of the log of the webhooks it sent."""
    webhooks_per_order = 1
    """How many webhooks a new paid order sends."""
    source_settings: ClassVar[dict[str, Any]] = {}
    """The connection's source settings (bol.com: invoice per shipment, rates per EAN)."""

    def source_url(self, sandbox_url: str, shop: str) -> str:
        return f"{sandbox_url}/{self.kind}/{shop}"

    def shop_path(self, shop: str) -> str:
        return f"{self.control}/{shop}"

    def new_credentials(self) -> dict[str, str]:
        raise NotImplementedError

    def create(
        self,
        client: httpx.Client,
        shop: str,
        credentials: dict[str, str],
        *,
        webhook_url: str,
        secret: str,
        knobs: dict[str, Any],
    ) -> str | None:
        """Create (or change) the shop, its webhooks going to ``webhook_url``; returns the key the shop
        signs them with when the shop chooses it (else they are signed with ``secret``)."""
        raise NotImplementedError

    def after_connect(self, connection: Connection) -> None:
        """Called once the connection and the shop exist (bol.com: Koppel subscribes its webhook address)."""

    def webhook_note(self, client: httpx.Client, shop: str) -> str:
        """What the shop's webhooks are, for the banner."""
        return "order webhooks signed with the connection's secret"

    def scenarios(self, maker: OrderMaker) -> Iterator[Scenario]:
        return (SHOP_SCENARIOS[key] for key in maker.shop_scenarios())

    def place(self, client: httpx.Client, shop: str, maker: OrderMaker, scenario: str) -> PlacedOrder:
        raise NotImplementedError

    def pay(self, client: httpx.Client, shop: str, order_id: str) -> str:
        """Mark a pending order paid (the shop sends its webhooks); says what changed."""
        raise NotImplementedError

    def deliveries(self, client: httpx.Client, shop: str, **params: Any) -> list[dict[str, Any]]:
        response = client.get(f"{self.shop_path(shop)}/{self.webhook_log}", params=params, timeout=30.0)
        body = response.raise_for_status().json()
        return body if isinstance(body, list) else body["deliveries"]

    def place_twice_delivered(
        self, client: httpx.Client, shop: str, place: Callable[[], PlacedOrder]
    ) -> PlacedOrder:
        """``place()`` with the shop's ``duplicate_webhooks`` knob at 1: every webhook of the new order is
        delivered twice, with the same delivery id (the knob goes back to 0 once they have been sent)."""
        knobs = f"{self.shop_path(shop)}/knobs"
        before = len(self.deliveries(client, shop))
        client.post(knobs, json={"duplicate_webhooks": 1}).raise_for_status()
        placed = place()
        self.deliveries(client, shop, wait_for=before + 2 * self.webhooks_per_order, timeout=10)
        client.post(knobs, json={"duplicate_webhooks": 0}).raise_for_status()
        return placed


class KmoShopsShop(SandboxShop):
    kind, label, control = "kmoshops", "KMO Shops", "/_sandbox/kmoshops/shops"

    def new_credentials(self) -> dict[str, str]:
        return {"api_key": secrets.token_urlsafe(24)}

    def create(
        self,
        client: httpx.Client,
        shop: str,
        credentials: dict[str, str],
        *,
        webhook_url: str,
        secret: str,
        knobs: dict[str, Any],
    ) -> str | None:
        body = {
            "shop": shop,
            **credentials,
            "webhook_url": webhook_url,
            "webhook_secret": secret,
            "knobs": knobs,
        }
        client.post(self.control, json=body).raise_for_status()
        return None

    def scenarios(self, maker: OrderMaker) -> Iterator[Scenario]:
        return (SCENARIOS[key] for key in maker.scenarios())

    def place(self, client: httpx.Client, shop: str, maker: OrderMaker, scenario: str) -> PlacedOrder:
        response = client.post(f"{self.shop_path(shop)}/orders", json=maker.make(scenario))
        order = response.raise_for_status().json()
        return PlacedOrder(str(order["id"]), str(order.get("number") or order["id"]))

    def pay(self, client: httpx.Client, shop: str, order_id: str) -> str:
        response = client.patch(f"{self.shop_path(shop)}/orders/{order_id}", json={"status": "paid"})
        response.raise_for_status()
        return "the shop changed the status pending -> paid"


class WooCommerceShop(SandboxShop):
    kind, label, control = "woocommerce", "WooCommerce", "/_sandbox/woocommerce/stores"
    webhook_log = "deliveries"

    def new_credentials(self) -> dict[str, str]:
        return {
            "consumer_key": f"ck_{secrets.token_hex(20)}",
            "consumer_secret": f"cs_{secrets.token_hex(20)}",
        }

    def create(
        self,
        client: httpx.Client,
        shop: str,
        credentials: dict[str, str],
        *,
        webhook_url: str,
        secret: str,
        knobs: dict[str, Any],
    ) -> str | None:
        """A store with prices incl. VAT and the Dutch rates; its ``order.created`` and ``order.updated``
        webhooks are made anew, so WooCommerce pings them (waited for here)."""
        store = {"store": shop, **credentials}
        client.post(self.control, json={**store, "webhook_url": "", "knobs": knobs}).raise_for_status()
        before = len(self.deliveries(client, shop))
        hooks = {**store, "webhook_url": webhook_url, "webhook_secret": secret}
        client.post(self.control, json=hooks).raise_for_status()
        self.deliveries(client, shop, wait_for=before + 2, timeout=10)
        return None

    def webhook_note(self, client: httpx.Client, shop: str) -> str:
        hooks = client.get(f"{self.shop_path(shop)}/webhooks").raise_for_status().json()
        topics = ", ".join(hook["topic"] for hook in hooks)
        pings = ", ".join(str(hook["ping_status"]) for hook in hooks)
        return f"{topics} created and pinged (answered {pings}); signed with the connection's secret"

    def place(self, client: httpx.Client, shop: str, maker: OrderMaker, scenario: str) -> PlacedOrder:
        body = woo_order(maker.basket(scenario))

        def place() -> PlacedOrder:
            order = client.post(f"{self.shop_path(shop)}/orders", json=body).raise_for_status().json()
            return PlacedOrder(str(order["id"]), str(order["number"]), Decimal(order["total"]))

        return self.place_twice_delivered(client, shop, place) if scenario == "duplicate" else place()

    def pay(self, client: httpx.Client, shop: str, order_id: str) -> str:
        change = {"status": "processing", "transaction_id": f"tr_{secrets.token_hex(5)}"}
        client.patch(f"{self.shop_path(shop)}/orders/{order_id}", json=change).raise_for_status()
        return "the payment came in: status pending -> processing"


class ShopifyShop(SandboxShop):
    kind, label, control = "shopify", "Shopify", "/_sandbox/shopify/shops"
    webhooks_per_order = 2  # orders/create and orders/paid

    def new_credentials(self) -> dict[str, str]:
        return {"access_token": f"shpat_{secrets.token_hex(16)}"}

    def create(
        self,
        client: httpx.Client,
        shop: str,
        credentials: dict[str, str],
        *,
        webhook_url: str,
        secret: str,
        knobs: dict[str, Any],
    ) -> str | None:
        """A shop with taxes included; Shopify signs its webhooks with a key of its own (the app's client
        secret), which the connection must hold as its webhook secret."""
        key = secrets.token_hex(32)
        body = {
            "shop": shop,
            **credentials,
            "webhook_url": webhook_url,
            "webhook_secret": key,
            "knobs": knobs,
        }
        client.post(self.control, json=body).raise_for_status()
        return key

    def webhook_note(self, client: httpx.Client, shop: str) -> str:
        topics = ", ".join(client.get(self.shop_path(shop)).raise_for_status().json()["topics"])
        return f"{topics}, signed with the shop's key (the connection's webhook secret)"

    def place(self, client: httpx.Client, shop: str, maker: OrderMaker, scenario: str) -> PlacedOrder:
        cart = shopify_cart(maker.basket(scenario))

        def place() -> PlacedOrder:
            response = client.post(f"{self.shop_path(shop)}/orders", json=cart)
            order = response.raise_for_status().json()["order"]
            return PlacedOrder(str(order["id"]), order["name"], Decimal(order["total_price"]))

        return self.place_twice_delivered(client, shop, place) if scenario == "duplicate" else place()

    def pay(self, client: httpx.Client, shop: str, order_id: str) -> str:
        change = {"financial_status": "paid"}
        client.patch(f"{self.shop_path(shop)}/orders/{order_id}", json=change).raise_for_status()
        return "the payment came in: financial_status pending -> paid"


#: The source sandboxes a demo or benchmark connection can start from, by source kind.
SANDBOX_SHOPS: dict[str, SandboxShop] = {
    shop.kind: shop for shop in (KmoShopsShop(), WooCommerceShop(), ShopifyShop())
}


def sandbox_shop_of(source: str) -> SandboxShop:
    try:
        return SANDBOX_SHOPS[source]
    except KeyError:
        raise LookupError(
            f"No sandbox shop for source {source!r}; known: {', '.join(SANDBOX_SHOPS)}"
        ) from None


# ---------------------------------------------------------------------------------------- outcomes


def _rate_text(rate: str) -> str:
    return f"{Decimal(rate).normalize():f}%"


@dataclass
class OutcomeWatcher:
    """Prints a line whenever a record of the watched connections reaches a new state, and for every
    webhook delivery taken for a duplicate (polls the database); each line starts with its connection's
    tag, which says the shop and the target."""

    tags: dict[int, str]
    """The tag printed for each watched connection, by connection id."""
    scenarios: dict[tuple[int, str], Scenario] = field(default_factory=dict)
    """What each order placed by the demo is meant to show, by (connection id, source order id)."""
    charged: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    """What the shop charged for an order placed by the demo, where the shop says it."""
    seen: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    since: datetime | None = None
    last_delivery: int = 0
    """The id of the last webhook delivery looked at."""
    duplicates: list[Any] = field(default_factory=list)
    """Duplicate deliveries whose order is still queued: told about once it is settled."""

    def poll(self) -> None:
        """Print what changed since the last poll."""
        from django.utils import timezone

        from koppel.sync.models import Record, State

        started = timezone.now()
        records = Record.objects.filter(connection_id__in=list(self.tags)).order_by("updated_at", "pk")
        if self.since is not None:
            records = records.filter(updated_at__gte=self.since - timedelta(seconds=5))
        for r in records:
            key = (r.state, r.error_code, r.attempts, r.target_invoice_id)
            if (r.state == State.QUEUED and not r.attempts) or self.seen.get(r.pk) == key:
                continue
            self.seen[r.pk] = key
            print(self.describe(r), flush=True)
        self.since = started
        self.poll_duplicates()

    def poll_duplicates(self) -> None:
        from koppel.intake.models import WebhookDelivery
        from koppel.sync.models import Record, State

        new = WebhookDelivery.objects.filter(
            connection_id__in=list(self.tags), outcome="duplicate", pk__gt=self.last_delivery
        ).order_by("pk")
        for delivery in new:
            self.duplicates.append(delivery)
            self.last_delivery = delivery.pk
        for delivery in list(self.duplicates):
            record = Record.objects.filter(
                connection_id=delivery.connection_id, kind="order", source_order_id=delivery.order_id
            ).first()
            if record is None or record.state == State.QUEUED:
                continue
            self.duplicates.remove(delivery)
            print(self.describe_duplicate(delivery, record), flush=True)

    def tag(self, connection_id: int) -> str:
        """The connection's tag, padded to the widest one so the columns line up."""
        width = max(len(tag) for tag in self.tags.values()) + 2
        return f"{'[' + self.tags[connection_id] + ']':<{width}}"

    @staticmethod
    def number(r: Any) -> str:
        return f"#{(r.order_number or r.source_order_id).removeprefix('#'):<8}"

    def describe(self, r: Any) -> str:
        who = f"{r.customer_name}, EUR {r.total}" if r.total is not None else ""
        if r.state == "handled":
            what = f"invoice {r.target_invoice_number or 'id ' + r.target_invoice_id} ({who})"
        elif r.state == "queued":
            what = f"retry {r.attempts}: {r.error_code} {r.message}"
        else:
            what = f"{r.error_code}: {r.message}"
        line = f"  {self.tag(r.connection_id)} {self.number(r)} {r.state:<8} {what}"
        scenario = self.scenarios.get((r.connection_id, r.source_order_id))
        if scenario is not None:
            as_meant = r.state in scenario.expect or (r.error_code and r.error_code == scenario.expect)
            line += f"   [{scenario.label}{'' if as_meant else '; expected ' + scenario.expect}]"
        if r.kind == "marketplace_invoice":
            return (
                f"  {self.tag(r.connection_id)} bol.com invoice {r.source_order_id} {r.state:<8} {r.message}"
            )
        details = self.invoice_details(r) if r.state == "handled" else ""
        return f"{line}\n{' ' * (len(self.tag(r.connection_id)) + 13)}{details}" if details else line

    def invoice_details(self, r: Any) -> str:
        """For a booked order whose invoice has discount or rounding lines, or whose shop total is known
        to differ: those lines, and the invoice total against what the shop charged."""
        charged = self.charged.get((r.connection_id, r.source_order_id))
        document = r.document or {}
        lines = document.get("lines") or []
        special = [line for line in lines if line.get("kind") not in ("product", "shipping", "fee")]
        gross = Decimal(document.get("totals", {}).get("gross", "0"))
        if not special and (charged is None or charged == gross):
            return ""
        amounts: dict[str, list[str]] = {}
        for line in special:
            if Decimal(line["gross"]):
                amounts.setdefault(line["description"], []).append(
                    f"{line['gross']} at {_rate_text(line['vat_rate'])}"
                )
        parts = [f"{description}: {', '.join(each)}" for description, each in amounts.items()]
        if charged is None:
            parts.append(f"invoice total EUR {gross}")
        elif charged == gross:
            parts.append(f"invoice total EUR {gross} = what the shop charged")
        else:
            parts.append(f"invoice total EUR {gross}, but the shop charged EUR {charged}")
        return "; ".join(parts)

    def describe_duplicate(self, delivery: Any, record: Any) -> str:
        from koppel.intake.models import WebhookDelivery

        received = WebhookDelivery.objects.filter(
            connection_id=delivery.connection_id, order_id=delivery.order_id
        ).count()
        if record.state == "handled":
            booked = f"booked once: invoice {record.target_invoice_number or record.target_invoice_id}"
        else:
            booked = f"the order is {record.state}"
        return (
            f"  {self.tag(delivery.connection_id)} {self.number(record)} duplicate {delivery.event} "
            f"delivered again with the same delivery id: stored as a duplicate, nothing done "
            f"({received} webhooks received for this order; {booked})"
        )


# ---------------------------------------------------------------------------------------- the demo


@dataclass(frozen=True)
class DemoTarget:
    """One of the demo's connections: a sandbox shop joined to a sandbox account of a target."""

    tag: str
    """Printed on every outcome line of this connection: the shop and the target."""
    kind: str
    """The target kind."""
    connection: str
    shop: str
    account: str
    """The sandbox target account's name."""
    source: str = "kmoshops"


#: The demo's connections, in the order orders are placed in their shops.
DEMO_TARGETS = (
    DemoTarget("KMO→FS", "factuursturen", "Demo-webshop → Factuursturen (sandbox)", "demo-shop", "demo"),
    DemoTarget(
        "Woo→FS",
        "factuursturen",
        "Demo-WooCommerce → Factuursturen (sandbox)",
        "demo-woo",
        "demo-woo",
        "woocommerce",
    ),
    DemoTarget(
        "KMO→EF",
        "eenvoudigfactureren",
        "Demo-webshop 2 → EenvoudigFactureren (sandbox)",
        "demo-shop-ef",
        "demo-ef",
    ),
    DemoTarget(
        "Shopify→EF",
        "eenvoudigfactureren",
        "Demo-Shopify → EenvoudigFactureren (sandbox)",
        "demo-shopify",
        "demo-shopify-ef",
        "shopify",
    ),
    DemoTarget(
        "bol→FS", "factuursturen", "Demo-bol.com → Factuursturen (sandbox)", "demo-bol", "demo-bol", "bol"
    ),
    DemoTarget("bol→MB", "moneybird", "Demo-bol.com → Moneybird (sandbox)", "demo-bol-mb", "demo-mb", "bol"),
)
#: The demo connection whose bol.com invoices of last month go into Moneybird (koppel.demo_marketplace).
MARKETPLACE_DEMO = "bol→MB"


@dataclass
class DemoShop:
    """A running demo connection and the scenarios still to come for its shop."""

    target: DemoTarget
    connection: Connection
    scenarios: Iterator[Scenario]
    webhooks: str = ""
    """What the shop's webhooks are (for the banner)."""

    @property
    def sandbox(self) -> SandboxShop:
        return sandbox_shop_of(self.target.source)


class Stop(Exception):
    """SIGINT or SIGTERM: stop the children and exit 0."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _banner_rows(title: str, rows: list[str]) -> str:
    return "\n".join(f"  {title if n == 0 else '':<20} {row}" for n, row in enumerate(rows))


def banner(port: int, sandbox_url: str, token: str, shops: list[DemoShop], data_dir: Path) -> str:
    from koppel.connectors import registry

    web = f"http://{HOST}:{port}"
    width = max(len(s.target.tag) for s in shops) + 2
    connections = [
        f"{'[' + s.target.tag + ']':<{width}} #{s.connection.pk} {s.connection.name}" for s in shops
    ]
    accounts = "\n".join(
        f"  {registry.target(s.target.kind).label:<20} {'[' + s.target.tag + ']':<{width}} "
        f"{sandbox_account_url(sandbox_url, s.target.kind, s.target.account)}   (invoices, clients)"
        for s in shops
    )
    stores = [
        f"{'[' + s.target.tag + ']':<{width}} {sandbox_url}{s.sandbox.shop_path(s.target.shop)}   "
        f"({s.sandbox.label}; webhooks sent: .../{s.sandbox.webhook_log})"
        for s in shops
    ]
    hooks = [f"{'[' + s.target.tag + ']':<{width}} {s.webhooks}" for s in shops]
    tags = ", ".join(f"[{s.target.tag}]" for s in shops)
    return f"""
Koppel demo is running.
  Dashboard            {web}/   (log in as {DEMO_USER} / {DEMO_PASSWORD}; also the admin at {web}/admin/)
  API docs             {web}/api/docs   (API token: {token})
{_banner_rows("Connections", connections)}
{accounts}
{_banner_rows("Shop sandboxes", stores)}
{_banner_rows("Webhooks", hooks)}
  Data and logs        {data_dir}  (logs in {data_dir / "demo-logs"})

Placing an order every 2-3 seconds, in each shop in turn; one line per outcome, tagged {tags}
(shop → target). Ctrl-C stops everything.
"""


def connect_demo(account: Account, sandbox_url: str, maker: OrderMaker) -> list[DemoShop]:
    """Each demo target's connection (reset), with the whole scenario sequence for each shop."""
    shops = []
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        for target in DEMO_TARGETS:
            connection = connect_sandboxes(
                account,
                sandbox_url,
                name=target.connection,
                shop=target.shop,
                target=target.kind,
                target_account=target.account,
                source=target.source,
            )
            sandbox = sandbox_shop_of(target.source)
            webhooks = sandbox.webhook_note(client, target.shop)
            shops.append(DemoShop(target, connection, sandbox.scenarios(maker), webhooks))
    return shops


def seed_marketplace(shops: list[DemoShop], sandbox_url: str, maker: OrderMaker) -> str:
    """Last month of the bol.com → Moneybird connection, with bol.com's invoices (koppel.demo_marketplace)."""
    from koppel.demo_marketplace import seed_last_month

    shop = next(s for s in shops if s.target.tag == MARKETPLACE_DEMO)
    return seed_last_month(shop.connection, sandbox_url, shop.target.shop, maker)


def month_page(shops: list[DemoShop]) -> str:
    from django.urls import reverse

    shop = next(s for s in shops if s.target.tag == MARKETPLACE_DEMO)
    return reverse("marketplace:invoices", args=[shop.connection.pk])


def run(args: argparse.Namespace) -> int:
    data_dir = Path(os.environ.get("KOPPEL_DATA_DIR") or Path.cwd() / "var").resolve()
    web_url, sandbox_url = f"http://{HOST}:{args.port}", f"http://{HOST}:{args.sandbox_port}"
    retry_base = os.environ.get("KOPPEL_RETRY_BASE_SECONDS", "2")  # a demo should not wait 10 s for a retry
    # The demo answers bol.com's invoice requests within seconds (a deployment looks every 5 minutes).
    requests_every = os.environ.get("KOPPEL_INVOICE_REQUESTS_MINUTES", "0.2")
    env = stack_env(
        data_dir,
        web_url,
        KOPPEL_RETRY_BASE_SECONDS=retry_base,
        KOPPEL_INVOICE_REQUESTS_MINUTES=requests_every,
    )
    stack = Stack(env, data_dir / "demo-logs")
    try:
        print(f"Preparing the database in {data_dir} ...", flush=True)
        setup_django(env)
        stack.start("sandbox", "sandbox", "--host", HOST, "--port", str(args.sandbox_port))
        stack.start("web", "serve", "--host", HOST, "--port", str(args.port))
        stack.start("worker", "worker")
        stack.wait_http(f"{sandbox_url}/_sandbox/health")
        stack.wait_http(f"{web_url}/health")

        account = ensure_demo_login()
        token = issue_demo_token(account)
        maker = OrderMaker(args.seed)
        shops = connect_demo(account, sandbox_url, maker)
        month = seed_marketplace(shops, sandbox_url, maker)
        print(banner(args.port, sandbox_url, token, shops, data_dir), flush=True)
        print(f"  {month}\n  Its invoices and reconciliation: {web_url}{month_page(shops)}\n", flush=True)
        loop(args, stack, sandbox_url, shops, maker)
    except Stop as stop:
        print(f"\n{stop}: stopping ...", flush=True)
        return 0
    except ChildDied as exc:
        print(f"\nkoppel demo: {exc}\nStopping the other processes ...", file=sys.stderr, flush=True)
        return 1
    except (TimeoutError, httpx.HTTPError) as exc:
        print(f"\nkoppel demo: {exc}\nStopping ...", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        killed = stack.stop()
        if killed:
            print(f"Killed after {STOP_TIMEOUT:.0f} s: {', '.join(killed)}", file=sys.stderr, flush=True)
        print("All demo processes stopped.", flush=True)


def place_order(
    client: httpx.Client, maker: OrderMaker, shop: DemoShop, watcher: OutcomeWatcher
) -> tuple[Scenario, PlacedOrder]:
    """Place the shop's next scenario, telling the watcher what it is meant to show."""
    scenario = next(shop.scenarios)
    placed = shop.sandbox.place(client, shop.target.shop, maker, scenario.key)
    key = (shop.connection.pk, placed.order_id)
    watcher.scenarios[key] = scenario
    if placed.charged is not None:
        watcher.charged[key] = placed.charged
    return scenario, placed


def pay(client: httpx.Client, shop: DemoShop, order: PlacedOrder, watcher: OutcomeWatcher) -> None:
    """The shop marks a pending order paid (and sends its webhooks)."""
    change = shop.sandbox.pay(client, shop.target.shop, order.order_id)
    number = f"#{order.number.removeprefix('#'):<8}"
    print(f"  {watcher.tag(shop.connection.pk)} {number} {'paid':<8} ({change})", flush=True)


def follow_up(
    client: httpx.Client, shop: DemoShop, order: PlacedOrder, step: FollowUp, watcher: OutcomeWatcher
) -> FollowUp | None:
    """Take a shop's later step for an order, print what it did, and label a new order it made; the step
    after it, if any."""
    done = step.act(client, shop.connection)
    if done.change:
        number = f"#{order.number.removeprefix('#'):<8}"
        print(f"  {watcher.tag(shop.connection.pk)} {number} {step.word:<8} ({done.change})", flush=True)
    if done.watch is not None:
        placed, scenario = done.watch
        watcher.scenarios[(shop.connection.pk, placed.order_id)] = scenario
        if placed.charged is not None:
            watcher.charged[(shop.connection.pk, placed.order_id)] = placed.charged
    return done.then


def loop(
    args: argparse.Namespace, stack: Stack, sandbox_url: str, shops: list[DemoShop], maker: OrderMaker
) -> None:
    """Place orders in each shop in turn (and later pay the pending ones) while printing outcomes;
    returns only by exception."""
    watcher = OutcomeWatcher({shop.connection.pk: shop.target.tag for shop in shops})
    to_pay: list[tuple[float, DemoShop, PlacedOrder]] = []  # (when, shop, order) of pending orders
    later: list[tuple[float, DemoShop, PlacedOrder, FollowUp]] = []  # the shops' later steps
    placed, next_order = 0, time.monotonic()
    announced = False
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        while True:
            stack.check()
            now = time.monotonic()
            if (args.orders is None or placed < args.orders) and now >= next_order:
                shop = shops[placed % len(shops)]
                scenario, order = place_order(client, maker, shop, watcher)
                if scenario.key == "pending":
                    to_pay.append((now + 10.0, shop, order))
                later.extend((now + step.delay, shop, order, step) for step in order.follow_ups)
                placed += 1
                next_order = now + maker.random.uniform(2.0, 3.0)
            for due in [item for item in to_pay if item[0] <= now]:
                to_pay.remove(due)
                pay(client, due[1], due[2], watcher)
            for when, shop, order, step in [item for item in later if item[0] <= now]:
                later.remove((when, shop, order, step))
                following = follow_up(client, shop, order, step, watcher)
                if following is not None:
                    later.append((now + following.delay, shop, order, following))
            watcher.poll()
            if (
                args.orders is not None
                and placed >= args.orders
                and not to_pay
                and not later
                and not announced
            ):
                print(f"\nPlaced {placed} orders. Koppel keeps running; Ctrl-C stops it.", flush=True)
                announced = True
            time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="koppel demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="web app port (default 8000)")
    parser.add_argument("--sandbox-port", type=int, default=8001, help="sandboxes' port (default 8001)")
    parser.add_argument("--orders", type=int, default=None, help="place this many orders, then keep serving")
    parser.add_argument("--seed", type=int, default=None, help="make the orders reproducible")
    args = parser.parse_args(argv)

    taken = [port for port in dict.fromkeys((args.port, args.sandbox_port)) if port_taken(port)]
    if args.port == args.sandbox_port or taken:
        if taken:
            ports = " and ".join(map(str, taken))
            problem = f"port {ports} on {HOST} {'is' if len(taken) == 1 else 'are'} already in use"
        else:
            problem = "--port and --sandbox-port must differ"
        print(
            f"koppel demo: {problem}. Stop what uses it (another demo?) or choose other ports, e.g. "
            f"koppel demo --port {args.port + 100} --sandbox-port {args.port + 101}",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    return run(args)


import koppel.demo_bol  # noqa: E402  (the bol.com shop: registers itself in SANDBOX_SHOPS)
import koppel.demo_marketplace  # noqa: E402, F401  (the Moneybird sandbox account and bol's invoices)
