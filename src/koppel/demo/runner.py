"""Running the demo: the stack started, the connections set up, then orders placed, paid and followed up
in each shop in turn until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from .connections import DemoShop, connect_demo, month_page, seed_marketplace
from .orders import FollowUp, OrderMaker, PlacedOrder, Scenario
from .stack import (
    HOST,
    STOP_TIMEOUT,
    ChildDied,
    Stack,
    ensure_demo_login,
    issue_demo_token,
    setup_django,
    stack_env,
)
from .watch import OutcomeWatcher
from .welcome import banner


class Stop(Exception):
    """SIGINT or SIGTERM: stop the children and exit 0."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


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
