"""The source sandboxes as the demo drives them through their control API (KMO Shops, WooCommerce,
Shopify; bol.com in :mod:`.bol`): :data:`SANDBOX_SHOPS`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from .carts import shopify_cart, woo_order
from .orders import SCENARIOS, SHOP_SCENARIOS, OrderMaker, PlacedOrder, Scenario

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.connections.models import Connection


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
