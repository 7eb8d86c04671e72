"""End-to-end throughput: KMO Shops webhook → Koppel → invoice in Factuursturen or EenvoudigFactureren,
against the sandboxes.

Starts the sandboxes, the web app and the worker(s) as processes on 127.0.0.1 (SQLite in a temporary data
directory, or the PostgreSQL database of DATABASE_URL), places N orders in a simulated shop in one bulk
request (the shop then sends N signed webhooks at once; ``--chunk K`` sends at most K at a time), and
measures from the first webhook Koppel stored to the last invoice it booked.

In the same run it measures the floor: a bare httpx loop making the HTTP calls Koppel's connector makes per
order for that target, against the same sandboxes and a fresh target account, with as many threads as
Koppel has workers. Factuursturen: GET the order from the shop; search the invoice by reference; search
the debtor by e-mail; POST clients for a new customer; POST invoices; GET taxes once. EenvoudigFactureren:
GET the order; GET invoices filtered by external_invoice_id; GET invoices searched by the order number; GET
clients filtered by e-mail; POST clients for a new customer; POST invoices; GET settings?fields=taxes once.
Koppel / floor is the share of the achievable rate that Koppel reaches; the rest is its own work
(database, queue, checks, mapping, new connections).

``--target all`` runs every target one after the other on the same processes and database (each with its
own shop, connection and target accounts) and prints one table row per target.

    .venv/bin/python bench/e2e.py --orders 300 --target all
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/koppel_bench
    .venv/bin/python bench/e2e.py --workers 2 --target all
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from koppel.demo import (
    OrderMaker,
    Stack,
    TargetAccount,
    connect_sandboxes,
    create_sandbox_account,
    free_port,
    setup_django,
    stack_env,
)

TARGETS = ("factuursturen", "eenvoudigfactureren")
KOPPEL_ACCOUNT = "bench-koppel"
FLOOR_ACCOUNT = "bench-floor"


def shop_name(target: str) -> str:
    return f"bench-{target}"


class Harness:
    """A throw-away Koppel on 127.0.0.1: a temporary data directory (and SQLite database, unless
    DATABASE_URL is set), the sandboxes, the web app and ``workers`` workers as child processes, and a
    fresh account. Everything it made is removed on exit, also from a PostgreSQL database."""

    def __init__(self, *, workers: int, web_workers: int = 1, sandbox: bool = True) -> None:
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
            for n in range(self.workers):
                self.stack.start(f"worker-{n + 1}", "worker")
            if self.with_sandbox:
                self.stack.wait_http(f"{self.sandbox_url}/_sandbox/health")
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

    def close(self, keep: bool = False) -> None:
        self.stack.stop()
        if self.account is not None and self.postgres:
            self.forget_account()
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


# ---------------------------------------------------------------------------------------- Koppel


def request_count(client: httpx.Client, target: str, account: str) -> int:
    """The API requests the target sandbox logged for ``account`` (a list, or ``{"requests": [...]}``)."""
    logged = client.get(f"/_sandbox/{target}/accounts/{account}/requests").raise_for_status().json()
    return len(logged["requests"] if isinstance(logged, dict) else logged)


def run_koppel(
    harness: Harness, target: str, orders: list[dict[str, Any]], chunk: int, timeout: float
) -> dict[str, Any]:
    """Place the orders in bulk requests of ``chunk`` (each waits until the previous chunk's webhooks
    have made their records, so no more than ``chunk`` webhooks are in flight), then wait until every
    record has settled."""
    from django.db.models import Max, Min, QuerySet

    from koppel.sync.models import Record, State

    shop = shop_name(target)
    connection = connect_sandboxes(
        harness.account,
        harness.sandbox_url,
        name=f"bench {target}",
        shop=shop,
        target=target,
        target_account=KOPPEL_ACCOUNT,
        shop_knobs={"rate_limit_per_minute": 0},
        poll=False,
    )
    records = Record.objects.filter(connection=connection)
    deadline = time.monotonic() + timeout
    ids: list[int] = []
    with httpx.Client(base_url=harness.sandbox_url, timeout=60.0) as client:

        def wait_until(query: QuerySet[Record], count: int) -> None:
            while query.count() < count:
                harness.stack.check()
                if time.monotonic() > deadline:
                    states = Counter(records.values_list("state", flat=True))
                    hooks = client.get(f"/_sandbox/kmoshops/shops/{shop}/webhooks").json()
                    answers = Counter(hook["status"] or hook["error"] for hook in hooks)
                    raise SystemExit(
                        f"Koppel did not settle {len(orders)} orders within {timeout:.0f} s: records "
                        f"{dict(states)}, webhook answers {dict(answers)}; logs in {harness.stack.log_dir}"
                    )
                time.sleep(0.05)

        for start in range(0, len(orders), chunk):
            if ids:
                wait_until(records, len(ids))
            batch = {"orders": orders[start : start + chunk], "notify": True}
            response = client.post(f"/_sandbox/kmoshops/shops/{shop}/orders/bulk", json=batch)
            ids += response.raise_for_status().json()["ids"]
        wait_until(records.exclude(state=State.QUEUED), len(ids))
        shop_calls = len(client.get(f"/_sandbox/kmoshops/shops/{shop}/requests").json())
        target_calls = request_count(client, target, KOPPEL_ACCOUNT)
        client.delete(f"/_sandbox/kmoshops/shops/{shop}/requests")
    span = records.aggregate(first=Min("created_at"), last=Max("handled_at"))
    latencies = [
        (handled - created).total_seconds()
        for created, handled in records.filter(state=State.HANDLED).values_list("created_at", "handled_at")
    ]
    return {
        "ids": ids,
        "states": Counter(records.values_list("state", flat=True)),
        "errors": Counter(records.exclude(error_code="").values_list("error_code", flat=True)),
        "seconds": (span["last"] - span["first"]).total_seconds(),
        "latencies": latencies,
        "shop_calls": shop_calls,
        "target_calls": target_calls,
        "shop_key": connection.source_credentials["api_key"],
    }


# ---------------------------------------------------------------------------------------- floor


class Floor(Protocol):
    """The target calls Koppel's connector makes, from bare httpx."""

    def client(self) -> httpx.Client: ...

    def once(self, target: httpx.Client) -> int:
        """Calls made once per run (the VAT rates, which Koppel caches); returns how many."""
        ...

    def book(self, target: httpx.Client, order: dict[str, Any]) -> int:
        """Book one order as the connector does; returns the number of calls made."""
        ...


