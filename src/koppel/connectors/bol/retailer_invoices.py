"""bol.com's own invoices to the retailer (commission, labels, FBB costs, turnover paid out; advertising)
through the Retailer API v10, read with a :class:`~koppel.connectors.bol.client.BolClient`.

- ``GET /retailer/invoices?period-start-date&period-end-date``: at most 31 days a call, so
  :meth:`BolInvoices.invoices` walks longer ranges in windows of 31 days (both ends included) and drops
  an invoice seen in an earlier window. Its dates are read whether bol writes ISO 8601 (v10's dates) or
  epoch seconds or milliseconds (the v5-era sample); an epoch is a moment, read as Amsterdam's date.
- ``GET /retailer/invoices/{id}`` as ``…v10+pdf``, ``…v10+xml`` (UBL 2.1; not in the v10 spec, bol's
  list still offers ``application/xml``) or ``…v10+json``; :func:`parse_ubl` reads the XML.
- ``GET /retailer/invoices/{id}/specification?page=N`` (25,000 lines a page) as JSON, read whole, or as
  Excel; a 404 means the invoice has no specification.

Amounts keep bol's sign: ``payable_amount`` > 0 the retailer owes bol, < 0 bol pays out. The invoice
buckets allow 24 calls a minute, so a call whose bucket is used up waits (``wait_max`` seconds at most,
with the client's ``sleep``) instead of raising ``RateLimited`` as the client does for longer waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

from koppel.connectors.errors import NotFound, RateLimited, Rejected

from .client import DEFAULT_RETRY_AFTER, BolClient
from .line_types import LineType, line_type

PDF = "application/vnd.retailer.v10+pdf"
XML = "application/vnd.retailer.v10+xml"
XLSX = "application/vnd.retailer.v10+openxmlformats-officedocument.spreadsheetml.sheet"
WINDOW_DAYS = 31
SPECIFICATION_PAGE_SIZE = 25_000
MAX_SPECIFICATION_PAGES = 1000
WAIT_MAX = 90.0
T = TypeVar("T")
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def _amsterdam() -> tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=1))


AMSTERDAM = _amsterdam()


@dataclass(frozen=True, slots=True)
class BolInvoiceSummary:
    invoice_id: str
    invoice_type: str
    issue_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str
    line_extension_amount: Decimal | None
    tax_exclusive_amount: Decimal | None
    tax_inclusive_amount: Decimal | None
    payable_amount: Decimal | None
    invoice_media_types: tuple[str, ...] = ()
    specification_media_types: tuple[str, ...] = ()

    @property
    def is_payout(self) -> bool:
        """bol pays the retailer (a negative ``payableAmount``)."""
        return self.payable_amount is not None and self.payable_amount < 0


@dataclass(frozen=True, slots=True)
class SpecificationLine:
    line_id: str
    line_type_code: str
    invoice_line_ref: str | None
    order_id: str | None
    ean: str | None
    description: str | None
    quantity: Decimal | None
    amount: Decimal | None
    """Excl. VAT, bol's sign."""
    vat_amount: Decimal | None
    vat_rate: Decimal | None
    properties: dict[str, str] = field(default_factory=dict)
    """Every ``AdditionalItemProperty`` by name (Bestelnummer, EAN, Track and Trace, Casenummer, ...)."""

    @property
    def line_type(self) -> LineType:
        return line_type(self.line_type_code)


@dataclass(frozen=True, slots=True)
class UblParty:
    name: str | None
    vat_number: str | None
    company_id: str | None
    """The KvK number (``PartyLegalEntity/CompanyID``, else a ``PartyIdentification`` of scheme KVK)."""
    street: str | None
    building_number: str | None
    postal_zone: str | None
    city: str | None
    country: str | None


@dataclass(frozen=True, slots=True)
class UblLine:
    line_id: str | None
    line_type_code: str
    description: str | None
    quantity: Decimal | None
    amount: Decimal | None
    vat_amount: Decimal | None
    vat_rate: Decimal | None
    tax_category: str | None

    @property
    def line_type(self) -> LineType:
        return line_type(self.line_type_code)


