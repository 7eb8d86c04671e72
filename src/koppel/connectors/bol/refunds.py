"""bol.com's refunds as canonical :class:`~koppel.documents.refunds.Refund`\\ s (pure translation; the
calls are in :mod:`.returns`).

**Returns.** A v10 ``Return`` holds return items, each an RMA of one product (``orderId`` and ``ean``: no
order item id, no price). A return item is refunded for the quantity of its processing results that are
``ACCEPTED`` with a handling result that gives the money back (:func:`refunded_quantity`: an exchange, a
repair, a return that does not meet the conditions or a product the customer keeps and pays give none),
at most the expected quantity. Its line is the matching order item (:func:`order_item_for`) at its
``unitPrice`` incl. VAT for that quantity, less the item's discount pro rata (the customer paid the
discounted price, so that is what comes back; the whole discount when the whole quantity returns), at the
rate the invoice gave the EAN (:func:`.mapping.product_rate`: the EAN's rate, the default, or OSS for the
customer's country), with its ``vat_reason``.

**Cancellations.** An order item with ``quantityCancelled`` > 0 is a refund ``cancel-<orderItemId>`` of
the cancelled quantity at the item's price and rate. Only an invoice per order (made when the order is
placed) can hold a cancelled item; a shipment never holds one. It ``reduces_invoice``: an invoice made
after the cancellation already left the item out, and the sync credits only what the invoice held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from koppel.documents.money import cents
from koppel.documents.refunds import Refund, RefundLine

from . import mapping
from .config import BolSettings, ean_key

ACCEPTED = "ACCEPTED"
#: Handling results after which the customer gets no money back (a new or repaired product instead, or
#: the return refused), whatever the processing result says.
NO_REFUND = frozenset(
    {"EXCHANGE_PRODUCT", "REPAIR_PRODUCT", "RETURN_DOES_NOT_MEET_CONDITIONS", "CUSTOMER_KEEPS_PRODUCT_PAID"}
)
CANCELLED = "Geannuleerd"
RETURNED = "Retour"


def moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time with an offset, or ``None``."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _items(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [i for i in order.get("orderItems") or [] if isinstance(i, Mapping)]


def _product(item: Mapping[str, Any]) -> Mapping[str, Any]:
    product = item.get("product")
    return product if isinstance(product, Mapping) else {}


def item_amount(item: Mapping[str, Any], quantity: int) -> Decimal:
    """What ``quantity`` of an order item cost the customer, incl. VAT: the unit price times the quantity,
    less the item's discount pro rata (all of it for the whole quantity)."""
    ordered = _whole(item.get("quantity")) or quantity
    discount, _titles = mapping.item_discount(item)
    share = discount if quantity >= ordered else cents(discount * quantity / ordered)
    return cents(Decimal(str(item["unitPrice"])) * quantity) - share


def refund_line(
    payload: Mapping[str, Any], item: Mapping[str, Any], quantity: int, settings: BolSettings | None
) -> RefundLine:
    """The line refunding ``quantity`` of an order item of the record ``payload``, at the rate the record's
    invoice gave its EAN."""
    ean = str(_product(item).get("ean") or "").strip()
    title = str(_product(item).get("title") or "").strip()
    chosen = mapping.product_rate(payload, ean, settings)
    return RefundLine(
        description=title or (f"EAN {ean}" if ean else "Product"),
        quantity=Decimal(quantity),
        amount=item_amount(item, quantity),
        vat_rate=chosen.rate,
        sku=ean,
        vat_reason=str(chosen),
    )


def _refund(refund_id: str, record_id: str, at: datetime, line: RefundLine, reason: str, raw: dict) -> Refund:
    return Refund(
        source=mapping.SOURCE,
        refund_id=refund_id,
        order_id=record_id,
        created_at=at,
        currency="EUR",
        prices_include_vat=True,
        lines=(line,),
        total=line.amount,
        reason=reason,
        raw=raw,
    )


# -- cancellations -------------------------------------------------------------------------------------------


def cancellations(payload: Mapping[str, Any], settings: BolSettings | None = None) -> list[Refund]:
    """The order's cancelled items, a refund each (``cancel-<orderItemId>``); none for a shipment."""
    shipment, order = mapping.parts(payload)
    if shipment is not None or order is None:
        return []
    placed = moment(order.get("orderPlacedDateTime"))
    found = []
    for item in _items(order):
        quantity = _whole(item.get("quantityCancelled"))
        if not quantity or item.get("unitPrice") is None:
            continue
        at = moment(item.get("latestChangedDateTime")) or placed
        line = refund_line(payload, item, quantity, settings)
        refund_id = f"cancel-{item.get('orderItemId')}"
        refund = _refund(refund_id, mapping.order_id(payload), at, line, CANCELLED, dict(item))
        found.append(replace(refund, reduces_invoice=True))  # an invoice made later left it out
    return found


