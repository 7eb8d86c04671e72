"""``koppel preview --source S --target T ORDER.json``: the checks, the canonical invoice and exactly the
requests the target would receive (a new debtor assumed), without calling anything.

``--format ubl --seller SELLER.json`` prints the invoice as a UBL 2.1 e-invoice (EN 16931, Peppol BIS
Billing 3.0) instead, the checks that block it on standard error. ``--oss`` applies the VAT rules of a
merchant who declares OSS. The refunds the order's payload shows (Shopify's ``refunds``; bol.com's items
cancelled after invoicing) are previewed as credit notes with the requests that would book them.

Exit status: 0 when every check passes, 3 when a check blocks booking, 2 when the input (or a
``--source-setting``, or the seller) cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from koppel.connectors import registry
from koppel.connectors.errors import OrderInvalid
from koppel.documents.checks import CheckContext, invoice_for, run_checks
from koppel.documents.model import Invoice
from koppel.documents.refunds import build_credit_note
from koppel.documents.ubl import Seller, SellerInvalid, UblError, invoice_ubl
from koppel.documents.vat import DOMESTIC_RATES
from koppel.documents.vat_rules import policy_for

EXIT_OK, EXIT_UNREADABLE, EXIT_BLOCKED = 0, 2, 3


def preview(
    payload: dict[str, Any],
    *,
    source: str,
    target: str,
    shop_country: str = "NL",
    eligible_statuses: frozenset[str] | None = None,
    start_at: datetime | None = None,
    vat_rates: frozenset[Decimal] | None = None,
    target_settings: dict[str, Any] | None = None,
    source_settings: dict[str, Any] | None = None,
    oss: bool = False,
) -> dict[str, Any]:
    """The preview as a dict; raises ``OrderInvalid`` when the payload cannot be mapped."""
    checks, invoice = _checked_invoice(
        payload,
        source=source,
        target=target,
        shop_country=shop_country,
        eligible_statuses=eligible_statuses,
        start_at=start_at,
        vat_rates=vat_rates,
        source_settings=source_settings,
        oss=oss,
    )
    target_cls = registry.target(target)
    settings = target_cls.load_settings(target_settings or {})
    result = {
        "checks": checks,
        "document": invoice.as_dict(),
        "requests": [request.as_dict() for request in target_cls.planned_requests(invoice, settings)],
    }
    credits = credit_notes(
        payload,
        invoice,
        source=source,
        target=target,
        settings=settings,
        **({"source_settings": source_settings} if source_settings else {}),
    )
    if credits:
        result["credit_notes"] = credits
    return result


def credit_notes(
    payload: dict[str, Any],
    invoice: Invoice,
    *,
    source: str,
    target: str,
    settings: Any,
    source_settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The credit notes of the refunds the payload shows, and the requests that would book each (the
    invoice it credits numbered ``<invoice number>``)."""
    source_cls, target_cls = registry.source(source), registry.target(target)
    if not source_cls.supports_refunds:
        return []
    # No call is made: a connector with placeholder credentials only maps the payload's refunds.
    placeholders = {name: "preview" for name in source_cls.credential_sets()[0]}
    reader = source_cls(
        url="https://preview.invalid", credentials=placeholders, settings=source_settings or {}
    )
    try:
        refunds = reader.refunds_of(payload)
    finally:
        reader.close()
    previews = []
    for refund in refunds:
        credit = build_credit_note(
            refund, invoice, invoice_number="<invoice number>", invoice_id="<invoice id>"
        )
        previews.append(
            {
                "refund_id": refund.refund_id,
                "document": credit.as_dict(),
                "requests": [r.as_dict() for r in target_cls.planned_credit_requests(credit, settings)],
            }
        )
    return previews


def preview_ubl(
    payload: dict[str, Any], seller: Seller, *, source: str, target: str, **options: Any
) -> tuple[list[dict[str, Any]], bytes]:
    """The checks and the order's invoice as UBL 2.1 (options as for :func:`preview`, without target
    settings); raises ``OrderInvalid`` or ``UblError``."""
    checks, invoice = _checked_invoice(payload, source=source, target=target, **options)
    return checks, invoice_ubl(invoice, seller)


def _checked_invoice(
    payload: dict[str, Any],
    *,
    source: str,
    target: str,
    shop_country: str = "NL",
    eligible_statuses: frozenset[str] | None = None,
    start_at: datetime | None = None,
    vat_rates: frozenset[Decimal] | None = None,
    source_settings: dict[str, Any] | None = None,
    oss: bool = False,
) -> tuple[list[dict[str, Any]], Invoice]:
    source_cls, target_cls = registry.source(source), registry.target(target)
    loaded = source_cls.load_settings(source_settings or {})
    order = source_cls.parse_order(payload, loaded)
    ctx = CheckContext(
        vat_policy=policy_for(shop_country, oss=oss, vies=False, source_settings=loaded),
        shop_country=shop_country,
        eligible_statuses=eligible_statuses or frozenset(source_cls.default_eligible_statuses),
        start_at=start_at,
        target_name=target_cls.label,
        target_vat_rates=vat_rates
        if vat_rates is not None
        else DOMESTIC_RATES.get(shop_country.upper(), target_cls.default_vat_rates),
    )
    checks = [check.as_dict() for check in run_checks(order, ctx)]
    return checks, invoice_for(order, ctx)


