"""Sandbox accounts of the targets (Factuursturen, EenvoudigFactureren; Moneybird in :mod:`.marketplace`)
and connecting a sandbox shop to one."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from .shops import sandbox_shop_of

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.accounts.models import Account
    from koppel.connections.models import Connection


@dataclass(frozen=True)
class TargetAccount:
    """A sandbox target account as a connection reaches it: the API base URL and the credentials."""

    url: str
    credentials: dict[str, str]


#: The control page of a target's sandbox account, where it is not ``/_sandbox/<target>/accounts/<name>``.
SANDBOX_CONTROL_PAGES: dict[str, str] = {}


def sandbox_account_url(sandbox_url: str, target: str, name: str) -> str:
    """The control page of a target sandbox account (its clients, invoices and, where kept, e-mails)."""
    page = SANDBOX_CONTROL_PAGES.get(target, "/_sandbox/{target}/accounts/{name}")
    return sandbox_url + page.format(target=target, name=name)


def _factuursturen_account(client: httpx.Client, name: str) -> TargetAccount:
    """A Factuursturen account named ``name`` with a fresh API key, emptied, with an unlimited budget."""
    key = secrets.token_urlsafe(24)
    accounts = "/_sandbox/factuursturen/accounts"
    client.post(accounts, json={"username": name, "api_key": key, "hourly_limit": 10**9}).raise_for_status()
    client.post(f"{accounts}/{name}/reset").raise_for_status()
    return TargetAccount(
        str(client.base_url.join("factuursturen/api/v1")), {"username": name, "api_key": key}
    )


def _eenvoudigfactureren_account(client: httpx.Client, name: str) -> TargetAccount:
    """An EenvoudigFactureren account with a fresh API key and a Dutch shop's rates (21% and 9%; 0% is
    always there), emptied; its rate limit is off by default."""
    key = secrets.token_urlsafe(24)
    accounts = "/_sandbox/eenvoudigfactureren/accounts"
    client.post(accounts, json={"name": name, "api_key": key, "taxes": ["21", "9"]}).raise_for_status()
    client.post(f"{accounts}/{name}/reset").raise_for_status()
    return TargetAccount(str(client.base_url.join("eenvoudigfactureren/api/v1")), {"api_key": key})


#: How to make a sandbox account for each target kind: the only place that knows their shapes.
SANDBOX_ACCOUNTS: dict[str, Callable[[httpx.Client, str], TargetAccount]] = {
    "factuursturen": _factuursturen_account,
    "eenvoudigfactureren": _eenvoudigfactureren_account,
}


def create_sandbox_account(sandbox_url: str, target: str, name: str) -> TargetAccount:
    """Create (or empty) the sandbox account ``name`` of ``target`` with a fresh API key."""
    try:
        make = SANDBOX_ACCOUNTS[target]
    except KeyError:
        raise LookupError(
            f"No sandbox account for target {target!r}; known: {', '.join(SANDBOX_ACCOUNTS)}"
        ) from None
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        return make(client, name)


def connect_sandboxes(
    account: Account,
    sandbox_url: str,
    *,
    name: str,
    shop: str,
    target_account: str,
    target: str = "factuursturen",
    source: str = "kmoshops",
    shop_knobs: dict[str, Any] | None = None,
    poll: bool = True,
) -> Connection:
    """Create (or reset) a connection from a new sandbox shop of ``source`` (``kmoshops``, ``woocommerce``
    or ``shopify``) named ``shop`` to a new sandbox account of ``target`` (``factuursturen`` or
    ``eenvoudigfactureren``) named ``target_account``.

    The sandboxes keep their state in memory, so each run starts with an empty shop and administration;
    the connection's records, debtor claims and received webhooks are cleared to match (a claim would point
    at a debtor of the previous run's administration). The shop's webhooks go to the connection's webhook
    URL, signed with the connection's secret; Shopify signs with a key the shop chooses, which becomes the
    connection's secret. ``poll=False`` puts the safety-net poll an hour away.
    """
    from django.utils import timezone

    from koppel.connections.models import Connection

    sandbox_shop = sandbox_shop_of(source)
    target_sandbox = create_sandbox_account(sandbox_url, target, target_account)
    connection = Connection.objects.filter(account=account, name=name).first() or Connection(
        account=account, name=name
    )
    credentials = sandbox_shop.new_credentials()
    connection.source_kind, connection.target_kind = source, target
    connection.source_url = sandbox_shop.source_url(sandbox_url, shop)
    connection.target_url = target_sandbox.url
    connection.source_credentials = credentials
    connection.source_settings = dict(sandbox_shop.source_settings)
    connection.target_credentials = target_sandbox.credentials
    secret = connection.new_webhook_secret()
    connection.active, connection.shop_country = True, "NL"
    connection.start_at = timezone.now() - timedelta(minutes=5)
    connection.poll_cursor = connection.last_polled_at = connection.target_paused_until = None
    connection.source_paused_until = None
    connection.target_vat_rates = connection.target_vat_rates_at = None
    connection.next_poll_at = None if poll else timezone.now() + timedelta(hours=1)
    connection.save()
    connection.records.all().delete()
    connection.debtor_claims.all().delete()
    connection.webhook_deliveries.all().delete()

    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        shop_key = sandbox_shop.create(
            client,
            shop,
            credentials,
            webhook_url=connection.webhook_url,
            secret=secret,
            knobs=shop_knobs or {},
        )
    if shop_key is not None:
        connection.webhook_secret = shop_key
        connection.save(update_fields=["webhook_secret_encrypted"])
    sandbox_shop.after_connect(connection)
    return connection
