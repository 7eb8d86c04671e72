"""Pages for people (:mod:`koppel.sandbox.pages`): ``/_sandbox/moneybird/page`` lists the administrations,
``/_sandbox/moneybird/accounts/{name}/page`` one administration's sales invoices (with their PDFs),
purchase invoices, contacts and sales tax rates, with an "Add VAT rate" form (field ``rate``)."""

from __future__ import annotations

from decimal import Decimal

from koppel.sandbox import pages
from koppel.sandbox.http import Request, Response

from .state import Administration, Ids, stamp

PAGES = pages.Pages("Moneybird", "moneybird", "accounts")
INVOICE_HEADERS = ("Number", "Date", "Contact", "Reference", "Total incl. VAT", "State", "PDF")
PURCHASE_HEADERS = ("Reference", "Date", "Supplier", "Total incl. VAT", "Attachments")
CONTACT_HEADERS = ("Id", "Customer id", "Company", "Name", "E-mail", "Country", "VAT number")


def _name(contact: dict) -> str:
    return (
        contact.get("company_name") or f"{contact.get('firstname', '')} {contact.get('lastname', '')}".strip()
    )


def index(request: Request, administrations: dict[str, Administration]) -> Response:
    rows = [(name, len(a.contacts), len(a.sales_invoices)) for name, a in administrations.items()]
    return PAGES.index(request, ("Administration", "Contacts", "Sales invoices"), rows)


def administration_page(administration: Administration, request: Request) -> Response:
    name = administration.name
    invoices = [
        (
            i["invoice_id"] or f"Concept {i['draft_id']}",
            i["invoice_date"],
            _name(i["contact"]),
            i["reference"],
            i["total_price_incl_tax"],
            i["state"],
            pages.link(PAGES.path(name, "invoices", i["id"], "pdf"), "PDF"),
        )
        for i in pages.newest(administration.sales_invoices.values())
    ]
    purchases = [
        (d["reference"], d["date"], _name(d["contact"]), d["total_price_incl_tax"], len(d["attachments"]))
        for d in pages.newest(administration.purchase_invoices.values())
    ]
    contacts = [
        (
            c["id"],
            c["customer_id"],
            c["company_name"],
            f"{c['firstname']} {c['lastname']}".strip(),
            c["email"],
            c["country"],
            c["tax_number"],
        )
        for c in pages.newest(administration.contacts.values())
    ]
    return PAGES.page(
        request,
        name,
        pages.section(
            "Sales invoices", pages.table(INVOICE_HEADERS, invoices, len(administration.sales_invoices))
        ),
        pages.section("Purchase invoices", pages.table(PURCHASE_HEADERS, purchases, len(purchases))),
        pages.section("Contacts", pages.table(CONTACT_HEADERS, contacts, len(administration.contacts))),
        pages.vat_rates(map(str, _sales_rates(administration)), f"{PAGES.of(name)}/taxes"),
    )


def _sales_rates(administration: Administration) -> list[Decimal]:
    rates = [
        Decimal(r["percentage"]).normalize()
        for r in administration.tax_rates
        if r["tax_rate_type"] == "sales_invoice"
    ]
    return sorted(set(rates))


def add_tax_rate(administration: Administration, request: Request, ids: Ids) -> Response:
    """The form: a sales rate (and the purchase rate of the same percentage) named "N% btw"."""
    rates = _sales_rates(administration)
    before = list(rates)
    response = pages.add_vat_rate(request, rates, PAGES.of(administration.name))
    for rate in (r for r in rates if r not in before):
        for kind in ("sales_invoice", "purchase_invoice"):
            created = stamp()
            administration.tax_rates.append(
                {
                    "id": ids.new(),
                    "administration_id": administration.id,
                    "name": f"{rate.normalize():f}% btw",
                    "percentage": f"{rate:f}",
                    "tax_rate_type": kind,
                    "show_tax": True,
                    "active": True,
                    "country": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
    return response
