"""The pages for people (:mod:`koppel.sandbox.pages`): the accounts and an account's invoices, debtors, VAT
rates and profiles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from koppel.sandbox import pages
from koppel.sandbox.http import Request, Response

from .common import DEBTOR_HEADERS, INVOICE_HEADERS, PAGES, SAVED_HEADERS
from .countries import COUNTRY_BY_ID
from .lines import rate_text
from .state import Account


class AccountPages:
    """The page handlers."""

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.accounts)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(a.clients), len(a.invoices)) for name, a in self.accounts.items()]
        return PAGES.index(request, ("Administration", "Debtors", "Invoices"), rows)

    async def _p_account(self, account: Account, request: Request) -> Response:
        here = PAGES.of(account.username)
        invoices = [
            (
                inv["invoicenr"],
                inv["sent"],
                f"{inv['company'] or inv['contact']} ({inv['clientnr']})",
                " ".join(line for line in inv["reference"].values() if line),
                inv["totalintax"],
                "uncollectible" if inv["uncollectible"] else "open" if Decimal(inv["open"]) > 0 else "paid",
                _sent_by(inv),
                pages.link(PAGES.path(account.username, "invoices", inv["id"], "pdf"), "PDF"),
            )
            for inv in pages.newest(account.invoices.values())
        ]
        saved = [
            (
                inv["id"],
                inv["savename"],
                inv["sent"],
                f"{inv['company'] or inv['contact']} ({inv['clientnr']})",
                " ".join(line for line in inv["reference"].values() if line),
                inv["totalintax"],
                inv["sendmethod"],
            )
            for inv in pages.newest(account.saved_invoices.values())
        ]
        debtors = [
            (c["clientnr"], c["contact"], c["company"], c["email"], _alpha2(c["country"]), c["taxnumber"])
            for c in pages.newest(account.clients.values())
        ]
        default = account.default_profile
        profiles = [(p["id"], p["name"], "yes" if p["id"] == default else "") for p in account.profiles]
        return PAGES.page(
            request,
            account.username,
            pages.section("Invoices", pages.table(INVOICE_HEADERS, invoices, len(account.invoices))),
            pages.section(
                "Saved invoices (drafts)", pages.table(SAVED_HEADERS, saved, len(account.saved_invoices))
            ),
            pages.section("Debtors", pages.table(DEBTOR_HEADERS, debtors, len(account.clients))),
            pages.vat_rates(map(rate_text, account.taxes), f"{here}/taxes"),
            pages.section("Profiles", pages.table(("Id", "Name", "Default"), profiles)),
        )

    async def _p_add_tax(self, account: Account, request: Request) -> Response:
        return pages.add_vat_rate(request, account.taxes, PAGES.of(account.username))


def _sent_by(invoice: dict[str, Any]) -> str:
    if invoice.get("sendmethod") != "email":
        return "by you (mail)"
    return f"e-mailed to {invoice['email']}" if invoice["email"].strip() else "not e-mailed: no address"


def _alpha2(country: str) -> str:
    found = COUNTRY_BY_ID.get(country)
    return found.alpha2 if found is not None else country