class FactuursturenFloor:
    def __init__(self, account: TargetAccount) -> None:
        self.account = account

    def client(self) -> httpx.Client:
        auth = (self.account.credentials["username"], self.account.credentials["api_key"])
        return httpx.Client(base_url=f"{self.account.url}/", auth=auth)

    def once(self, fs: httpx.Client) -> int:
        fs.get("taxes").raise_for_status()
        return 1

    def book(self, fs: httpx.Client, order: dict[str, Any]) -> int:
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
        fs.post("invoices", json=invoice).raise_for_status()
        return 3 + new


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
        return httpx.Client(base_url=f"{self.account.url}/", headers=headers)

    def once(self, ef: httpx.Client) -> int:
        ef.get("settings", params={"fields": "taxes"}).raise_for_status()
        return 1

    def book(self, ef: httpx.Client, order: dict[str, Any]) -> int:
        from koppel.connectors.eenvoudigfactureren.mapping import client_body, invoice_body
        from koppel.connectors.kmoshops.mapping import parse_order
        from koppel.documents.model import build_invoice
        from koppel.documents.vat import is_intra_community_supply

        parsed = parse_order(order)
        invoice = build_invoice(parsed, intra_community=is_intra_community_supply(parsed, "NL"))
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


def run_floor(harness: Harness, target: str, shop_key: str, ids: list[int], threads: int) -> dict[str, Any]:
    """The same calls per order as Koppel, from a bare httpx loop (persistent connections, no database)."""
    base = harness.sandbox_url
    floor = FLOORS[target](create_sandbox_account(base, target, FLOOR_ACCOUNT))
    lock = threading.Lock()
    calls = Counter[str]()

    def worker(share: list[int]) -> None:
        headers = {"X-Api-Key": shop_key}
        shop_url = f"{base}/kmoshops/{shop_name(target)}"
        with httpx.Client(base_url=shop_url, headers=headers) as shop, floor.client() as client:
            for order_id in share:
                order = shop.get(f"/api/v1/orders/{order_id}").raise_for_status().json()
                made = floor.book(client, order)
                with lock:
                    calls.update(shop=1, target=made)

    started = time.perf_counter()
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
    }


