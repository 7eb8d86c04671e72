"""The full storm: N orders (default 10,000) from a KMO Shops sandbox shop into EenvoudigFactureren while the
target fails and Koppel's processes die, on PostgreSQL with 2 workers.

The shop places every order in one bulk request and sends its N webhooks at once (32 in flight). Meanwhile
the target answers 10 % of its API calls with a random 500/502/503 and holds 5 % past Koppel's HTTP timeout
(``KOPPEL_HTTP_TIMEOUT``, 2 s here; the call is carried out after 4 s, so a create may be saved late); it
answers 5 bursts of ten 429s (``Retry-After: 1``); a worker is killed with SIGKILL (and started again) 20
times, spread over the first 80 % of the bookings; the web process is restarted once, when half the
webhooks have made their records. Webhooks lost while the web process is away are found by the safety-net
poll (every minute here).
When the last kill is done the faults end; the script waits until every record has settled and prints:

    orders placed, invoices, duplicates, lost, left in error, minutes from the end of the faults to the
    last invoice.

Duplicates are invoices beyond the first for one order; lost are orders placed with no invoice and no
record in error. Uses the sandboxes, processes and clean-up of ``bench/e2e.py`` (its ``Harness``). The
database is DATABASE_URL's, which must be PostgreSQL and should be one of its own, e.g.

    createdb -h 127.0.0.1 -U postgres chaos
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chaos PYTHONPATH=src .venv/bin/python bench/chaos.py
    ... bench/chaos.py --orders 1000
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from e2e import KOPPEL_ACCOUNT, Harness, make_orders

SHOP = "chaos-kmoshops"
TARGET = "eenvoudigfactureren"
KILLS = 20
#: The share of the orders booked by the time of the last kill; the faults end with it.
FAULTS_UNTIL = 0.8
BURSTS = 5
BURST_SIZE = 10
FAULTS = {"error_rate": 0.10, "timeout_rate": 0.05, "timeout_seconds": 4.0}
NO_FAULTS = {"error_rate": 0.0, "timeout_rate": 0.0, "rate_limit_burst": 0}
#: The children's settings: a short HTTP timeout (so the held calls are timeouts), a doubt window fitted to
#: this target's slowest save (4 s: a create without an answer is searched for 30 s before it is sent
#: again), dead workers noticed within seconds, the safety-net poll every minute.
ENVIRONMENT = {
    "KOPPEL_HTTP_TIMEOUT": "2",
    "KOPPEL_BOOKING_DOUBT_SECONDS": "30",
    "KOPPEL_BOOKING_DOUBT_RECHECK_SECONDS": "5",
    "KOPPEL_WORKER_DEAD_AFTER": "10",
    "KOPPEL_WORKER_HEARTBEAT": "2",
    "KOPPEL_POLL_MINUTES": "1",
}


@dataclass
class Storm:
    """The faults planned over the run, each at a number of orders booked."""

    orders: int
    kills: list[int] = field(default_factory=list)
    bursts: list[int] = field(default_factory=list)
    web_restarted: bool = False
    faults_ended_at: datetime | None = None

    def __post_init__(self) -> None:
        last = int(self.orders * FAULTS_UNTIL)
        self.kills = [last * (n + 1) // KILLS for n in range(KILLS)]
        self.bursts = [last * (n + 1) // (BURSTS + 1) for n in range(BURSTS)]


def kill_worker(harness: Harness, number: int) -> None:
    """SIGKILL one of the two workers (in turn) and start another in its place."""
    workers = [child for child in harness.stack.children if child.name.startswith("worker-")]
    doomed = workers[number % len(workers)]
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    harness.stack.children.remove(doomed)
    harness.stack.start(f"worker-{doomed.name.split('-')[1]}-{number + 1}", "worker")


def restart_web(harness: Harness) -> None:
    """Stop the web process (SIGTERM, as a deploy does) and start it again on the same port."""
    web = next(child for child in harness.stack.children if child.name.startswith("web"))
    web.process.terminate()
    web.process.wait(30)
    harness.stack.children.remove(web)
    harness.stack.start("web-restarted", "serve", "--port", harness.web_url.rsplit(":", 1)[1])
    harness.stack.wait_http(f"{harness.web_url}/health")


def storm(harness: Harness, connection: Any, plan: Storm, knobs: str, timeout: float) -> None:
    """Run the planned faults as the bookings go on, end them, and wait until every order has settled."""
    from koppel.sync.models import Record, State

    records = Record.objects.filter(connection=connection)
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=harness.sandbox_url, timeout=30.0) as client:
        while True:
            harness.stack.check()
            handled = records.filter(state=State.HANDLED).count()
            if not plan.web_restarted and records.count() >= plan.orders // 2:
                restart_web(harness)
                plan.web_restarted = True
                print(f"  web restarted at {records.count()} records", flush=True)
            while plan.bursts and handled >= plan.bursts[0]:
                plan.bursts.pop(0)
                client.post(knobs, json={"rate_limit_burst": BURST_SIZE, "rate_limit_burst_retry_after": 1})
            while plan.kills and handled >= plan.kills[0]:
                plan.kills.pop(0)
                kill_worker(harness, KILLS - len(plan.kills) - 1)
            if not plan.kills and plan.faults_ended_at is None:
                client.post(knobs, json=NO_FAULTS).raise_for_status()
                plan.faults_ended_at = datetime.now().astimezone()
                print(f"  faults ended at {handled} invoices ({KILLS} workers killed)", flush=True)
            settled = records.count() >= plan.orders and not records.filter(state=State.QUEUED).exists()
            if plan.faults_ended_at is not None and settled:
                return
            if time.monotonic() > deadline:
                states = dict(Counter(records.values_list("state", flat=True)))
                print(f"  gave up waiting after {timeout:.0f} s: {states}", file=sys.stderr)
                return
            time.sleep(0.5)


def figures(harness: Harness, connection: Any, placed: list[str], plan: Storm) -> dict[str, Any]:
    from django.db.models import Max

    from koppel.sync.models import Record, State

    control = f"{harness.sandbox_url}/_sandbox/{TARGET}/accounts/{KOPPEL_ACCOUNT}"
    invoices = httpx.get(control, timeout=60.0).raise_for_status().json()["invoices"]
    per_order = Counter(str(invoice.get("external_invoice_id", "")) for invoice in invoices)
    records = Record.objects.filter(connection=connection)
    numbers = dict(records.values_list("source_order_id", "order_number"))
    in_error = set(records.filter(state=State.ERROR).values_list("source_order_id", flat=True))
    lost = [
        order for order in placed if per_order.get(numbers.get(order, ""), 0) == 0 and order not in in_error
    ]
    last = records.aggregate(last=Max("handled_at"))["last"]
    drain = (last - plan.faults_ended_at).total_seconds() / 60 if last and plan.faults_ended_at else None
    return {
        "placed": len(placed),
        "invoices": len(per_order),
        "duplicates": sum(count - 1 for count in per_order.values()),
        "lost": len(lost),
        "in error": len(in_error),
        "errors": dict(Counter(records.filter(state=State.ERROR).values_list("error_code", flat=True))),
        "drain minutes": drain,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders to place (default 10,000)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="give up after this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("The storm runs on PostgreSQL: set DATABASE_URL (a database of its own).")
    os.environ.update(ENVIRONMENT)
    orders = make_orders("kmoshops", args.orders, args.seed)
    with Harness(workers=2) as harness:
        from koppel.demo import connect_sandboxes, sandbox_shop_of

        connection = connect_sandboxes(
            harness.account,
            harness.sandbox_url,
            name="chaos",
            shop=SHOP,
            source="kmoshops",
            target=TARGET,
            target_account=KOPPEL_ACCOUNT,
            shop_knobs={"rate_limit_per_minute": 0},
        )
        knobs = f"/_sandbox/{TARGET}/accounts/{KOPPEL_ACCOUNT}/knobs"
        plan = Storm(args.orders)
        print(
            f"Chaos: {args.orders} orders, 2 workers, {harness.database}, {os.cpu_count()} CPUs", flush=True
        )
        started = time.monotonic()
        with httpx.Client(base_url=harness.sandbox_url, timeout=300.0) as client:
            client.post(knobs, json=FAULTS).raise_for_status()
            shop_path = sandbox_shop_of("kmoshops").shop_path(SHOP)
            body = {"orders": orders, "notify": True}
            placed = [
                str(order_id) for order_id in client.post(f"{shop_path}/orders/bulk", json=body).json()["ids"]
            ]
        storm(harness, connection, plan, knobs, args.timeout)
        result = figures(harness, connection, placed, plan)
        print(f"  {time.monotonic() - started:.0f} s in all")
    drain = result["drain minutes"]
    print(
        f"orders placed {result['placed']}, invoices {result['invoices']}, "
        f"duplicates {result['duplicates']}, "
        f"lost {result['lost']}, left in error {result['in error']} {result['errors'] or ''}, "
        f"drain {'-' if drain is None else f'{drain:.1f}'} minutes from the end of the faults to the last "
        "invoice"
    )
    ok = (result["invoices"], result["duplicates"], result["lost"], result["in error"]) == (
        args.orders,
        0,
        0,
        0,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
