"""The demo's connections (:data:`DEMO_TARGETS`), set up against the sandboxes, and the bol.com ->
Moneybird connection's last month."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .orders import OrderMaker, Scenario
from .shops import SandboxShop, sandbox_shop_of
from .targets import connect_sandboxes

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.accounts.models import Account
    from koppel.connections.models import Connection


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
#: The demo connection whose bol.com invoices of last month go into Moneybird (:mod:`.marketplace`).
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
    """Last month of the bol.com → Moneybird connection, with bol.com's invoices (:mod:`.marketplace`)."""
    from .marketplace import seed_last_month

    shop = next(s for s in shops if s.target.tag == MARKETPLACE_DEMO)
    return seed_last_month(shop.connection, sandbox_url, shop.target.shop, maker)


def month_page(shops: list[DemoShop]) -> str:
    from django.urls import reverse

    shop = next(s for s in shops if s.target.tag == MARKETPLACE_DEMO)
    return reverse("marketplace:invoices", args=[shop.connection.pk])
