"""An order's transactions (``GET orders/{id}/transactions.json``), derived from the order and its cart.

A cart's ``gift_cards`` (``[{"amount": "25.00", "last_characters": "x9k2"}]``) are redeemed first: one
successful ``sale`` through the gateway ``gift_card`` each, with Shopify's receipt (``gift_card_id``,
``gift_card_last_characters``). The rest of ``total_price`` goes through the order's other gateway: a
successful sale when the order is paid (or refunded), a pending one when it is ``pending`` or
``partially_paid``, a successful ``authorization`` when it is ``authorized``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .common import UNPAID
from .money import _decimal, _money

GIFT_CARD_GATEWAY = "gift_card"


def gift_cards(cart: dict[str, Any]) -> list[tuple[Decimal, str]]:
    """The cart's gift cards as ``(amount, last characters)``."""
    cards = cart.get("gift_cards") or []
    return [
        (_decimal(card.get("amount", "0"), f"gift_cards.{n}.amount"), str(card.get("last_characters", "")))
        for n, card in enumerate(cards)
        if isinstance(card, dict)
    ]


def gift_card_total(cart: dict[str, Any]) -> Decimal:
    return sum((amount for amount, _last in gift_cards(cart)), Decimal(0))


def transactions(order: dict[str, Any], cart: dict[str, Any]) -> list[dict[str, Any]]:
    order_id, currency = order["id"], order["currency"]
    status = order["financial_status"]
    entries: list[dict[str, Any]] = []

    def add(kind: str, state: str, gateway: str, amount: Decimal, receipt: dict[str, Any]) -> None:
        entries.append(
            {
                "id": order_id * 10 + len(entries) + 1,
                "order_id": order_id,
                "kind": kind,
                "gateway": gateway,
                "status": state,
                "message": None,
                "created_at": order["created_at"],
                "test": False,
                "authorization": None,
                "parent_id": None,
                "processed_at": order["created_at"],
                "source_name": "web",
                "receipt": receipt,
                "amount": _money(amount),
                "currency": currency,
            }
        )

    for n, (amount, last) in enumerate(gift_cards(cart), 1):
        receipt = {"gift_card_id": order_id * 100 + n, "gift_card_last_characters": last}
        add("sale", "success", GIFT_CARD_GATEWAY, amount, receipt)
    rest = Decimal(order["total_price"]) - gift_card_total(cart)
    others = [g for g in order.get("payment_gateway_names", []) if g != GIFT_CARD_GATEWAY]
    if rest > 0:
        gateway = others[0] if others else "manual"
        if status == "authorized":
            add("authorization", "success", gateway, rest, {})
        else:
            add("sale", "pending" if status in UNPAID else "success", gateway, rest, {})
    return entries
