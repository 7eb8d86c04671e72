"""Shopify refunds (an order's ``refunds``, ``GET orders/{id}/refunds.json``, the ``refunds/create`` webhook
body) into canonical :class:`~koppel.documents.refunds.Refund` objects. Pure: no HTTP.

What is read, and why:

- ``total`` is the money that went back: the successful ``refund`` transactions. A refund without money
  (only a restock, or a note) credits nothing and gives no Refund.
- ``refund_line_items[]``: ``quantity`` and ``subtotal_set`` (else ``subtotal``), the refunded amount after
  the line's discounts in the order's basis (incl. VAT when the order's ``taxes_included``), at the rate
  the order's invoice used for that line (:func:`.mapping.item_rate`, untaxed lines 0%).
- Shipping: ``refund_shipping_lines[]`` (newer payloads; ``subtotal_amount_set`` taken in the order's basis,
  as a refund line item's) or, when there are none, ``order_adjustments`` of kind ``shipping_refund``
  (``amount`` and ``tax_amount`` negative, ``amount`` without tax) as SHIPPING lines at the rate of the
  order's shipping.
- Every other order adjustment (``refund_discrepancy``: refunded more, a negative amount, or less, a
  positive one, than the items are worth) is a FEE line at the order's rate. Shopify records no tax on a
  discrepancy, but for VAT it is a change of the price of what the order sold: a goodwill refund lowers the
  price of the order's supplies, and VAT follows their rates. An order with several rates has it split in
  proportion to what was invoiced at each rate (as a discount over the whole order would be). A refund for
  less than its items is therefore a negative FEE line.
- Refunded duties and additional fees are FEE lines at 0%, as on the invoice.
- When the lines do not add up to the money refunded and no adjustment accounts for it (payloads edited by
  hand, older ones, or a cent of VAT that Shopify rounded otherwise on an order excl. VAT), the difference
  is added as such a discrepancy line, so the credit note credits what the customer got back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from koppel.connectors.errors import OrderInvalid
from koppel.documents.model import LineKind
from koppel.documents.money import ZERO, cents
from koppel.documents.refunds import Refund, RefundLine, lines_total, split

from . import mapping

SHIPPING_REFUND = "shipping_refund"
DISCREPANCY_DESCRIPTION = "Correctie terugbetaling"


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a refund's lines need from the order they refund."""

    order_id: str
    currency: str
    taxes_included: bool
    items: Mapping[str, tuple[Decimal, str, str]]
    """Line item id → (rate, description, sku)."""
    shipping: Mapping[str, tuple[Decimal, str]]
    """Shipping line id → (rate, title)."""
    weights: Mapping[Decimal, Decimal]
    """What the invoice charged at each rate (products after discounts, and shipping)."""

    @classmethod
    def of(cls, order: Mapping[str, Any]) -> OrderContext:
        order = mapping.unwrap(order)
        fallback = _legacy_rate(order)
        items = {}
        for raw in _objects(order.get("line_items")):
            item = _item(raw)
            if item is not None:
                items[str(raw.get("id"))] = (mapping.item_rate(item, fallback), item.description, item.sku)
        shipping = {}
        for raw in _objects(order.get("shipping_lines")):
            tax_lines = [mapping.TaxLine.model_validate(t) for t in _objects(raw.get("tax_lines"))]
            title = str(raw.get("title") or mapping.SHIPPING_DESCRIPTION)
            shipping[str(raw.get("id"))] = (mapping.line_rate(tax_lines, fallback), title)
        return cls(
            order_id=mapping.order_id(order),
            currency=str(order.get("currency") or "EUR").upper(),
            taxes_included=bool(order.get("taxes_included")),
            items=items,
            shipping=shipping,
            weights=_weights(order, items),
        )


# -- readers ----------------------------------------------------------------------------------------------


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value or [] if isinstance(item, Mapping)]


def _item(raw: Mapping[str, Any]) -> mapping.LineItem | None:
    try:
        return mapping.LineItem.model_validate(raw)
    except ValidationError:
        return None