# -- returns ---------------------------------------------------------------------------------------------


def _refunding(results: Any) -> list[Mapping[str, Any]]:
    rows = [r for r in results if isinstance(r, Mapping)] if isinstance(results, list) else []
    return [
        r for r in rows if r.get("processingResult") == ACCEPTED and r.get("handlingResult") not in NO_REFUND
    ]


def refunded_quantity(item: Mapping[str, Any]) -> int:
    """How much of a return item the customer gets back: its accepted processing results that refund, at
    most the quantity expected back."""
    total = sum(_whole(r.get("quantity")) for r in _refunding(item.get("processingResults")))
    expected = _whole(item.get("expectedQuantity"))
    return min(total, expected) if expected else total


def refunded_at(item: Mapping[str, Any]) -> datetime | None:
    """When the refunding result was processed (the latest, when there are several)."""
    stamps = [moment(r.get("processingDateTime")) for r in _refunding(item.get("processingResults"))]
    return max((s for s in stamps if s is not None), default=None)


def needs_details(returned: Mapping[str, Any]) -> bool:
    """Whether a listed return lacks what :func:`refunded_quantity` reads: a handled item without
    ``processingResults`` (required in v10; older lists left them out)."""
    items = [i for i in returned.get("returnItems") or [] if isinstance(i, Mapping)]
    return any(i.get("handled") and "processingResults" not in i for i in items)


def order_item_for(order: Mapping[str, Any], ean: str, method: str = "") -> Mapping[str, Any] | None:
    """The order item a return item of ``ean`` returns: the order's item of that EAN, preferring one
    fulfilled by ``method`` and one that shipped."""
    key = ean_key(ean) if ean else ""
    found = [i for i in _items(order) if key and ean_key(str(_product(i).get("ean") or "")) == key]

    def rank(item: Mapping[str, Any]) -> tuple[bool, bool]:
        fulfilment = item.get("fulfilment") if isinstance(item.get("fulfilment"), Mapping) else {}
        return (fulfilment.get("method") != method, not _whole(item.get("quantityShipped")))

    return min(found, key=rank) if found else None


def return_reason(item: Mapping[str, Any]) -> str:
    """``Retour: <mainReason>, <detailedReason>`` (bol's Dutch words)."""
    given = item.get("returnReason") if isinstance(item.get("returnReason"), Mapping) else {}
    words = [str(given.get(k) or "").strip() for k in ("mainReason", "detailedReason")]
    words = [w for w in dict.fromkeys(words) if w]
    return f"{RETURNED}: {', '.join(words)}" if words else RETURNED


def allocate(shipped: Iterable[tuple[str, int]], quantity: int) -> list[tuple[str, int]]:
    """``quantity`` returned of an item spread over the shipments that shipped it (``(shipment id,
    quantity shipped)``, oldest first): each shipment up to what it shipped, the rest on the last."""
    rows = list(shipped)
    out: list[tuple[str, int]] = []
    left = quantity
    for shipment_id, count in rows:
        take = min(left, count)
        if take > 0:
            out.append((shipment_id, take))
            left -= take
        if left <= 0:
            return out
    if rows and left > 0:
        last = rows[-1][0]
        if out and out[-1][0] == last:
            out[-1] = (last, out[-1][1] + left)
        else:
            out.append((last, left))
    return out


def return_refund(
    returned: Mapping[str, Any],
    item: Mapping[str, Any],
    record: tuple[str, str, Mapping[str, Any]],
    order_item: Mapping[str, Any],
    quantity: int,
    settings: BolSettings | None = None,
) -> Refund:
    """The refund of ``quantity`` of a return item: ``record`` is (refund id, record id, the record's
    payload, which chooses the rate as its invoice did)."""
    refund_id, record_id, payload = record
    at = refunded_at(item) or moment(returned.get("registrationDateTime"))
    line = refund_line(payload, order_item, quantity, settings)
    raw = {**{k: v for k, v in returned.items() if k != "returnItems"}, "returnItems": [dict(item)]}
    return _refund(refund_id, record_id, at or datetime.now().astimezone(), line, return_reason(item), raw)
