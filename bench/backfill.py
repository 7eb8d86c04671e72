"""Backfill of many past orders: read rate, peak memory, interruption and resume, and booking rate.

Starts the sandboxes as a process, seeds a KMO Shops sandbox shop with N past orders (placed in 2024,
before the connection's start date, without webhooks), and runs ``koppel backfill`` as a separate process,
so its peak resident memory (``ru_maxrss`` from ``wait4``) is its own:

1. a small backfill of ``--small`` orders, for comparison (flat memory: the big one should need about the
   same);
2. the big one, interrupted with SIGINT (Ctrl-C) once about half the orders are read, then the same
   command again, which resumes;
3. a check that every order got exactly one record;
4. with ``--book``, ``--workers`` worker processes book every record into Factuursturen, and the booking
   rate is measured until the last record is settled.

The shop's real pace is 0.8 pages (of 50 orders) a second; ``--pace`` overrides it (the sandbox's rate limit
is switched off for the run) to measure Koppel rather than the pacing.

    .venv/bin/python bench/backfill.py --orders 20000 --pace 20 --book --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from koppel.demo import (
    OrderMaker,
    Stack,
    connect_sandboxes,
    free_port,
    koppel_command,
    setup_django,
    stack_env,
)

SEED_CHUNK = 2000
SINCE, UNTIL = "2024-01-01", "2024-12-31"


def past_orders(count: int, maker: OrderMaker, offset: int) -> list[dict[str, Any]]:
    """``count`` paid consumer orders spread over 2024 (one every 20 minutes from the 1st of January)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    orders = []
    for i in range(count):
        order = maker.make("consumer")
        order["created_at"] = (start + timedelta(minutes=20 * (offset + i))).isoformat(timespec="seconds")
        orders.append(order)
    return orders


def seed(sandbox_url: str, shop: str, count: int, maker: OrderMaker) -> None:
    with httpx.Client(base_url=sandbox_url, timeout=120.0) as client:
        for offset in range(0, count, SEED_CHUNK):
            batch = past_orders(min(SEED_CHUNK, count - offset), maker, offset)
            client.post(
                f"/_sandbox/kmoshops/shops/{shop}/orders/bulk", json={"orders": batch}
            ).raise_for_status()


