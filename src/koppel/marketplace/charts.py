"""The picture of a connection's marketplace invoices: per period, the turnover bol collected, the costs per
group (drawn below zero) and the payout, with the number of differences, for Chart.js."""

from __future__ import annotations

from datetime import date
from typing import Any

from koppel.documents.marketplace import GROUPS

from .reconcile import Reconciliation

#: Colours per group of costs, and for turnover and payout.
COLOURS = {
    "turnover": "#2e7d32",
    "commission": "#c62828",
    "logistics": "#ef6c00",
    "fbb": "#8d6e63",
    "advertising": "#6a1b9a",
    "corrections": "#546e7a",
    "compensations": "#00838f",
    "other": "#9e9e9e",
}
GROUP_LABELS = {
    "nl": {
        "turnover": "Omzet",
        "commission": "Commissie",
        "logistics": "Verzending",
        "fbb": "Logistiek via bol",
        "advertising": "Advertenties",
        "corrections": "Correcties",
        "compensations": "Compensaties",
        "other": "Overig",
        "payout": "Uitbetaling",
    },
    "en": {
        "turnover": "Turnover",
        "commission": "Commission",
        "logistics": "Shipping",
        "fbb": "Fulfilment by bol",
        "advertising": "Advertising",
        "corrections": "Corrections",
        "compensations": "Compensations",
        "other": "Other",
        "payout": "Payout",
    },
}


def group_label(group: str, language: str) -> str:
    return GROUP_LABELS["nl" if language.startswith("nl") else "en"].get(group, group)


def periods(results: list[Reconciliation], language: str) -> dict[str, Any]:
    """Oldest period first: ``labels``, one bar dataset per group (turnover up, costs down), the payout as
    a line and the differences per period."""
    ordered = sorted(
        results,
        key=lambda r: (r.invoice.period_end or r.invoice.issue_date or date.min, r.invoice.invoice_id),
    )
    labels = [label_of(r) for r in ordered]
    groups = [g for g in GROUPS if any(g in r.costs for r in ordered)]
    datasets = [
        {
            "label": group_label("turnover", language),
            "data": [float(r.turnover) for r in ordered],
            "color": COLOURS["turnover"],
        }
    ]
    datasets += [
        {
            "label": group_label(group, language),
            "data": [-float(r.costs.get(group, 0)) for r in ordered],
            "color": COLOURS.get(group, "#9e9e9e"),
        }
        for group in groups
    ]
    return {
        "labels": labels,
        "datasets": datasets,
        "payout": {"label": group_label("payout", language), "data": [float(r.payout) for r in ordered]},
        "differences": [len(r.differences) for r in ordered],
    }


def label_of(result: Reconciliation) -> str:
    invoice = result.invoice
    if invoice.period_start and invoice.period_end:
        return f"{invoice.period_start:%d-%m} – {invoice.period_end:%d-%m-%Y}"
    return invoice.invoice_id
