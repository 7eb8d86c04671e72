"""The intake's core: webhook arrivals judged, stored and noted, many in one transaction.

A platform sends a burst of webhooks at once; storing each in a transaction of its own makes the database's
commit the intake's speed. :func:`receive` takes a batch: it reads the connections, their secrets and what
the batch needs to know (deliveries seen before, records that exist) in a few queries, judges every arrival
before any write, then writes the batch in one transaction (the deliveries and the new records in bulk, their
tasks in one INSERT) and answers each arrival only when that transaction has committed: every answered
delivery is stored. When the batch collides with another writer (an IntegrityError: the same delivery or
order stored by another web process a moment earlier), each arrival is received again on its own, the way
a single webhook always was.

The Django view (``intake.views``) hands in a batch of one; the web process's webhook gate
(``intake.gate``) hands in whatever arrived while the previous batch was written.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from koppel.connections import crypto
from koppel.connections.models import Connection
from koppel.connectors import registry
from koppel.connectors.base import SourceConnector, WebhookNotice
from koppel.connectors.errors import ConnectorError
from koppel.sync import statements
from koppel.sync.models import Kind, Record, State
from koppel.sync.queue import enqueue_many
from koppel.sync.services import changes_nothing, note_order

from .models import HELD, WebhookDelivery

logger = logging.getLogger("koppel.intake")

BIGGEST_ID = 2**63 - 1
#: ``last_webhook_at`` is written at most this often (seconds): not one extra write per webhook.
LAST_WEBHOOK_RESOLUTION = 60
#: What a delivery's columns hold; longer values are refused, never cut (a cut id could collide).
ORDER_ID_MAX = WebhookDelivery._meta.get_field("order_id").max_length
DELIVERY_ID_MAX = WebhookDelivery._meta.get_field("delivery_id").max_length
EVENT_MAX = WebhookDelivery._meta.get_field("event").max_length
#: What judging and storing a statically checked webhook reads of its connection (the rest is read only for
#: an order already known, which ``note_order`` notes with the whole connection).
INTAKE_FIELDS = ("id", "source_kind", "active", "webhook_secret_encrypted", "last_webhook_at")


@dataclass(frozen=True)
class Arrival:
    """One webhook request as it reached us: the address's parts, the raw body, the headers (lower-case)."""

    source_kind: str
    connection_id: int
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    content: dict[str, Any]


