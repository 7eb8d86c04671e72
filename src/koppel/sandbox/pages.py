"""The sandboxes' pages for people: plain HTML (inline CSS, no external assets) that shows what a simulated
shop or invoicing program holds, so a newcomer sees orders placed and invoices arrive during ``make demo``.

``GET /_sandbox/`` lists every sandbox's pages (each ``SANDBOX`` class offers ``page_links()``); each
sandbox serves its own next to its control API:

- ``/_sandbox/{kmoshops|shopify}/page`` (and ``/_sandbox/woocommerce/page``): the shops;
  ``/_sandbox/{kmoshops|shopify}/shops/{shop}/page`` (``/_sandbox/woocommerce/stores/{store}/page``) a
  shop's newest orders. KMO Shops' page has a "Place order" form posting to ``.../shops/{shop}/page/orders``
  (fields ``first_name last_name email country product quantity price vat_rate status``), which places
  the order as the control API does and sends its webhook.
- ``/_sandbox/{factuursturen|eenvoudigfactureren}/page``: the accounts; ``.../accounts/{account}/page`` an
  account's invoices (each with its PDF at ``.../accounts/{account}/invoices/{id}/pdf``, no API key
  needed), debtors, VAT rates and profiles or layouts, with an "Add VAT rate" form (field ``rate``) posting
  to ``.../accounts/{account}/page/taxes``.

Every value is escaped with :func:`html.escape` unless it is :class:`Html` made here. Forms post
``application/x-www-form-urlencoded`` and are answered ``303 See Other`` back to the page (a refused one:
400 with the reason). A page reloads itself every 5 seconds unless one of its forms is being filled in (a
field has the focus or was changed); ``?refresh=0`` switches that off.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from koppel.sandbox.http import Request, Response

T = TypeVar("T")

ROOT = "/_sandbox"
SHOWN = 100
"""Rows a table shows at most (the newest): a benchmark's shop holds tens of thousands of orders."""
ORDER_HEADERS = ("Id", "Number", "Date", "Customer", "E-mail", "Status", "Total")
SHOP_HEADERS = ("Shop", "Orders", "Webhooks to")

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.8rem 1.5rem}header a{color:#cfe0ff}
main{padding:.5rem 1.5rem 3rem;max-width:80rem}h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}table{border-collapse:collapse;background:#fff;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.empty{color:#6b7380;font-style:italic}
form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-top:.6rem;padding:.8rem;
background:#fff;border:1px solid #e3e6ea}
label{display:flex;flex-direction:column;font-size:.85rem;color:#4a5260}
input{font:inherit;padding:.3rem .4rem;border:1px solid #b9c0ca;border-radius:3px}
button{font:inherit;padding:.4rem .9rem;border:0;border-radius:3px;background:#2456c8;color:#fff}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.8rem}
"""
_REFRESH = (
    "<script>setInterval(function(){var a=document.activeElement;if(a&&a.form)return;"
    "for(var i of document.querySelectorAll('input'))if(i.value!==i.defaultValue)return;"
    "location.reload()},5000)</script>"
)


class Html(str):
    """Markup that is safe as it is: made by this module, never a value from outside."""


def _esc(value: Any) -> str:
    if isinstance(value, Html):
        return value
    return html.escape("" if value is None else str(value))


def url(base: str, *segments: Any) -> str:
    """``base`` followed by each segment, percent-encoded: ``url("/_sandbox/x/shops", "a b", "page")``."""
    return base + "".join("/" + quote(str(segment), safe="") for segment in segments)


def link(href: str, text: Any) -> Html:
    return Html(f'<a href="{_esc(href)}">{_esc(text)}</a>')


def links(items: Iterable[tuple[str, str]]) -> Html:
    """A list of ``(text, href)`` links."""
    return Html("<ul>" + "".join(f"<li>{link(href, text)}</li>" for text, href in items) + "</ul>")


def newest(items: Iterable[T]) -> list[T]:
    """The last :data:`SHOWN` of ``items`` (oldest first), newest first."""
    return list(items)[: -SHOWN - 1 : -1]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], total: int | None = None) -> Html:
    """A table (cells escaped unless :class:`Html`); ``total``: how many there are, when only some show."""
    body = ["<tr>" + "".join(f"<td>{_esc(cell)}</td>" for cell in row) + "</tr>" for row in rows]
    note = f"<p>The newest {len(body)} of {total}.</p>" if total is not None and total > len(body) else ""
    if not body:
        body = [f'<tr><td class="empty" colspan="{len(headers)}">None yet</td></tr>']
    head = "".join(f"<th>{_esc(name)}</th>" for name in headers)
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}")


def section(title: str, *content: Html) -> Html:
    return Html(f"<section><h2>{_esc(title)}</h2>{''.join(content)}</section>")


def form(action: str, fields: Sequence[tuple[str, str, str]], button: str) -> Html:
    """A POST form of text inputs, each ``(name, label, default value)``, and its submit button."""
    inputs = "".join(
        f'<label>{_esc(label)}<input type="text" name="{_esc(name)}" value="{_esc(value)}"></label>'
        for name, label, value in fields
    )
    submit = f'<button type="submit">{_esc(button)}</button>'
    return Html(f'<form method="post" action="{_esc(action)}">{inputs}{submit}</form>')


def page(
    request: Request, title: str, *content: Html, up: Sequence[tuple[str, str]] = (), status: int = 200
) -> Response:
    """A whole page; ``up`` are ``(text, href)`` links to the pages above it (below "All sandboxes")."""
    trail = " / ".join(link(href, text) for text, href in (("All sandboxes", f"{ROOT}/"), *up))
    refresh = "" if request.query.get("refresh", "").lower() in ("0", "false", "no") else _REFRESH
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><nav>{trail}</nav><h1>{_esc(title)}</h1></header><main>{''.join(content)}</main>"
        f"{refresh}</body></html>"
    )
    return Response.text(document, status, content_type="text/html; charset=utf-8")


def error(request: Request, message: str, back: str) -> Response:
    """A form's refusal: 400 with the reason and a link back to the form."""
    content = Html(f'<p class="error">{_esc(message)}</p><p>{link(back, "Back")}</p>')
    return page(request, "Not accepted", content, status=400)


def redirect(location: str) -> Response:
    return Response.empty(303, {"Location": location})


def form_data(request: Request) -> dict[str, str]:
    """A posted form's fields, stripped (the first value wins when a name repeats)."""
    data: dict[str, str] = {}
    for name, value in parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True):
        data.setdefault(name, value.strip())
    return data


def number(text: str, what: str, below: int = 10**9) -> Decimal:
    """``"12.95"`` or ``"12,95"``: from 0 up to ``below``, at most two decimals; ``ValueError`` otherwise."""
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not value.is_finite() or not 0 <= value < below or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{what}: {text!r} is not a number from 0 up to {below} with at most two decimals")
    return value


def pdf(body: bytes, name: str) -> Response:
    """A PDF the browser shows (``inline``), saved as ``name``.pdf."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return Response(200, body, {"Content-Disposition": f'inline; filename="{safe}.pdf"'}, "application/pdf")


# ---------------------------------------------------------------------------- what several sandboxes show


@dataclass(frozen=True, slots=True)
class Pages:
    """Where one sandbox's pages are: its first page ``/_sandbox/{name}/page`` lists its shops or accounts,
    each of which has a page ``/_sandbox/{name}/{kind}/{item}/page``."""

    title: str
    name: str
    kind: str

    @property
    def first(self) -> str:
        return f"{ROOT}/{self.name}/page"

    def path(self, item: str, *more: Any) -> str:
        """``/_sandbox/{name}/{kind}/{item}/{more...}``, each segment percent-encoded."""
        return url(f"{ROOT}/{self.name}", self.kind, item, *more)

    def of(self, item: str) -> str:
        """The path of ``item``'s page."""
        return self.path(item, "page")

    def links(self, items: Iterable[str]) -> list[tuple[str, str]]:
        """``(text, href)`` of the first page and of each item's: what ``page_links()`` answers."""
        return [(self.title, self.first), *((f"{self.title}: {item}", self.of(item)) for item in items)]

    def index(self, request: Request, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
        """The first page: a table with a row per item, its first cell the item's name (made a link)."""
        linked = [(link(self.of(row[0]), row[0]), *row[1:]) for row in rows]
        return page(request, self.title, table(headers, linked))

    def page(self, request: Request, item: str, *content: Html) -> Response:
        """An item's page."""
        return page(request, f"{self.title}: {item}", *content, up=[(self.title, self.first)])


def overview(request: Request, sandboxes: Iterable[Sequence[tuple[str, str]]]) -> Response:
    """``GET /_sandbox/``: each sandbox's :meth:`Pages.links`, under the title of its first page."""
    return page(request, "Koppel sandboxes", *(section(group[0][0], links(group)) for group in sandboxes))


def orders(rows: Iterable[Sequence[Any]], total: int) -> Html:
    """A shop's orders, each a row of :data:`ORDER_HEADERS`."""
    return section("Orders", table(ORDER_HEADERS, rows, total))


def vat_rates(rates: Iterable[str], action: str) -> Html:
    """An account's VAT rates and the "Add VAT rate" form (field ``rate``)."""
    rows = [(f"{rate}%",) for rate in rates]
    return section(
        "VAT rates", table(("Rate",), rows), form(action, [("rate", "Percentage", "")], "Add VAT rate")
    )


def add_vat_rate(request: Request, rates: list[Decimal], back: str, most: int | None = None) -> Response:
    """The "Add VAT rate" form's answer: the posted rate appended to ``rates`` (unless there), then back."""
    try:
        rate = number(form_data(request).get("rate", ""), "VAT rate", below=100)
    except ValueError as exc:
        return error(request, str(exc), back)
    if rate not in rates:
        if most is not None and len(rates) >= most:
            return error(request, f"An account has at most {most} VAT rates", back)
        rates.append(rate)
    return redirect(back)
