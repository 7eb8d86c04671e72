"""What can go wrong talking to an external system, classified once so the pipeline only asks
"transient or permanent, and which code"."""

from __future__ import annotations

from typing import Literal

from koppel.documents.codes import Code

Side = Literal["source", "target"]


class ConnectorError(Exception):
    """Base of every failure an adapter reports. ``transient`` errors are retried with backoff."""

    transient: bool = False

    def __init__(self, message: str, *, side: Side, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.side = side
        self.retry_after = retry_after

    @property
    def code(self) -> Code:  # pragma: no cover - overridden
        return Code.INTERNAL_ERROR


class AuthFailed(ConnectorError):
    @property
    def code(self) -> Code:
        return Code.SOURCE_AUTH_FAILED if self.side == "source" else Code.TARGET_AUTH_FAILED


class TokenRefused(AuthFailed):
    """The API answered 401 to the access token sent (expired, revoked, never valid): a client that obtains
    its tokens itself renews it once and asks again."""


class NotFound(ConnectorError):
    @property
    def code(self) -> Code:
        return Code.SOURCE_ORDER_NOT_FOUND if self.side == "source" else Code.TARGET_REJECTED


class NothingToBook(ConnectorError):
    """The shop has the order, but no document of it to book, now or yet: a bol.com order that has not
    shipped (its invoices are made per shipment), or was cancelled whole. Raised by a lookup
    (``find_order_by_number``) so that "Where is order X?" can say so instead of "not in the shop"."""

    def __init__(self, message: str, *, order_number: str, cancelled: bool) -> None:
        super().__init__(message, side="source")
        self.order_number = order_number
        self.cancelled = cancelled

    @property
    def code(self) -> Code:
        return Code.ORDER_CANCELLED if self.cancelled else Code.STATUS_NOT_ELIGIBLE


class Rejected(ConnectorError):
    """The system understood the request and refused it (4xx validation). Never retried."""

    @property
    def code(self) -> Code:
        return Code.ORDER_INVALID if self.side == "source" else Code.TARGET_REJECTED


class Unavailable(ConnectorError):
    """Timeout, connection error or 5xx: worth retrying.

    ``outcome_unknown`` says the request may have reached the system and been carried out (a read timeout,
    a connection cut mid-answer, a 5xx after sending): for a create, Koppel must search before it creates
    again. A refused connection or a connect timeout never reached it."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        side: Side,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, side=side, retry_after=retry_after)
        self.outcome_unknown = outcome_unknown

    @property
    def code(self) -> Code:
        return Code.SOURCE_UNAVAILABLE if self.side == "source" else Code.TARGET_UNAVAILABLE


class RateLimited(Unavailable):
    """The system asked us to slow down; ``retry_after`` says for how long when it told us."""


class CredentialsUnreadable(ConnectorError):
    """The stored credentials cannot be decrypted by this process (other encryption keys than the process
    that saved them). Retried: a worker restarted with the right keys books the order."""

    transient = True

    @property
    def code(self) -> Code:
        return Code.CREDENTIALS_UNREADABLE


class OrderInvalid(ConnectorError):
    """The source's order payload cannot be mapped into a canonical order."""

    def __init__(self, message: str) -> None:
        super().__init__(message, side="source")

    @property
    def code(self) -> Code:
        return Code.ORDER_INVALID
