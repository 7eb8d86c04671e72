"""The two shapes every external system takes: a source of orders and a target for invoices.

A connector lives in ``koppel/connectors/<kind>/`` with ``client.py`` (HTTP), ``mapping.py`` (pure
translation to or from the canonical documents), ``sandbox.py`` or a ``sandbox/`` package (the simulation)
and ``connector.py``, which defines a :class:`SourceConnector` or :class:`TargetConnector` subclass. The
registry finds it there; the pipeline only speaks these interfaces. Beyond orders and invoices a source may
supply refunds (``supports_refunds``) and its own invoices (``supplies_invoices``), a target may book credit
notes and purchase invoices (``books_purchases``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from koppel.documents.marketplace import InvoiceFiles, InvoiceSummary, LineType
from koppel.documents.model import Invoice, Order, Party
from koppel.documents.purchases import PurchaseInvoice
from koppel.documents.refunds import Refund

from .errors import NotFound, OrderInvalid
from .http import CallLog

#: How far back :meth:`SourceConnector.find_order_by_number` reads by default, without a ``since``.
FIND_ORDER_LOOKBACK = timedelta(days=90)


def same_order_number(a: str, b: str) -> bool:
    """Whether two order numbers are the same as a merchant means it: case, spaces and a leading ``#``
    (Shopify's ``#1001``) aside."""
    return bool(a.strip()) and a.strip().lstrip("#").casefold() == b.strip().lstrip("#").casefold()


class ConnectorSettings(BaseModel):
    """Per-connection settings a connector declares; validated when a connection is saved. Declare each
    with :func:`setting`, so the Configuration tab and the API schema can show it."""

    model_config = ConfigDict(extra="forbid")


def setting(
    default: Any,
    label: str,
    help_text: str = "",
    *,
    choices_from: str = "",
    choice_labels: Mapping[str, str] | None = None,
) -> Any:
    """A settings field with its label and help text (English, marked with ``koppel.documents.i18n.mark``).

    ``choices_from`` names a method of the connector whose answer lists the choices (``"layouts"``: the
    invoice layouts the administration has); ``choice_labels`` names the values of a ``Literal``."""
    extra: dict[str, Any] = {}
    if choices_from:
        extra["choices_from"] = choices_from
    if choice_labels:
        extra["choice_labels"] = dict(choice_labels)
    return Field(default, title=label, description=help_text or None, json_schema_extra=extra or None)


@dataclass(frozen=True, slots=True)
class WebhookNotice:
    """What a verified webhook tells us: which order changed, and, for a platform that sends the whole
    order in its signed webhook, the order itself (``payload``) with the platform's modification time
    (``modified_at``), so the worker need not fetch it again."""

    event: str
    order_id: str
    delivery_id: str = ""
    payload: dict[str, Any] | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BackfillPage:
    """One page of past orders: raw payloads, the cursor of the next page (``None`` after the last), and the
    number of orders in the whole range when the platform says."""

    orders: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    method: str
    path: str
    json: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "json": self.json}


@dataclass(frozen=True, slots=True)
class Debtor:
    id: str
    email: str
    name: str
    #: Whether the debtor's invoices carry prices incl. VAT (``None`` when the target does not say).
    prices_include_vat: bool | None = None


@dataclass(frozen=True, slots=True)
class BookedInvoice:
    id: str
    number: str = ""
    reference: str = ""
    #: Something the merchant should know although the invoice was booked (e.g. sending it failed).
    note: str = ""
    #: Saved as a draft: not final, no number yet (the merchant finalises it in the target).
    draft: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """An account of the target's chart of accounts (a bookkeeping target's grootboekrekening)."""

    id: str
    name: str
    code: str = ""
    #: The target's kind of account (e.g. Moneybird's ``expenses``, ``revenue``).
    account_type: str = ""


@dataclass(frozen=True, slots=True)
class CredentialField:
    """How a credential is asked for: the dashboard's and the command's prompt, and its help text.
    ``secret`` fields are write-only: never shown again once given."""

    name: str
    label: str
    help: str = ""
    secret: bool = True


def _default_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@dataclass(frozen=True, slots=True)
class StoredToken:
    value: str
    expires_at: datetime


