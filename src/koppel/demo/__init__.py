"""``koppel demo``: Koppel working end to end on one machine, in one command.

It migrates the database in the data directory, starts the sandboxes (``koppel sandbox``: the simulated KMO
Shops, WooCommerce, Shopify, Factuursturen and EenvoudigFactureren), the web app (``koppel serve``) and a
worker (``koppel worker``) as child processes, sets up a demo user, account, API token and five connections
(a KMO Shops shop to each target, a WooCommerce shop to Factuursturen, a Shopify shop to
EenvoudigFactureren and a bol.com shop to Factuursturen), and then keeps placing orders in the five simulated
shops in turn, printing each order's outcome, tagged with its connection, as it arrives. Some KMO Shops
orders fail a pre-check on purpose; the WooCommerce and Shopify orders show coupon codes (a "Korting" line
per VAT rate), an unpaid order that is paid a little later, and a webhook delivered twice; the bol.com
orders (:mod:`koppel.demo.bol`) are shipped, one in two parts, with a promotion, cancellations and a
customer asking bol.com for the invoice.

Ctrl-C (or SIGTERM) stops every child and exits 0. The pieces that start and stop the processes, set up a
connection to the sandboxes and make up orders are used by the benchmarks in ``bench/`` as well.
"""

from __future__ import annotations

import argparse
import signal
import sys

from . import bol, marketplace  # the bol.com shop (in SANDBOX_SHOPS); Moneybird and bol's invoices
from .carts import (
    COUNTRY_NAMES,
    PRODUCT_IDS,
    SHOPIFY_GATEWAYS,
    WOO_PAYMENTS,
    WOO_TAX_CLASSES,
    shopify_cart,
    woo_order,
)
from .connections import (
    DEMO_TARGETS,
    MARKETPLACE_DEMO,
    DemoShop,
    DemoTarget,
    connect_demo,
    month_page,
    seed_marketplace,
)
from .orders import (
    BE_BUSINESS_BAD_VAT,
    BE_BUSINESS_WITHOUT_VAT,
    BE_BUSINESSES,
    CONSUMERS,
    DISCOUNT_CODES,
    EXAMPLE_ORDER,
    FAILING,
    FREE_SHIPPING_FROM,
    GOOD_MIX,
    NL_BUSINESSES,
    OPENING,
    PRODUCTS,
    SCENARIOS,
    SEVEN_PERCENT_LINE,
    SHOP_MIX,
    SHOP_OPENING,
    SHOP_SCENARIOS,
    Basket,
    Customer,
    DiscountCode,
    Done,
    FollowUp,
    OrderMaker,
    PlacedOrder,
    Scenario,
    example_order,
)
from .runner import Stop, _stop, follow_up, loop, pay, place_order, run
from .shops import SANDBOX_SHOPS, KmoShopsShop, SandboxShop, ShopifyShop, WooCommerceShop, sandbox_shop_of
from .stack import (
    DEMO_ACCOUNT,
    DEMO_PASSWORD,
    DEMO_USER,
    HOST,
    STOP_TIMEOUT,
    Child,
    ChildDied,
    Stack,
    ensure_demo_login,
    free_port,
    issue_demo_token,
    koppel_command,
    port_taken,
    setup_django,
    stack_env,
)
from .targets import (
    SANDBOX_ACCOUNTS,
    SANDBOX_CONTROL_PAGES,
    TargetAccount,
    connect_sandboxes,
    create_sandbox_account,
    sandbox_account_url,
)
from .watch import OutcomeWatcher
from .welcome import banner

__all__ = [
    "BE_BUSINESSES",
    "BE_BUSINESS_BAD_VAT",
    "BE_BUSINESS_WITHOUT_VAT",
    "CONSUMERS",
    "COUNTRY_NAMES",
    "DEMO_ACCOUNT",
    "DEMO_PASSWORD",
    "DEMO_TARGETS",
    "DEMO_USER",
    "DISCOUNT_CODES",
    "EXAMPLE_ORDER",
    "FAILING",
    "FREE_SHIPPING_FROM",
    "GOOD_MIX",
    "HOST",
    "MARKETPLACE_DEMO",
    "NL_BUSINESSES",
    "OPENING",
    "PRODUCTS",
    "PRODUCT_IDS",
    "SANDBOX_ACCOUNTS",
    "SANDBOX_CONTROL_PAGES",
    "SANDBOX_SHOPS",
    "SCENARIOS",
    "SEVEN_PERCENT_LINE",
    "SHOPIFY_GATEWAYS",
    "SHOP_MIX",
    "SHOP_OPENING",
    "SHOP_SCENARIOS",
    "STOP_TIMEOUT",
    "WOO_PAYMENTS",
    "WOO_TAX_CLASSES",
    "Basket",
    "Child",
    "ChildDied",
    "Customer",
    "DemoShop",
    "DemoTarget",
    "DiscountCode",
    "Done",
    "FollowUp",
    "KmoShopsShop",
    "OrderMaker",
    "OutcomeWatcher",
    "PlacedOrder",
    "SandboxShop",
    "Scenario",
    "ShopifyShop",
    "Stack",
    "Stop",
    "TargetAccount",
    "WooCommerceShop",
    "banner",
    "bol",
    "connect_demo",
    "connect_sandboxes",
    "create_sandbox_account",
    "ensure_demo_login",
    "example_order",
    "follow_up",
    "free_port",
    "issue_demo_token",
    "koppel_command",
    "loop",
    "main",
    "marketplace",
    "month_page",
    "pay",
    "place_order",
    "port_taken",
    "run",
    "sandbox_account_url",
    "sandbox_shop_of",
    "seed_marketplace",
    "setup_django",
    "shopify_cart",
    "stack_env",
    "woo_order",
]


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
