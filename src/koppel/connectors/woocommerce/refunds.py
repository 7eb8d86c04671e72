"""WooCommerce order refunds (``GET orders/{id}/refunds``) into canonical
:class:`~koppel.documents.refunds.Refund` objects. Pure: no HTTP.

A refund (``shared/specs/woocommerce/order-refund-v3-docs-example.json``) has ``amount``, the money that
went back (positive), ``reason``, and the order items it refunds with WooCommerce's signs: ``quantity``,
``subtotal``/``total`` and their taxes negative, each pointing at the order's item through the meta
``_refunded_item_id``; product items in ``line_items``, shipping in ``shipping_lines``, fees in
``fee_lines``. The order's own ``refunds`` only summarise them (``id``, ``reason``, ``total``), so a refund
is always read with its order, for the rates:

- A product line is credited at the rate the order's invoice used for the item it refunds (the order's
  ``tax_lines[].rate_percent`` through the item's ``taxes[].id``, as :mod:`.mapping` reads orders); an item
  the order no longer has is read by its own ``taxes``. Its amount is ``-total`` plus ``-total_tax`` when
  the shop's prices include tax (the order's basis).
- Shipping and fee lines likewise, one part per rate when their taxes name several.
- What ``amount`` gives back beyond the refunded items (a refund of an amount only, or one that the merchant
  typed in over the items' value, which WooCommerce lets take precedence) is credited as FEE lines at the
  order's rates, split in proportion to what the invoice charged at each rate: a refund of an amount lowers
  the price of the order's supplies, whose VAT rates it follows. For an order at one rate (most of them)
  that is one line at the order's rate. A refund of items for less than their value gives a negative FEE.
- A refund without money (``amount`` 0: a restock alone) gives no credit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from koppel.connectors.errors import OrderInvalid
from koppel.documents.model import LineKind
from koppel.documents.money import ZERO, cents
from koppel.documents.refunds import Refund, RefundLine, lines_total, split

from . import mapping

AMOUNT_DESCRIPTION = "Terugbetaling"
REFUNDED_ITEM_KEY = "_refunded_item_id"


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a refund's lines need from the order they refund."""

    order_id: str
    currency: str
    incl: bool
    rates: Mapping[int, mapping.WooTaxLine]
    items: Mapping[str, Decimal]
    """Product item id → the rate its invoice line has."""
    weights: Mapping[Decimal, Decimal]
    """What the invoice charged at each rate (products after discounts, and shipping)."""

    @classmethod
    def of(cls, order: Mapping[str, Any]) -> OrderContext:
        raw = mapping._validate(order)
        rates = {line.rate_id: line for line in raw.tax_lines if line.rate_id is not None}
        items = {}
        for data, item in zip(_objects(order.get("line_items")), raw.line_items, strict=False):
            net, tax = (item.subtotal, item.subtotal_tax) if item.subtotal else (item.total, item.total_tax)
            items[str(data.get("id"))] = mapping.line_rate(item.taxes, net, tax, rates)
        return cls(
            order_id=mapping.order_id(order),
            currency=(raw.currency or "EUR").upper(),
            incl=raw.prices_include_tax,
            rates=rates,
            items=items,
            weights=_weights(order),
        )

    def amount(self, total: Decimal, tax: Decimal) -> Decimal:
        """A refunded amount (positive) in the order's basis."""
        return total + tax if self.incl else total


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value or [] if isinstance(item, Mapping)]


def _weights(order: Mapping[str, Any]) -> dict[Decimal, Decimal]:
    weights: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in mapping.parse_order(order).lines:
        if line.kind in (LineKind.PRODUCT, LineKind.SHIPPING, LineKind.DISCOUNT):
            weights[line.vat_rate] += line.amount
    return {rate: amount for rate, amount in weights.items() if amount > 0}


def _refunded_item(data: Mapping[str, Any]) -> str:
    for meta in _objects(data.get("meta_data")):
        if meta.get("key") == REFUNDED_ITEM_KEY:
            return str(meta.get("value"))
    return ""


def _negated_taxes(data: Mapping[str, Any]) -> list[mapping.WooTax]:
    """The line's ``taxes`` with WooCommerce's refund signs turned positive."""
    result = []
    for entry in _objects(data.get("taxes")):
        tax = mapping.WooTax.model_validate(entry)
        result.append(mapping.WooTax(id=tax.id, total=-tax.total, subtotal=-tax.subtotal))
    return result


def _money(data: Mapping[str, Any], name: str) -> Decimal:
    """A refund line's (negative) amount as a positive one."""
    return -mapping.decimal(data.get(name) or "0", blank_is_zero=True)


# -- the lines --------------------------------------------------------------------------------------------