class TokenStore(Protocol):
    """Keeps a connector's access token between calls, workers and processes."""

    def get(self) -> StoredToken | None: ...

    def put(self, token: StoredToken | None) -> None: ...


class MemoryTokenStore:
    """A token kept by one connector object (previews, tests, a connection test before saving)."""

    def __init__(self) -> None:
        self.token: StoredToken | None = None

    def get(self) -> StoredToken | None:
        return self.token

    def put(self, token: StoredToken | None) -> None:
        self.token = token


class Credentialed:
    """The secrets a connector is given: every field of ``credential_fields`` (the primary set) or of one
    of ``credential_alternatives`` (e.g. Shopify's access token, or an app's client ID and secret).

    Labels and help texts are English, marked with ``koppel.documents.i18n.mark``; the dashboard translates
    them."""

    #: Templates read a connector class's labels; they must not call (instantiate) it.
    do_not_call_in_templates: ClassVar[bool] = True
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    @classmethod
    def load_settings(cls, settings: ConnectorSettings | Mapping[str, Any] | None) -> Any:
        """The connection's settings for this connector, validated (defaults for what is not given)."""
        if isinstance(settings, cls.settings_model):
            return settings
        return cls.settings_model.model_validate(dict(settings or {}))

    #: Names of the secrets the connection stores (encrypted) for this connector.
    credential_fields: ClassVar[tuple[str, ...]]
    credential_alternatives: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: ``name: (label, help text)`` of each credential; a missing one is labelled after its name.
    credential_help: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: A name for each set of :meth:`credential_sets`, offered as a choice when there are several.
    credential_set_labels: ClassVar[tuple[str, ...]] = ()
    #: Credentials that are no secret (a user name, a client ID): shown when the side is reconnected.
    public_credentials: ClassVar[frozenset[str]] = frozenset()
    #: How the system's address is asked for, with an example.
    url_label: ClassVar[str] = "Address"
    url_help: ClassVar[str] = ""

    @classmethod
    def credential_field(cls, name: str) -> CredentialField:
        label, help_text = cls.credential_help.get(name, (_default_label(name), ""))
        return CredentialField(name, label, help_text, secret=name not in cls.public_credentials)

    @classmethod
    def missing_credentials(cls, credentials: Mapping[str, str]) -> str:
        """What is missing, in words naming the fields by their labels; empty when complete."""
        if cls.credentials_complete(credentials):
            return ""
        sets = [
            " and ".join(cls.credential_field(n).label for n in fields) for fields in cls.credential_sets()
        ]
        return "needs " + ", or ".join(sets)

    @classmethod
    def credential_sets(cls) -> tuple[tuple[str, ...], ...]:
        """The sets of fields the connector accepts, the primary one first."""
        return (cls.credential_fields, *cls.credential_alternatives)

    @classmethod
    def credentials_complete(cls, credentials: Mapping[str, str]) -> bool:
        """Whether ``credentials`` hold a value for every field of one of the sets."""
        return any(all(credentials.get(name) for name in fields) for fields in cls.credential_sets())


