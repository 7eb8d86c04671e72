"""KMO Shops order JSON (``shared/specs/kmoshops``) into the canonical order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from koppel.connectors.errors import OrderInvalid
from koppel.documents.model import LineKind, Order, OrderLine, Party
from koppel.documents.money import MoneyError, to_decimal

SOURCE = "kmoshops"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def _money(value: Any, info: ValidationInfo) -> Decimal:
    try:
        return to_decimal(value, field=info.field_name or "amount")
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


class KmoCustomer(_Model):
    firstname: str = ""
    lastname: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    house_number: str = ""
    zipcode: str = ""
    city: str = ""
    country: str = ""
    telnr: str = ""
    mobile: str = ""
    email: str = ""
    vatnumber: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else str(value) if isinstance(value, int) else value


class KmoLine(_Model):
    sku: str = ""
    description: str
    amount: Decimal = Field(gt=0)
    price: Decimal
    tax_rate: Decimal = Field(ge=0, le=100)

    _decimal = field_validator("amount", "price", "tax_rate", mode="before")(
        lambda cls, v, info: _money(v, info)
    )


class KmoShipping(_Model):
    description: str = ""
    price: Decimal = Decimal("0.00")
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _rate_when_charged(self) -> KmoShipping:
        if self.price != 0 and self.tax_rate is None:
            raise ValueError("shipping costs something but has no tax_rate")
        return self

    _decimal = field_validator("price", "tax_rate", mode="before")(
        lambda cls, v, info: None if v is None else _money(v, info)
    )


class KmoOrder(_Model):
    id: int | str
    number: str = ""
    created_at: datetime
    status: str
    currency: str = "EUR"
    priceincltax: bool = True
    payment_method: str = ""
    paid: bool = False
    customer: KmoCustomer
    lines: list[KmoLine] = Field(min_length=1)
    shipping: KmoShipping | None = None
    total: Decimal

    @field_validator("number", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    _decimal = field_validator("total", mode="before")(lambda cls, v, info: _money(v, info))

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at needs a UTC offset")
        return value


def _timestamp(payload: Mapping[str, Any], field: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(payload.get(field, "")))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def updated_at(payload: Mapping[str, Any]) -> datetime | None:
    return _timestamp(payload, "updated_at") or _timestamp(payload, "created_at")


def created_between(payload: Mapping[str, Any], since: datetime, until: datetime | None) -> bool:
    """Whether the order was placed in ``[since, until)``; an order without a readable date is kept (its
    record will say what is wrong with it)."""
    created = _timestamp(payload, "created_at")
    return created is None or (created >= since and (until is None or created < until))


def order_id(payload: Mapping[str, Any]) -> str:
    value = payload.get("id")
    if value in (None, ""):
        raise OrderInvalid("The order has no id")
    return str(value)


def parse_order(payload: Mapping[str, Any]) -> Order:
    try:
        raw = KmoOrder.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        raise OrderInvalid(f"Order field {where}: {first['msg']}") from None
    c = raw.customer
    customer = Party(
        first_name=c.firstname,
        last_name=c.lastname,
        company=c.company,
        street=c.address1,
        address2=c.address2,
        house_number=c.house_number,
        zipcode=c.zipcode,
        city=c.city,
        country_raw=c.country,
        phone=c.telnr,
        mobile=c.mobile,
        email=c.email,
        vat_number=c.vatnumber,
    )
    lines = tuple(
        OrderLine(
            description=line.description,
            quantity=line.amount,
            unit_price=line.price,
            vat_rate=line.tax_rate,
            sku=line.sku,
        )
        for line in raw.lines
    )
    shipping = None
    if raw.shipping is not None:
        shipping = OrderLine(
            description=raw.shipping.description or "Verzendkosten",
            quantity=Decimal(1),
            unit_price=raw.shipping.price,
            vat_rate=raw.shipping.tax_rate if raw.shipping.tax_rate is not None else Decimal(0),
            kind=LineKind.SHIPPING,
        )
    return Order(
        source=SOURCE,
        source_id=str(raw.id),
        number=raw.number or str(raw.id),
        created_at=raw.created_at,
        status=raw.status.lower(),
        currency=raw.currency.upper(),
        prices_include_vat=raw.priceincltax,
        payment_method=raw.payment_method,
        paid=raw.paid,
        customer=customer,
        lines=lines,
        shipping=shipping,
        total=raw.total,
    )