@dataclass(frozen=True, slots=True)
class UblInvoice:
    invoice_id: str | None
    issue_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str | None
    supplier: UblParty | None
    customer: UblParty | None
    lines: tuple[UblLine, ...]
    tax_amount: Decimal | None
    line_extension_amount: Decimal | None
    tax_exclusive_amount: Decimal | None
    tax_inclusive_amount: Decimal | None
    payable_amount: Decimal | None


# -- reading values --------------------------------------------------------------------------------------


def parse_date(value: Any) -> date | None:
    """An ISO date (``2021-03-01``, ``2021-03-01+01:00``), an ISO date-time, or epoch seconds or ms."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        number = float(value)
        seconds = number / 1000 if abs(number) > 10**11 else number
        return datetime.fromtimestamp(seconds, AMSTERDAM).date()
    text = str(value).strip()
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.astimezone(AMSTERDAM).date() if moment.tzinfo else moment.date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _key(data: Any, *names: str) -> Any:
    """``data[name]`` for the first of ``names`` present, in any case (bol's JSON changed case over time)."""
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    return next((lowered[n.lower()] for n in names if n.lower() in lowered), None)


def _value(data: Any) -> Any:
    """A UBL-as-JSON value: ``{"value": x}``, ``{"amount": x}``, ``[{"value": x}]`` or ``x`` itself."""
    if isinstance(data, list):
        return _value(data[0]) if data else None
    if isinstance(data, dict):
        return _value(_key(data, "value", "amount", "_value"))
    return data


def _first(data: Any) -> Any:
    return (data[0] if data else None) if isinstance(data, list) else data


def _decimal(data: Any) -> Decimal | None:
    raw = _value(data)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(data: Any) -> str | None:
    raw = _value(data)
    return str(raw).strip() if raw not in (None, "") else None


# -- the list ----------------------------------------------------------------------------------------------


def windows(since: date, until: date, days: int = WINDOW_DAYS) -> Iterator[tuple[date, date]]:
    """``(start, end)`` windows of at most ``days`` days (both included) covering ``since``..``until``."""
    start = since
    while start <= until:
        end = min(start + timedelta(days=days - 1), until)
        yield start, end
        start = end + timedelta(days=1)


def _media_types(data: Any) -> tuple[str, ...]:
    found = _key(data, "availableMediaTypes")
    return tuple(str(t) for t in found) if isinstance(found, list) else ()


def parse_summary(raw: dict[str, Any]) -> BolInvoiceSummary:
    """One ``invoiceListItems`` entry."""
    totals, period = _key(raw, "legalMonetaryTotal") or {}, _key(raw, "invoicePeriod") or {}
    payable = _key(totals, "payableAmount")
    return BolInvoiceSummary(
        invoice_id=str(_key(raw, "invoiceId") or ""),
        invoice_type=str(_key(raw, "invoiceType") or ""),
        issue_date=parse_date(_key(raw, "issueDate")),
        period_start=parse_date(_key(period, "startDate")),
        period_end=parse_date(_key(period, "endDate")),
        currency=str(_key(payable, "currencyID", "currency") or "EUR"),
        line_extension_amount=_decimal(_key(totals, "lineExtensionAmount")),
        tax_exclusive_amount=_decimal(_key(totals, "taxExclusiveAmount")),
        tax_inclusive_amount=_decimal(_key(totals, "taxInclusiveAmount")),
        payable_amount=_decimal(payable),
        invoice_media_types=_media_types(_key(raw, "invoiceMediaTypes")),
        specification_media_types=_media_types(_key(raw, "specificationMediaTypes")),
    )


# -- the specification -------------------------------------------------------------------------------------


def _properties(item: Any) -> dict[str, str]:
    found = _key(item, "AdditionalItemProperty")
    out: dict[str, str] = {}
    for n, prop in enumerate(found if isinstance(found, list) else [found] if found else []):
        value = _text(_key(prop, "Value"))
        if value is not None:
            out[_text(_key(prop, "Name")) or f"property{n}"] = value
    return out


def parse_specification_line(raw: dict[str, Any]) -> SpecificationLine:
    """One transaction of ``invoiceSpecification`` (the v10 shape and the v6-era variants)."""
    line_id = str(_key(raw, "id") or "")
    parts = line_id.split("#")
    item = _key(raw, "item") or {}
    props = _properties(item)
    code = _text(_key(item, "Name")) or (parts[-1] if len(parts) > 1 else "")
    tax = _first(_key(raw, "taxTotal"))
    tax = _key(tax, "TaxAmount") if _key(tax, "TaxAmount") is not None else tax
    category = _first(_key(item, "ClassifiedTaxCategory"))
    by_name = {k.lower().replace(" ", ""): v for k, v in props.items()}
    guessed_ean = parts[1] if len(parts) == 3 and parts[1].isdigit() else None
    amount = _decimal(_key(raw, "lineExtensionAmount"))
    return SpecificationLine(
        line_id=line_id,
        line_type_code=code.strip().upper(),
        invoice_line_ref=_text(_key(raw, "invoiceLineRef")),
        order_id=by_name.get("bestelnummer")
        or (parts[0] if len(parts) == 3 and parts[0].isdigit() else None),
        ean=by_name.get("ean") or guessed_ean,
        description=_text(_key(item, "Description")),
        quantity=_decimal(_key(raw, "invoicedQuantity")),
        amount=amount if amount is not None else _decimal(_key(_key(raw, "price"), "PriceAmount")),
        vat_amount=_decimal(tax),
        vat_rate=_decimal(_key(category, "Percent")),
        properties=props,
    )


# -- the UBL invoice ---------------------------------------------------------------------------------------


def _children(element: Any, name: str) -> list[Any]:
    """The child elements called ``name``, in any namespace."""
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child(element: Any, *path: str) -> Any:
    for name in path:
        found = _children(element, name) if element is not None else []
        element = found[0] if found else None
    return element


def _xml_text(element: Any, *path: str) -> str | None:
    found = _child(element, *path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _xml_decimal(element: Any, *path: str) -> Decimal | None:
    return _decimal(_xml_text(element, *path))


def _company_id(party: Any) -> str | None:
    legal = _xml_text(party, "PartyLegalEntity", "CompanyID")
    if legal:
        return legal
    for ident in _children(party, "PartyIdentification"):
        found = _child(ident, "ID")
        if found is not None and "KVK" in (found.get("schemeID") or "").upper():
            return (found.text or "").strip() or None
    return None


def _party(root: Any, role: str) -> UblParty | None:
    party = _child(root, role, "Party")
    if party is None:
        return None
    address = _child(party, "PostalAddress")
    return UblParty(
        name=_xml_text(party, "PartyName", "Name")
        or _xml_text(party, "PartyLegalEntity", "RegistrationName"),
        vat_number=_xml_text(party, "PartyTaxScheme", "CompanyID"),
        company_id=_company_id(party),
        street=_xml_text(address, "StreetName"),
        building_number=_xml_text(address, "BuildingNumber"),
        postal_zone=_xml_text(address, "PostalZone"),
        city=_xml_text(address, "CityName"),
        country=_xml_text(address, "Country", "IdentificationCode"),
    )


def _ubl_line(line: Any) -> UblLine:
    item = _child(line, "Item")
    return UblLine(
        line_id=_xml_text(line, "ID"),
        line_type_code=(_xml_text(item, "Name") or "").upper(),
        description=_xml_text(item, "Description"),
        quantity=_xml_decimal(line, "InvoicedQuantity"),
        amount=_xml_decimal(line, "LineExtensionAmount"),
        vat_amount=_xml_decimal(line, "TaxTotal", "TaxAmount"),
        vat_rate=_xml_decimal(item, "ClassifiedTaxCategory", "Percent"),
        tax_category=_xml_text(item, "ClassifiedTaxCategory", "ID"),
    )


def parse_ubl(xml: bytes) -> UblInvoice:
    """bol's UBL 2.1 invoice, whatever its namespace prefixes; ``Rejected`` when it is not XML."""
    try:
        root = etree.fromstring(xml, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise Rejected(f"bol.com's invoice is not valid XML: {exc}", side="source") from None
    totals = _child(root, "LegalMonetaryTotal")
    lines = _children(root, "InvoiceLine")
    return UblInvoice(
        invoice_id=_xml_text(root, "ID"),
        issue_date=parse_date(_xml_text(root, "IssueDate")),
        period_start=parse_date(_xml_text(root, "InvoicePeriod", "StartDate")),
        period_end=parse_date(_xml_text(root, "InvoicePeriod", "EndDate")),
        currency=_xml_text(root, "DocumentCurrencyCode"),
        supplier=_party(root, "AccountingSupplierParty"),
        customer=_party(root, "AccountingCustomerParty"),
        lines=tuple(_ubl_line(line) for line in lines),
        tax_amount=_xml_decimal(root, "TaxTotal", "TaxAmount"),
        line_extension_amount=_xml_decimal(totals, "LineExtensionAmount"),
        tax_exclusive_amount=_xml_decimal(totals, "TaxExclusiveAmount"),
        tax_inclusive_amount=_xml_decimal(totals, "TaxInclusiveAmount"),
        payable_amount=_xml_decimal(totals, "PayableAmount"),
    )


# -- the calls ---------------------------------------------------------------------------------------------


class BolInvoices:
    """bol's invoices of one retailer account, read through ``client``."""

    def __init__(
        self, client: BolClient, *, wait_max: float = WAIT_MAX, page_size: int = SPECIFICATION_PAGE_SIZE
    ) -> None:
        self.client, self.wait_max, self.page_size = client, wait_max, page_size

    def _patiently(self, call: Callable[[], T]) -> T:
        """``call()``, waiting out a used-up rate limit up to ``wait_max`` seconds in all."""
        waited = 0.0
        while True:
            try:
                return call()
            except RateLimited as exc:
                wait = exc.retry_after or DEFAULT_RETRY_AFTER
                if waited + wait > self.wait_max:
                    raise
                self.client.sleep(wait)
                waited += wait

    def _path(self, invoice_id: str, rest: str = "") -> str:
        return self.client.retailer(f"invoices/{quote(str(invoice_id), safe='')}{rest}")

    def _download(self, path: str, accept: str, params: dict[str, Any] | None = None) -> bytes:
        body, content_type = self._patiently(lambda: self.client.get_bytes(path, accept, params))
        if not content_type.lower().startswith(accept):
            raise Rejected(f"bol.com answered {content_type or 'nothing'} instead of {accept}", side="source")
        return body

    def listing(self, start: date, end: date) -> list[BolInvoiceSummary]:
        """One call: the invoices of a period of at most 31 days."""
        params = {"period-start-date": start.isoformat(), "period-end-date": end.isoformat()}
        data = self._patiently(lambda: self.client.get_json(self.client.retailer("invoices"), params))
        rows = _key(data, "invoiceListItems")
        return [parse_summary(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def invoices(self, since: date, until: date) -> Iterator[BolInvoiceSummary]:
        """Every invoice from ``since`` to ``until`` (both included), once, walking 31-day windows."""
        seen: set[str] = set()
        for start, end in windows(since, until):
            for summary in self.listing(start, end):
                if summary.invoice_id not in seen:
                    seen.add(summary.invoice_id)
                    yield summary

    def pdf(self, invoice_id: str) -> bytes:
        return self._download(self._path(invoice_id), PDF)

    def ubl_xml(self, invoice_id: str) -> bytes:
        return self._download(self._path(invoice_id), XML)

    def ubl(self, invoice_id: str) -> UblInvoice:
        return parse_ubl(self.ubl_xml(invoice_id))

    def ubl_json(self, invoice_id: str) -> dict[str, Any]:
        return self._patiently(lambda: self.client.get_json(self._path(invoice_id)))

    def specification_xlsx(self, invoice_id: str, page: int = 1) -> bytes:
        return self._download(self._path(invoice_id, "/specification"), XLSX, {"page": page})

    def specification(self, invoice_id: str) -> list[SpecificationLine] | None:
        """Every line of every page; ``None`` when bol has no specification of the invoice (404)."""
        path, lines = self._path(invoice_id, "/specification"), []
        for page in range(1, MAX_SPECIFICATION_PAGES + 1):
            try:
                data = self._patiently(lambda: self.client.get_json(path, {"page": page}))  # noqa: B023
            except NotFound:
                if page == 1:
                    return None
                break
            rows = _key(data, "invoiceSpecification")
            rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
            lines += [parse_specification_line(r) for r in rows]
            if len(rows) < self.page_size:
                break
        return lines
