"""Creating and changing connections through the API: what is refused, what is tested, what is returned.

A connection is saved only when :meth:`Connection.problems` and the model's own validation find nothing
(``422 CONNECTION_INVALID`` with the messages per field otherwise) and, unless the caller asks
``?check=false``, every side whose address or credentials changed passed its connection test against the
real system (``422 SOURCE_CHECK_FAILED`` / ``TARGET_CHECK_FAILED`` with the system's own message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from koppel.accounts.models import Account
from koppel.connections import crypto, health
from koppel.connections.models import Connection, Health
from koppel.connectors import registry
from koppel.connectors.base import Credentialed
from koppel.connectors.errors import Side
from koppel.intake.onoff import set_active
from koppel.intake.subscribe import subscribe_webhook

SIDES: tuple[Side, Side] = ("source", "target")
#: Model field → the name the API uses for it.
API_NAMES = {"source_kind": "source", "target_kind": "target"}


class Refused(Exception):
    """Why a connection was not saved: a code, one message, and the messages per field."""

    def __init__(self, code: str, message: str, problems: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.problems = code, message, problems


# Reading ---------------------------------------------------------------------------------------------------
def connector_of(connection: Connection, side: Side) -> type[Credentialed] | None:
    try:
        return connection.source_class if side == "source" else connection.target_class
    except LookupError:
        return None


def credentials_out(connection: Connection, side: Side) -> dict[str, Any] | None:
    """Which credentials are set and the public ones; never a secret."""
    cls = connector_of(connection, side)
    if cls is None:
        return None
    try:
        stored = dict(getattr(connection, f"{side}_credentials"))
    except crypto.CredentialsUnreadable as exc:
        return {"set": [], "public": {}, "complete": False, "problem": f"The stored credentials {exc}."}
    given = {name: value for name, value in stored.items() if value}
    missing = cls.missing_credentials(given)
    return {
        "set": sorted(given),
        "public": {name: value for name, value in given.items() if name in cls.public_credentials},
        "complete": not missing,
        "problem": f"{cls.label} {missing}." if missing else "",
    }


def health_out(connection: Connection) -> dict[str, Any]:
    return {
        side: {
            "status": getattr(connection, f"{side}_health"),
            "message": getattr(connection, f"{side}_health_message"),
            "checked_at": getattr(connection, f"{side}_checked_at"),
        }
        for side in SIDES
    }


# Checking --------------------------------------------------------------------------------------------------
def credential_problems(cls: type[Credentialed], given: Mapping[str, str]) -> list[str]:
    known = {name for fields in cls.credential_sets() for name in fields}
    unknown = sorted(set(given) - known)
    if not unknown:
        return []
    return [
        f"{cls.label} has no credential {', '.join(map(repr, unknown))}; it takes {', '.join(sorted(known))}."
    ]


def url_problem(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"Enter the address with http:// or https://, got {url!r}."
    return ""


def refuse_invalid(connection: Connection, extra: dict[str, list[str]]) -> None:
    """Raise :class:`Refused` (``CONNECTION_INVALID``) with everything the worker could not use."""
    problems: dict[str, list[str]] = {key: list(value) for key, value in extra.items() if value}
    for side in SIDES:
        if problem := url_problem(getattr(connection, f"{side}_url")):
            problems.setdefault(f"{side}_url", []).append(problem)
    try:
        connection.full_clean(exclude=["source_url", "target_url", "account"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                problems.setdefault(api_field(connection, field, message), []).append(message)
    if problems:
        text = "; ".join(
            f"{field}: {message.rstrip('.')}" for field, items in problems.items() for message in items
        )
        raise Refused("CONNECTION_INVALID", f"The connection cannot be used: {text}", problems)


def api_field(connection: Connection, field: str, message: str) -> str:
    """The API's name for a model field; a credential problem is put with the side it names."""
    if field != NON_FIELD_ERRORS:
        return API_NAMES.get(field, field)
    for side in SIDES:
        cls = connector_of(connection, side)
        if cls is not None and message.startswith(cls.label):
            return f"{side}_credentials"
    return "credentials"


def run_checks(connection: Connection, sides: list[Side]) -> None:
    """Test each side against its system; the first refusal raises with the system's own message."""
    for side in sides:
        result = health.try_side(connection, side)
        if not result.ok:
            label = connector_of(connection, side).label  # type: ignore[union-attr]
            message = result.message if result.message.startswith(label) else f"{label}: {result.message}"
            raise Refused(f"{side.upper()}_CHECK_FAILED", message)
        setattr(connection, f"{side}_health", Health.OK)
        setattr(connection, f"{side}_health_message", "")
        setattr(connection, f"{side}_checked_at", timezone.now())


def untested(connection: Connection, side: Side) -> None:
    setattr(connection, f"{side}_health", Health.UNKNOWN)
    setattr(connection, f"{side}_health_message", "")
    setattr(connection, f"{side}_checked_at", None)