def load_seller(path: str) -> Seller:
    """The seller of a ``SELLER.json``; ``SellerInvalid`` says what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SellerInvalid(f"cannot read the seller file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SellerInvalid(f"the seller file {path} is not JSON: {exc}") from None
    return Seller.from_json(data)


def _rates(text: str) -> frozenset[Decimal]:
    try:
        return frozenset(Decimal(part.strip()) for part in text.split(",") if part.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a list of percentages: {text!r}") from None


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"write it as NAME=VALUE: {text!r}")
    return name.strip(), value.strip()


def _source_settings(source: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``--source-setting`` pairs as the source's settings, checked; ``ValueError`` says what is wrong."""
    source_cls = registry.source(source)
    known = source_cls.settings_model.model_fields
    unknown = sorted({name for name, _value in pairs if name not in known})
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise ValueError(f"{source} has no setting {', '.join(unknown)} (its settings: {names})")
    try:
        source_cls.load_settings(dict(pairs))
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
    return dict(pairs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koppel preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("order", help="the order JSON as the source sends it ('-' reads standard input)")
    parser.add_argument("--source", required=True, choices=sorted(registry.sources()))
    parser.add_argument("--target", required=True, choices=sorted(registry.targets()))
    parser.add_argument("--shop-country", default="NL", help="country the shop sells from (default NL)")
    parser.add_argument("--statuses", help="comma-separated statuses to book (default: the source's)")
    parser.add_argument(
        "--vat-rates",
        type=_rates,
        help="the administration's VAT rates, e.g. 21,9,0 (default: the shop country's, e.g. NL 21,9,0)",
    )
    parser.add_argument(
        "--settings", default="{}", help='target settings as JSON, e.g. \'{"send_invoice": "email"}\''
    )
    parser.add_argument(
        "--source-setting",
        dest="source_settings",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the source, repeatable, e.g. bol.com's ean_vat_rates=8712345678906,9 or "
        "default_vat_rate=9 (default: the source's defaults; bol.com books at 21%%)",
    )
    parser.add_argument(
        "--oss",
        action="store_true",
        help="the merchant declares OSS: EU consumers abroad pay their own country's VAT",
    )
    parser.add_argument(
        "--format",
        choices=("json", "ubl"),
        default="json",
        help="json: the checks, the invoice and the requests (default); ubl: the invoice as a UBL 2.1 "
        "e-invoice (needs --seller)",
    )
    parser.add_argument(
        "--seller",
        metavar="SELLER.json",
        help="the merchant as JSON: name, vat_number, coc_number, street, postal_code, city, country, "
        "email, iban",
    )
    return parser


def _error(code: str, message: str) -> int:
    print(json.dumps({"error": code, "message": message}, ensure_ascii=False), file=sys.stderr)
    return EXIT_UNREADABLE


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        source_settings = _source_settings(args.source, args.source_settings)
    except ValueError as exc:
        return _error("SETTINGS_INVALID", str(exc))
    seller = None
    if args.format == "ubl" or args.seller:
        try:
            if not args.seller:
                raise SellerInvalid("--format ubl needs the seller: --seller SELLER.json")
            seller = load_seller(args.seller)
        except SellerInvalid as exc:
            return _error("SELLER_INVALID", str(exc))
    try:
        raw = sys.stdin.read() if args.order == "-" else Path(args.order).read_text(encoding="utf-8")
        payload = json.loads(raw)
        if not isinstance(payload, dict):
            raise ValueError("the order must be a JSON object")
        options: dict[str, Any] = {
            "source": args.source,
            "target": args.target,
            "shop_country": args.shop_country.upper(),
            "eligible_statuses": frozenset(s.strip().lower() for s in args.statuses.split(","))
            if args.statuses
            else None,
            "vat_rates": args.vat_rates,
            "source_settings": source_settings,
            "oss": args.oss,
        }
        if seller is not None and args.format == "ubl":
            return _print_ubl(*preview_ubl(payload, seller, **options))
        result = preview(payload, target_settings=json.loads(args.settings), **options)
    except UblError as exc:
        return _error("UBL_IMPOSSIBLE", str(exc))
    except (OSError, ValueError, OrderInvalid) as exc:
        return _error("ORDER_UNREADABLE", exc.message if isinstance(exc, OrderInvalid) else str(exc))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK if all(check["passed"] for check in result["checks"]) else EXIT_BLOCKED


def _print_ubl(checks: list[dict[str, Any]], document: bytes) -> int:
    """The document on standard output; the checks that block booking, if any, on standard error."""
    sys.stdout.write(document.decode("utf-8"))
    failing = [check for check in checks if not check["passed"]]
    if failing:
        print(json.dumps({"error": "BLOCKED", "checks": failing}, ensure_ascii=False), file=sys.stderr)
        return EXIT_BLOCKED
    return EXIT_OK