# ---------------------------------------------------------------------------------------- report


def label(target: str) -> str:
    from koppel.connectors import registry

    return registry.target(target).label


def per_order(run: dict[str, Any], target: str) -> str:
    n = len(run["ids"])
    return f"{run['shop_calls'] / n:.2f} KMO Shops, {run['target_calls'] / n:.2f} {label(target)}"


@dataclass(frozen=True)
class Row:
    target: str
    koppel: float
    """Orders per second."""
    floor: float
    seconds: float
    p50: float
    p99: float
    koppel_calls: float
    """Target calls per order."""
    floor_calls: float


def report(target: str, koppel: dict[str, Any], floor: dict[str, Any]) -> Row:
    """Print one target's figures; returns them for the table."""
    n = len(koppel["ids"])
    cuts = statistics.quantiles(koppel["latencies"], n=100) if len(koppel["latencies"]) > 1 else [0.0] * 99
    row = Row(
        label(target),
        n / koppel["seconds"],
        n / floor["seconds"],
        koppel["seconds"],
        cuts[49],
        cuts[98],
        koppel["target_calls"] / n,
        floor["target_calls"] / n,
    )
    print(f"{row.target}:")
    print(f"  Koppel  {row.koppel:8.1f} orders/s  ({row.seconds:.2f} s, first webhook to last invoice)")
    print(f"          webhook to invoice per order: p50 {row.p50:.2f} s, p99 {row.p99:.2f} s")
    print(f"          calls per order: {per_order(koppel, target)}")
    print(f"  Floor   {row.floor:8.1f} orders/s  ({floor['seconds']:.2f} s, bare httpx loop)")
    print(f"          calls per order: {per_order(floor, target)}")
    print(f"  Ratio   Koppel / floor = {row.koppel / row.floor:.2f}", flush=True)
    return row


def table(rows: list[Row]) -> None:
    """One Markdown table row per target."""
    print(
        "\n| Target | Koppel | Floor | Koppel / floor | Webhook→invoice p50 / p99 | Target calls per order |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row.target} | {row.koppel:.1f} orders/s ({row.seconds:.2f} s) | {row.floor:.1f} orders/s | "
            f"{row.koppel / row.floor:.2f} | {row.p50:.2f} s / {row.p99:.2f} s | "
            f"Koppel {row.koppel_calls:.2f}, floor {row.floor_calls:.2f} |"
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
        "--target",
        choices=(*TARGETS, "all"),
        default="factuursturen",
        help="the invoicing target, or all of them one after the other (default factuursturen)",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    targets = TARGETS if args.target == "all" else (args.target,)
    maker = OrderMaker(args.seed)
    orders = [maker.make(scenario) for scenario in islice(maker.scenarios(failing=False), args.orders)]
    rows: list[Row] = []
    failed = False
    with Harness(workers=args.workers) as harness:
        placed = f"in chunks of {args.chunk}" if args.chunk else "in one bulk request"
        print(f"End to end, {args.orders} orders placed {placed} per target, {args.workers} worker(s) and")
        print(f"as many floor threads, 1 web process, {harness.database}, {os.cpu_count()} CPUs", flush=True)
        for target in targets:
            koppel = run_koppel(harness, target, orders, args.chunk or args.orders, args.timeout)
            floor = run_floor(harness, target, koppel["shop_key"], koppel["ids"], args.workers)
            rows.append(report(target, koppel, floor))
            states = dict(koppel["states"])
            if states != {"handled": args.orders}:
                print(f"  NOT ALL HANDLED: {states}, errors {dict(koppel['errors'])}", file=sys.stderr)
                failed = True
    table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
