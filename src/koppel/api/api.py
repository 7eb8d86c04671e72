"""The REST API (django-ninja), mounted at ``/api/``: connections (made, changed, tested, removed),
records, the Process button, backfills, and for staff tokens the accounts and their API tokens.

Every request carries an account's bearer token; every query is scoped to that account, so another
account's connection or record does not exist (404). Errors are always ``{"error": CODE, "message": text}``
(plus ``problems`` per field when a connection is refused). Credentials are accepted, never returned.
"""

import inspect
import logging
import re
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from koppel.accounts.models import Account, ApiToken
from koppel.connections.models import Connection
from koppel.connectors import registry
from koppel.connectors.errors import ConnectorError
from koppel.marketplace.api import router as marketplace_router
from koppel.sync import backfill as backfills
from koppel.sync import explain
from koppel.sync.models import Backfill, Record
from koppel.sync.services import AlreadyHandled, reprocess
from koppel.sync.tasks import run_backfill

from . import saving
from .auth import AccountToken, is_staff_request
from .openapi import KoppelAPI
from .schemas import (
    AccountIn,
    AccountOut,
    BackfillIn,
    BackfillOut,
    ConnectionCreatedOut,
    ConnectionIn,
    ConnectionOut,
    ConnectionPatch,
    ConnectionTestOut,
    ErrorOut,
    ExplainQuery,
    ExplanationOut,
    InvalidOut,
    OrderFetchIn,
    RecordDetailOut,
    RecordPage,
    RecordQuery,
    StateCounts,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
)

logger = logging.getLogger("koppel.api")

api = KoppelAPI(
    title="Koppel API",
    version="1",
    description="Connections and records of the account the bearer token (`kp_...`) belongs to.",
    urls_namespace="api",
    auth=AccountToken(),
)

#: Error responses every authenticated operation can give.
COMMON_ERRORS = {401: ErrorOut, 422: InvalidOut}
STAFF_ERRORS = {403: ErrorOut, **COMMON_ERRORS}
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    429: "RATE_LIMITED",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(
    request: HttpRequest, status: int, code: str, message: str, problems: dict[str, list[str]] | None = None
) -> HttpResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if problems:
        body["problems"] = problems
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message)


@api.exception_handler(saving.Refused)
def on_refused(request: HttpRequest, exc: saving.Refused) -> HttpResponse:
    return error_response(request, 422, exc.code, exc.message, exc.problems)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401, "UNAUTHORIZED", "Send a valid API token: 'Authorization: Bearer kp_...'."
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for item in exc.errors:
        where = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return error_response(request, 422, "VALIDATION_ERROR", "; ".join(problems) or "The request is invalid.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "NOT_FOUND", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(
        request, exc.status_code, HTTP_CODES.get(exc.status_code, "HTTP_ERROR"), exc.message
    )


@api.exception_handler(AlreadyHandled)
def on_already_handled(request: HttpRequest, exc: AlreadyHandled) -> HttpResponse:
    return error_response(request, 409, "ALREADY_PROCESSED", f"{exc}; it cannot be processed again.")


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(request, 500, "INTERNAL_ERROR", "An unexpected error inside Koppel.")


# Queries ---------------------------------------------------------------------------------------------------
def records_of(account: Account) -> QuerySet[Record]:
    return Record.objects.filter(connection__account=account)


def get_record(account: Account, record_id: int) -> Record:
    record = records_of(account).filter(pk=record_id).prefetch_related("attempt_log").first()
    if record is None:
        raise ApiError(404, "NOT_FOUND", f"There is no record {record_id}.")
    return record