class SourceConnector(ABC, Credentialed):
    """A webshop or marketplace that reports orders."""

    kind: ClassVar[str]
    label: ClassVar[str]
    #: Every status the platform knows, and the ones booked unless the connection says otherwise.
    statuses: ClassVar[tuple[str, ...]]
    default_eligible_statuses: ClassVar[tuple[str, ...]]
    #: Statuses that mean the whole order was cancelled (skipped with ORDER_CANCELLED, never booked).
    cancelled_statuses: ClassVar[tuple[str, ...]] = ()
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    #: Requests a second a backfill may make (the platform's own limit, with room for the live traffic).
    backfill_requests_per_second: ClassVar[float] = 2.0
    #: How the merchant points the platform's webhooks at Koppel (shown beside the webhook address and
    #: secret); English, marked with ``koppel.documents.i18n.mark``.
    webhook_steps: ClassVar[str] = ""

    def __init__(
        self,
        *,
        url: str,
        credentials: Mapping[str, str],
        log: CallLog | None = None,
        settings: ConnectorSettings | Mapping[str, Any] | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.log = log if log is not None else CallLog()
        self.settings = self.load_settings(settings)
        #: Where an access token obtained with the credentials is kept, shared by every process of the
        #: connection (a platform that blocks clients asking a token per call, such as bol.com, needs it).
        self.token_store = token_store if token_store is not None else MemoryTokenStore()

    def close(self) -> None:  # an optional hook, not an abstract method
        """Release connections; adapters with an HTTP client override this."""

    def test_connection(self) -> None:
        """Raise ``AuthFailed`` or ``Unavailable`` when the credentials or the shop do not work. The default
        asks for the orders changed from now on: one cheap, authenticated call."""
        next(iter(self.iter_orders(datetime.now(UTC))), None)

    @abstractmethod
    def fetch_order(self, order_id: str) -> dict[str, Any]:
        """The order's raw payload, exactly as the platform returned it."""

    @staticmethod
    def payload_complete(payload: Mapping[str, Any]) -> bool:
        """Whether a payload a list page or webhook gave holds all the mapping reads; ``False`` makes the
        worker fetch the order (Shopify: a gift-card order needs its transactions)."""
        return True

    @abstractmethod
    def iter_orders(self, updated_since: datetime) -> Iterator[dict[str, Any]]:
        """Raw payloads of orders changed since ``updated_since``, oldest change first, page by page."""

    def swept_order_ids(self, since: datetime) -> Iterator[str]:
        """The ids of records the daily sweep should make sure exist: orders the regular poll may no longer
        see because they left its list (bol.com keeps a handled order in the order list for 48 hours only,
        its shipments for 3 months). The default is none: a shop whose poll reaches every order needs no
        sweep."""
        return iter(())

    @abstractmethod
    def backfill_page(self, since: datetime, until: datetime | None, cursor: str | None) -> BackfillPage:
        """One page of the orders placed in ``[since, until)`` (``until`` ``None``: up to now), starting at
        ``cursor`` (``None``: the first page). The cursor is stored after each page, so a backfill resumes
        where it stopped; orders may come twice (the records make that harmless) but none may be skipped."""

    def find_order_by_number(self, number: str, since: datetime | None = None) -> dict[str, Any] | None:
        """The raw payload of the order the merchant knows by ``number`` (see :func:`same_order_number`),
        or ``None`` when the shop has none. The default reads every order changed since ``since`` (default:
        :data:`FIND_ORDER_LOOKBACK` ago); a platform that can search overrides it."""
        for payload in self.iter_orders(since or datetime.now(UTC) - FIND_ORDER_LOOKBACK):
            if same_order_number(self.order_number(payload), number):
                return payload
        return None

    def _fetch_if_numbered(self, number: str) -> dict[str, Any] | None:
        """The order whose id is ``number`` and whose number is ``number`` too (shops number orders by their
        id unless told otherwise): one cheap call before a search or a scan."""
        digits = number.strip().lstrip("#")
        if not digits.isdigit():
            return None
        try:
            payload = self.fetch_order(digits)
        except NotFound:
            return None
        return payload if same_order_number(self.order_number(payload), number) else None

    @classmethod
    def order_number(cls, payload: Mapping[str, Any]) -> str:
        """The number the merchant knows the order by, as :meth:`parse_order` reads it (empty when the
        payload cannot be read)."""
        try:
            return cls.parse_order(payload).number
        except (OrderInvalid, ValueError, TypeError, KeyError):
            return ""

    @staticmethod
    @abstractmethod
    def parse_order(payload: Mapping[str, Any], settings: Any = None) -> Order:
        """Map a raw payload into a canonical order; raise ``OrderInvalid`` naming the bad field.
        ``settings`` are the connection's source settings (a platform without VAT in its data takes the
        rates from them); ``None`` means the defaults."""

    @staticmethod
    @abstractmethod
    def order_id(payload: Mapping[str, Any]) -> str:
        """The platform's id of the order in a raw payload (before full validation)."""

    @staticmethod
    def modified_at(payload: Mapping[str, Any]) -> datetime | None:
        """When the platform last changed the order in ``payload``, by its own clock: how a stored payload
        and a webhook's body are told apart as older and newer (``koppel.sync.services``). ``None``: the
        platform gives no such time (its notices are then looked at as if they carried no order)."""
        return None

    @staticmethod
    @abstractmethod
    def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Constant-time check of the webhook's signature over the raw body."""

    def check_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """The webhook's signature checked by this connection's connector, which may call the platform
        (bol.com signs with keys it publishes behind its API, read with the connection's credentials).
        The default is the static :meth:`verify_webhook`."""
        return self.verify_webhook(body, headers, secret)

    @staticmethod
    def is_ping(body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether the request is the platform's unsigned "is this URL alive" call (WooCommerce sends one
        when a webhook is created); it is answered 200 and nothing else happens."""
        return False

    @staticmethod
    @abstractmethod
    def parse_webhook(body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """Read a verified webhook; ``None`` for an event that concerns no order to book (e.g. a deleted
        order), raise ``ValueError`` when it is not understood."""

    # -- the marketplace's own invoices to the merchant: only marketplaces (``supplies_invoices``) ---------

    #: Whether the source invoices the merchant itself (bol.com's commission and costs).
    supplies_invoices: ClassVar[bool] = False

    def marketplace_invoices(self, since: date, until: date) -> Iterator[InvoiceSummary]:
        """The marketplace's invoices issued for periods in ``[since, until]``, each once."""
        raise NotImplementedError(f"{self.label} sends no invoices of its own")

    def marketplace_invoice_files(self, summary: InvoiceSummary) -> InvoiceFiles:
        """The invoice's PDF, UBL and whole specification."""
        raise NotImplementedError(f"{self.label} sends no invoices of its own")

    @classmethod
    def marketplace_order_number(cls, record_number: str) -> str:
        """The order number the marketplace's invoices name for a record's order number (bol.com's
        shipment records are ``<order>-<shipment>``)."""
        return record_number

    @classmethod
    def line_type(cls, code: str) -> LineType:
        """What a line type of the marketplace's invoices is (an unknown code: ``known`` is ``False``)."""
        return LineType(code, code, code, "other", known=False)

    @staticmethod
    def line_type_codes() -> list[str]:
        """Every line type the connector knows (the ledger settings offer each)."""
        return []

    # -- refunds and returns: credit notes (``supports_refunds``) --------------------------------------------

    #: Whether the platform has refunds (or returns, or cancellations after invoicing) to credit.
    supports_refunds: ClassVar[bool] = False

    def refunds_of(self, payload: Mapping[str, Any]) -> list[Refund]:
        """The refunds an order's payload shows (Shopify's ``refunds``; bol.com's items cancelled after the
        order was invoiced). The default is none."""
        return []

    def refund_hint(self, payload: Mapping[str, Any]) -> bool:
        """Whether the order's payload shows refunds to fetch (``fetch_refunds`` is then called). The
        default: :meth:`refunds_of` finds some."""
        return bool(self.refunds_of(payload))

    def fetch_refunds(self, order_id: str) -> list[Refund]:
        """Every refund of the order, fetched (WooCommerce reads ``/orders/{id}/refunds``). The default
        reads them from the order's payload."""
        return self.refunds_of(self.fetch_order(order_id))

    def iter_refunds(self, since: datetime) -> Iterator[Refund]:
        """Refunds made since ``since`` that no order notice names (bol.com's handled returns), polled with
        the orders. The default is none: refunds show in their orders."""
        return iter(())


class TargetConnector(ABC, Credentialed):
    """An invoicing or accounting system that receives debtors and invoices."""

    kind: ClassVar[str]
    label: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    #: The system's own API address, offered when a connection is made.
    production_url: ClassVar[str] = ""
    #: VAT rates assumed by ``koppel preview`` when it may not ask the target.
    default_vat_rates: ClassVar[frozenset[Decimal]] = frozenset()

    def __init__(
        self,
        *,
        url: str,
        credentials: Mapping[str, str],
        settings: ConnectorSettings | Mapping[str, Any] | None = None,
        log: CallLog | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.settings = self.load_settings(settings)
        self.log = log if log is not None else CallLog()

    def close(self) -> None:  # an optional hook, not an abstract method
        """Release connections; adapters with an HTTP client override this."""

    @abstractmethod
    def test_connection(self) -> None:
        """Raise ``AuthFailed`` or ``Unavailable`` when the credentials or the system do not work."""

    @abstractmethod
    def vat_rates(self) -> frozenset[Decimal]:
        """The VAT percentages the administration has."""

    @abstractmethod
    def layouts(self) -> list[Layout]:
        """The invoice layouts the merchant can choose from."""

    @abstractmethod
    def find_debtor(self, party: Party) -> Debtor | None:
        """The existing debtor for this customer (matched by e-mail), if any."""

    @abstractmethod
    def create_debtor(self, invoice: Invoice) -> Debtor:
        """Create the debtor for the invoice's customer. Existing debtors are never modified."""

    @abstractmethod
    def find_invoice(self, invoice: Invoice) -> BookedInvoice | None:
        """The invoice the target already has for this order, if any: one Koppel booked (found by what
        :meth:`create_invoice` writes, e.g. the reference) or one booked by hand with the order number as
        its reference."""

    @abstractmethod
    def create_invoice(self, invoice: Invoice, debtor: Debtor) -> BookedInvoice:
        """Create the invoice for ``debtor`` such that :meth:`find_invoice` finds it afterwards; then do what
        the connection's settings ask (e.g. e-mail it). A failure after the invoice exists is reported in
        ``BookedInvoice.note``, not raised: raising would make the pipeline look for, and find, the invoice
        and never do the rest."""

    @abstractmethod
    def invoice_pdf(self, booked: BookedInvoice) -> bytes:
        """The invoice as the customer sees it."""

    @classmethod
    @abstractmethod
    def planned_requests(cls, invoice: Invoice, settings: Any) -> list[PlannedRequest]:
        """Exactly what booking ``invoice`` for a new debtor sends, without calling anything."""

    # -- credit notes: the refunds of booked invoices -------------------------------------------------------

    def find_credit_note(self, credit: Invoice) -> BookedInvoice | None:
        """The credit note the target has with ``credit.order_number`` as its reference (see
        :func:`koppel.documents.refunds.credit_reference`), booked by Koppel or by hand."""
        raise NotImplementedError(f"{self.label} has no credit notes in Koppel yet")

    def create_credit_note(self, credit: Invoice, debtor: Debtor) -> BookedInvoice:
        """Book ``credit`` (``credit.is_credit_note``: positive amounts, ``credit_for``/``credit_for_id`` the
        invoice it credits) for ``debtor`` in the target's own way (a negative invoice referring to the
        original, the target's credit-note type, a credit invoice), such that :meth:`find_credit_note` finds
        it; then send it as the connection's settings say. Failures after it exists go in ``note``."""
        raise NotImplementedError(f"{self.label} has no credit notes in Koppel yet")

    @classmethod
    def planned_credit_requests(cls, credit: Invoice, settings: Any) -> list[PlannedRequest]:
        """Exactly what booking the credit note ``credit`` for a known debtor sends (``koppel preview``)."""
        return []

    # -- purchase invoices: only bookkeeping targets (``books_purchases``) -----------------------------------

    #: Whether the target keeps purchase invoices (costs), not only sales invoices.
    books_purchases: ClassVar[bool] = False

    def ledger_accounts(self) -> list[LedgerAccount]:
        """The accounts a purchase line can be booked on."""
        raise NotImplementedError(f"{self.label} books no purchase invoices")

    def find_purchase_invoice(self, invoice: PurchaseInvoice) -> BookedInvoice | None:
        """The purchase invoice the target already has from this supplier with this reference (the
        supplier's invoice number), booked by Koppel or by hand."""
        raise NotImplementedError(f"{self.label} books no purchase invoices")

    def create_purchase_invoice(self, invoice: PurchaseInvoice) -> BookedInvoice:
        """Book the purchase invoice (its supplier found by VAT number or name, or created; its
        attachments attached) such that :meth:`find_purchase_invoice` finds it afterwards."""
        raise NotImplementedError(f"{self.label} books no purchase invoices")
