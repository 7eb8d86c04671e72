"""Webhook intake: signed KMO Shops webhooks per second, with p50/p99 latency, against ``koppel serve``.

Starts the web app on 127.0.0.1 (SQLite in a temporary data directory, or the PostgreSQL database of
DATABASE_URL) with one connection, and fires M signed webhooks at ``/webhooks/kmoshops/<id>`` from C
threads: first M for distinct orders, then M again for orders already noted (duplicates, as a shop's
retries produce). No worker runs, so this is the intake alone: verify the signature, store the delivery,
create the record and enqueue its task (or recognise the duplicate). Afterwards the records must number
exactly the distinct order ids.

    .venv/bin/python bench/intake.py --requests 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from e2e import Harness, cpu_used

WARM_UP = 20


@dataclass
class Phase:
    name: str
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    cpu: dict[str, float]

    def report(self) -> str:
        n = len(self.latencies)
        cuts = statistics.quantiles(self.latencies, n=100)
        answers = ", ".join(f"{count}× {status}" for status, count in sorted(self.statuses.items()))
        return (
            f"  {self.name:<10} {n / self.seconds:8.1f} req/s   p50 {cuts[49] * 1000:6.1f} ms   "
            f"p99 {cuts[98] * 1000:6.1f} ms   ({n} requests in {self.seconds:.2f} s; {answers})\n"
            f"             CPU ms per request: {cpu_text(self.cpu, n)}"
        )


def cpu_text(cpu: dict[str, float], requests: int) -> str:
    return ", ".join(f"{name} {seconds * 1000 / requests:.2f}" for name, seconds in cpu.items())


def fire(harness: Harness, url: str, secret: str, order_ids: list[str], concurrency: int, name: str) -> Phase:
    """POST one signed ``order.created`` webhook per id from ``concurrency`` threads, each with one kept-alive
    connection. The standard library's HTTP client, not httpx: the senders share the two cores with the web
    process, and httpx's own work per request would be measured as the server's."""
    local = threading.local()
    clients: list[http.client.HTTPConnection] = []
    address = urlsplit(url)

    def post(order_id: str) -> tuple[float, int]:
        if not hasattr(local, "client"):
            local.client = http.client.HTTPConnection(address.hostname, address.port, timeout=30.0)
            clients.append(local.client)
        body = json.dumps({"event": "order.created", "order_id": order_id, "shop": "bench"}).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-KMO-Signature": signature}
        started = time.perf_counter()
        local.client.request("POST", address.path, body=body, headers=headers)
        answer = local.client.getresponse()
        answer.read()
        return time.perf_counter() - started, answer.status

    cpu_before = harness.cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(post, order_ids))
    seconds = time.perf_counter() - started
    cpu = cpu_used(cpu_before, harness.cpu())
    for client in clients:
        client.close()
    latencies = [latency for latency, _ in results]
    return Phase(name, seconds, latencies, Counter(status for _, status in results), cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="webhooks per phase (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--web-workers", type=int, default=1, help="web processes (>1: PostgreSQL)")
    args = parser.parse_args(argv)

    with Harness(workers=0, web_workers=args.web_workers, sandbox=False) as harness:
        from koppel.connections.models import Connection
        from koppel.intake.models import WebhookDelivery
        from koppel.sync.models import Record

        connection = Connection(
            account=harness.account,
            name="bench intake",
            source_kind="kmoshops",
            source_url="http://127.0.0.1:9/kmoshops/bench",  # never called: no worker runs
            target_kind="factuursturen",
            target_url="http://127.0.0.1:9/factuursturen/api/v1",
        )
        secret = connection.new_webhook_secret()
        connection.save()
        url = f"{harness.web_url}{connection.webhook_path}"
        distinct = [str(1_000_000 + n) for n in range(args.requests)]
        fire(harness, url, secret, [f"warm-{n}" for n in range(WARM_UP)], args.concurrency, "warm-up")
        phases = [
            fire(harness, url, secret, distinct, args.concurrency, "distinct"),
            fire(harness, url, secret, distinct[::-1], args.concurrency, "duplicate"),
        ]
        records = Record.objects.filter(connection=connection).count()
        deliveries = WebhookDelivery.objects.filter(connection=connection).count()
        database = harness.database

    expected = args.requests + WARM_UP
    print(
        f"Webhook intake, {args.requests} webhooks per phase, {args.concurrency} client threads, "
        f"{args.web_workers} web process(es), {database}, {os.cpu_count()} CPUs"
    )
    for phase in phases:
        print(phase.report())
    verdict = "OK" if records == expected else "WRONG"
    print(f"  records    {records} created for {expected} distinct order ids ({WARM_UP} warm-up): {verdict}")
    print(f"  deliveries {deliveries} stored")
    all_accepted = all(set(phase.statuses) == {202} for phase in phases)
    return 0 if records == expected and all_accepted else 1


if __name__ == "__main__":
    sys.exit(main())