# Writing ---------------------------------------------------------------------------------------------------
def merged_credentials(connection: Connection, side: Side, given: dict[str, str]) -> dict[str, str]:
    """New credentials that are complete by themselves replace the stored ones (e.g. Shopify's client ID
    and secret instead of an access token); otherwise they change only the fields given."""
    cls = connector_of(connection, side)
    if cls is None or cls.credentials_complete(given) or connection.pk is None:
        return dict(given)
    try:
        stored = dict(getattr(connection, f"{side}_credentials"))
    except crypto.CredentialsUnreadable:
        return dict(given)  # problems() then says what is missing
    return {**stored, **given}


def webhook_secret_for(connection: Connection, given: str | None) -> str | None:
    """Set the webhook secret of a new connection; returns the one to show once (``None``: the shop's own)."""
    if given:
        connection.webhook_secret = given
        return None
    name = getattr(connector_of(connection, "source"), "webhook_secret_credential", "")
    credentials = connection.source_credentials
    if name and credentials.get(name):
        connection.webhook_secret = credentials[name]
        return None
    return connection.new_webhook_secret()


def create(account: Account, data: dict[str, Any], *, check: bool) -> tuple[Connection, str | None]:
    """A new connection of ``account`` from the API's ``ConnectionIn``; returns it and the secret to show."""
    target_cls = registry.targets().get(data["target"])
    connection = Connection(
        account=account,
        name=data["name"],
        active=data["active"],
        source_kind=data["source"],
        source_url=data["source_url"],
        target_kind=data["target"],
        target_url=data.get("target_url") or getattr(target_cls, "production_url", ""),
        target_settings=data["target_settings"],
        shop_country=(data["shop_country"] or "").upper(),
        eligible_statuses=data["eligible_statuses"],
        poll_minutes=data["poll_minutes"],
    )
    if data.get("start_at"):
        connection.start_at = aware(data["start_at"])
    extra = set_credentials(connection, data)
    refuse_invalid(connection, extra)
    if check:
        run_checks(connection, list(SIDES))
    secret = webhook_secret_for(connection, data.get("webhook_secret"))
    connection.save()
    if check:
        subscribe_webhook(connection)  # where the platform allows it (bol.com); a refusal leaves the poll
    return connection, secret


def set_credentials(connection: Connection, data: dict[str, Any]) -> dict[str, list[str]]:
    """Store the credentials given for each side; returns the problems with their names."""
    extra: dict[str, list[str]] = {}
    for side in SIDES:
        given = data.get(f"{side}_credentials")
        if given is None:
            continue
        given = {name: value.strip() for name, value in given.items()}
        if cls := connector_of(connection, side):
            extra[f"{side}_credentials"] = credential_problems(cls, given)
        setattr(connection, f"{side}_credentials", merged_credentials(connection, side, given))
    return extra


PLAIN_FIELDS = ("name", "source_url", "target_url", "eligible_statuses", "poll_minutes")


def update(connection: Connection, changes: dict[str, Any], *, check: bool) -> Connection:
    """Apply the API's ``ConnectionPatch`` (only the fields given); test the sides that changed."""
    changed: list[Side] = []
    for side in SIDES:
        url_changed = changes.get(f"{side}_url") not in (None, getattr(connection, f"{side}_url"))
        if url_changed or changes.get(f"{side}_credentials") is not None:
            changed.append(side)
    for name in PLAIN_FIELDS:
        if changes.get(name) is not None:
            setattr(connection, name, changes[name])
    if changes.get("shop_country") is not None:
        connection.shop_country = changes["shop_country"].upper()
    if changes.get("start_at") is not None:
        connection.start_at = aware(changes["start_at"])
    if changes.get("target_settings") is not None:
        connection.target_settings = {**(connection.target_settings or {}), **changes["target_settings"]}
    extra = set_credentials(connection, changes)
    refuse_invalid(connection, extra)
    if check:
        run_checks(connection, changed)
    else:
        for side in changed:
            untested(connection, side)
    if all(getattr(connection, f"{side}_health") == Health.OK for side in SIDES):
        connection.failure_notified_at = None  # the next failure is told again, as health.record_health does
    if changes.get("webhook_secret"):
        connection.webhook_secret = changes["webhook_secret"]
    elif changes.get("source_credentials"):
        name = getattr(connector_of(connection, "source"), "webhook_secret_credential", "")
        if name and changes["source_credentials"].get(name):
            connection.webhook_secret = changes["source_credentials"][name]
    connection.save()
    if changes.get("active") is not None:  # on again: the held webhooks and waiting orders go on
        set_active(connection, changes["active"])
    return connection


def test_both(connection: Connection) -> dict[str, Any]:
    """The connection test of both sides against the systems, stored as the two dots."""
    for side in SIDES:
        if connector_of(connection, side) is None:
            kind = getattr(connection, f"{side}_kind")
            health.record_health(connection, side, False, f"The {side} {kind!r} is not installed.")
        else:
            health.test_side(connection, side)
    result = health_out(connection)
    return {"ok": all(result[side]["status"] == Health.OK for side in SIDES), **result}


def aware(value: Any) -> Any:
    return value if value.tzinfo else timezone.make_aware(value)
