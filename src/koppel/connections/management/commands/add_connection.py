"""Connect a shop to an invoicing administration.

Example::

    koppel add_connection --account "Bakkerij De Witte" --name "Webshop → Factuursturen" \
        --source kmoshops --source-url https://bakkerij.kmoshops.be --source-credential api_key=- \
        --target factuursturen --target-credential username=bakkerij --target-credential api_key=- \
        --target-setting send_invoice=email

A credential given as ``-`` is asked for without echo ("KMO Shops API key: "), so it stays out of the shell
history; so is every credential the connector needs that is not given, when the command runs in a terminal
(``--no-input`` refuses instead). Before anything is saved the credentials are tested against both systems
(``--no-check`` skips that), and a connection the worker could not use (an unknown system, missing
credentials, invalid settings, statuses or country) is refused with what is wrong. Prints the webhook URL
and secret to enter in the shop (the secret is shown only here). A platform that chooses the signing key
itself (Shopify) gets it with ``--webhook-secret -``; without it, a Shopify app connected with its client ID
and secret has its webhooks checked against the client secret, which Shopify signs them with.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from koppel.accounts.models import Account
from koppel.connections import health
from koppel.connections.models import Connection, Health
from koppel.connectors import registry
from koppel.connectors.base import Credentialed, SourceConnector
from koppel.connectors.errors import Side
from koppel.sync.backfill import within_reason

SIDES: tuple[Side, Side] = ("source", "target")
#: Model field → the option that sets it, for the messages.
OPTIONS = {
    "source_kind": "--source",
    "target_kind": "--target",
    "target_settings": "--target-setting",
    "eligible_statuses": "--statuses",
    "shop_country": "--shop-country",
    "start_at": "--start-at",
    "poll_minutes": "--poll-minutes",
    "name": "--name",
    NON_FIELD_ERRORS: "credentials",
}


class RenamedOption(argparse.Action):
    """``--setting`` became ``--target-setting``: it was too close to Django's own ``--settings``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        raise CommandError("--setting is now --target-setting (e.g. --target-setting send_invoice=email)")


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} expects NAME=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


def connector(side: Side, kind: str) -> type[Credentialed] | None:
    return (registry.sources() if side == "source" else registry.targets()).get(kind)


def ask(cls: type[Credentialed], name: str) -> str:
    """Ask for one credential, named by system and label ("KMO Shops API key: "); secrets without echo."""
    spec = cls.credential_field(name)
    prompt = f"{cls.label} {spec.label}: "
    return (getpass.getpass(prompt) if spec.secret else input(prompt)).strip()


def closest_set(cls: type[Credentialed], given: Mapping[str, str]) -> tuple[str, ...]:
    """The credential set most of whose fields are given (the primary one when none is)."""
    return max(cls.credential_sets(), key=lambda fields: sum(bool(given.get(n)) for n in fields))


def credentials_for(cls: type[Credentialed], given: dict[str, str], interactive: bool) -> dict[str, str]:
    """The given credentials, ``-`` and (in a terminal) the missing ones of the closest set asked for."""
    credentials = {name: ask(cls, name) if value == "-" else value for name, value in given.items()}
    if interactive and not cls.credentials_complete(credentials):
        for name in closest_set(cls, credentials):
            if not credentials.get(name):
                credentials[name] = ask(cls, name)
    return credentials


def missing_credentials(cls: type[Credentialed], given: Mapping[str, str], side: Side) -> list[str]:
    """What a side lacks, by the names the option takes and by the system's labels."""
    if cls.credentials_complete(given):
        return []
    accepted = ", or ".join(" and ".join(fields) for fields in cls.credential_sets())
    got = f" (got {', '.join(sorted(given))})" if given else ""
    labels = cls.missing_credentials(given).removeprefix("needs ")
    return [f"--{side}-credential needs {accepted}{got} — {cls.label}: {labels}"]


def unknown_credentials(cls: type[Credentialed], given: Mapping[str, str], side: Side) -> list[str]:
    known = sorted({name for fields in cls.credential_sets() for name in fields})
    return [
        f"--{side}-credential: {cls.label} has no credential {name!r}; it takes {', '.join(known)}"
        for name in sorted(set(given) - set(known))
    ]


def signing_credential(source_cls: type[SourceConnector], credentials: Mapping[str, str]) -> str:
    """The name of the credential the platform signs webhooks with, when the connection has it."""
    name = getattr(source_cls, "webhook_secret_credential", "")
    return name if name and credentials.get(name) else ""


def url_ok(url: str) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def hint_for(problems: list[str]) -> str:
    if any(
        line.startswith(("credentials", "--source-credential", "--target-credential")) for line in problems
    ):
        return (
            "\nGive credentials as --source-credential / --target-credential NAME=VALUE ('-' asks for one)."
        )
    return ""