def money(data: Mapping[str, Any], name: str) -> Decimal:
    """``<name>_set.shop_money.amount`` (the shop's currency), else ``<name>``; absent is 0."""
    bag = data.get(f"{name}_set")
    if isinstance(bag, Mapping) and isinstance(bag.get("shop_money"), Mapping):
        value = bag["shop_money"].get("amount")
        if value not in (None, ""):
            return mapping._money(value)
    value = data.get(name)
    return ZERO if value in (None, "") else mapping._money(value)


def _legacy_rate(order: Mapping[str, Any]) -> Decimal | None:
    try:
        return mapping.legacy_rate(mapping.ShopifyOrder.model_validate(order))
    except (ValidationError, OrderInvalid):
        return None


def _weights(
    order: Mapping[str, Any], items: Mapping[str, tuple[Decimal, str, str]]
) -> dict[Decimal, Decimal]:
    """The invoice's amount per rate; without a readable order, the rates of its lines, equally."""
    try:
        lines = mapping.parse_order(order).lines
    except OrderInvalid:
        return {rate: Decimal(1) for rate, _, _ in items.values()}
    weights: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        if line.kind in (LineKind.PRODUCT, LineKind.SHIPPING, LineKind.DISCOUNT):
            weights[line.vat_rate] += line.amount
    return {rate: amount for rate, amount in weights.items() if amount > 0}


def refunded_money(refund: Mapping[str, Any], currency: str) -> Decimal | None:
    """The successful refund transactions added up; ``None`` when they are in another currency than the
    shop's (a presentment currency), so the lines must say."""
    total = ZERO
    for transaction in _objects(refund.get("transactions")):
        if transaction.get("kind") != "refund" or transaction.get("status", "success") != "success":
            continue
        if str(transaction.get("currency") or currency).upper() != currency:
            return None
        total += mapping._money(transaction.get("amount") or "0")
    return total


# -- the lines --------------------------------------------------------------------------------------------


def item_lines(refund: Mapping[str, Any], context: OrderContext) -> list[RefundLine]:
    result = []
    for raw in _objects(refund.get("refund_line_items")):
        quantity = Decimal(int(raw.get("quantity") or 0))
        amount = money(raw, "subtotal")
        if not quantity or not amount:
            continue
        rate, description, sku = _line_of(raw, context)
        result.append(RefundLine(description, quantity, amount, rate, LineKind.PRODUCT, sku=sku))
    return result


def _line_of(raw: Mapping[str, Any], context: OrderContext) -> tuple[Decimal, str, str]:
    """The order's line (rate, description, sku); else the line item the refund embeds."""
    found = context.items.get(str(raw.get("line_item_id")))
    if found is not None:
        return found
    embedded = raw.get("line_item")
    item = _item(embedded) if isinstance(embedded, Mapping) else None
    if item is None:
        return _main_rate(context), "Product", ""
    return mapping.item_rate(item, None), item.description, item.sku


def shipping_lines(refund: Mapping[str, Any], context: OrderContext) -> list[RefundLine]:
    refunded = _objects(refund.get("refund_shipping_lines"))
    if refunded:
        return [_refunded_shipping(raw, context) for raw in refunded if money(raw, "subtotal_amount")]
    result = []
    for raw in _objects(refund.get("order_adjustments")):
        if raw.get("kind") != SHIPPING_REFUND:
            continue
        amount, tax = -money(raw, "amount"), -money(raw, "tax_amount")
        if amount or tax:
            rate, title = _shipping_rate(context, amount, tax)
            basis = amount + tax if context.taxes_included else amount
            result.append(RefundLine(title, Decimal(1), basis, rate, LineKind.SHIPPING))
    return result


def _refunded_shipping(raw: Mapping[str, Any], context: OrderContext) -> RefundLine:
    shipping_line = raw.get("shipping_line")
    line_id = raw.get("shipping_line_id") or (shipping_line or {}).get("id")
    rate, title = context.shipping.get(str(line_id)) or _shipping_rate(context, ZERO, ZERO)
    return RefundLine(title, Decimal(1), money(raw, "subtotal_amount"), rate, LineKind.SHIPPING)


