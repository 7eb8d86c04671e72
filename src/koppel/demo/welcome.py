"""What the demo prints when it is running: where everything is."""

from __future__ import annotations

from pathlib import Path

from .connections import DemoShop
from .stack import DEMO_PASSWORD, DEMO_USER, HOST
from .targets import sandbox_account_url


def _banner_rows(title: str, rows: list[str]) -> str:
    return "\n".join(f"  {title if n == 0 else '':<20} {row}" for n, row in enumerate(rows))


def banner(port: int, sandbox_url: str, token: str, shops: list[DemoShop], data_dir: Path) -> str:
    from koppel.connectors import registry

    web = f"http://{HOST}:{port}"
    width = max(len(s.target.tag) for s in shops) + 2
    connections = [
        f"{'[' + s.target.tag + ']':<{width}} #{s.connection.pk} {s.connection.name}" for s in shops
    ]
    accounts = "\n".join(
        f"  {registry.target(s.target.kind).label:<20} {'[' + s.target.tag + ']':<{width}} "
        f"{sandbox_account_url(sandbox_url, s.target.kind, s.target.account)}   (invoices, clients)"
        for s in shops
    )
    stores = [
        f"{'[' + s.target.tag + ']':<{width}} {sandbox_url}{s.sandbox.shop_path(s.target.shop)}   "
        f"({s.sandbox.label}; webhooks sent: .../{s.sandbox.webhook_log})"
        for s in shops
    ]
    hooks = [f"{'[' + s.target.tag + ']':<{width}} {s.webhooks}" for s in shops]
    tags = ", ".join(f"[{s.target.tag}]" for s in shops)
    return f"""
Koppel demo is running.
  Dashboard            {web}/   (log in as {DEMO_USER} / {DEMO_PASSWORD}; also the admin at {web}/admin/)
  API docs             {web}/api/docs   (API token: {token})
{_banner_rows("Connections", connections)}
{accounts}
{_banner_rows("Shop sandboxes", stores)}
{_banner_rows("Webhooks", hooks)}
  Data and logs        {data_dir}  (logs in {data_dir / "demo-logs"})

Placing an order every 2-3 seconds, in each shop in turn; one line per outcome, tagged {tags}
(shop → target). Ctrl-C stops everything.
"""
