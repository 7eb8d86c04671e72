""" "Where is order X?": whatever order number a merchant types, say what Koppel knows of it (its record,
state and reason) or, when Koppel has none, why: the shop does not know it, it was placed before the start
date, or it has not reached Koppel yet (then it can be fetched and booked at once).

``explain_order`` is what the dashboard and the API call; ``fetch_and_book`` is the "fetch and book it
now" button for an order the shop has and Koppel does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from koppel.connections.models import Connection
from koppel.connectors.errors import ConnectorError, NothingToBook
from koppel.documents.i18n import shown

from .models import Kind, Record, State
from .services import note_order

#: The shop is asked for orders changed since this long before the start date (a platform that cannot
#: search is read page by page): an order placed just before the start date is still found and explained.
START_MARGIN = timedelta(days=31)

VERDICTS = {
    State.HANDLED: "booked",
    State.ERROR: "error",
    State.OPEN: "open",
    State.QUEUED: "queued",
    State.SKIPPED: "skipped",
}


@dataclass
class Explanation:
    """What Koppel knows of an order number, in plain words and as data.

    ``verdict`` is a stable key: ``booked``, ``error``, ``open``, ``queued``, ``skipped`` (Koppel has a
    record in that state); ``not_polled_yet``, ``before_start_date``, ``not_in_shop``,
    ``shop_unreachable``, ``not_shipped``, ``cancelled`` (Koppel has none and asked the shops);
    ``not_found`` (Koppel has none and did not ask)."""

    number: str
    verdict: str
    message: str
    record_id: int | None = None
    connection_id: int | None = None
    #: The shop has the order and Koppel has no record: offer "fetch and book it now" (``fetch_and_book``).
    can_fetch: bool = False
    source_order_id: str = ""
    next_poll_at: datetime | None = None


def explain_order(connections: Iterable[Connection], number: str, *, ask_source: bool = True) -> Explanation:
    """Explain the order the merchant knows as ``number`` in any of ``connections``: its record when
    Koppel has one (matched by order number, case and a leading ``#`` aside, then by the shop's order id);
    otherwise, with ``ask_source``, what each connection's shop says of it."""
    number = number.strip()
    connections = list(connections)
    if not number:
        return Explanation(number, "not_found", _("Type an order number."))
    record = find_record(connections, number)
    if record is not None:
        return explain_record(record, number)
    if not ask_source or not connections:
        return Explanation(number, "not_found", _("Koppel has no order %(number)s.") % {"number": number})
    return ask_shops(connections, number)


def fetch_and_book(connection: Connection, source_order_id: str) -> Record:
    """Give the order a record and queue it, as a webhook would (the worker fetches the order and books it,
    with every check). A record that exists is returned as it is, or queued again when open or failed."""
    record, _queued = note_order(connection, str(source_order_id), via="manual")
    return record


# -- Koppel's own records --------------------------------------------------------------------------------


def number_variants(number: str) -> set[str]:
    bare = number.lstrip("#")
    return {number, bare, f"#{bare}"} - {"", "#"}


def find_record(connections: list[Connection], number: str) -> Record | None:
    records = Record.objects.filter(connection__in=connections, kind=Kind.ORDER).select_related("connection")
    by_number = Q()
    for variant in number_variants(number):
        by_number |= Q(order_number__iexact=variant)
    return records.filter(by_number).first() or records.filter(source_order_id=number.lstrip("#")).first()


def explain_record(record: Record, number: str) -> Explanation:
    return Explanation(
        number=number,
        verdict=VERDICTS.get(State(record.state), str(record.state)),
        message=record_message(record),
        record_id=record.pk,
        connection_id=record.connection_id,
        source_order_id=record.source_order_id,
        next_poll_at=record.connection.next_poll_at,
    )


def record_message(record: Record) -> str:
    values = {
        "number": record.order_number or record.source_order_id,
        "connection": record.connection.name,
        "code": record.error_code,
        "message": shown(record.message, record.message_text, _),
    }
    if record.state == State.HANDLED:
        target = record.connection.target_class.label
        invoice = record.target_invoice_number or record.target_invoice_id
        text = _("Order %(number)s is booked as %(target)s invoice %(invoice)s (%(connection)s).")
        return text % {**values, "target": target, "invoice": invoice}
    if record.state == State.ERROR:
        return _("Order %(number)s is not booked: error %(code)s (%(connection)s). %(message)s") % values
    if record.state == State.OPEN:
        text = _(
            "Order %(number)s is open (%(connection)s): %(message)s. It is booked when its status changes; "
            "Koppel also looks at it again every night."
        )
        return text % values
    if record.state == State.SKIPPED:
        return (
            _("Order %(number)s was not booked on purpose: %(code)s (%(connection)s). %(message)s") % values
        )
    if record.next_attempt_at is not None:
        text = _("Order %(number)s is queued (%(connection)s); the next try is at %(when)s. %(message)s")
        return text % {**values, "when": when(record.next_attempt_at)}
    return _("Order %(number)s is queued to be booked within moments (%(connection)s).") % values


def when(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


# -- the shops -------------------------------------------------------------------------------------------


def ask_shops(connections: list[Connection], number: str) -> Explanation:
    """Ask each connection's shop for the order; the first that has it decides. A shop that cannot be
    asked is reported only when no other shop has the order."""
    failures: list[tuple[Connection, ConnectorError]] = []
    for connection in connections:
        try:
            payload = lookup(connection, number)
        except NothingToBook as exc:
            return nothing_to_book(connection, number, exc)
        except ConnectorError as exc:
            failures.append((connection, exc))
            continue
        if payload is not None:
            return found_in_shop(connection, number, payload)
    if failures:
        connection, exc = failures[0]
        text = _("Koppel has no order %(number)s, and could not ask %(shop)s (%(connection)s): %(error)s")
        values = {"number": number, "shop": connection.source_class.label, "error": exc.message}
        message = text % {**values, "connection": connection.name}
        return Explanation(number, "shop_unreachable", message, connection_id=connection.pk)
    shops = ", ".join(sorted({c.source_class.label for c in connections}))
    text = _("Neither Koppel nor %(shops)s knows an order %(number)s. Check the number as the shop shows it.")
    return Explanation(number, "not_in_shop", text % {"number": number, "shops": shops})


def nothing_to_book(connection: Connection, number: str, exc: NothingToBook) -> Explanation:
    """The shop has the order but nothing of it is booked per the connection's settings (a bol.com order
    that has not shipped, with invoices per shipment)."""
    values = {"number": number, "shop": connection.source_class.label, "connection": connection.name}
    if exc.cancelled:
        text = _(
            "Order %(number)s is in %(shop)s but was cancelled before anything shipped, so there is "
            "nothing to invoice (%(connection)s invoices per shipment)."
        )
        return Explanation(number, "cancelled", text % values, connection_id=connection.pk)
    text = _(
        "Order %(number)s is in %(shop)s but has not shipped yet. %(connection)s invoices per shipment: "
        "each shipment is booked when it is dispatched."
    )
    return Explanation(number, "not_shipped", text % values, connection_id=connection.pk)


def lookup(connection: Connection, number: str) -> dict[str, Any] | None:
    source = connection.source()
    try:
        return source.find_order_by_number(number, connection.start_at - START_MARGIN)
    finally:
        source.close()


def found_in_shop(connection: Connection, number: str, payload: dict[str, Any]) -> Explanation:
    """The shop has the order: the record it may have under the shop's id, or why it has none."""
    source_order_id = connection.source_class.order_id(payload)
    record = Record.objects.filter(
        connection=connection, kind=Kind.ORDER, source_order_id=source_order_id
    ).first()
    if record is not None:
        return explain_record(record, number)
    placed = placed_at(connection, payload)
    values = {"number": number, "shop": connection.source_class.label, "connection": connection.name}
    base = Explanation(number, "", "", connection_id=connection.pk, source_order_id=source_order_id)
    if placed is not None and placed < connection.start_at:
        base.verdict = "before_start_date"
        base.message = _(
            "Order %(number)s was placed %(placed)s, before the start date %(start)s of %(connection)s, "
            "so it is not booked automatically. Book it with a backfill, or move the start date."
        ) % {**values, "placed": when(placed), "start": when(connection.start_at)}
        return base
    base.verdict, base.can_fetch = "not_polled_yet", True
    base.next_poll_at = connection.next_poll_at if connection.active else None
    base.message = not_polled_message(connection, values)
    return base


def not_polled_message(connection: Connection, values: dict[str, str]) -> str:
    head = _("Order %(number)s is in %(shop)s but has not reached Koppel yet (no notification arrived).")
    if not connection.active:
        tail = _("%(connection)s is switched off, so it is not polled; fetch and book the order now.")
    elif connection.next_poll_at is None or connection.next_poll_at <= timezone.now():
        tail = _("The next poll of %(connection)s, due now, picks it up; or fetch and book it now.")
    else:
        tail = _("The next poll of %(connection)s, at %(when)s, picks it up; or fetch and book it now.")
    when_text = when(connection.next_poll_at) if connection.next_poll_at else ""
    return f"{head % values} {tail % {**values, 'when': when_text}}"


def placed_at(connection: Connection, payload: dict[str, Any]) -> datetime | None:
    """When the order was placed, or ``None`` when the payload cannot be read (the worker will say why)."""
    try:
        return connection.parse_order(payload).created_at
    except (ConnectorError, ValueError, TypeError, KeyError):
        return None