def state_counts(records: QuerySet[Record]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for row in records.order_by().values("connection_id", "state").annotate(n=Count("id")):
        counts.setdefault(row["connection_id"], {})[row["state"]] = row["n"]
    return counts


def connection_out(connection: Connection, counts: dict[str, int]) -> dict[str, Any]:
    try:
        data = connection.summary()
    except LookupError:  # its connector is no longer installed: still list it
        data = {
            "id": connection.pk,
            "name": connection.name,
            "active": connection.active,
            "source": connection.source_kind,
            "source_url": connection.source_url,
            "target": connection.target_kind,
            "shop_country": connection.shop_country,
            "eligible_statuses": list(connection.eligible_statuses or []),
            "start_at": connection.start_at,
            "poll_minutes": connection.poll_minutes,
            "webhook_url": connection.webhook_url,
            "last_polled_at": connection.last_polled_at,
            "rejected_webhooks": connection.rejected_webhooks,
        }
    return {
        **data,
        "target_url": connection.target_url,
        "target_settings": connection.target_settings or {},
        "source_credentials": saving.credentials_out(connection, "source"),
        "target_credentials": saving.credentials_out(connection, "target"),
        "health": saving.health_out(connection),
        "last_poll_error": connection.last_poll_error,
        "counts": StateCounts(**counts),
    }


def one_connection_out(connection: Connection) -> dict[str, Any]:
    counts = state_counts(Record.objects.filter(connection=connection))
    return connection_out(connection, counts.get(connection.pk, {}))


# Operations ------------------------------------------------------------------------------------------------
@api.get(
    "/connections",
    response={200: list[ConnectionOut], **COMMON_ERRORS},
    operation_id="list_connections",
    tags=["connections"],
)
def list_connections(request: HttpRequest) -> list[dict[str, Any]]:
    """The account's connections, with the number of records per state. Credentials are never shown."""
    connections = list(Connection.objects.filter(account=request.auth).order_by("id"))
    counts = state_counts(Record.objects.filter(connection__in=connections))
    return [connection_out(c, counts.get(c.pk, {})) for c in connections]


@api.get(
    "/records", response={200: RecordPage, **COMMON_ERRORS}, operation_id="list_records", tags=["records"]
)
def list_records(request: HttpRequest, filters: Query[RecordQuery]) -> dict[str, Any]:
    """Records, newest first, filtered by state, connection, error code or a search (order number,
    customer name, e-mail)."""
    records = records_of(request.auth).order_by("-created_at", "-id")
    if filters.state:
        records = records.filter(state=filters.state)
    if filters.connection is not None:
        records = records.filter(connection_id=filters.connection)
    if filters.code:
        records = records.filter(error_code=filters.code)
    if filters.kind:
        records = records.filter(kind=filters.kind)
    if filters.q and filters.q.strip():
        term = filters.q.strip()
        records = records.filter(
            Q(order_number__icontains=term)
            | Q(source_order_id__icontains=term)
            | Q(customer_name__icontains=term)
            | Q(customer_email__icontains=term)
        )
    page = records[filters.offset : filters.offset + filters.limit]
    return {"count": records.count(), "items": list(page)}


@api.get(
    "/records/{record_id}",
    response={200: RecordDetailOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="get_record",
    tags=["records"],
)
def record_detail(request: HttpRequest, record_id: int) -> Record:
    """One record with the reason and remedy, the stored order and document, and its attempt log."""
    return get_record(request.auth, record_id)


@api.post(
    "/records/{record_id}/process",
    response={202: RecordDetailOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    operation_id="process_record",
    tags=["records"],
)
def process_record(request: HttpRequest, record_id: int) -> Any:
    """The Process button: queue an open, failed or skipped record for booking now. A handled record is
    never booked again (409 ``ALREADY_PROCESSED``)."""
    reprocess(get_record(request.auth, record_id))
    return Status(202, get_record(request.auth, record_id))


def get_connection(account: Account, connection_id: int) -> Connection:
    connection = Connection.objects.filter(account=account, pk=connection_id).first()
    if connection is None:
        raise ApiError(404, "NOT_FOUND", f"There is no connection {connection_id}.")
    return connection


def get_backfill(account: Account, backfill_id: int) -> Backfill:
    item = Backfill.objects.filter(connection__account=account, pk=backfill_id).first()
    if item is None:
        raise ApiError(404, "NOT_FOUND", f"There is no backfill {backfill_id}.")
    return item


@api.post(
    "/connections/{connection_id}/backfills",
    response={202: BackfillOut, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="start_backfill",
    tags=["backfills"],
)
def start_backfill(request: HttpRequest, connection_id: int, body: BackfillIn) -> Any:
    """Book the shop's past orders placed in ``[since, until)``, read by a worker at the shop's pace. The
    same range again resumes the unfinished backfill instead of starting another. Orders that already have a
    record are left as they are; the connection's start date holds for everything else."""
    connection = get_connection(request.auth, connection_id)
    since, until = aware(body.since), aware(body.until) if body.until else None
    if until is not None and until <= since:
        raise ApiError(400, "BAD_REQUEST", "until must be after since.")
    item, _ = backfills.start_in_background(connection, since, until)
    return Status(202, backfills.progress(item))


@api.get(
    "/backfills/{backfill_id}",
    response={200: BackfillOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="get_backfill",
    tags=["backfills"],
)
def backfill_detail(request: HttpRequest, backfill_id: int) -> dict[str, Any]:
    """How far a backfill is: pages and orders read, and the new records per state."""
    return backfills.progress(get_backfill(request.auth, backfill_id))


@api.post(
    "/backfills/{backfill_id}/resume",
    response={202: BackfillOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    operation_id="resume_backfill",
    tags=["backfills"],
)
def resume_backfill(request: HttpRequest, backfill_id: int) -> Any:
    """Continue a paused or failed backfill (after fixing what its message names) from where it stopped."""
    item = get_backfill(request.auth, backfill_id)
    if item.status == Backfill.Status.DONE:
        raise ApiError(409, "CONFLICT", f"Backfill {item.pk} is done.")
    run_backfill.enqueue(item.pk)
    return Status(202, backfills.progress(item))


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else timezone.make_aware(value)


KINDS = f"Sources: {', '.join(sorted(registry.sources()))}. Targets: {', '.join(sorted(registry.targets()))}."
CHECK_HELP = "false: save without testing the credentials against the systems (their dots stay unknown)."


CREATE_HELP = """Connect a shop to an invoicing system for the token's account. The credentials are tested
against both systems first: a refusal is `422 SOURCE_CHECK_FAILED` / `TARGET_CHECK_FAILED` with the
system's message, and nothing is saved. A connection the worker could not use (an unknown system, missing
credentials, invalid settings, unknown statuses or country) is `422 CONNECTION_INVALID` with the messages
per field. The answer holds the webhook URL and, this once, the webhook secret."""


@api.post(
    "/connections",
    response={201: ConnectionCreatedOut, **COMMON_ERRORS},
    operation_id="create_connection",
    tags=["connections"],
    description=f"{CREATE_HELP}\n\n{KINDS}",
)
def create_connection(
    request: HttpRequest, body: ConnectionIn, check: bool = Query(True, description=CHECK_HELP)
) -> Any:
    connection, secret = saving.create(request.auth, body.model_dump(), check=check)
    return Status(201, {**one_connection_out(connection), "webhook_secret": secret})


@api.get(
    "/connections/{connection_id}",
    response={200: ConnectionOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="get_connection",
    tags=["connections"],
)
def connection_detail(request: HttpRequest, connection_id: int) -> dict[str, Any]:
    """One connection: its settings, which credentials are set (never their values, except public ones
    such as a user name), the two dots and the record counts."""
    return one_connection_out(get_connection(request.auth, connection_id))


@api.patch(
    "/connections/{connection_id}",
    response={200: ConnectionOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="update_connection",
    tags=["connections"],
)
def update_connection(
    request: HttpRequest,
    connection_id: int,
    body: ConnectionPatch,
    check: bool = Query(True, description=CHECK_HELP),
) -> Any:
    """Change the fields given. ``{"active": false}`` switches the connection off (nothing is booked),
    ``{"active": true}`` on again. A side whose address or credentials change is tested again first
    (``?check=false`` skips it); the same refusals as on create, and nothing is changed then."""
    connection = get_connection(request.auth, connection_id)
    return one_connection_out(saving.update(connection, body.model_dump(exclude_unset=True), check=check))


@api.delete(
    "/connections/{connection_id}",
    response={204: None, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="delete_connection",
    tags=["connections"],
)
def delete_connection(request: HttpRequest, connection_id: int) -> Any:
    """Remove the connection with its credentials, records and backfills. Webhooks to its URL are refused
    from then on; the shop and the invoicing system keep what they have."""
    get_connection(request.auth, connection_id).delete()
    return Status(204, None)


@api.post(
    "/connections/{connection_id}/test",
    response={200: ConnectionTestOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="test_connection",
    tags=["connections"],
)
def test_connection(request: HttpRequest, connection_id: int) -> dict[str, Any]:
    """Test both sides' stored credentials against the systems now and store the two dots. A failure is no
    error of this call: ``ok`` is false and the side's message is the system's own."""
    return saving.test_both(get_connection(request.auth, connection_id))


@api.get(
    "/orders/explain",
    response={200: ExplanationOut, 404: ErrorOut, **COMMON_ERRORS},
    operation_id="explain_order",
    tags=["records"],
)
def explain_order(request: HttpRequest, filters: Query[ExplainQuery]) -> Any:
    """Where is order X? Its record, state and reason; or, when Koppel has none, why: not polled yet (with
    the next poll, and ``can_fetch``), placed before the start date, not in the shop, shop unreachable."""
    connections = Connection.objects.filter(account=request.auth)
    if filters.connection is not None:
        connections = connections.filter(pk=get_connection(request.auth, filters.connection).pk)
    return explain.explain_order(list(connections), filters.number, ask_source=filters.ask_shop)


@api.post(
    "/connections/{connection_id}/fetch",
    response={202: RecordDetailOut, 404: ErrorOut, 502: ErrorOut, **COMMON_ERRORS},
    operation_id="fetch_order",
    tags=["records"],
)
def fetch_order(request: HttpRequest, connection_id: int, body: OrderFetchIn) -> Any:
    """Fetch an order Koppel has not seen yet from the shop and book it (the checks and the start date
    apply). Asking again returns the same record: nothing is booked twice."""
    connection = get_connection(request.auth, connection_id)
    try:
        record = explain.fetch_and_book(connection, body.order_id.strip())
    except ConnectorError as exc:
        raise ApiError(502, str(exc.code), exc.message) from None
    return Status(202, get_record(request.auth, record.pk))


# Staff: accounts and API tokens ----------------------------------------------------------------------------
def require_staff(request: HttpRequest) -> None:
    if not is_staff_request(request):
        raise ApiError(
            403,
            "FORBIDDEN",
            "Only a staff token may manage accounts and tokens: a token of an account whose members are all "
            "staff users.",
        )


def get_account(account_id: int) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ApiError(404, "NOT_FOUND", f"There is no account {account_id}.")
    return account


@api.post(
    "/accounts", response={201: AccountOut, **STAFF_ERRORS}, operation_id="create_account", tags=["staff"]
)
def create_account(request: HttpRequest, body: AccountIn) -> Any:
    """Staff: a new account (a merchant). Give it a token with ``POST /api/accounts/{id}/tokens``."""
    require_staff(request)
    data = body.model_dump()
    return Status(201, Account.objects.create(**{**data, "shop_country": data["shop_country"].upper()}))


@api.get(
    "/accounts",
    response={200: list[AccountOut], **STAFF_ERRORS},
    operation_id="list_accounts",
    tags=["staff"],
)
def list_accounts(request: HttpRequest) -> Any:
    """Staff: every account."""
    require_staff(request)
    return list(Account.objects.order_by("id"))


@api.post(
    "/accounts/{account_id}/tokens",
    response={201: TokenCreatedOut, 404: ErrorOut, **STAFF_ERRORS},
    operation_id="create_token",
    tags=["staff"],
)
def create_token(request: HttpRequest, account_id: int, body: TokenIn) -> Any:
    """Staff: a new API token for the account. The token is in this answer only; Koppel keeps its hash."""
    require_staff(request)
    row, token = ApiToken.issue(get_account(account_id), body.name)
    return Status(201, {**TokenOut.from_orm(row).model_dump(), "token": token})


@api.get(
    "/accounts/{account_id}/tokens",
    response={200: list[TokenOut], 404: ErrorOut, **STAFF_ERRORS},
    operation_id="list_tokens",
    tags=["staff"],
)
def list_tokens(request: HttpRequest, account_id: int) -> Any:
    """Staff: the account's API tokens (name, hint and last use; never the token)."""
    require_staff(request)
    return list(get_account(account_id).api_tokens.order_by("id"))


@api.delete(
    "/tokens/{token_id}",
    response={204: None, 404: ErrorOut, **STAFF_ERRORS},
    operation_id="revoke_token",
    tags=["staff"],
)
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    """Staff: revoke an API token; requests with it are refused (401) from now on."""
    require_staff(request)
    deleted, _ = ApiToken.objects.filter(pk=token_id).delete()
    if not deleted:
        raise ApiError(404, "NOT_FOUND", f"There is no token {token_id}.")
    return Status(204, None)


# Everything else under /api/ answers in JSON too -----------------------------------------------------------
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _refusal(request: HttpRequest, allowed: str) -> HttpResponse:
    response = error_response(request, 405, "METHOD_NOT_ALLOWED", f"Use {allowed} here.")
    response["Allow"] = allowed
    return response


def _not_allowed(path: str, *methods: str) -> None:
    """Answer every other method on ``path`` with 405 and ``Allow``, and ``OPTIONS`` with 204 and the same
    ``Allow``. The handler declares the path's parameters (django-ninja reads them from the signature)."""
    allowed = ", ".join([*methods, "OPTIONS"])

    def refuse(request: HttpRequest, **ids: str) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Allow"] = allowed
            return response
        return _refusal(request, allowed)

    names = re.findall(r"{(\w+)}", path)
    refuse.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str) for name in names]
    )
    others = [method for method in [*METHODS, "OPTIONS"] if method not in methods]
    api.api_operation(others, path, auth=None, include_in_schema=False, operation_id=f"refuse {path}")(refuse)


@api.get(
    "/records/{record_id}/ubl",
    response={200: None, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    operation_id="get_record_ubl",
    tags=["records"],
)
def record_ubl(request: HttpRequest, record_id: int) -> HttpResponse:
    """The booked invoice or credit note as a UBL 2.1 / Peppol BIS Billing 3.0 e-invoice (409 when the record
    has none: not booked, a marketplace invoice, or the account's company details are incomplete)."""
    from koppel.documents.ubl import UblError
    from koppel.sync import einvoice

    record = get_record(request.auth, record_id)
    try:
        body = einvoice.einvoice(record)
    except (einvoice.NoEInvoice, UblError) as exc:
        raise ApiError(409, "NO_EINVOICE", str(exc)) from None
    return einvoice.download(record, body)


_not_allowed("/connections", "GET", "POST")
_not_allowed("/connections/{connection_id}", "GET", "PATCH", "DELETE")
_not_allowed("/connections/{connection_id}/test", "POST")
_not_allowed("/accounts", "GET", "POST")
_not_allowed("/accounts/{account_id}/tokens", "GET", "POST")
_not_allowed("/tokens/{token_id}", "DELETE")
_not_allowed("/records", "GET")
_not_allowed("/records/{record_id}", "GET")
_not_allowed("/records/{record_id}/process", "POST")
_not_allowed("/records/{record_id}/ubl", "GET")
_not_allowed("/connections/{connection_id}/backfills", "POST")
_not_allowed("/backfills/{backfill_id}", "GET")
_not_allowed("/backfills/{backfill_id}/resume", "POST")
_not_allowed("/orders/explain", "GET")
_not_allowed("/connections/{connection_id}/fetch", "POST")


api.add_router("", marketplace_router)
#: The paths of other apps' routers come before the answer to every unknown path.
fallback = Router()


@fallback.api_operation([*METHODS, "OPTIONS"], "/", auth=None, include_in_schema=False)
def root(request: HttpRequest) -> HttpResponse:
    return error_response(request, 404, "NOT_FOUND", "There is no such API endpoint; see /api/docs.")


@fallback.api_operation([*METHODS, "OPTIONS"], "/{path:rest}", auth=None, include_in_schema=False)
def unknown_path(request: HttpRequest, rest: str) -> HttpResponse:
    return root(request)


api.add_router("", fallback)
