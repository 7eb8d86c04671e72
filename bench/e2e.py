"""End-to-end throughput: KMO Shops webhook → Koppel → Factuursturen invoice, against the sandboxes.

Starts the sandboxes, the web app and the worker(s) as processes on 127.0.0.1 (SQLite in a temporary data
directory, or the PostgreSQL database of DATABASE_URL), places N orders in the simulated shop in one bulk
request (the shop then sends N signed webhooks at once; ``--chunk K`` sends at most K at a time), and
measures from the first webhook Koppel stored to the last invoice it booked.

In the same run it measures the floor: a bare httpx loop making the HTTP calls Koppel makes per order (GET
the order from the shop; search the invoice by reference; search the debtor by e-mail; POST clients for a
new customer; POST invoices; GET taxes once), against the same sandboxes and a fresh Factuursturen
account, with as many threads as Koppel has workers. Koppel / floor is the share of the achievable rate
that Koppel reaches; the rest is its own work (database, queue, checks, mapping, new connections).

    .venv/bin/python bench/e2e.py --orders 300
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/koppel_bench
    .venv/bin/python bench/e2e.py --workers 2 --chunk 20
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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from koppel.demo import OrderMaker, Stack, connect_sandboxes, free_port, setup_django, stack_env

SHOP = "bench-shop"
KOPPEL_FS_USER = "bench-koppel"
FLOOR_FS_USER = "bench-floor"


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


def run_koppel(harness: Harness, orders: list[dict[str, Any]], chunk: int, timeout: float) -> dict[str, Any]:
    """Place the orders in bulk requests of ``chunk`` (each waits until the previous chunk's webhooks
    have made their records, so no more than ``chunk`` webhooks are in flight), then wait until every
    record has settled."""
    from django.db.models import Max, Min, QuerySet

    from koppel.sync.models import Record, State

    connection = connect_sandboxes(
        harness.account,
        harness.sandbox_url,
        name="bench",
        shop=SHOP,
        fs_username=KOPPEL_FS_USER,
        shop_knobs={"rate_limit_per_minute": 0},
        fs_hourly_limit=10**9,
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
                    hooks = client.get(f"/_sandbox/kmoshops/shops/{SHOP}/webhooks").json()
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
            response = client.post(f"/_sandbox/kmoshops/shops/{SHOP}/orders/bulk", json=batch)
            ids += response.raise_for_status().json()["ids"]
        wait_until(records.exclude(state=State.QUEUED), len(ids))
        shop_calls = len(client.get(f"/_sandbox/kmoshops/shops/{SHOP}/requests").json())
        fs_calls = len(client.get(f"/_sandbox/factuursturen/accounts/{KOPPEL_FS_USER}/requests").json())
        client.delete(f"/_sandbox/kmoshops/shops/{SHOP}/requests")
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
        "fs_calls": fs_calls,
        "shop_key": connection.source_credentials["api_key"],
    }


# ---------------------------------------------------------------------------------------- floor


def run_floor(harness: Harness, shop_key: str, ids: list[int], threads: int) -> dict[str, Any]:
    """The same calls per order as Koppel, from a bare httpx loop (persistent connections, no database)."""
    fs_key = uuid.uuid4().hex
    base = harness.sandbox_url
    httpx.post(
        f"{base}/_sandbox/factuursturen/accounts",
        json={"username": FLOOR_FS_USER, "api_key": fs_key, "hourly_limit": 10**9},
    ).raise_for_status()
    lock = threading.Lock()
    calls = Counter[str]()

    def book(shop: httpx.Client, fs: httpx.Client, order_id: int) -> None:
        order = shop.get(f"/api/v1/orders/{order_id}").raise_for_status().json()
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
        with lock:
            calls.update(shop=1, fs=3 + new)

    def worker(share: list[int]) -> None:
        with (
            httpx.Client(base_url=f"{base}/kmoshops/{SHOP}", headers={"X-Api-Key": shop_key}) as shop,
            httpx.Client(base_url=f"{base}/factuursturen/api/v1/", auth=(FLOOR_FS_USER, fs_key)) as fs,
        ):
            for order_id in share:
                book(shop, fs, order_id)

    started = time.perf_counter()
    httpx.get(f"{base}/factuursturen/api/v1/taxes", auth=(FLOOR_FS_USER, fs_key)).raise_for_status()
    calls.update(fs=1)
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, ids[n::threads]) for n in range(threads)]:
            future.result()
    return {
        "ids": ids,
        "seconds": time.perf_counter() - started,
        "shop_calls": calls["shop"],
        "fs_calls": calls["fs"],
    }


# ---------------------------------------------------------------------------------------- report


def per_order(run: dict[str, Any]) -> str:
    n = len(run["ids"])
    return f"{run['shop_calls'] / n:.2f} KMO Shops, {run['fs_calls'] / n:.2f} Factuursturen"


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
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    maker = OrderMaker(args.seed)
    orders = [maker.make(scenario) for scenario in islice(maker.scenarios(failing=False), args.orders)]
    with Harness(workers=args.workers) as harness:
        koppel = run_koppel(harness, orders, args.chunk or args.orders, args.timeout)
        floor = run_floor(harness, koppel["shop_key"], koppel["ids"], args.workers)
        database = harness.database

    n = args.orders
    koppel_rate, floor_rate = n / koppel["seconds"], n / floor["seconds"]
    cuts = statistics.quantiles(koppel["latencies"], n=100) if len(koppel["latencies"]) > 1 else [0.0] * 99
    placed = f"in chunks of {args.chunk}" if args.chunk else "in one bulk request"
    print(f"End to end, {n} orders placed {placed}, {args.workers} worker(s) and as many floor threads,")
    print(f"1 web process, {database}, {os.cpu_count()} CPUs")
    print(
        f"  Koppel  {koppel_rate:8.1f} orders/s  ({koppel['seconds']:.2f} s, first webhook to last invoice)"
    )
    print(f"          webhook to invoice per order: p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s")
    print(f"          calls per order: {per_order(koppel)}")
    print(f"  Floor   {floor_rate:8.1f} orders/s  ({floor['seconds']:.2f} s, bare httpx loop)")
    print(f"          calls per order: {per_order(floor)}")
    print(f"  Ratio   Koppel / floor = {koppel_rate / floor_rate:.2f}")
    states = dict(koppel["states"])
    if states != {"handled": n}:
        print(f"  NOT ALL HANDLED: {states}, errors {dict(koppel['errors'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
