"""Connect a shop to an invoicing administration.

Example::

    koppel add_connection --account "Bakkerij De Witte" --name "Webshop → Factuursturen" \
        --source kmoshops --source-url https://bakkerij.kmoshops.be --source-credential api_key=- \
        --target factuursturen --target-credential username=bakkerij --target-credential api_key=-

A credential given as ``-`` is asked for without echo, so it stays out of the shell history. Prints the
webhook URL and secret to enter in the shop (the secret is shown only here). A platform that chooses the
signing key itself (Shopify) gets it with ``--webhook-secret -``; without it, a Shopify app connected with
its client ID and secret has its webhooks checked against the client secret, which Shopify signs them with.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from pydantic import ValidationError

from koppel.accounts.models import Account
from koppel.connections.models import Connection
from koppel.connectors import registry
from koppel.connectors.base import Credentialed, SourceConnector


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} expects NAME=VALUE, got {item!r}")
        result[key] = getpass.getpass(f"{key}: ") if value == "-" else value
    return result


def require_credentials(cls: type[Credentialed], given: dict[str, str], side: str) -> None:
    """Refuse credentials that hold none of the connector's sets completely, naming the sets."""
    if cls.credentials_complete(given):
        return
    accepted = ", or ".join(" and ".join(fields) for fields in cls.credential_sets())
    got = f" (got {', '.join(sorted(given))})" if given else ""
    raise CommandError(f"--{side}-credential needs {accepted}{got}")


def signing_credential(source_cls: type[SourceConnector], credentials: Mapping[str, str]) -> str:
    """The name of the credential the platform signs webhooks with, when the connection has it."""
    name = getattr(source_cls, "webhook_secret_credential", "")
    return name if name and credentials.get(name) else ""


class Command(BaseCommand):
    help = "Connect a shop (source) to an invoicing administration (target)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", required=True, help="account name (created when new)")
        parser.add_argument("--name", required=True)
        parser.add_argument("--source", required=True, choices=sorted(registry.sources()))
        parser.add_argument("--source-url", required=True)
        parser.add_argument("--source-credential", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--target", required=True, choices=sorted(registry.targets()))
        parser.add_argument("--target-url", default="", help="default: the target's production API")
        parser.add_argument("--target-credential", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument(
            "--setting",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="target setting, e.g. send_invoice=email, profile=2",
        )
        parser.add_argument("--shop-country", default="NL")
        parser.add_argument("--statuses", default="", help="comma-separated statuses to book")
        parser.add_argument("--start-at", default="", help="ISO date/time; default: now")
        parser.add_argument("--poll-minutes", type=int, default=60)
        parser.add_argument(
            "--webhook-secret",
            default="",
            help="the key the shop signs webhooks with, when the shop chooses it (Shopify); '-' asks for it",
        )

    def handle(self, *args, **o) -> None:
        source_cls, target_cls = registry.source(o["source"]), registry.target(o["target"])
        source_credentials = _pairs(o["source_credential"], "source-credential")
        target_credentials = _pairs(o["target_credential"], "target-credential")
        require_credentials(source_cls, source_credentials, "source")
        require_credentials(target_cls, target_credentials, "target")
        settings = {k: v for k, v in (item.partition("=")[::2] for item in o["setting"])}
        try:
            target_cls.load_settings(settings)
        except ValidationError as exc:
            raise CommandError(
                f"Invalid --setting: {exc.errors()[0]['msg']} ({json.dumps(settings)})"
            ) from None
        statuses = [s.strip() for s in o["statuses"].split(",") if s.strip()]
        unknown = sorted(set(statuses) - set(source_cls.statuses))
        if unknown:
            raise CommandError(
                f"Unknown status {', '.join(unknown)}; {source_cls.label} knows {source_cls.statuses}"
            )
        with transaction.atomic():
            account, _ = Account.objects.get_or_create(name=o["account"])
            connection = Connection(
                account=account,
                name=o["name"],
                source_kind=source_cls.kind,
                source_url=o["source_url"],
                target_kind=target_cls.kind,
                target_url=o["target_url"] or getattr(target_cls, "production_url", ""),
                target_settings=settings,
                shop_country=o["shop_country"].upper(),
                eligible_statuses=statuses,
                poll_minutes=o["poll_minutes"],
            )
            if o["start_at"]:
                connection.start_at = datetime.fromisoformat(o["start_at"])
            connection.source_credentials = source_credentials
            connection.target_credentials = target_credentials
            secret_note = self.set_webhook_secret(connection, o["webhook_secret"], source_cls)
            connection.full_clean(exclude=["source_url", "target_url"])
            connection.save()
        self.stdout.write(f"Connection {connection.pk} created for account {account.name!r}.")
        self.stdout.write(f"Webhook URL:    {connection.webhook_url}")
        self.stdout.write(f"Webhook secret: {secret_note}")

    @staticmethod
    def set_webhook_secret(connection: Connection, given: str, source_cls: type[SourceConnector]) -> str:
        """Set the connection's webhook secret: the one given, else the credential the platform signs with,
        else a new one. Returns what to print about it (never a secret the merchant gave)."""
        if given:
            connection.webhook_secret = getpass.getpass("webhook secret: ") if given == "-" else given
            return "the one you gave (webhooks are checked against it)"
        credentials = connection.source_credentials
        name = signing_credential(source_cls, credentials)
        if name:
            connection.webhook_secret = credentials[name]
            return (
                f"your {name.replace('_', ' ')} ({source_cls.label} signs your app's webhooks with it; "
                "for webhooks made in the shop's settings give --webhook-secret)"
            )
        return f"{connection.new_webhook_secret()}  (enter it in the shop; it is not shown again)"
