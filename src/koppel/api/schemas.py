"""Typed shapes of the REST API. Money is a string with two decimals. Credentials are write-only: the
``*In`` shapes accept them, no ``*Out`` shape has a field that could hold one (only which are set, and the
public ones such as a user name)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, StrictBool, StrictInt, ValidationInfo, field_validator

from koppel.documents.codes import Code, remedy
from koppel.sync.backfill import within_reason

Moment = Annotated[datetime, AfterValidator(within_reason)]

#: The biggest id a database column (bigint) holds; a bigger one is refused, not looked up.
BIGGEST_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=BIGGEST_ID)]
#: Records are paged at most this far (a bigger offset cannot be passed to every database).
BIGGEST_OFFSET = 10**9
#: A connection is polled at least once a week.
MOST_POLL_MINUTES = 7 * 24 * 60


def storable(value: Any, where: str = "") -> None:
    """Refuse text no database column can hold whole: a NUL byte (PostgreSQL) or a lone surrogate (not
    encodable as UTF-8), anywhere in the value, nested ones included."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where or 'a value'} contains a NUL byte")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where or 'a value'} contains a lone surrogate (not valid Unicode)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key, where)
            storable(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            storable(item, where)


class InSchema(Schema):
    """What a client sends: every text in it must be storable as it came (see :func:`storable`)."""

    @field_validator("*", mode="after")
    @classmethod
    def text_is_storable(cls, value: Any, info: ValidationInfo) -> Any:
        storable(value, info.field_name or "")
        return value


StateName = Literal["open", "queued", "handled", "error", "skipped"]


class ErrorOut(Schema):
    error: str = Field(..., description="A stable code, e.g. NOT_FOUND or ALREADY_PROCESSED.")
    message: str = Field(..., description="What went wrong, in plain words.")


class InvalidOut(ErrorOut):
    """A refused request: ``VALIDATION_ERROR`` (the request's shape), ``CONNECTION_INVALID`` (a connection
    the worker could not use, with ``problems`` per field), ``SOURCE_CHECK_FAILED`` or
    ``TARGET_CHECK_FAILED`` (the system refused the credentials or could not be reached; ``message`` is the
    system's own words)."""

    problems: dict[str, list[str]] | None = Field(
        None,
        description="CONNECTION_INVALID: the messages per field (source, source_url, source_credentials, "
        "target, target_url, target_credentials, target_settings, shop_country, eligible_statuses, ...).",
        examples=[{"source_credentials": ["KMO Shops needs API key."]}],
    )


class StateCounts(Schema):
    open: int = 0
    queued: int = 0
    handled: int = 0
    error: int = 0
    skipped: int = 0


HealthName = Literal["unknown", "ok", "failed"]


class SideHealthOut(Schema):
    status: HealthName = Field(..., description="unknown (not tested), ok, or failed (see message).")
    message: str = Field(..., description="The system's own words when the last test or call failed.")
    checked_at: datetime | None


class HealthOut(Schema):
    source: SideHealthOut
    target: SideHealthOut


class CredentialsOut(Schema):
    """What is known about one side's credentials without showing a secret."""

    set: list[str] = Field(..., description="The names of the credentials that hold a value.")
    public: dict[str, str] = Field(
        ..., description="The credentials that are no secret (a user name, a client ID), with their values."
    )
    complete: bool = Field(..., description="Whether the set credentials are enough to connect.")
    problem: str = Field("", description="What is missing, or why the stored credentials cannot be read.")


class ConnectionOut(Schema):
    id: int
    name: str
    active: bool
    source: str
    source_url: str
    source_credentials: CredentialsOut | None = Field(None, description="None: the source is not installed.")
    target: str
    target_url: str = ""
    target_credentials: CredentialsOut | None = Field(None, description="None: the target is not installed.")
    target_settings: dict[str, Any] = Field(default_factory=dict, description="The target's settings.")
    shop_country: str
    eligible_statuses: list[str]
    start_at: datetime
    poll_minutes: int
    webhook_url: str
    last_polled_at: datetime | None
    last_poll_error: str
    rejected_webhooks: int
    health: HealthOut | None = None
    counts: StateCounts = Field(..., description="Number of records per state.")


class ConnectionCreatedOut(ConnectionOut):
    webhook_secret: str | None = Field(
        ...,
        description="The secret the shop signs its webhooks with, to enter in the shop. Shown only in this "
        "answer. None when the platform chooses the key itself (the one given, or Shopify's client secret).",
    )


class ConnectionIn(InSchema):
    """A new connection. Credentials are tested against both systems before it is saved (``?check=false``
    skips that)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    source: str = Field(
        ..., max_length=40, description="The shop platform, e.g. kmoshops, shopify, woocommerce."
    )
    source_url: str = Field(
        ..., max_length=500, description="The shop's address.", examples=["https://myshop.kmoshops.be"]
    )
    source_credentials: dict[str, str] = Field(
        default_factory=dict,
        description='Write-only, e.g. {"api_key": "..."}; never returned.',
        examples=[{"api_key": "kmo_..."}],
    )
    target: str = Field(
        ..., max_length=40, description="The invoicing system, e.g. factuursturen, eenvoudigfactureren."
    )
    target_url: str | None = Field(None, max_length=500, description="Empty: the system's production API.")
    target_credentials: dict[str, str] = Field(
        default_factory=dict,
        description='Write-only, e.g. {"username": "...", "api_key": "..."}; never returned.',
    )
    target_settings: dict[str, Any] = Field(default_factory=dict, description="The target's settings.")
    shop_country: str = Field("NL", max_length=2, description="The country the shop sells from (ISO code).")
    eligible_statuses: list[str] = Field(default_factory=list, description="Empty: the source's default.")
    start_at: Moment | None = Field(None, description="Orders placed before this are skipped; empty: now.")
    poll_minutes: StrictInt = Field(60, ge=1, le=MOST_POLL_MINUTES)
    active: StrictBool = True
    webhook_secret: str | None = Field(
        None,
        description="Write-only: the key the shop signs webhooks with, when the shop chooses it (Shopify). "
        "Empty: Koppel makes one and returns it once.",
    )


class ConnectionPatch(InSchema):
    """Only the fields given change. New credentials replace a side's credentials when they are complete
    by themselves, else they are merged into the stored ones; the changed side is tested again."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    active: StrictBool | None = Field(None, description="false: no orders are booked; true: on again.")
    source_url: str | None = Field(None, max_length=500)
    source_credentials: dict[str, str] | None = Field(None, description="Write-only.")
    target_url: str | None = Field(None, max_length=500)
    target_credentials: dict[str, str] | None = Field(None, description="Write-only.")
    target_settings: dict[str, Any] | None = Field(None, description="Merged into the stored settings.")
    shop_country: str | None = Field(None, max_length=2)
    eligible_statuses: list[str] | None = None
    start_at: Moment | None = None
    poll_minutes: StrictInt | None = Field(None, ge=1, le=MOST_POLL_MINUTES)
    webhook_secret: str | None = Field(None, description="Write-only: a new key the shop signs with.")


class ConnectionTestOut(Schema):
    ok: bool = Field(..., description="Whether both systems accepted the credentials.")
    source: SideHealthOut
    target: SideHealthOut


class AccountIn(InSchema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    email: str = Field("", max_length=254, description="Where notification e-mails go.")
    shop_country: str = Field("NL", min_length=2, max_length=2)


class AccountOut(Schema):
    id: int
    name: str
    email: str
    shop_country: str
    created_at: datetime


class TokenIn(InSchema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=100, description="What the token is for, e.g. erp.")


class TokenOut(Schema):
    id: int
    account_id: int
    name: str
    hint: str = Field(..., description="The first characters of the token, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The bearer token. Shown only in this answer; only a hash is kept.")


class RecordQuery(InSchema):
    state: StateName | None = Field(None, description="Only records in this state.")
    connection: Id | None = Field(None, description="Only records of this connection (id).")
    q: str | None = Field(None, description="Search in order number, customer name and e-mail.")
    code: Code | None = Field(None, description="Only records with this error code.")
    kind: Literal["order", "refund", "marketplace_invoice"] | None = Field(
        None, description="Only records of this kind: order, refund (a credit note), marketplace_invoice."
    )
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=BIGGEST_OFFSET)


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
    kind: str = Field(..., description="order, refund (booked as a credit note) or marketplace_invoice.")
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
    invoice_request: str | None = Field(
        None,
        description="A customer's request at the marketplace (bol.com) for this invoice: requested, "
        "uploading, uploaded or incorrect; empty when none was made.",
    )
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

    @staticmethod
    def resolve_invoice_request(obj: Any) -> str | None:
        return getattr(obj, "invoice_request", "") or None


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


class BackfillIn(InSchema):
    since: Moment = Field(..., description="First moment of the range (placed at or after), 2000–2099.")
    until: Moment | None = Field(None, description="End of the range (placed before); empty: up to now.")


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


class ExplainQuery(InSchema):
    number: str = Field(..., min_length=1, max_length=100, description="The order number (or the shop's id).")
    connection: Id | None = Field(None, description="Only this connection (id); else every connection.")
    ask_shop: bool = Field(True, description="When Koppel has no record, ask the shop about the order.")


class ExplanationOut(Schema):
    """Where an order is: its record, state and reason; or, without a record, what the shop says."""

    number: str
    verdict: str = Field(
        ...,
        description="booked, error, open, queued, skipped (a record); not_polled_yet, before_start_date, "
        "not_in_shop, shop_unreachable, not_shipped, cancelled (asked the shop); not_found (the shop was "
        "not asked)",
    )
    message: str = Field(..., description="The explanation in plain words.")
    record_id: int | None = None
    connection_id: int | None = None
    can_fetch: bool = Field(
        ..., description="The shop has the order and Koppel has no record: POST .../fetch books it."
    )
    source_order_id: str = ""
    next_poll_at: datetime | None = None


class OrderFetchIn(InSchema):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(..., min_length=1, max_length=100, description="The shop's id of the order.")