def problem(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": code, "message": message})


@dataclass
class Signed:
    """An arrival whose signature holds: the delivery it becomes, and what its body says."""

    index: int
    connection: Connection
    delivery: WebhookDelivery
    notice: WebhookNotice | None = None
    record: Record | None = None
    queued: bool = False
    answer: Answer | None = None
    duplicate_of: tuple[int, str] | None = None


def checks_statically(source_kind: str) -> bool:
    """Whether the platform's webhooks are checked with the connection's secret alone (no call out): such
    webhooks can wait in a batch without holding up the others."""
    try:
        cls = registry.source(source_kind)
    except LookupError:
        return True  # no such platform: answered 404 from the batch without any call
    return cls.check_webhook is SourceConnector.check_webhook


def receive(arrivals: Sequence[Arrival], *, bulk: bool = True) -> list[Answer]:
    """Judge, store and note ``arrivals``; one answer each, in order, once stored."""
    connections = connections_of(arrivals)
    answers: list[Answer | None] = [None] * len(arrivals)
    signed: list[Signed] = []
    rejected: Counter[int] = Counter()
    for index, arrival in enumerate(arrivals):
        outcome = judged(index, arrival, connections.get(arrival.connection_id))
        if isinstance(outcome, Signed):
            signed.append(outcome)
        else:
            answers[index] = outcome
            if outcome.content.get("error") == "SIGNATURE_INVALID":
                rejected[arrival.connection_id] += 1
    try:
        with transaction.atomic():
            count_rejected(rejected)
            store(signed, bulk=bulk)
    except IntegrityError:
        if bulk:  # another writer stored the same delivery or order a moment ago: one by one, as ever
            return [receive([arrival], bulk=False)[0] for arrival in arrivals]
        count_rejected(rejected)
        for item in signed:  # a batch of one: the same delivery, arriving at the same moment, was first
            store_duplicate(item)
    for item in signed:
        answers[item.index] = item.answer
    return [answer or problem(500, "INTERNAL_ERROR", "The webhook was not handled") for answer in answers]


def connections_of(arrivals: Sequence[Arrival]) -> dict[int, Connection]:
    """The arrivals' connections: only what the intake reads of them when every arrival is checked with the
    connection's secret alone, whole when one is checked through its connector (bol.com)."""
    ids = {arrival.connection_id for arrival in arrivals if 0 < arrival.connection_id <= BIGGEST_ID}
    if not ids:
        return {}
    if not all(checks_statically(arrival.source_kind) for arrival in arrivals):
        return Connection.objects.in_bulk(ids)
    found = statements.instances(Connection, INTAKE_FIELDS, {"id": sorted(ids)})
    return {connection.pk: connection for connection in found}


def judged(index: int, arrival: Arrival, connection: Connection | None) -> Answer | Signed:
    """Everything that can be decided without writing: the connection, the ping, the signature, the body."""
    if connection is None or connection.source_kind != arrival.source_kind:
        return problem(
            404, "CONNECTION_UNKNOWN", f"No {arrival.source_kind} connection {arrival.connection_id}"
        )
    source = connection.source_class
    body, headers = arrival.body, arrival.headers
    if source.is_ping(body, headers):
        logger.info("Webhook ping for connection %s", connection.pk)
        return Answer(200, {"ping": True})
    try:
        secret = connection.webhook_secret
    except crypto.CredentialsUnreadable:
        logger.error("Webhook for connection %s: the webhook secret cannot be decrypted", connection.pk)
        return problem(
            503,
            "CREDENTIALS_UNREADABLE",
            "Koppel cannot read this connection's webhook secret right now; send it again later",
        )
    try:
        matches = signature_matches(connection, body, headers, secret)
    except ConnectorError as exc:
        logger.warning("Webhook for connection %s not checked: %s", connection.pk, exc.message)
        return problem(503, "SIGNATURE_NOT_CHECKED", f"The signature cannot be checked now: {exc.message}")
    if not matches:
        # Stored nowhere: an unsigned request could be anyone's. Only counted, to show on the dashboard.
        logger.warning("Webhook for connection %s rejected: bad signature", connection.pk)
        return problem(
            401, "SIGNATURE_INVALID", "The webhook signature does not match the connection's secret"
        )
    item = Signed(index, connection, stored_delivery(connection, body))
    try:
        item.notice = source.parse_webhook(body, headers)
        if item.notice is not None:
            check_notice_fits(item.notice)
    except (ValueError, TypeError, RecursionError) as exc:
        reason = str(exc) if not isinstance(exc, RecursionError) else "the JSON is nested too deeply"
        item.notice = None
        item.delivery.outcome, item.delivery.message = "invalid", clean_text(reason)[:1000]
        item.answer = problem(
            400, "WEBHOOK_INVALID", f"The notification is not understood: {clean_text(reason)}"
        )
        return item
    if item.notice is None:  # understood, but nothing to book: answered 2xx so the platform does not retry
        item.delivery.outcome = "ignored"
        item.answer = Answer(200, {"ignored": True})
        return item
    notice = item.notice
    item.delivery.event, item.delivery.order_id = notice.event, notice.order_id
    item.delivery.delivery_id = notice.delivery_id
    return item


def signature_matches(connection: Connection, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """The connector's check, where a header it cannot even compare (non-ASCII text makes
    ``hmac.compare_digest`` raise) is simply no match. A platform that signs with keys behind its API
    (bol.com) checks through the connection's connector; the others with the static check, which costs no
    connector. A ``ConnectorError`` (the keys could not be read) is the caller's to answer."""
    cls = connection.source_class
    try:
        if cls.check_webhook is SourceConnector.check_webhook:
            return bool(cls.verify_webhook(body, headers, secret))
        source = connection.source()
        try:
            return bool(source.check_webhook(body, headers, secret))
        finally:
            source.close()
    except (TypeError, ValueError, UnicodeError):
        return False


def clean_text(text: str) -> str:
    """Text a database column takes: no NUL, no lone surrogate."""
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def stored_delivery(connection: Connection, body: bytes) -> WebhookDelivery:
    """The delivery as it will be stored: its text, and its exact bytes when the text is not them."""
    text = clean_text(body.decode("utf-8", errors="replace"))
    raw = None if text.encode("utf-8") == body else body
    return WebhookDelivery(connection=connection, body=text, raw_body=raw)


def check_notice_fits(notice: WebhookNotice) -> None:
    """An order id, delivery id or event too long for its column, or with control characters, is refused
    (a value cut to fit could name another order)."""
    for value, limit, what in (
        (notice.order_id, ORDER_ID_MAX, "order id"),
        (notice.delivery_id, DELIVERY_ID_MAX, "delivery id"),
        (notice.event, EVENT_MAX, "event"),
    ):
        if len(value) > limit:
            raise ValueError(f"the {what} is longer than {limit} characters")
        if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in value):
            raise ValueError(f"the {what} contains control characters")


def count_rejected(rejected: Counter[int]) -> None:
    for connection_id, count in rejected.items():
        Connection.objects.filter(pk=connection_id).update(rejected_webhooks=F("rejected_webhooks") + count)


def store(signed: list[Signed], *, bulk: bool) -> None:
    """Within the caller's transaction: every signed arrival's delivery, and its order noted."""
    if not signed:
        return
    now = timezone.now()
    seen_webhooks({item.connection.pk: item.connection for item in signed}.values(), now)
    noticed = [item for item in signed if item.notice is not None]
    received = delivery_ids_received(noticed)
    records = existing_records(noticed) if bulk else {}
    new: dict[tuple[int, str], Record] = {}
    later: list[Signed] = []
    for item in noticed:
        notice = item.notice
        assert notice is not None
        key = (item.connection.pk, notice.order_id)
        if notice.delivery_id:
            if (item.connection.pk, notice.delivery_id) in received:
                item.duplicate_of = key
                continue
            received.add((item.connection.pk, notice.delivery_id))
        if not item.connection.active:  # kept, and noted when the connection is switched on again
            item.delivery.outcome = HELD
            item.answer = Answer(202, {"record": None, "state": "", "queued": False, "held": True})
        elif bulk and key not in records and key not in new:
            item.record = new[key] = new_record(item.connection, notice, now)
            item.queued = True
        elif key in records and changes_nothing(records[key].state, notice.payload):
            item.record = records[key]  # a repeat (a shop's retry): stored, nothing else to do
        else:
            later.append(item)
    if new:
        statements.insert(Record, new.values(), returning_pk=True)
        enqueue_many([record.pk for record in new.values()], trigger="webhook")
    whole = whole_connections([item.connection for item in later])
    for item in later:
        assert item.notice is not None
        item.record, item.queued = note_order(
            whole[item.connection.pk],
            item.notice.order_id,
            via="webhook",
            payload=item.notice.payload,
            modified_at=item.notice.modified_at,
        )
    for item in noticed:
        if item.record is not None:
            item.delivery.outcome = "queued" if item.queued else f"noted ({item.record.state})"
            item.answer = Answer(
                202, {"record": item.record.pk, "state": item.record.state, "queued": item.queued}
            )
    duplicates = [item for item in noticed if item.duplicate_of is not None]
    for item in duplicates:
        item.delivery.outcome = "duplicate"
        item.answer = duplicate_answer(item, new)
    statements.insert(WebhookDelivery, [item.delivery for item in signed])


def whole_connections(connections: list[Connection]) -> dict[int, Connection]:
    """``connections`` with every field loaded: the ones read with only the intake's fields read again."""
    partial = {connection.pk for connection in connections if connection.get_deferred_fields()}
    whole = Connection.objects.in_bulk(partial) if partial else {}
    return {connection.pk: whole.get(connection.pk, connection) for connection in connections}


def seen_webhooks(connections: Any, now: datetime) -> None:
    stale = [
        connection.pk
        for connection in connections
        if connection.last_webhook_at is None
        or (now - connection.last_webhook_at).total_seconds() > LAST_WEBHOOK_RESOLUTION
    ]
    if stale:
        Connection.objects.filter(pk__in=stale).update(last_webhook_at=now)


def delivery_ids_received(noticed: list[Signed]) -> set[tuple[int, str]]:
    """(connection, delivery id) of the batch's deliveries stored before."""
    wanted = {(item.connection.pk, item.notice.delivery_id) for item in noticed if item.notice.delivery_id}
    if not wanted:
        return set()
    found = statements.select(
        WebhookDelivery,
        ("connection", "delivery_id"),
        {"connection": sorted({pk for pk, _ in wanted}), "delivery_id": sorted({did for _, did in wanted})},
    )
    return {pair for pair in found if pair in wanted}


def existing_records(noticed: list[Signed]) -> dict[tuple[int, str], Record]:
    """The order records the batch names that exist: these are noted one by one (``note_order``), unless the
    notice changes nothing about them."""
    wanted = {(item.connection.pk, item.notice.order_id) for item in noticed}
    if not wanted:
        return {}
    found = statements.instances(
        Record,
        ("id", "connection", "source_order_id", "state"),
        {
            "connection": sorted({pk for pk, _ in wanted}),
            "kind": Kind.ORDER,
            "source_order_id": sorted({order_id for _, order_id in wanted}),
        },
    )
    return {
        key: record for record in found if (key := (record.connection_id, record.source_order_id)) in wanted
    }


def new_record(connection: Connection, notice: WebhookNotice, now: datetime) -> Record:
    """The record ``note_order`` would create for a first notice of the order."""
    return Record(
        connection=connection,
        kind=Kind.ORDER,
        source_order_id=notice.order_id,
        state=State.QUEUED,
        received_via="webhook",
        payload=notice.payload,
        payload_fetched_at=now if notice.payload is not None else None,
        created_at=now,
    )


def duplicate_answer(item: Signed, new: dict[tuple[int, str], Record]) -> Answer:
    """A delivery seen before: stored as such, nothing else happens."""
    assert item.duplicate_of is not None
    connection_id, order_id = item.duplicate_of
    record = new.get(item.duplicate_of) or (
        Record.objects.filter(connection_id=connection_id, kind=Kind.ORDER, source_order_id=order_id)
        .only("pk", "state")
        .first()
    )
    return Answer(
        202,
        {
            "record": record.pk if record else None,
            "state": record.state if record else "",
            "queued": False,
            "duplicate": True,
        },
    )


def store_duplicate(item: Signed) -> None:
    """After a collision on the delivery's id: the delivery stored as a duplicate, on its own (one without
    an order to note is stored as it was judged)."""
    item.delivery.pk = None
    if item.notice is not None:
        item.duplicate_of = (item.connection.pk, item.notice.order_id)
        item.delivery.outcome = "duplicate"
        item.answer = duplicate_answer(item, {})
    item.delivery.save()
