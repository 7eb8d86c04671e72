"""Stable codes for every order Koppel does not book, with the remedy a merchant can apply.

The codes never change meaning; the README's error-code table is generated from :data:`REMEDIES`
(``koppel codes --markdown``) so the documentation and the software cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

from koppel.documents.i18n import mark as _  # marked for translation; shown translated


class Code(StrEnum):
    # Pre-checks on the order
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    ICP_VAT_NUMBER_MISSING = "ICP_VAT_NUMBER_MISSING"
    ICP_VAT_NUMBER_INVALID = "ICP_VAT_NUMBER_INVALID"
    VAT_CODE_MISSING = "VAT_CODE_MISSING"
    ALREADY_PROCESSED = "ALREADY_PROCESSED"
    STATUS_NOT_ELIGIBLE = "STATUS_NOT_ELIGIBLE"
    BEFORE_START_DATE = "BEFORE_START_DATE"
    CONNECTION_OFF = "CONNECTION_OFF"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    VAT_RATE_MISMATCH = "VAT_RATE_MISMATCH"
    # Refunds and returns (credit notes)
    REFUND_WAITS_FOR_INVOICE = "REFUND_WAITS_FOR_INVOICE"
    REFUND_ORDER_NOT_BOOKED = "REFUND_ORDER_NOT_BOOKED"
    REFUND_NOT_INVOICED = "REFUND_NOT_INVOICED"
    CREDIT_NOTES_OFF = "CREDIT_NOTES_OFF"
    # Marketplace invoices (bol.com's own invoices to the merchant)
    PURCHASES_NOT_SUPPORTED = "PURCHASES_NOT_SUPPORTED"
    NO_PURCHASE_LINES = "NO_PURCHASE_LINES"
    # Failures on the way
    ORDER_INVALID = "ORDER_INVALID"
    SOURCE_AUTH_FAILED = "SOURCE_AUTH_FAILED"
    SOURCE_ORDER_NOT_FOUND = "SOURCE_ORDER_NOT_FOUND"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    TARGET_AUTH_FAILED = "TARGET_AUTH_FAILED"
    TARGET_REJECTED = "TARGET_REJECTED"
    TARGET_UNAVAILABLE = "TARGET_UNAVAILABLE"
    BOOKING_IN_DOUBT = "BOOKING_IN_DOUBT"
    CREDENTIALS_UNREADABLE = "CREDENTIALS_UNREADABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


REMEDIES: dict[Code, tuple[str, str]] = {
    Code.TOTAL_MISMATCH: (
        _(
            "The order total differs from the sum of its lines plus shipping by more than per-line VAT "
            "rounding."
        ),
        _(
            "Check the order in the shop: a discount, fee or line the shop does not report per line. Correct "
            "it, then press Process."
        ),
    ),
    Code.ICP_VAT_NUMBER_MISSING: (
        _("A business order from another EU country has no VAT number."),
        _(
            "Intra-community sales need the buyer's VAT number. Add it to the order or customer in the shop, "
            "then press Process."
        ),
    ),
    Code.ICP_VAT_NUMBER_INVALID: (
        _(
            "The buyer's VAT number has a wrong format or check digits, or its country prefix differs from "
            "the billing country."
        ),
        _("Ask the customer for the correct VAT number, correct it in the shop, then press Process."),
    ),
    Code.VAT_CODE_MISSING: (
        _("An order line carries a VAT rate that the invoicing administration does not have."),
        _(
            "Add the rate to the administration's VAT rates (Factuursturen: Instellingen > BTW-tarieven; "
            "EenvoudigFactureren: the VAT rates in its settings), then press Process."
        ),
    ),
    Code.ALREADY_PROCESSED: (
        _("The order was booked before, by Koppel or by hand: an invoice for this order number exists."),
        _(
            "Nothing to do. To book it anyway, remove or renumber the existing invoice first, then press "
            "Process."
        ),
    ),
    Code.STATUS_NOT_ELIGIBLE: (
        _("The order's status is not (yet) one the connection books (the record waits under Open)."),
        _(
            "Nothing to do: Koppel books the order when its status changes, and looks again every night. "
            "Change the eligible statuses in the connection settings if needed."
        ),
    ),
    Code.BEFORE_START_DATE: (
        _("The order was placed before the connection's start date."),
        _("Orders before installation are not booked automatically. Use a backfill, or move the start date."),
    ),
    Code.ORDER_CANCELLED: (
        _("The whole order was cancelled before it was booked (by the customer or the marketplace)."),
        _("Nothing to do: a cancelled order is not invoiced."),
    ),
    Code.VAT_RATE_MISMATCH: (
        _(
            "The VAT rate the shop charged differs from the rate the VAT rules give for this sale (the "
            "customer's country, OSS, an intra-community supply or an export): Koppel does not book a wrong "
            "amount."
        ),
        _(
            "Check the shop's tax settings for that country (and the connection's OSS setting), correct the "
            "order in the shop, then press Process."
        ),
    ),
    Code.REFUND_WAITS_FOR_INVOICE: (
        _("A refund whose order is not booked yet: the credit note needs the invoice it credits."),
        _("Nothing to do: it is booked as soon as its order's invoice is."),
    ),
    Code.REFUND_ORDER_NOT_BOOKED: (
        _(
            "A refund of an order Koppel has not booked (it is in error, skipped, or never reached Koppel), "
            "so there is no invoice to credit."
        ),
        _(
            "Book the order first (see its record, or fetch it with Where is order X?); the refund follows. "
            "An order booked by hand needs its credit note made by hand too."
        ),
    ),
    Code.REFUND_NOT_INVOICED: (
        _("The cancelled or refunded items were never on the booked invoice: there is nothing to credit."),
        _("Nothing to do."),
    ),
    Code.CREDIT_NOTES_OFF: (
        _("Credit notes are switched off for this connection: the refund is kept, not booked."),
        _("Switch credit notes on in the Configuration tab and press Process to book it."),
    ),
    Code.PURCHASES_NOT_SUPPORTED: (
        _(
            "A marketplace invoice (bol.com's commission, labels, advertising) is a purchase invoice, and "
            "the connection's target makes sales invoices only. The invoice is kept with its PDF, UBL and "
            "specification."
        ),
        _(
            "Download it from the connection's bol.com invoices page, or connect a bookkeeping target (such "
            "as Moneybird) to have it booked."
        ),
    ),
    Code.NO_PURCHASE_LINES: (
        _("The marketplace invoice has no lines (nor a specification): there is nothing to book."),
        _("Nothing to do; its PDF and UBL are on the connection's bol.com invoices page."),
    ),
    Code.CONNECTION_OFF: (
        _(
            "The connection is switched off: nothing is fetched or booked (the shop's notifications are "
            "kept)."
        ),
        _("Switch the connection on in the Profile tab: the orders that waited are booked then."),
    ),
    Code.ORDER_INVALID: (
        _("The shop's order could not be read (missing or malformed field)."),
        _(
            "The message names the field. Correct the order in the shop, or report the problem with the "
            "record."
        ),
    ),
    Code.SOURCE_AUTH_FAILED: (
        _("The shop refused Koppel's API key."),
        _("Enter the current API key of the shop in the connection settings, then press Process."),
    ),
    Code.SOURCE_ORDER_NOT_FOUND: (
        _("The shop no longer knows this order (deleted)."),
        _("Nothing to book. If the order should exist, check it in the shop."),
    ),
    Code.SOURCE_UNAVAILABLE: (
        _(
            "The shop has not answered for longer than the outage horizon (24 hours unless configured); "
            "until then its orders wait under Queued."
        ),
        _("Nothing to do: the nightly job tries again. Press Process to try sooner."),
    ),
    Code.TARGET_AUTH_FAILED: (
        _("The invoicing software refused the API key (or username), or the key lacks a permission."),
        _(
            "Create or re-activate the API key (Factuursturen: Instellingen > Verbindingen; "
            "EenvoudigFactureren: Profiel > Toegangsbeheer, with access to Invoices, Customers, Items and "
            "Layouts), enter it in the connection settings, then press Process."
        ),
    ),
    Code.TARGET_REJECTED: (
        _("The invoicing software rejected the debtor or invoice; its own message is shown."),
        _("Correct what the message names (in the shop or the administration), then press Process."),
    ),
    Code.TARGET_UNAVAILABLE: (
        _(
            "The invoicing software has not answered (timeouts or server errors) for longer than the outage "
            "horizon (24 hours unless configured); until then its orders wait under Queued."
        ),
        _("Nothing to do: the nightly job tries again. Press Process to try sooner."),
    ),
    Code.BOOKING_IN_DOUBT: (
        _(
            "The invoice was sent to the invoicing software, but its answer never came (a timeout, a cut "
            "connection or a server error): it may still be saved there, late. The order waits under Queued."
        ),
        _(
            "Nothing to do: Koppel searches the administration for the invoice again and again, and books it "
            "only when the doubt window (KOPPEL_BOOKING_DOUBT_SECONDS, 10 minutes by default) has passed "
            "without finding it. An order is never booked twice."
        ),
    ),
    Code.CREDENTIALS_UNREADABLE: (
        _(
            "The worker cannot decrypt the connection's stored credentials: it runs with other encryption "
            "keys than the process that saved them."
        ),
        _(
            "Start every web and worker process with the same KOPPEL_FERNET_KEYS, then press Process (Koppel "
            "also retries by itself). If the key is lost, connect the shop or administration again."
        ),
    ),
    Code.INTERNAL_ERROR: (
        _("An unexpected error inside Koppel."),
        _("Report the problem with the record; the attempt log holds the details."),
    ),
}


def remedy(code: Code | str) -> str:
    return REMEDIES[Code(code)][1]


def explained(code: Code | str) -> tuple[str, str]:
    """What the code means and what to do, in the active language; ``("", "")`` for no known code."""
    from django.utils.translation import gettext

    if code not in REMEDIES:
        return "", ""
    meaning, fix = REMEDIES[Code(code)]
    return gettext(meaning), gettext(fix)


def remedies_markdown() -> str:
    rows = ["| Code | What it means | What to do |", "| --- | --- | --- |"]
    rows += [f"| `{code}` | {meaning} | {fix} |" for code, (meaning, fix) in REMEDIES.items()]
    return "\n".join(rows)