def problems_of(connection: Connection) -> list[str]:
    """Everything the worker could not use, each line naming the option to fix."""
    try:
        connection.full_clean(exclude=["source_url", "target_url", "account"])
    except ValidationError as exc:
        return [
            f"{OPTIONS.get(field, field)}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return []


class Command(BaseCommand):
    help = (
        "Connect a shop (source) to an invoicing administration (target). The credentials are tested against "
        "both systems before the connection is saved."
    )

    def add_arguments(self, parser) -> None:
        sources, targets = ", ".join(sorted(registry.sources())), ", ".join(sorted(registry.targets()))
        parser.add_argument("--account", required=True, help="account name (created when new)")
        parser.add_argument("--name", required=True)
        parser.add_argument("--source", required=True, help=f"the shop platform: {sources}")
        parser.add_argument("--source-url", required=True)
        parser.add_argument(
            "--source-credential",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a credential of the shop, e.g. api_key=- ('-' asks for it without echo)",
        )
        parser.add_argument("--target", required=True, help=f"the invoicing system: {targets}")
        parser.add_argument("--target-url", default="", help="default: the target's production API")
        parser.add_argument(
            "--target-credential",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a credential of the invoicing system, e.g. username=bakkerij, api_key=-",
        )
        parser.add_argument(
            "--target-setting",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="target setting, e.g. send_invoice=email, profile=2",
        )
        parser.add_argument("--setting", action=RenamedOption, help=argparse.SUPPRESS)
        parser.add_argument("--shop-country", default="NL")
        parser.add_argument("--statuses", default="", help="comma-separated statuses to book")
        parser.add_argument("--start-at", default="", help="ISO date/time; default: now")
        parser.add_argument("--poll-minutes", type=int, default=60)
        parser.add_argument(
            "--webhook-secret",
            default="",
            help="the key the shop signs webhooks with, when the shop chooses it (Shopify); '-' asks for it",
        )
        parser.add_argument(
            "--no-check",
            action="store_true",
            help="save without testing the credentials against the systems",
        )
        parser.add_argument(
            "--no-input",
            action="store_false",
            dest="interactive",
            help="never ask for a missing credential (refuse instead)",
        )

    def handle(self, *args, **o) -> None:
        connection = self.build(o)
        if not o["no_check"]:
            self.check_systems(connection)
        secret_note = self.set_webhook_secret(connection, o["webhook_secret"])
        with transaction.atomic():
            connection.account, _ = Account.objects.get_or_create(name=o["account"])
            connection.save()
        self.stdout.write(f"Connection {connection.pk} created for account {connection.account.name!r}.")
        tested = "not tested (--no-check)" if o["no_check"] else "both systems accepted the credentials"
        self.stdout.write(f"Connection test: {tested}")
        self.stdout.write(f"Webhook URL:    {connection.webhook_url}")
        self.stdout.write(f"Webhook secret: {secret_note}")

    def build(self, o: dict) -> Connection:
        """The unsaved connection the options describe, or ``CommandError`` with everything wrong."""
        interactive = o["interactive"] and sys.stdin.isatty()
        settings = _pairs(o["target_setting"], "target-setting")
        target_cls = connector("target", o["target"])
        connection = Connection(
            name=o["name"],
            source_kind=o["source"],
            source_url=o["source_url"],
            target_kind=o["target"],
            target_url=o["target_url"] or getattr(target_cls, "production_url", ""),
            target_settings=settings,
            shop_country=o["shop_country"].upper(),
            eligible_statuses=[s.strip() for s in o["statuses"].split(",") if s.strip()],
            poll_minutes=o["poll_minutes"],
        )
        if o["start_at"]:
            try:
                start = datetime.fromisoformat(o["start_at"])
            except ValueError:
                raise CommandError(f"--start-at expects an ISO date or time, got {o['start_at']!r}") from None
            try:
                connection.start_at = within_reason(start if start.tzinfo else timezone.make_aware(start))
            except ValueError as exc:
                raise CommandError(f"--start-at {o['start_at']!r}: {exc}") from None
        problems: list[str] = []
        classes = {side: connector(side, o[side]) for side in SIDES}
        for side, cls in classes.items():
            given = _pairs(o[f"{side}_credential"], f"{side}-credential")
            if cls is not None:
                problems += unknown_credentials(cls, given, side)
                if None not in classes.values():  # nothing is asked for a connection refused anyway
                    given = credentials_for(cls, given, interactive)
                problems += missing_credentials(cls, given, side)
            setattr(connection, f"{side}_credentials", given)
            if not url_ok(getattr(connection, f"{side}_url")):
                problems.append(f"--{side}-url: enter the address with https:// (or http://)")
        said = any(line.startswith(("--source-credential", "--target-credential")) for line in problems)
        # The model's words on missing credentials (NON_FIELD_ERRORS) were just said by option name.
        problems += [
            line for line in problems_of(connection) if not (said and line.startswith("credentials: "))
        ]
        if problems:
            lines = "\n  ".join(problems)
            raise CommandError(
                f"The connection cannot be used; nothing was saved:\n  {lines}{hint_for(problems)}"
            )
        return connection

    def check_systems(self, connection: Connection) -> None:
        """Test both sides against the real systems; a refusal stops the command with the system's words."""
        for side in SIDES:
            result = health.try_side(connection, side)
            label = connector(side, getattr(connection, f"{side}_kind")).label  # type: ignore[union-attr]
            if not result.ok:
                raise CommandError(
                    f"The connection test of {label} failed: {result.message}\nNothing was saved. Check the "
                    f"{side} address and credentials, or give --no-check to save without the test."
                )
            setattr(connection, f"{side}_health", Health.OK)
            setattr(connection, f"{side}_checked_at", timezone.now())

    @staticmethod
    def set_webhook_secret(connection: Connection, given: str) -> str:
        """Set the connection's webhook secret: the one given, else the credential the platform signs with,
        else a new one. Returns what to print about it (never a secret the merchant gave)."""
        if given:
            prompt = f"{connection.source_class.label} webhook secret: "
            connection.webhook_secret = getpass.getpass(prompt) if given == "-" else given
            return "the one you gave (webhooks are checked against it)"
        credentials = connection.source_credentials
        source_cls = connection.source_class
        name = signing_credential(source_cls, credentials)
        if name:
            connection.webhook_secret = credentials[name]
            return (
                f"your {name.replace('_', ' ')} ({source_cls.label} signs your app's webhooks with it; "
                "for webhooks made in the shop's settings give --webhook-secret)"
            )
        return f"{connection.new_webhook_secret()}  (enter it in the shop; it is not shown again)"
