"""What an administration is set up with: ``GET /administrations.json`` (outside any administration),
``tax_rates.json`` (filter ``tax_rate_type``, ``percentage``, ``name``, ``active``), ``ledger_accounts.json``
and ``document_styles.json``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from koppel.sandbox.http import Response

from .gate import Call
from .listing import parse_filter
from .state import Administration

TAX_FILTERS = ("tax_rate_type", "percentage", "name", "partial_name", "active", "country", "show_tax")


def administration_out(administration: Administration) -> dict[str, object]:
    return {
        "id": administration.id,
        "name": administration.display_name or administration.name,
        "language": "nl",
        "currency": administration.currency,
        "country": administration.country,
        "time_zone": "Europe/Amsterdam",
    }


async def administrations(call: Call, found: list[Administration]) -> Response:
    return Response.json([administration_out(item) for item in found])


def _same_percentage(rate: dict[str, object], wanted: list[str]) -> bool:
    try:
        return any(Decimal(str(rate["percentage"])) == Decimal(value) for value in wanted)
    except InvalidOperation:
        return False


async def tax_rates(call: Call) -> Response:
    conditions = parse_filter(call.request, TAX_FILTERS)
    found = list(call.administration.tax_rates)
    if kinds := conditions.get("tax_rate_type"):
        found = [r for r in found if r["tax_rate_type"] in kinds]
    if wanted := conditions.get("percentage"):
        found = [r for r in found if _same_percentage(r, wanted)]
    if names := conditions.get("name"):
        found = [r for r in found if r["name"] in names]
    if parts := conditions.get("partial_name"):
        found = [r for r in found if any(p.casefold() in str(r["name"]).casefold() for p in parts)]
    if active := conditions.get("active"):
        found = [r for r in found if str(r["active"]).lower() in active]
    return Response.json(found)


async def ledger_accounts(call: Call) -> Response:
    return Response.json(call.administration.ledger_accounts)


async def document_styles(call: Call) -> Response:
    return Response.json(call.administration.document_styles)
