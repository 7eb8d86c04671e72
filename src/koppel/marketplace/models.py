"""A marketplace's invoice to the merchant, kept once per invoice id with every file of it, and the
connection's choice of ledger account per line type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from koppel.connections.models import Connection
from koppel.documents.marketplace import SpecificationLine
from koppel.sync.models import Record


class MarketplaceInvoice(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="marketplace_invoices")
    invoice_id = models.CharField(max_length=60, help_text=_("The marketplace's invoice number."))
    invoice_type = models.CharField(max_length=40, blank=True, default="")
    issue_date = models.DateField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    total_excl = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    total_incl = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    payable = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Positive: the merchant pays the marketplace; negative: the marketplace pays out."),
    )
    #: The list item exactly as the marketplace sent it.
    summary = models.JSONField(default=dict, blank=True)
    pdf = models.BinaryField(default=b"", blank=True)
    ubl = models.BinaryField(default=b"", blank=True)
    specification_xlsx = models.BinaryField(default=b"", blank=True)
    #: Every line of the specification (all pages), as Koppel read them (see ``lines``).
    specification = models.JSONField(default=list, blank=True)
    #: The invoice document's own lines (one per line type) and its supplier, from the UBL.
    invoice_lines = models.JSONField(default=list, blank=True)
    supplier = models.JSONField(default=dict, blank=True)
    #: Line type codes the connector does not know: kept, flagged, booked on the suspense account.
    unknown_types = models.JSONField(default=list, blank=True)
    files_fetched_at = models.DateTimeField(null=True, blank=True)
    fetch_error = models.CharField(max_length=500, blank=True, default="")
    record = models.OneToOneField(
        Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="marketplace_invoice"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_end", "-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "invoice_id"], name="one_marketplace_invoice")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_type} {self.invoice_id}"

    @property
    def lines(self) -> list[SpecificationLine]:
        return [line_from_json(row) for row in self.specification]

    def amounts(self) -> list[tuple[str, Decimal, Decimal, Decimal | None]]:
        """``(line type, net, VAT, rate)`` of the invoice's own lines (the UBL: the legal document, whose
        VAT is computed per line), or, when it has none, of the specification's transactions."""
        if not self.invoice_lines:
            return [(line.code, line.net, line.vat, line.vat_rate) for line in self.lines]
        return [
            (
                str(row.get("code", "")),
                Decimal(str(row.get("net", "0"))),
                Decimal(str(row.get("vat", "0"))),
                None if row.get("vat_rate") in (None, "") else Decimal(str(row["vat_rate"])),
            )
            for row in self.invoice_lines
        ]


class LedgerChoice(models.Model):
    """Which of the target's ledger accounts a line type of the marketplace's invoices is booked on."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="ledger_choices")
    line_type = models.CharField(max_length=60)
    ledger_account_id = models.CharField(max_length=60)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "line_type"], name="one_ledger_per_line_type")
        ]

    def __str__(self) -> str:
        return f"{self.line_type} → {self.ledger_account_id}"


def line_to_json(line: SpecificationLine) -> dict[str, Any]:
    return {
        "id": line.line_id,
        "code": line.code,
        "order": line.order_number,
        "ean": line.ean,
        "description": line.description,
        "quantity": str(line.quantity),
        "net": str(line.net),
        "vat": str(line.vat),
        "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
    }


def line_from_json(row: dict[str, Any]) -> SpecificationLine:
    rate = row.get("vat_rate")
    return SpecificationLine(
        line_id=str(row.get("id", "")),
        code=str(row.get("code", "")),
        order_number=str(row.get("order", "")),
        ean=str(row.get("ean", "")),
        description=str(row.get("description", "")),
        quantity=Decimal(str(row.get("quantity", "1"))),
        net=Decimal(str(row.get("net", "0"))),
        vat=Decimal(str(row.get("vat", "0"))),
        vat_rate=None if rate in (None, "") else Decimal(str(rate)),
    )
