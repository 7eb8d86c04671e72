"""Typed shapes of the REST API. Money is a string with two decimals; credentials have no field anywhere."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from koppel.documents.codes import Code, remedy

StateName = Literal["open", "queued", "handled", "error", "skipped"]


class ErrorOut(Schema):
    error: str = Field(..., description="A stable code, e.g. NOT_FOUND or ALREADY_PROCESSED.")
    message: str = Field(..., description="What went wrong, in plain words.")


class StateCounts(Schema):
    open: int = 0
    queued: int = 0
    handled: int = 0
    error: int = 0
    skipped: int = 0


class ConnectionOut(Schema):
    id: int
    name: str
    active: bool
    source: str
    source_url: str
    target: str
    shop_country: str
    eligible_statuses: list[str]
    start_at: datetime
    poll_minutes: int
    webhook_url: str
    last_polled_at: datetime | None
    last_poll_error: str
    rejected_webhooks: int
    counts: StateCounts = Field(..., description="Number of records per state.")


class RecordQuery(Schema):
    state: StateName | None = Field(None, description="Only records in this state.")
    connection: int | None = Field(None, description="Only records of this connection (id).")
    q: str | None = Field(None, description="Search in order number, customer name and e-mail.")
    code: Code | None = Field(None, description="Only records with this error code.")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def remedy_for(code: str) -> str | None:
    if not code:
        return None
    try:
        return remedy(code)
    except (KeyError, ValueError):
        return None


class RecordOut(Schema):
    id: int
    connection_id: int
    source_order_id: str
    order_number: str
    state: StateName
    error_code: str
    message: str
    remedy: str | None = Field(None, description="What to do about the error code, when there is one.")
    order_date: datetime | None = Field(None, description="When the order was placed in the shop.")
    total: str | None = Field(None, description="The order total, two decimals.", examples=["121.00"])
    currency: str
    customer_name: str
    customer_email: str
    target_debtor_id: str
    target_invoice_id: str
    target_invoice_number: str
    attempts_count: int = Field(..., description="Failed tries counted toward the retry limit.")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    handled_at: datetime | None

    @staticmethod
    def resolve_remedy(obj: Any) -> str | None:
        return remedy_for(obj.error_code)

    @staticmethod
    def resolve_order_date(obj: Any) -> datetime | None:
        return obj.order_created_at

    @staticmethod
    def resolve_total(obj: Any) -> str | None:
        return money(obj.total)

    @staticmethod
    def resolve_attempts_count(obj: Any) -> int:
        return obj.attempts


class CallOut(Schema):
    method: str
    path: str
    status: int | None = None
    ms: float | None = None
    error: str | None = None


class AttemptOut(Schema):
    id: int
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    worker: str
    outcome: str
    error_code: str
    message: str
    calls: list[CallOut]


class RecordDetailOut(RecordOut):
    payload: dict[str, Any] | None = Field(None, description="The order exactly as the source sent it.")
    document: dict[str, Any] | None = Field(None, description="The canonical invoice as booked.")
    attempts: list[AttemptOut] = Field(..., description="Every try at this record, oldest first.")

    @staticmethod
    def resolve_attempts(obj: Any) -> list[Any]:
        return list(obj.attempt_log.all())


class RecordPage(Schema):
    count: int
    items: list[RecordOut]


class BackfillIn(Schema):
    since: datetime = Field(..., description="First moment of the range (placed at or after).")
    until: datetime | None = Field(None, description="End of the range (placed before); empty: up to now.")


class BackfillOut(Schema):
    id: int
    connection: int
    status: Literal["running", "paused", "done", "failed"] = Field(
        ...,
        description="running; paused (resumes by itself, or POST .../resume); done; failed (see message).",
    )
    since: datetime
    until: datetime | None
    pages_read: int
    orders_seen: int = Field(..., description="Orders read from the source so far.")
    orders_new: int = Field(..., description="Orders that got a record and are booked by the workers.")
    orders_known: int = Field(..., description="Orders that already had a record: left as they are.")
    orders_total: int | None = Field(None, description="Orders in the range, when the source says.")
    records: StateCounts = Field(..., description="The new records per state: how far booking is.")
    settled: int = Field(..., description="New records no longer queued (handled, error, open, skipped).")
    reading_done: bool
    message: str
    created_at: datetime
    finished_at: datetime | None
