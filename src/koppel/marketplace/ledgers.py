"""Which ledger account each line type of a marketplace invoice is booked on: the merchant's choice in the
Configuration tab, else a default picked from the target's chart of accounts by the account's name (costs
on cost accounts; turnover, which the sales invoices booked, on a clearing account)."""

from __future__ import annotations

from collections.abc import Iterable

from koppel.connections.models import Connection
from koppel.connectors.base import LedgerAccount
from koppel.documents.marketplace import LineType

from .models import LedgerChoice

#: Words in an account's name that make it the default for a group, best first (Dutch charts first).
GROUP_WORDS: dict[str, tuple[str, ...]] = {
    # Turnover is settled, not earned again: a clearing account (a balance-sheet account).
    "turnover": (
        "tussenrekening bol",
        "tussenrekening",
        "kruisposten",
        "te rubriceren",
        "clearing",
        "suspense",
    ),
    "commission": ("provisie", "commissie", "verkoopkosten", "commission", "fees"),
    "logistics": ("verzendkosten", "verzend", "porto", "logistiek", "transport", "shipping"),
    "fbb": ("fulfilment", "fulfillment", "logistiek", "opslag", "verzend", "shipping"),
    "advertising": ("advertentie", "reclame", "marketing", "advertising"),
    "compensations": ("vergoeding", "schadevergoeding", "overige opbrengsten", "compensation"),
    "corrections": ("te rubriceren", "kruisposten", "overige kosten", "suspense"),
    "other": ("te rubriceren", "kruisposten", "overige kosten", "algemene kosten", "suspense"),
}
#: The target's account types that hold costs (Moneybird: ``expenses``); others are a last resort.
COST_TYPES = ("expenses", "expense", "cost", "costs", "")


def default_account(accounts: Iterable[LedgerAccount], line_type: LineType) -> LedgerAccount | None:
    """The account a line type goes on unless the merchant chose another: by the words of its group (an
    unknown line type: the suspense account), among the cost accounts first."""
    accounts = list(accounts)
    costs = [a for a in accounts if a.account_type.lower() in COST_TYPES] or accounts
    group = line_type.group if line_type.known else "other"
    # Suspense and clearing accounts are no cost accounts (Moneybird: ``temporary``): sought among all.
    searched = accounts if group in ("other", "turnover") else costs
    return (
        named(searched, GROUP_WORDS.get(group, GROUP_WORDS["other"]))
        or named(accounts, GROUP_WORDS["other"])
        or (costs[0] if costs else None)
    )


def named(accounts: list[LedgerAccount], words: tuple[str, ...]) -> LedgerAccount | None:
    """The first account whose name holds the first word that any name holds."""
    for word in words:
        for account in accounts:
            if word in account.name.lower():
                return account
    return None


def chosen(connection: Connection) -> dict[str, str]:
    """The merchant's choices: line type code → ledger account id."""
    return dict(
        LedgerChoice.objects.filter(connection=connection).values_list("line_type", "ledger_account_id")
    )


def account_for(
    connection: Connection, line_type: LineType, accounts: list[LedgerAccount], choices: dict[str, str]
) -> str:
    """The ledger account id a line type is booked on (a choice whose account is gone: the default)."""
    ids = {a.id for a in accounts}
    if choices.get(line_type.code) in ids:
        return choices[line_type.code]
    default = default_account(accounts, line_type)
    return default.id if default else ""


def save_choices(connection: Connection, choices: dict[str, str]) -> None:
    for code, account_id in choices.items():
        if account_id:
            LedgerChoice.objects.update_or_create(
                connection=connection, line_type=code, defaults={"ledger_account_id": account_id}
            )
        else:
            LedgerChoice.objects.filter(connection=connection, line_type=code).delete()
