"""End-to-end throughput: shop webhook → Koppel → invoice, for each source (KMO Shops, WooCommerce,
Shopify) into Factuursturen or EenvoudigFactureren, against the sandboxes.

Starts the sandboxes, the web app and the worker(s) as processes on 127.0.0.1 (SQLite in a temporary data
directory, or the PostgreSQL database of DATABASE_URL), places N orders in a simulated shop with one bulk
request through its control API (the shop then sends N signed webhooks at once; ``--chunk K`` sends at
most K at a time), and measures from the first webhook Koppel stored to the last invoice it booked.
Koppel fetches a KMO Shops order from the shop before booking it; a WooCommerce or Shopify webhook carries
the order, which Koppel books without a fetch (and so does the floor).

bol.com (``--source bol``, by name only) always runs at the sandbox's real rate limits, with the shipment
source: each order is placed and shipped through the control API (no bulk endpoint), bol pushes the
shipment, and Koppel reads the shipment (bucket of 50 a minute) and its order. The bound is that bucket:
N orders need at least ((N - 1) // 50) * 60 s; the script prints Koppel / bound and the 429 answers.

Shopify's REST Admin API is a leaky bucket (40 calls, leaking 2 a second). Shopify is measured twice: with
the sandbox's rate limit off (knob ``rate_limit_enabled``) and at the real limit (``--shopify-limit``). As
the webhooks carry the orders, neither Koppel nor the floor calls Shopify, so both runs have a floor run.

In the same run it measures the floor: a bare httpx loop making the HTTP calls Koppel's connectors make per
order, against the same sandboxes and a fresh target account, with as many threads as Koppel has orders under
way (workers × KOPPEL_WORKER_THREADS):
GET a KMO Shops order from the shop as the source connector does; then for Factuursturen search the invoice
by reference, search the debtor by e-mail, POST clients for a new customer, POST invoices, GET the new
invoice for its number (its POST answers only the id), GET taxes once;
for EenvoudigFactureren GET invoices filtered by external_invoice_id, GET invoices searched by the order
number, GET clients filtered by e-mail, POST clients for a new customer, POST invoices, GET
settings?fields=taxes once. Koppel / floor is the share of the achievable rate that Koppel reaches; the
rest is its own work (database, queue, checks, mapping, new connections). The floor of a WooCommerce or
Shopify order makes no GET of it: it books the body the webhook brought, as Koppel does.

``--source all`` and ``--target all`` run every combination one after the other on the same processes
and database (each with its own shop, connection and target accounts) and end with one table row per
source × target (two for Shopify).

    .venv/bin/python bench/e2e.py --orders 300 --source all --target factuursturen
    .venv/bin/python bench/e2e.py --orders 300 --target all
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/koppel_bench
    .venv/bin/python bench/e2e.py --workers 2 --target all
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import httpx

# The floor's clients are Koppel's own httpx.Client (it keeps no cookies): both pay the same per call.
from koppel.connectors.http import Client as FloorClient
from koppel.demo import (
    Child,
    OrderMaker,
    Stack,
    TargetAccount,
    connect_sandboxes,
    create_sandbox_account,
    free_port,
    sandbox_shop_of,
    setup_django,
    shopify_cart,
    stack_env,
    woo_order,
)

SOURCES = ("kmoshops", "woocommerce", "shopify")
#: Sources whose signed webhooks carry the whole order: Koppel books the body and the floor does too (no
#: GET of the order, so Shopify's bucket bounds neither).
WEBHOOK_BODY_SOURCES = ("woocommerce", "shopify")
TARGETS = ("factuursturen", "eenvoudigfactureren")
KOPPEL_ACCOUNT = "bench-koppel"
FLOOR_ACCOUNT = "bench-floor"
#: ``--latency-ms``: every shop and target API call of the run is answered this much later (both sides).
LATENCY_MS = 0
#: Shopify's REST leaky bucket on the standard plans, as the sandbox simulates it by default.
SHOPIFY_BUCKET = 40
SHOPIFY_LEAK_PER_SECOND = 2.0
#: bol.com's bucket for ``GET /retailer/shipments/{id}`` (the sandbox's real limit): 50 calls a window of
#: 60 s, the window starting at its first call. With the shipment source every order costs one such call.
BOL_SHIPMENT_BUCKET, BOL_WINDOW_SECONDS = 50, 60.0
BENCH_DIR = Path(__file__).resolve().parent
FLOOR_TABLE = "bench_floor_delivery"
#: The sources whose webhooks the floor receives itself (bench/floor_intake.py checks their HMAC).
FLOOR_INTAKE_SOURCES = ("kmoshops", "woocommerce", "shopify")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Harness:
    """A throw-away Koppel on 127.0.0.1: a temporary data directory (and SQLite database, unless
    DATABASE_URL is set), the sandboxes, the web app and ``workers`` workers as child processes, and a
    fresh account. Everything it made is removed on exit, also from a PostgreSQL database."""

    def __init__(
        self, *, workers: int, web_workers: int = 1, sandbox: bool = True, profile: bool = False
    ) -> None:
        self.workers, self.web_workers, self.with_sandbox = workers, web_workers, sandbox
        self.postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
        if not self.postgres and max(workers, web_workers) > 1:
            raise SystemExit("More than one worker or web process needs PostgreSQL: set DATABASE_URL.")
        self.data_dir = Path(tempfile.mkdtemp(prefix="koppel-bench-"))
        self.web_url = f"http://127.0.0.1:{free_port()}"
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.stack = Stack(stack_env(self.data_dir, self.web_url), self.data_dir / "logs")
        self.started = datetime.now().astimezone()
        self.account: Any = None
        #: The workers' profile (``KOPPEL_PROFILE``, see koppel.sync.profiling), when asked for.
        self.profile = self.data_dir / "profile.jsonl" if profile else None
        self.floor_url = f"http://127.0.0.1:{free_port()}"
        self.floor_secret = secrets.token_hex(16)
        self.floor_db = ""

    @property
    def database(self) -> str:
        from django.db import connection

        if connection.vendor == "sqlite":
            return "SQLite (temporary file)"
        return f"PostgreSQL {connection.pg_version // 10000} ({connection.settings_dict['HOST']})"

    def __enter__(self) -> Harness:
        # `timeout`, CI or a Ctrl-C must still stop the children (they run in their own sessions).
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        try:
            setup_django(self.stack.env)
            if self.with_sandbox:
                self.stack.start("sandbox", "sandbox", "--port", self.sandbox_url.rsplit(":", 1)[1])
            self.stack.start(
                "web", "serve", "--port", self.web_url.rsplit(":", 1)[1], "--workers", str(self.web_workers)
            )
            env = self.stack.env
            if self.profile is not None:  # for the workers only
                self.stack.env = {**env, "KOPPEL_PROFILE": str(self.profile)}
            try:
                for n in range(self.workers):
                    self.stack.start(f"worker-{n + 1}", "worker")
            finally:
                self.stack.env = env
            if self.with_sandbox:
                self.start_floor_intake()
                self.stack.wait_http(f"{self.sandbox_url}/_sandbox/health")
                self.stack.wait_http(f"{self.floor_url}/health")
            self.stack.wait_http(f"{self.web_url}/health")
            from koppel.accounts.models import Account

            self.account = Account.objects.create(name=f"bench {uuid.uuid4().hex[:8]}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(keep=exc is not None)  # its logs tell what went wrong

    def start_floor_intake(self) -> None:
        """bench/floor_intake.py under uvicorn, as ``koppel serve`` runs Koppel's web app, storing into
        Koppel's database (the SQLite file or DATABASE_URL)."""
        from django.db import connection

        self.floor_db = os.environ["DATABASE_URL"] if self.postgres else str(connection.settings_dict["NAME"])
        log = self.stack.log_dir / "floor-intake.log"
        self.stack.log_dir.mkdir(parents=True, exist_ok=True)
        port = self.floor_url.rsplit(":", 1)[1]
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH_DIR), "floor_intake:app"]
        command += ["--host", "127.0.0.1", "--port", port, "--log-level", "warning", "--no-access-log"]
        env = {**self.stack.env, "FLOOR_DB": self.floor_db, "FLOOR_SECRET": self.floor_secret}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.stack.children.append(Child("floor-intake", process, log))

    def floor_db_connection(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.floor_db, autocommit=True)
        import sqlite3

        return sqlite3.connect(self.floor_db, isolation_level=None, timeout=30.0, check_same_thread=False)

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) so far of each child process (with its descendants) and of this
        benchmark process (all its threads: the floor loop runs here)."""
        times = os.times()
        seconds = {child.name: cpu_seconds(child.process.pid) for child in self.stack.children}
        seconds["benchmark"] = times.user + times.system
        return seconds

    def close(self, keep: bool = False) -> None:
        self.stack.stop()
        if self.account is not None and self.postgres:
            self.forget_account()
        if self.floor_db and self.postgres:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        if keep:
            print(f"Kept {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def forget_account(self) -> None:
        """Delete the account (its connection, records, deliveries) and the tasks enqueued for it."""
        from django_tasks_db.models import DBTaskResult

        from koppel.sync.models import Record

        record_ids = set(Record.objects.filter(connection__account=self.account).values_list("pk", flat=True))
        self.account.delete()
        tasks = DBTaskResult.objects.filter(
            enqueued_at__gte=self.started, task_path__endswith=".process_record"
        )
        stale = [
            task.pk for task in tasks.only("pk", "args_kwargs") if task.args_kwargs["args"][0] in record_ids
        ]
        DBTaskResult.objects.filter(pk__in=stale).delete()


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its living descendants, from /proc (0 for a process gone)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    tree, total = {pid}, 0.0
    changed = True
    while changed:
        grown = tree | {child for child, parent in parents.items() if parent in tree}
        changed, tree = grown != tree, grown
    for member in tree:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


# ---------------------------------------------------------------------------------------- phases


@dataclass(frozen=True)
class Phase:
    """One measurement: orders of ``source`` booked in ``target``; ``limited``: Shopify at its real REST
    limit (otherwise every shop's rate limit is off)."""

    source: str
    target: str
    limited: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}-{self.target}{'-limited' if self.limited else ''}"

    @property
    def shop(self) -> str:
        return f"bench-{self.key}"

    @property
    def knobs(self) -> dict[str, Any]:
        return {**self.limit_knobs, **({"latency_ms": LATENCY_MS} if LATENCY_MS else {})}

    @property
    def limit_knobs(self) -> dict[str, Any]:
        if self.source == "bol":
            return {"rate_limits": True, "rate_limit_scale": 1.0}  # always at bol's real limits
        if self.source != "shopify":
            return {"rate_limit_per_minute": 0}
        if not self.limited:
            return {"rate_limit_enabled": False}
        return {
            "rate_limit_enabled": True,
            "bucket_size": SHOPIFY_BUCKET,
            "leak_rate": SHOPIFY_LEAK_PER_SECOND,
        }

    @property
    def source_label(self) -> str:
        from koppel.connectors import registry

        label = registry.source(self.source).label
        if self.source == "bol":
            return f"{label} (shipment source, {BOL_SHIPMENT_BUCKET} shipments/{BOL_WINDOW_SECONDS:g} s)"
        if self.source != "shopify":
            return label
        if self.limited:
            return f"{label} (bucket {SHOPIFY_BUCKET}, {SHOPIFY_LEAK_PER_SECOND:g}/s)"
        return f"{label} (rate limit off)"

    def bucket_seconds(self, orders: int) -> float:
        """The least time the shop's rate limit allows for one fetch per order (0 without a limit)."""
        if not self.limited:
            return 0.0
        if self.source == "bol":  # the last window opens after (orders - 1) // 50 full windows
            return (max(0, orders - 1) // BOL_SHIPMENT_BUCKET) * BOL_WINDOW_SECONDS
        return max(0, orders - SHOPIFY_BUCKET) / SHOPIFY_LEAK_PER_SECOND

    @property
    def bucket_text(self) -> str:
        if self.source == "bol":
            return f"a bucket of {BOL_SHIPMENT_BUCKET} shipment reads per {BOL_WINDOW_SECONDS:g} s"
        return f"a bucket of {SHOPIFY_BUCKET} leaking {SHOPIFY_LEAK_PER_SECOND:g}/s"


def phases(sources: tuple[str, ...], targets: tuple[str, ...], shopify_limit: str) -> Iterator[Phase]:
    for source in sources:
        for target in targets:
            if source == "bol":
                yield Phase(source, target, limited=True)
                continue
            if source != "shopify":
                yield Phase(source, target)
                continue
            if shopify_limit in ("off", "both"):
                yield Phase(source, target)
            if shopify_limit in ("on", "both"):
                yield Phase(source, target, limited=True)


def make_orders(source: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` bookable orders in ``source``'s control-API shape, from the same mix for every source:
    Dutch and Belgian consumers (repeat customers among them), Dutch businesses and Belgian businesses with
    a VAT number (intra-community, 0%); 21% and 9% lines and shipping; all paid. The KMO Shops orders are
    the ones this script always placed."""
    maker = OrderMaker(seed)
    if source == "bol":  # bol.com orders: 1-2 items, a promotion now and then, shipped whole
        from koppel.demo.bol import BolSandboxShop

        mix = ("shipped", "shipped", "shipped", "promotion")
        return [BolSandboxShop().order_body(maker, maker.random.choice(mix)) for _ in range(count)]
    scenarios = islice(maker.scenarios(failing=False), count)
    if source == "kmoshops":
        return [maker.make(scenario) for scenario in scenarios]
    shape = woo_order if source == "woocommerce" else shopify_cart
    return [shape(maker.basket(scenario)) for scenario in scenarios]


# ---------------------------------------------------------------------------------------- Koppel


def logged_requests(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """A sandbox's request log (a list, or ``{"requests": [...]}``)."""
    logged = client.get(path).raise_for_status().json()
    return list(logged["requests"] if isinstance(logged, dict) else logged)


def request_count(client: httpx.Client, target: str, account: str) -> int:
    """The API requests the target sandbox logged for ``account``."""
    return len(logged_requests(client, f"/_sandbox/{target}/accounts/{account}/requests"))


def run_koppel(
    harness: Harness, phase: Phase, orders: list[dict[str, Any]], chunk: int, timeout: float
) -> dict[str, Any]:
    """Place the orders through the shop's control API in bulk requests of ``chunk``, the shop sending
    their webhooks (each chunk waits until the previous chunk's webhooks have made their records, so no
    more than ``chunk`` webhooks are in flight), then wait until every record has settled. At Shopify's
    real limit the time the bucket needs is added to ``timeout``."""
    from django.db.models import Max, Min, QuerySet

    from koppel.intake.models import WebhookDelivery
    from koppel.sync.models import Record, State

    sandbox = sandbox_shop_of(phase.source)
    shop_path = sandbox.shop_path(phase.shop)
    connection = connect_sandboxes(
        harness.account,
        harness.sandbox_url,
        name=f"bench {phase.key}",
        shop=phase.shop,
        source=phase.source,
        target=phase.target,
        target_account=KOPPEL_ACCOUNT,
        shop_knobs=phase.knobs,
        poll=False,
    )
    slow_down_target(harness, phase.target, KOPPEL_ACCOUNT)
    records = Record.objects.filter(connection=connection)
    cpu_before = harness.cpu()
    allowed = timeout + phase.bucket_seconds(len(orders))
    deadline = time.monotonic() + allowed
    placed = 0
    with httpx.Client(base_url=harness.sandbox_url, timeout=60.0) as client:

        def wait_until(query: QuerySet[Record], count: int) -> None:
            while query.count() < count:
                harness.stack.check()
                if time.monotonic() > deadline:
                    states = Counter(records.values_list("state", flat=True))
                    sent = sandbox.deliveries(client, phase.shop)
                    answers = Counter(
                        hook["status"] or hook["error"] for hook in sent if hook.get("kind") != "ping"
                    )
                    raise SystemExit(
                        f"Koppel did not settle {len(orders)} {phase.source_label} orders within "
                        f"{allowed:.0f} s: records {dict(states)}, webhook answers {dict(answers)}; logs "
                        f"in {harness.stack.log_dir}"
                    )
                time.sleep(0.05)

        for body in orders if phase.source == "bol" else ():  # no bulk endpoint: place and ship each
            params = {"notify": "false"}
            order = client.post(f"{shop_path}/orders", params=params, json=body).raise_for_status().json()
            client.post(f"{shop_path}/orders/{order['order']['orderId']}/ship", json={}).raise_for_status()
            placed += 1  # the shipment's push goes to Koppel at once
        for start in range(0, len(orders) if phase.source != "bol" else 0, chunk):
            if placed:
                wait_until(records, placed)
            batch = orders[start : start + chunk]
            response = client.post(f"{shop_path}/orders/bulk", json={"orders": batch, "notify": True})
            response.raise_for_status()
            placed += len(batch)
        wait_until(records.exclude(state=State.QUEUED), placed)
        cpu = cpu_used(cpu_before, harness.cpu())
        shop_log = logged_requests(client, f"{shop_path}/requests")
        target_calls = request_count(client, phase.target, KOPPEL_ACCOUNT)
        client.delete(f"{shop_path}/requests").raise_for_status()
    span = records.aggregate(first=Min("created_at"), last=Max("handled_at"))
    latencies = [
        (handled - created).total_seconds()
        for created, handled in records.filter(state=State.HANDLED).values_list("created_at", "handled_at")
    ]
    return {
        "ids": list(records.order_by("pk").values_list("source_order_id", flat=True)),
        "states": Counter(records.values_list("state", flat=True)),
        "errors": Counter(records.exclude(error_code="").values_list("error_code", flat=True)),
        "seconds": (span["last"] - span["first"]).total_seconds(),
        "latencies": latencies,
        "webhooks": Counter(
            WebhookDelivery.objects.filter(connection=connection).values_list("outcome", flat=True)
        ),
        "shop_calls": len(shop_log),
        "shop_429": sum(1 for call in shop_log if call.get("status") == 429),
        "tries": Counter(Counter(call["path"] for call in shop_log if call.get("method") == "GET").values()),
        "target_calls": target_calls,
        "bodies": webhook_bodies(connection) if phase.source in WEBHOOK_BODY_SOURCES else None,
        "source_url": connection.source_url,
        "source_credentials": dict(connection.source_credentials),
        "cpu": cpu,
        "profile": profile_of(harness, dict(records.values_list("pk", "created_at"))),
    }


def webhook_bodies(connection: Any) -> dict[str, dict[str, Any]]:
    """The orders the shop's webhooks carried, by order id (the last stored body of each order)."""
    from koppel.intake.models import WebhookDelivery

    stored = WebhookDelivery.objects.filter(connection=connection).order_by("received_at", "pk")
    return {order_id: json.loads(body) for order_id, body in stored.values_list("order_id", "body")}


def profile_of(harness: Harness, created: dict[int, datetime]) -> list[dict[str, Any]] | None:
    """The workers' profile lines of these records (in the order written), each with its queue wait: from
    the record's creation (the webhook stored) to the claim, for the record's first attempt only."""
    if harness.profile is None:
        return None
    lines = []
    if harness.profile.exists():
        with harness.profile.open(encoding="utf-8") as file:
            lines = [line for line in map(json.loads, file) if line["record"] in created]
    seen: set[int] = set()
    for line in lines:
        if line["record"] not in seen:
            seen.add(line["record"])
            line["queue_wait_ms"] = (line["claimed_at"] - created[line["record"]].timestamp()) * 1000
    return lines


# ---------------------------------------------------------------------------------------- floor


@dataclass(frozen=True)
class ShopReader:
    """GET one order from the shop over bare httpx, as the source connector does (the same path and
    credentials; no bucket bookkeeping, as the floor runs only with the shop's rate limit off)."""

    source: str
    url: str
    credentials: dict[str, str]

    def client(self) -> httpx.Client:
        if self.source == "woocommerce":
            from koppel.connectors.woocommerce.client import api_base

            auth = (self.credentials["consumer_key"], self.credentials["consumer_secret"])
            return FloorClient(base_url=api_base(self.url), auth=auth)
        if self.source == "shopify":
            from koppel.connectors.shopify.client import API_VERSION

            headers = {"X-Shopify-Access-Token": self.credentials["access_token"]}
            return FloorClient(base_url=f"{self.url}/admin/api/{API_VERSION}/", headers=headers)
        return FloorClient(base_url=f"{self.url}/", headers={"X-Api-Key": self.credentials["api_key"]})

    def fetch(self, shop: httpx.Client, order_id: str) -> dict[str, Any]:
        if self.source == "shopify":
            return shop.get(f"orders/{order_id}.json").raise_for_status().json()["order"]
        if self.source == "woocommerce":
            return shop.get(f"orders/{order_id}").raise_for_status().json()
        return shop.get(f"api/v1/orders/{order_id}").raise_for_status().json()


def invoice_of(source: str, order: dict[str, Any]) -> Any:
    """The invoice Koppel books for a source's order (the connector's parser; ``invoice_for``)."""
    from koppel.connectors import registry
    from koppel.documents.checks import invoice_for

    return invoice_for(registry.source(source).parse_order(order), "NL")


class Floor(Protocol):
    """The target calls Koppel's connector makes, from bare httpx."""

    def client(self) -> httpx.Client: ...

    def once(self, target: httpx.Client) -> int:
        """Calls made once per run (the VAT rates, which Koppel caches); returns how many."""
        ...

    def book(self, target: httpx.Client, order: dict[str, Any], source: str) -> int:
        """Book one order of ``source`` as the connector does; returns the number of calls made."""
        ...


class FactuursturenFloor:
    """A KMO Shops order is booked with the smaller bodies this floor always sent (so its figures stay
    comparable); the other sources' orders with the connector's own mapping."""

    def __init__(self, account: TargetAccount) -> None:
        from koppel.connectors.factuursturen.mapping import FactuursturenSettings

        self.account, self.settings = account, FactuursturenSettings()

    def client(self) -> httpx.Client:
        auth = (self.account.credentials["username"], self.account.credentials["api_key"])
        return FloorClient(base_url=f"{self.account.url}/", auth=auth)

    def once(self, fs: httpx.Client) -> int:
        fs.get("taxes").raise_for_status()
        return 1

    def book(self, fs: httpx.Client, order: dict[str, Any], source: str) -> int:
        if source == "kmoshops":
            return self.book_kmoshops(fs, order)
        from koppel.connectors.factuursturen.mapping import debtor_body, invoice_body

        invoice = invoice_of(source, order)
        email = invoice.customer.email.strip().lower()
        fs.get(f"search/invoices/all/{quote(invoice.order_number, safe='')}").raise_for_status()
        found = fs.get(f"search/clients/email/{quote(email, safe='')}").raise_for_status().json()
        client = next((c for c in found if str(c.get("email", "")).strip().lower() == email), None)
        new = 0
        if client is None:
            body = debtor_body(invoice, self.settings)
            clientnr, new = fs.post("clients", json=body).raise_for_status().text.strip(), 1
            include_vat = invoice.prices_include_vat
        else:
            clientnr = str(client["clientnr"])
            tax_type = str(client.get("tax_type") or "").strip().lower()
            include_vat = {"intax": True, "extax": False}.get(tax_type, invoice.prices_include_vat)
        body = invoice_body(invoice, clientnr, debtor_prices_include_vat=include_vat, settings=self.settings)
        invoice_id = fs.post("invoices", json=body).raise_for_status().text.strip()
        fs.get(f"invoices/{quote(invoice_id, safe='')}").raise_for_status()  # its number, as Koppel reads it
        return 4 + new

    def book_kmoshops(self, fs: httpx.Client, order: dict[str, Any]) -> int:
        customer = order["customer"]
        email = customer["email"].strip().lower()
        fs.get(f"search/invoices/all/{quote(order['number'], safe='')}").raise_for_status()
        found = fs.get(f"search/clients/email/{quote(email, safe='')}").raise_for_status().json()
        clientnr = next((c["clientnr"] for c in found if c.get("email", "").lower() == email), None)
        new = 0
        if clientnr is None:
            body = {
                "contact": f"{customer['firstname']} {customer['lastname']}",
                "company": customer["company"],
                "email": email,
                "tax_type": "intax" if order["priceincltax"] else "extax",
                "sendmethod": "mail",
            }
            clientnr, new = fs.post("clients", json=body).raise_for_status().text.strip(), 1
        lines = [*order["lines"], *([{**order["shipping"], "amount": 1}] if order["shipping"] else [])]
        invoice = {
            "clientnr": clientnr,
            "action": "send",
            "sendmethod": "mail",
            "reference": {"line1": order["number"]},
            "lines": [
                {
                    "amount": line["amount"],
                    "description": line["description"] or "Verzendkosten",
                    "tax_rate": line["tax_rate"],
                    "price": line["price"],
                }
                for line in lines
            ],
        }
        invoice_id = fs.post("invoices", json=invoice).raise_for_status().text.strip()
        fs.get(f"invoices/{quote(invoice_id, safe='')}").raise_for_status()  # its number, as Koppel reads it
        return 4 + new


class EenvoudigFacturerenFloor:
    """The bodies come from the connector's own mapping (about 0.06 ms per order, parsing included)."""

    def __init__(self, account: TargetAccount) -> None:
        from koppel.connectors.eenvoudigfactureren.mapping import EenvoudigFacturerenSettings

        self.account, self.settings = account, EenvoudigFacturerenSettings()

    def client(self) -> httpx.Client:
        headers = {
            "X-API-Key": self.account.credentials["api_key"],
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        return FloorClient(base_url=f"{self.account.url}/", headers=headers)

    def once(self, ef: httpx.Client) -> int:
        ef.get("settings", params={"fields": "taxes"}).raise_for_status()
        return 1

    def book(self, ef: httpx.Client, order: dict[str, Any], source: str) -> int:
        from koppel.connectors.eenvoudigfactureren.mapping import client_body, invoice_body

        invoice = invoice_of(source, order)
        number, email = invoice.order_number, invoice.customer.email.strip().lower()
        ef.get("invoices", params={"filter": f"external_invoice_id={number}"}).raise_for_status()
        ef.get("invoices", params={"search": number}).raise_for_status()
        query = {"filter": f"email_address={email}", "limit": "10"}
        found = ef.get("clients", params=query).raise_for_status().json()
        client_id = next(
            (c["client_id"] for c in found if str(c.get("email_address", "")).lower() == email), None
        )
        new = 0
        if client_id is None:
            client_id, new = (
                ef.post("clients", json=client_body(invoice)).raise_for_status().json()["client_id"],
                1,
            )
        ef.post("invoices", json=invoice_body(invoice, client_id, self.settings)).raise_for_status()
        return 4 + new


FLOORS: dict[str, Callable[[TargetAccount], Floor]] = {
    "factuursturen": FactuursturenFloor,
    "eenvoudigfactureren": EenvoudigFacturerenFloor,
}


def slow_down_target(harness: Harness, target: str, account: str) -> None:
    """``--latency-ms``: the target account answers every API call that much later."""
    if LATENCY_MS:
        knobs = f"{harness.sandbox_url}/_sandbox/{target}/accounts/{account}/knobs"
        httpx.post(knobs, json={"latency_ms": LATENCY_MS}, timeout=10.0).raise_for_status()


def floor_account(harness: Harness, target: str) -> Any:
    account = create_sandbox_account(harness.sandbox_url, target, FLOOR_ACCOUNT)
    slow_down_target(harness, target, FLOOR_ACCOUNT)
    return account


def run_floor_with_intake(
    harness: Harness, phase: Phase, orders: list[dict[str, Any]], chunk: int, threads: int, timeout: float
) -> dict[str, Any]:
    """The honest floor: the same orders placed in a fresh shop of the same sandbox, whose webhooks go to
    bench/floor_intake.py (HMAC checked, raw body inserted into a plain table of Koppel's database); a
    poller thread reads the stored deliveries and ``threads`` threads make the calls Koppel makes per
    order. Measured from the first stored delivery to the last booked order, as Koppel is."""
    sandbox = sandbox_shop_of(phase.source)
    shop = f"floor-{phase.key}-{uuid.uuid4().hex[:6]}"
    credentials = sandbox.new_credentials()
    floor = FLOORS[phase.target](floor_account(harness, phase.target))
    reader = ShopReader(phase.source, sandbox.source_url(harness.sandbox_url, shop), credentials)
    lock = threading.Lock()
    calls = Counter[str]()
    work: queue.Queue[tuple[str, float, dict[str, Any] | None] | None] = queue.Queue()
    with_body = phase.source in WEBHOOK_BODY_SOURCES
    booked: list[tuple[float, float]] = []  # (received, booked)
    stored = [0]
    done = threading.Event()
    failures: list[BaseException] = []

    def poll() -> None:
        db, last = harness.floor_db_connection(), 0
        mark = "%s" if harness.postgres else "?"
        query = (
            f"SELECT id, body, received_at FROM {FLOOR_TABLE} WHERE shop = {mark} AND id > {mark} ORDER BY id"
        )
        try:
            seen: set[str] = set()
            while not done.is_set():
                rows = db.execute(query, (shop, last)).fetchall()
                for row_id, body, received in rows:
                    last = row_id
                    notice = json.loads(body)
                    if with_body:  # the webhook is the order (several topics may bring it): booked once
                        order_id = str(notice["id"])
                        if order_id not in seen:
                            seen.add(order_id)
                            work.put((order_id, received, notice))
                    else:
                        work.put((str(notice["order_id"]), received, None))
                stored[0] = len(seen) if with_body else stored[0] + len(rows)
                if not rows:
                    time.sleep(0.005)
        finally:
            db.close()

    def book_orders() -> None:
        try:
            with reader.client() as shop_client, floor.client() as client:
                while (item := work.get()) is not None:
                    order_id, received, body = item
                    order = body if body is not None else reader.fetch(shop_client, order_id)
                    made = floor.book(client, order, phase.source)
                    with lock:
                        calls.update(shop=1, target=made)
                        booked.append((received, time.time()))
        except BaseException as exc:
            failures.append(exc)
            raise

    with floor.client() as client:
        calls.update(target=floor.once(client))
    cpu_before = harness.cpu()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(book_orders) for _ in range(threads)]
        with httpx.Client(base_url=harness.sandbox_url, timeout=60.0) as control:
            webhook_url = f"{harness.floor_url}/hook/{shop}"
            key = sandbox.create(
                control,
                shop,
                credentials,
                webhook_url=webhook_url,
                secret=harness.floor_secret,
                knobs=phase.knobs,
            )
            if key and key != harness.floor_secret:  # the shop signs with a key of its own (Shopify)
                httpx.post(f"{harness.floor_url}/secret/{shop}", content=key).raise_for_status()
            shop_path = sandbox.shop_path(shop)
            for start in range(0, len(orders), chunk):
                while stored[0] < start and time.monotonic() < deadline and not failures:
                    time.sleep(0.005)
                batch = orders[start : start + chunk]
                control.post(
                    f"{shop_path}/orders/bulk", json={"orders": batch, "notify": True}
                ).raise_for_status()
            while len(booked) < len(orders) and time.monotonic() < deadline and not failures:
                harness.stack.check()
                time.sleep(0.005)
            cpu = cpu_used(cpu_before, harness.cpu())
            shop_calls = len(logged_requests(control, f"{shop_path}/requests"))
        done.set()
        for _ in futures:
            work.put(None)
        for future in futures:
            future.result()
    poller.join()
    if len(booked) < len(orders):
        raise SystemExit(f"The floor booked {len(booked)} of {len(orders)} orders within {timeout:.0f} s")
    return {
        "ids": [str(n) for n in range(len(orders))],
        "seconds": max(end for _, end in booked) - min(start for start, _ in booked),
        "shop_calls": shop_calls,
        "target_calls": calls["target"],
        "latencies": [end - start for start, end in booked],
        "intake": True,
        "cpu": cpu,
    }


def run_floor(harness: Harness, phase: Phase, koppel: dict[str, Any], threads: int) -> dict[str, Any]:
    """The same calls per order as Koppel, from a bare httpx loop (persistent connections, no database),
    over the orders Koppel booked (for the sources the floor takes no webhooks of). For a source whose
    webhooks carry the order it books the bodies Koppel stored, as Koppel does, and GETs no order."""
    ids: list[str] = koppel["ids"]
    reader = ShopReader(phase.source, koppel["source_url"], koppel["source_credentials"])
    floor = FLOORS[phase.target](floor_account(harness, phase.target))
    lock = threading.Lock()
    calls = Counter[str]()

    bodies: dict[str, dict[str, Any]] | None = koppel.get("bodies")

    def worker(share: list[str]) -> None:
        with reader.client() as shop, floor.client() as client:
            for order_id in share:
                if bodies is not None:  # the webhook carried the order: Koppel fetches it no more
                    order, fetched = bodies[order_id], 0
                else:
                    order, fetched = reader.fetch(shop, order_id), 1
                made = floor.book(client, order, phase.source)
                with lock:
                    calls.update(shop=fetched, target=made)

    started = time.perf_counter()
    cpu_before = harness.cpu()
    with floor.client() as client:
        calls.update(target=floor.once(client))
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, ids[n::threads]) for n in range(threads)]:
            future.result()
    return {
        "ids": ids,
        "seconds": time.perf_counter() - started,
        "shop_calls": calls["shop"],
        "target_calls": calls["target"],
        "intake": False,
        "cpu": cpu_used(cpu_before, harness.cpu()),
    }


# ---------------------------------------------------------------------------------------- report


def label(target: str) -> str:
    from koppel.connectors import registry

    return registry.target(target).label


@dataclass(frozen=True)
class Row:
    source: str
    target: str
    koppel: float
    """Orders per second."""
    floor: float | None
    """Orders per second of the bare loop, or at Shopify's real limit the bucket bound (``None`` when every
    fetch fits in the bucket)."""
    measured_floor: bool
    """False when ``floor`` is the bucket bound rather than a measured bare loop."""
    seconds: float
    p50: float
    p99: float
    source_calls: float
    """Source calls per order, answers 429 included."""
    rate_limited: float
    """Source calls per order answered 429."""
    koppel_calls: float
    """Target calls per order."""
    floor_calls: float | None


def quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


def source_calls_text(row: Row) -> str:
    text = f"{row.source_calls:.2f}"
    return f"{text} ({row.rate_limited:.2f} answered 429)" if row.rate_limited else text


def report(phase: Phase, koppel: dict[str, Any], floor: dict[str, Any] | None) -> Row:
    """Print one phase's figures; returns them for the table."""
    n = len(koppel["ids"])
    p50, p99 = quantiles(koppel["latencies"])
    if floor is not None:
        floor_rate, floor_calls = n / floor["seconds"], floor["target_calls"] / n
    else:
        bound = phase.bucket_seconds(n)
        floor_rate, floor_calls = (n / bound if bound else None), None
    row = Row(
        phase.source_label,
        label(phase.target),
        n / koppel["seconds"],
        floor_rate,
        floor is not None,
        koppel["seconds"],
        p50,
        p99,
        koppel["shop_calls"] / n,
        koppel["shop_429"] / n,
        koppel["target_calls"] / n,
        floor_calls,
    )
    print(f"{row.source} → {row.target}:")
    print(f"  Koppel  {row.koppel:8.1f} orders/s  ({row.seconds:.2f} s, first webhook to last invoice)")
    print(f"          webhook to invoice per order: p50 {row.p50:.2f} s, p99 {row.p99:.2f} s")
    hooks = koppel["webhooks"]
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(hooks.items()))
    print(f"          webhooks stored: {sum(hooks.values())} ({outcomes})")
    print(
        f"          calls per order: {source_calls_text(row)} {row.source}, "
        f"{row.koppel_calls:.2f} {row.target}"
    )
    if koppel["shop_429"]:
        tries = ", ".join(f"{count} in {n}" for n, count in sorted(koppel["tries"].items()))
        print(f"          orders fetched in 1, 2, ... tries (the others answered 429): {tries}")
    breakdown(koppel.get("profile"), n)
    print(f"          CPU seconds: {cpu_text(koppel['cpu'])}")
    if floor is not None:
        if floor["intake"]:
            fp50, fp99 = quantiles(floor["latencies"])
            print(
                f"  Floor   {row.floor:8.1f} orders/s  ({floor['seconds']:.2f} s, first stored webhook to "
                "last invoice: bare ASGI intake + table + httpx loop)"
            )
            print(f"          webhook to invoice per order: p50 {fp50:.2f} s, p99 {fp99:.2f} s")
        else:
            print(
                f"  Floor   {row.floor:8.1f} orders/s  ({floor['seconds']:.2f} s, bare httpx loop, no intake)"
            )
        print(
            f"          calls per order: {floor['shop_calls'] / n:.2f} {row.source}, "
            f"{floor['target_calls'] / n:.2f} {row.target}"
        )
        print(f"          CPU seconds: {cpu_text(floor['cpu'])}")
    elif row.floor is not None:
        print(
            f"  Bound   {row.floor:8.2f} orders/s  ({phase.bucket_seconds(n):.0f} s: {n} fetches through "
            f"{phase.bucket_text}; no floor run)"
        )
    else:
        print(f"  Bound   none: {n} fetches fit in {phase.bucket_text}; no floor run")
    if phase.source == "bol":
        print(f"          answers 429 from bol.com: {koppel['shop_429']} (of {koppel['shop_calls']} calls)")
    if row.floor is not None:
        print(f"  Ratio   Koppel / {'floor' if floor else 'bound'} = {row.koppel / row.floor:.2f}")
    sys.stdout.flush()
    return row


PHASES = ("claim", "fetch", "checks", "debtor", "invoice", "outcome", "other")


def cpu_text(cpu: dict[str, float]) -> str:
    return (
        ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
        + f" (total {sum(cpu.values()):.2f})"
    )


def breakdown(lines: list[dict[str, Any]] | None, orders: int) -> None:
    """Per order and phase, from the workers' profile: wall time, the HTTP time within it, Koppel's own
    (wall - HTTP), SQL time and statements; transactions; what the task queue costs around process()."""
    if lines is None:
        return
    if not lines:
        print("          (no profile lines)")
        return
    waits = [line["queue_wait_ms"] for line in lines if "queue_wait_ms" in line]
    w50, w99 = quantiles(waits)
    print(f"          breakdown per order ({len(lines)} attempts of {orders} orders, worker profile; ms):")
    print(f"          {'phase':<11}{'wall':>8}{'HTTP':>8}{'own':>8}{'SQL':>8}{'stmts':>7}{'calls':>7}")
    print(
        f"          {'queue wait':<11}{statistics.fmean(waits) if waits else 0:8.2f}"
        f"   (p50 {w50:.1f}, p99 {w99:.1f}: webhook stored to claim)"
    )
    total = Counter[str]()
    for name in PHASES:
        sums = Counter[str]()
        for line in lines:
            for key, value in line["phases"].get(name, {}).items():
                sums[key] += value
        total.update(sums)
        print(
            f"          {name:<11}{sums['ms'] / orders:8.2f}{sums['http_ms'] / orders:8.2f}"
            f"{(sums['ms'] - sums['http_ms']) / orders:8.2f}{sums['sql_ms'] / orders:8.2f}"
            f"{sums['sql'] / orders:7.1f}{sums['calls'] / orders:7.2f}"
        )
    print(
        f"          {'process()':<11}{total['ms'] / orders:8.2f}{total['http_ms'] / orders:8.2f}"
        f"{(total['ms'] - total['http_ms']) / orders:8.2f}{total['sql_ms'] / orders:8.2f}"
        f"{total['sql'] / orders:7.1f}{total['calls'] / orders:7.2f}"
    )
    ended = sum(line["transactions"] for line in lines) / orders
    autocommit = sum(line["autocommit"] for line in lines) / orders
    print(
        f"          transactions per order in process(): {ended + autocommit:.1f} ({ended:.1f} atomic blocks "
        f"committed or rolled back, {autocommit:.1f} statements in autocommit)"
    )
    # The task queue around process() (django-tasks-db: claim the task, mark it done): the worker
    # thread's running totals between two records, minus what the records counted themselves.
    by_thread: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for line in lines:
        by_thread.setdefault((line["pid"], line["thread"]), []).append(line)
    gaps = statements = transactions = sql_ms = 0.0
    for series in by_thread.values():
        first, last = series[0]["thread_totals"], series[-1]["thread_totals"]
        later = series[1:]
        gaps += len(later)
        statements += (
            last["sql"] - first["sql"] - sum(sum(p["sql"] for p in x["phases"].values()) for x in later)
        )
        sql_ms += (
            last["sql_ms"]
            - first["sql_ms"]
            - sum(sum(p["sql_ms"] for p in x["phases"].values()) for x in later)
        )
        transactions += (
            last["transactions"] + last["autocommit"] - first["transactions"] - first["autocommit"]
        ) - sum(x["transactions"] + x["autocommit"] for x in later)
    if gaps:
        print(
            f"          task queue around process(), per attempt: {statements / gaps:.1f} statements, "
            f"{transactions / gaps:.1f} transactions, {sql_ms / gaps:.2f} ms SQL"
        )


def table(rows: list[Row]) -> None:
    """One Markdown table row per source × target."""
    print(
        "\n| Source | Target | Koppel | Webhook→invoice p50 / p99 | Source calls per order | "
        "Target calls per order | Floor | Koppel / floor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        floor_calls = f", floor {row.floor_calls:.2f}" if row.floor_calls is not None else ""
        if row.floor is None:
            floor, ratio = "none (fits in the bucket)", "-"
        else:
            floor = f"{row.floor:.1f} orders/s" if row.measured_floor else f"bucket bound {row.floor:.2f}/s"
            ratio = f"{row.koppel / row.floor:.2f}"
        print(
            f"| {row.source} | {row.target} | {row.koppel:.1f} orders/s ({row.seconds:.2f} s) | "
            f"{row.p50:.2f} s / {row.p99:.2f} s | {source_calls_text(row)} | "
            f"Koppel {row.koppel_calls:.2f}{floor_calls} | {floor} | {ratio} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="orders to place (default 300)")
    parser.add_argument(
        "--workers", type=int, default=1, help="Koppel workers and floor threads (>1: PostgreSQL)"
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=0,
        help="place the orders in bulk requests of this many (default: all at once)",
    )
    parser.add_argument(
        "--source",
        choices=(*SOURCES, "bol", "all"),
        default="kmoshops",
        help="the shop platform, or all of them one after the other (default kmoshops; bol.com, always at "
        "its real rate limits, only by name)",
    )
    parser.add_argument(
        "--target",
        choices=(*TARGETS, "all"),
        default="factuursturen",
        help="the invoicing target, or all of them one after the other (default factuursturen)",
    )
    parser.add_argument(
        "--shopify-limit",
        choices=("both", "off", "on"),
        default="both",
        help="Shopify with the sandbox's rate limit off, at the real limit (bucket 40, 2 calls/s), or both "
        "(default both)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=180.0,
        help="give up on a phase after this many seconds (at Shopify's real limit: plus the time the bucket "
        "needs)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="every shop and target API call answered this much later, for Koppel and the floor alike "
        "(default 0: loopback speed; real APIs answer in 50-300 ms)",
    )
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="run the workers without KOPPEL_PROFILE (no per-phase breakdown; the profile costs a little)",
    )
    args = parser.parse_args(argv)
    global LATENCY_MS
    LATENCY_MS = args.latency_ms

    sources = SOURCES if args.source == "all" else (args.source,)
    targets = TARGETS if args.target == "all" else (args.target,)
    orders = {source: make_orders(source, args.orders, args.seed) for source in sources}
    rows: list[Row] = []
    failed = False
    with Harness(workers=args.workers, profile=not args.no_profile) as harness:
        placed = f"in chunks of {args.chunk}" if args.chunk else "in one bulk request"
        if sources == ("bol",):
            placed = "and shipped one by one (a push per shipment)"
        from django.conf import settings  # configured by the harness with the workers' environment

        order_threads = settings.WORKER_THREADS
        # As many orders under way in the floor as in Koppel: every worker's every order thread.
        floor_threads = args.workers * order_threads
        print(f"End to end, {args.orders} orders placed {placed} per source and target, {args.workers}")
        print(
            f"worker(s) ({order_threads} order threads each) and {floor_threads} floor threads, 1 web "
            f"process, {harness.database}, {os.cpu_count()} CPUs"
            + (f", every API call {LATENCY_MS} ms later" if LATENCY_MS else ""),
            flush=True,
        )
        for phase in phases(sources, targets, args.shopify_limit):
            koppel = run_koppel(harness, phase, orders[phase.source], args.chunk or args.orders, args.timeout)
            if phase.limited and phase.source not in WEBHOOK_BODY_SOURCES:
                floor = None
            elif phase.source in FLOOR_INTAKE_SOURCES:
                floor = run_floor_with_intake(
                    harness,
                    phase,
                    orders[phase.source],
                    args.chunk or args.orders,
                    floor_threads,
                    args.timeout,
                )
            else:
                floor = run_floor(harness, phase, koppel, floor_threads)
            rows.append(report(phase, koppel, floor))
            states = dict(koppel["states"])
            if states != {"handled": args.orders}:
                print(f"  NOT ALL HANDLED: {states}, errors {dict(koppel['errors'])}", file=sys.stderr)
                failed = True
    table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
