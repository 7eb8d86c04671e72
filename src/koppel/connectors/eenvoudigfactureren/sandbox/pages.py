"""The pages for people (:mod:`koppel.sandbox.pages`): the accounts and an account's invoices, clients,
e-mails, VAT rates and layouts."""

from __future__ import annotations

from koppel.sandbox import pages
from koppel.sandbox.http import Request, Response

from .common import CLIENT_SHOWN, DEBTOR_HEADERS, INVOICE_HEADERS, MAX_TAXES, PAGES
from .state import Account
from .values import money


class AccountPages:
    """The page handlers."""

    def page_links(self) -> list[tuple[str, str]]:
        return PAGES.links(self.accounts)

    async def _p_index(self, request: Request) -> Response:
        rows = [(name, len(a.clients), len(a.invoices)) for name, a in self.accounts.items()]
        return PAGES.index(request, ("Account", "Clients", "Invoices"), rows)

    async def _p_account(self, account: Account, request: Request) -> Response:
        here = PAGES.of(account.name)
        invoices = [
            (
                inv["number"],
                inv["date"],
                f"{inv['client_name']} ({inv['client_id']})",
                inv["reference"],
                inv["total_with_tax"],
                inv["status"],
                inv["sent"],
                pages.link(PAGES.path(account.name, "invoices", inv["invoice_id"], "pdf"), "PDF"),
            )
            for inv in pages.newest(account.invoices.values())
        ]
        clients = [tuple(c[key] for key in CLIENT_SHOWN) for c in pages.newest(account.clients.values())]
        emails = [(mail["number"], mail["to"], mail["time"]) for mail in pages.newest(account.emails)]
        layouts = [(lay["layout_id"], lay["name"], lay["default"]) for lay in account.layouts]
        return PAGES.page(
            request,
            account.name,
            pages.section("Invoices", pages.table(INVOICE_HEADERS, invoices, len(account.invoices))),
            pages.section("Clients", pages.table(DEBTOR_HEADERS, clients, len(account.clients))),
            pages.section(
                "E-mails sent", pages.table(("Invoice", "To", "Time"), emails, len(account.emails))
            ),
            pages.vat_rates(map(money, account.taxes), f"{here}/taxes"),
            pages.section("Layouts", pages.table(("Id", "Name", "Default"), layouts)),
        )

    async def _p_add_tax(self, account: Account, request: Request) -> Response:
        return pages.add_vat_rate(request, account.taxes, PAGES.of(account.name), most=MAX_TAXES)
