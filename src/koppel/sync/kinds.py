"""How a record of each kind is booked. The pipeline (``koppel.sync.pipeline``) leases the record, checks
the connection, and hands it to its kind's handler; an app that adds a document kind (refunds, marketplace
invoices) registers its handler here from its ``AppConfig.ready``, so the pipeline never imports it.

A handler is ``handler(record, log, owner, probing) -> Outcome`` and raises ``ConnectorError`` or
``RateLimited`` like the order handler; the pipeline turns those into retries, pauses and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Record

Handler = Callable[["Record", Any, str, Any], Any]

_HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    _HANDLERS[kind] = handler


def handler(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for records of kind {kind!r}") from None


#: Called with a record that has just been booked (e.g. the refunds that waited for an order's invoice).
_BOOKED: list[Callable[[Record], Any]] = []


def on_booked(callback: Callable[[Record], Any]) -> None:
    if callback not in _BOOKED:
        _BOOKED.append(callback)


def booked(record: Record) -> None:
    for callback in _BOOKED:
        callback(record)
