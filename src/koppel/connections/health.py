"""The two dots of a connection: whether each side's credentials and system work.

A side turns green when its connection test passes and red, with the system's own message, when it fails or
when any call finds the credentials refused. The first time a connection turns red the merchant gets one
notification e-mail; the next one only after it has been green again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.translation import gettext as _

from koppel.connectors.errors import ConnectorError, Side

from .models import Connection, Health

logger = logging.getLogger("koppel.connections")


@dataclass(frozen=True, slots=True)
class SideCheck:
    side: Side
    ok: bool
    message: str


def test_side(connection: Connection, side: Side) -> SideCheck:
    """Call the system's connection test with the connection's credentials and store the outcome. The
    connection must have been saved; its credentials may be new (a Connect before it is saved is tested
    with :func:`try_side`)."""
    result = try_side(connection, side)
    if connection.pk is not None:
        record_health(connection, side, result.ok, result.message)
    return result


def try_side(connection: Connection, side: Side) -> SideCheck:
    """The connection test of one side, without storing anything."""
    try:
        connector = connection.source() if side == "source" else connection.target()
    except ConnectorError as exc:
        return SideCheck(side, False, exc.message)
    try:
        connector.test_connection()
    except ConnectorError as exc:
        return SideCheck(side, False, exc.message)
    except Exception as exc:  # a system that answers nonsense must still give the merchant words
        logger.warning("Connection test of %s failed unexpectedly: %s", connection.pk, type(exc).__name__)
        return SideCheck(side, False, f"Unexpected answer ({type(exc).__name__})")
    finally:
        connector.close()
    return SideCheck(side, True, "")


def record_health(connection: Connection, side: Side, ok: bool, message: str = "") -> None:
    """Store a side's health; on the first failure since it last worked, notify the merchant once."""
    now = timezone.now()
    values = {
        f"{side}_health": Health.OK if ok else Health.FAILED,
        f"{side}_health_message": message[:500],
        f"{side}_checked_at": now,
    }
    other_ok = getattr(connection, f"{'target' if side == 'source' else 'source'}_health") != Health.FAILED
    if ok and other_ok:
        values["failure_notified_at"] = None
    for name, value in values.items():
        setattr(connection, name, value)
    Connection.objects.filter(pk=connection.pk).update(**values)
    if not ok and connection.failure_notified_at is None:
        notify_failure(connection, side, message)


def credentials_refused(connection: Connection, side: Side, message: str) -> None:
    """A call during the work found the credentials refused: the dot turns red (once, not per order)."""
    if getattr(connection, f"{side}_health") == Health.FAILED:
        return
    record_health(connection, side, False, message)


def working_again(connection: Connection) -> None:
    """An order was booked: a side whose dot was red works again (and its next failure is mailed again)."""
    for side in ("source", "target"):
        if getattr(connection, f"{side}_health") == Health.FAILED:
            record_health(connection, side, True)  # type: ignore[arg-type]


def notify_failure(connection: Connection, side: Side, message: str) -> None:
    """One e-mail to the account's addresses; claimed with a conditional update, so two workers that see the
    failure at once send one."""
    now = timezone.now()
    claimed = Connection.objects.filter(pk=connection.pk, failure_notified_at__isnull=True).update(
        failure_notified_at=now
    )
    connection.failure_notified_at = now
    account = connection.account
    recipients = [address for address in (account.email, account.notification_email) if address]
    if not claimed or not recipients:
        return
    system = connection.source_class.label if side == "source" else connection.target_class.label
    subject = _("Koppel: the connection with %(system)s stopped working") % {"system": system}
    body = _(
        'Koppel can no longer reach %(system)s for the connection "%(name)s".\n\n'
        "%(system)s said: %(message)s\n\n"
        "No orders are booked until it works again. Open the connection in the dashboard and press "
        "ReConnect beside %(system)s to enter new credentials:\n%(url)s\n\n"
        "Orders that arrive meanwhile are kept and booked once the connection works."
    ) % {
        "system": system,
        "name": connection.name,
        "message": message,
        "url": settings.PUBLIC_URL + connection.get_absolute_url(),
    }
    try:
        send_mail(subject, body, None, recipients)
    except Exception as exc:  # a broken mail server must not stop the bookings
        logger.warning("Notification for connection %s could not be sent: %s", connection.pk, exc)