def _shipping_rate(context: OrderContext, net: Decimal, tax: Decimal) -> tuple[Decimal, str]:
    """The order's shipping rate; with several, the one the tax fits best."""
    options = list(context.shipping.values()) or [(_main_rate(context), mapping.SHIPPING_DESCRIPTION)]
    if len({rate for rate, _ in options}) == 1 or not net:
        return options[0]
    ratio = tax / net * 100
    return min(options, key=lambda option: abs(option[0] - ratio))


def adjustment_lines(refund: Mapping[str, Any], context: OrderContext) -> list[RefundLine]:
    result = []
    for raw in _objects(refund.get("order_adjustments")):
        if raw.get("kind") == SHIPPING_REFUND:
            continue
        gross = -(money(raw, "amount") + money(raw, "tax_amount"))
        result.extend(discrepancy_lines(gross, context))
    return result


def extra_lines(refund: Mapping[str, Any]) -> list[RefundLine]:
    """Refunded duties and additional fees, at 0%."""
    result = []
    for key, description in (
        ("duties", mapping.DUTIES_DESCRIPTION),
        ("additional_fees", mapping.FEES_DESCRIPTION),
    ):
        for raw in _objects(refund.get(key)):
            amount = money(raw, "amount")
            if amount:
                result.append(RefundLine(description, Decimal(1), amount, ZERO, LineKind.FEE))
    return result


def discrepancy_lines(gross: Decimal, context: OrderContext) -> list[RefundLine]:
    """An amount given back (or kept, negative) without items: FEE lines at the order's rates."""
    if not gross:
        return []
    rates = sorted(context.weights) or [_main_rate(context)]
    shares = split(gross, [context.weights.get(rate, Decimal(1)) for rate in rates])
    result = []
    for rate, share in zip(rates, shares, strict=True):
        if share:
            amount = share if context.taxes_included else cents(share / (1 + rate / 100))
            result.append(RefundLine(DISCREPANCY_DESCRIPTION, Decimal(1), amount, rate, LineKind.FEE))
    return result


def _main_rate(context: OrderContext) -> Decimal:
    if not context.weights:
        return ZERO
    return max(context.weights, key=lambda rate: context.weights[rate])


# -- the refund -------------------------------------------------------------------------------------------


def parse_refund(refund: Mapping[str, Any], order: Mapping[str, Any]) -> Refund | None:
    """The canonical refund of one of ``order``'s refunds; ``None`` when no money went back."""
    context = OrderContext.of(order)
    lines = [
        *item_lines(refund, context),
        *shipping_lines(refund, context),
        *extra_lines(refund),
        *adjustment_lines(refund, context),
    ]
    given = credited(lines, context)
    total = refunded_money(refund, context.currency)
    total = given if total is None else total
    if total <= 0:
        return None
    lines += discrepancy_lines(total - given, context)
    return Refund(
        source=mapping.SOURCE,
        refund_id=str(refund.get("id") or ""),
        order_id=context.order_id,
        created_at=_created(refund),
        currency=context.currency,
        prices_include_vat=context.taxes_included,
        lines=tuple(lines),
        total=total,
        reason=str(refund.get("note") or "").strip(),
        raw=dict(refund),
    )


def credited(lines: list[RefundLine], context: OrderContext) -> Decimal:
    """What a credit note with ``lines`` credits, incl. VAT (as :func:`refunded_total` computes it)."""
    return lines_total(lines, prices_include_vat=context.taxes_included)


def _created(refund: Mapping[str, Any]) -> datetime:
    for name in ("processed_at", "created_at"):
        moment = mapping.timestamp(refund, name)
        if moment is not None:
            return moment
    raise OrderInvalid(f"Refund {refund.get('id')}: no readable created_at")


def parse_refunds(order: Mapping[str, Any], refunds: list[Mapping[str, Any]] | None = None) -> list[Refund]:
    """The refunds of ``order`` (its own ``refunds``, or ``refunds`` as ``refunds.json`` listed them) that
    gave money back, oldest first."""
    order = mapping.unwrap(order)
    raws = _objects(order.get("refunds") if refunds is None else refunds)
    found = [parse_refund(raw, order) for raw in raws if raw.get("id") not in (None, "")]
    return sorted((refund for refund in found if refund is not None), key=lambda refund: refund.created_at)
