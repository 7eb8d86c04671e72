"""Where a platform's API lets Koppel subscribe its own webhook address (bol.com's push notifications), it
does so when a connection is saved or its source settings change; elsewhere the merchant pastes the address
(the connection page shows the steps)."""

from __future__ import annotations

from koppel.connections.models import Connection
from koppel.connectors.errors import ConnectorError


def subscribe_webhook(connection: Connection) -> tuple[bool, str]:
    """``(subscribed, problem)``: whether Koppel subscribed the address itself, and the system's words when
    it tried and could not (the safety-net poll books the orders meanwhile)."""
    source = connection.source()
    try:
        register = getattr(source, "register_webhook", None)
        if register is None:
            return False, ""
        register(connection.webhook_url)
        return True, ""
    except ConnectorError as exc:
        return False, exc.message
    finally:
        source.close()
