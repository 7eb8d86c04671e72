"""A Moneybird connection's settings.

Moneybird keeps a sales invoice made through its API as a draft (concept) until it is sent: ``PATCH
sales_invoices/{id}/send_invoice`` numbers it and makes it final, with a delivery method ``Email``
(Moneybird e-mails it) or ``Manual`` (final, the merchant sends it). The document status keeps the meaning
it has for the other targets: "draft" is never sent, "final" is sent with ``Manual``, "final_email" with
``Email``. A payment can only be registered on a final invoice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from koppel.connectors.base import ConnectorSettings, setting
from koppel.documents.i18n import mark as _  # marked for translation; shown translated

DocumentStatus = Literal["draft", "final", "final_email"]
DOCUMENT_STATUS_LABELS = {
    "draft": _("Draft (saved, not final: you finalise it in the administration)"),
    "final": _("Final (you send it)"),
    "final_email": _("Final and e-mailed to the customer"),
}
#: ``delivery_method`` of ``send_invoice`` per document status ("draft" is not sent).
DELIVERY_METHODS = {"final": "Manual", "final_email": "Email"}


def _id(value: str, name: str) -> str:
    value = value.strip()
    if value and not value.isdigit():
        raise ValueError(f"{name} must be a Moneybird id (digits), not {value!r}")
    return value


class MoneybirdSettings(ConnectorSettings):
    document_status: DocumentStatus = setting(
        "final",
        _("Document status"),
        _(
            "What a new invoice is in Moneybird: a draft you send yourself from Moneybird, final (Koppel "
            "sends it with the delivery method Manual, so it is numbered), or final and e-mailed by "
            "Moneybird."
        ),
        choice_labels=DOCUMENT_STATUS_LABELS,
    )
    document_style_id: str = setting(
        "", _("Invoice layout"), _("Empty: the administration's default layout."), choices_from="layouts"
    )
    register_payments: bool = setting(
        True,
        _("Register payments"),
        _("Mark the invoice of a paid order as paid, so it is not left open. Drafts are never marked paid."),
    )
    revenue_ledger_account_id: str = setting(
        "",
        _("Revenue ledger account"),
        _("The ledger account of the invoice lines; empty: Moneybird's default revenue account."),
        choices_from="ledger_accounts",
    )
    purchase_ledger_account_id: str = setting(
        "",
        _("Ledger account for purchase lines"),
        _("Where a purchase line without a ledger account of its own is booked; empty: Moneybird decides."),
        choices_from="ledger_accounts",
    )

    @field_validator("document_style_id", "revenue_ledger_account_id", "purchase_ledger_account_id")
    @classmethod
    def _ids(cls, value: str, info) -> str:
        return _id(value, info.field_name)