def backfill_process(env: dict[str, str], connection_id: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            koppel_command("backfill", str(connection_id), "--since", SINCE, "--until", UNTIL),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Exit status and peak resident memory (MB) of the process."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024


def orders_read(connection_id: int) -> int:
    from koppel.sync.models import Backfill

    return sum(Backfill.objects.filter(connection_id=connection_id).values_list("orders_seen", flat=True))


def run_backfill(env: dict[str, str], connection_id: int, log: Path, *, interrupt_at: int | None) -> dict:
    """One backfill, optionally interrupted with SIGINT once ``interrupt_at`` orders are read and resumed."""
    started = time.perf_counter()
    peaks, interrupted = [], False
    process = backfill_process(env, connection_id, log)
    while interrupt_at is not None and process.poll() is None:
        if orders_read(connection_id) >= interrupt_at:
            process.send_signal(signal.SIGINT)
            code, peak = wait_for(process)
            peaks.append(peak)
            interrupted = code == 130
            print(f"  interrupted after {orders_read(connection_id):,} orders read (exit {code}); resuming")
            process = backfill_process(env, connection_id, log)
            break
        time.sleep(0.05)
    code, peak = wait_for(process)
    peaks.append(peak)
    if code != 0:
        raise SystemExit(f"koppel backfill exited {code}; see {log}")
    return {"seconds": time.perf_counter() - started, "peak_mb": max(peaks), "interrupted": interrupted}


def check_records(connection_id: int, expected: int) -> None:
    from django.db.models import Count

    from koppel.sync.models import Record

    records = Record.objects.filter(connection_id=connection_id)
    count = records.count()
    doubled = records.values("source_order_id").annotate(n=Count("pk")).filter(n__gt=1).count()
    print(f"  records: {count:,} for {expected:,} orders, {doubled} duplicated")
    if count != expected or doubled:
        raise SystemExit("the backfill did not give every order exactly one record")


def book(stack: Stack, connection_id: int, workers: int, expected: int) -> float:
    from django.db.models import Count

    from koppel.sync.models import Record, State

    started = time.perf_counter()
    for n in range(workers):
        stack.start(f"worker-{n}", "worker")
    settled = 0
    while settled < expected:
        stack.check()
        time.sleep(1.0)
        settled = Record.objects.filter(connection_id=connection_id).exclude(state=State.QUEUED).count()
        rate = settled / (time.perf_counter() - started)
        print(f"\r  booked {settled:,}/{expected:,} ({rate:,.0f} orders/s)", end="", flush=True)
    print()
    states = dict(
        Record.objects.filter(connection_id=connection_id)
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    print(f"  states: {states}")
    return expected / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=2_000, help="orders of the comparison backfill")
    parser.add_argument("--pace", type=float, default=0.0, help="pages a second (default: the shop's 0.8)")
    parser.add_argument("--book", action="store_true", help="also book every order and time it")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="koppel-bench-backfill-"))
    sandbox_url = f"http://127.0.0.1:{free_port()}"
    extra = {"KOPPEL_BACKFILL_REQUESTS_PER_SECOND": str(args.pace)} if args.pace else {}
    env = stack_env(data_dir, "http://127.0.0.1:9", **extra)
    stack = Stack(env, data_dir / "logs")
    try:
        setup_django(env)
        from koppel.accounts.models import Account

        stack.start("sandbox", "sandbox", "--port", sandbox_url.rsplit(":", 1)[1])
        stack.wait_http(f"{sandbox_url}/_sandbox/health")
        account = Account.objects.create(name="Backfill bench")
        knobs = {"rate_limit_per_minute": 0} if args.pace else {}
        maker = OrderMaker(seed=7)
        results = {}
        for label, count in (("small", args.small), ("big", args.orders)):
            connection = connect_sandboxes(
                account,
                sandbox_url,
                name=f"backfill {label}",
                shop=f"bf-{label}",
                target_account=f"bf-{label}",
                shop_knobs=knobs,
                poll=False,
            )
            started = time.perf_counter()
            seed(sandbox_url, f"bf-{label}", count, maker)
            print(f"{label}: seeded {count:,} orders in {time.perf_counter() - started:.1f} s")
            interrupt = count // 2 if label == "big" else None
            result = run_backfill(
                env, connection.pk, data_dir / f"backfill-{label}.log", interrupt_at=interrupt
            )
            result["rate"] = count / result["seconds"]
            results[label] = result
            print(
                f"  read {count:,} orders in {result['seconds']:.1f} s ({result['rate']:,.0f} orders/s), "
                f"peak RSS {result['peak_mb']:.0f} MB"
            )
            check_records(connection.pk, count)
        if args.book:
            results["big"]["booking_rate"] = book(stack, connection.pk, args.workers, args.orders)
        db = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
        pace = f"{args.pace:g} pages/s" if args.pace else "the shop's pace (0.8 pages/s)"
        print(f"\n{db}, {pace}:")
        print("| Orders | Read | Peak RSS of `koppel backfill` | Interrupted and resumed | Booking |")
        print("| --- | --- | --- | --- | --- |")
        for label, count in (("small", args.small), ("big", args.orders)):
            r = results[label]
            booking = f"{r['booking_rate']:,.0f} orders/s" if "booking_rate" in r else "-"
            print(
                f"| {count:,} | {r['rate']:,.0f} orders/s ({r['seconds']:.0f} s) | {r['peak_mb']:.0f} MB | "
                f"{'yes' if r['interrupted'] else 'no'} | {booking} |"
            )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