def product_lines(refund: Mapping[str, Any], context: OrderContext) -> list[RefundLine]:
    result = []
    for data in _objects(refund.get("line_items")):
        total, tax = _money(data, "total"), _money(data, "total_tax")
        amount = context.amount(total, tax)
        if not amount:
            continue
        rate = context.items.get(_refunded_item(data))
        if rate is None:
            rate = mapping.line_rate(_negated_taxes(data), total, tax, context.rates)
        quantity = abs(mapping.decimal(data.get("quantity") or 0)) or Decimal(1)
        name = mapping._name(str(data.get("name") or ""), "Product")
        result.append(
            RefundLine(name, quantity, amount, rate, LineKind.PRODUCT, sku=str(data.get("sku") or ""))
        )
    return result


def charge_lines(refund: Mapping[str, Any], context: OrderContext) -> list[RefundLine]:
    """Refunded shipping and fees, one line per rate."""
    result = []
    for key, kind, title, default in (
        ("shipping_lines", LineKind.SHIPPING, "method_title", mapping.SHIPPING_DESCRIPTION),
        ("fee_lines", LineKind.FEE, "name", mapping.FEE_DESCRIPTION),
    ):
        for data in _objects(refund.get(key)):
            total, tax = _money(data, "total"), _money(data, "total_tax")
            description = mapping._name(str(data.get(title) or ""), default)
            for part in mapping.split_parts(_negated_taxes(data), total, tax, context.rates):
                amount = context.amount(part.net, part.tax)
                if amount:
                    result.append(RefundLine(description, Decimal(1), amount, part.rate, kind))
    return result


def amount_lines(gross: Decimal, context: OrderContext) -> list[RefundLine]:
    """Money given back (or kept, negative) beyond the items: FEE lines at the order's rates."""
    if not gross:
        return []
    rates = sorted(context.weights) or [mapping.NO_VAT]
    shares = split(gross, [context.weights.get(rate, Decimal(1)) for rate in rates])
    result = []
    for rate, share in zip(rates, shares, strict=True):
        if share:
            amount = share if context.incl else cents(share / (1 + rate / 100))
            result.append(RefundLine(AMOUNT_DESCRIPTION, Decimal(1), amount, rate, LineKind.FEE))
    return result


# -- the refund -------------------------------------------------------------------------------------------


def credited(lines: list[RefundLine], context: OrderContext) -> Decimal:
    """What a credit note with ``lines`` credits, incl. VAT (as :func:`refunded_total` computes it)."""
    return lines_total(lines, prices_include_vat=context.incl)


@dataclass(frozen=True, slots=True)
class _Dates:
    """The two creation times a refund has, as :func:`.mapping.created_at` reads an order's."""

    date_created: str
    date_created_gmt: str


def parse_refund(refund: Mapping[str, Any], order: Mapping[str, Any]) -> Refund | None:
    """The canonical refund of one of ``order``'s refunds; ``None`` when no money went back."""
    total = mapping.decimal(refund.get("amount") or "0", blank_is_zero=True)
    if total <= 0:
        return None
    context = OrderContext.of(order)
    lines = [*product_lines(refund, context), *charge_lines(refund, context)]
    lines += amount_lines(total - credited(lines, context), context)
    dates = _Dates(str(refund.get("date_created") or ""), str(refund.get("date_created_gmt") or ""))
    try:
        created = mapping.created_at(dates)  # type: ignore[arg-type]
    except OrderInvalid:
        raise OrderInvalid(f"Refund {refund.get('id')}: no readable date_created_gmt") from None
    return Refund(
        source=mapping.SOURCE,
        refund_id=str(refund.get("id") or ""),
        order_id=context.order_id,
        created_at=created,
        currency=context.currency,
        prices_include_vat=context.incl,
        lines=tuple(lines),
        total=total,
        reason=mapping._name(str(refund.get("reason") or ""), ""),
        raw=dict(refund),
    )


def parse_refunds(order: Mapping[str, Any], refunds: list[Mapping[str, Any]]) -> list[Refund]:
    """The refunds (as ``GET orders/{id}/refunds`` lists them) of ``order`` that gave money back, oldest
    first."""
    found = [parse_refund(raw, order) for raw in _objects(refunds) if raw.get("id") not in (None, "")]
    return sorted((refund for refund in found if refund is not None), key=lambda refund: refund.created_at)


def summary_refunds(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's ``refunds`` summaries (``{"id", "reason", "total": "-10.00"}``) as amount-only refunds
    (what an order payload alone can say about them, e.g. for a payload kept without its refunds)."""
    return [
        {
            "id": summary.get("id"),
            "amount": str(-mapping.decimal(summary.get("total") or "0", blank_is_zero=True)),
            "reason": summary.get("reason") or summary.get("refund") or "",
            "date_created": order.get("date_modified") or order.get("date_created"),
            "date_created_gmt": order.get("date_modified_gmt") or order.get("date_created_gmt"),
            "line_items": [],
        }
        for summary in _objects(order.get("refunds"))
    ]
