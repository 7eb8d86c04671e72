"""The Excel export of a marketplace invoice: its whole specification with Koppel's match beside each line,
the differences, and a summary (turnover, costs per group, payout). Made with openpyxl."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from .reconcile import Reconciliation

MATCH_WORDS = {
    "matched": "geboekt, bedrag klopt",
    "amount": "geboekt, bedrag wijkt af",
    "unbooked": "niet geboekt door Koppel",
}
DIFFERENCE_WORDS = {
    "unbooked": "Betaald door bol, niet geboekt",
    "amount": "Bedrag wijkt af",
    "not_in_turnover": "Geboekt, niet in bols omzet",
}


def workbook(result: Reconciliation) -> bytes:
    book = Workbook()
    summary_sheet(book.active, result)
    specification_sheet(book.create_sheet("Specificatie"), result)
    differences_sheet(book.create_sheet("Verschillen"), result)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def header(sheet, titles: list[str]) -> None:
    sheet.append(titles)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def summary_sheet(sheet, result: Reconciliation) -> None:
    invoice = result.invoice
    sheet.title = "Samenvatting"
    sheet.append(["Factuur", invoice.invoice_id])
    sheet.append(["Soort", invoice.invoice_type])
    sheet.append(["Periode", f"{invoice.period_start or ''} – {invoice.period_end or ''}"])
    sheet.append(["Omzet (betaald door bol)", float(result.turnover)])
    for group, amount in result.costs.items():
        sheet.append([f"Kosten: {group}", float(amount)])
    sheet.append(["Uitbetaling", float(result.payout)])
    sheet.append(["Orders gematcht", result.matched])
    sheet.append(["Verschillen", len(result.differences)])
    sheet.column_dimensions["A"].width = 32


def specification_sheet(sheet, result: Reconciliation) -> None:
    source = result.invoice.connection.source_class
    header(
        sheet,
        ["Regel", "Regeltype", "Omschrijving", "Groep", "Bestelnummer", "EAN", "Aantal", "Bedrag excl. btw",
         "Btw", "Btw %", "Koppel", "Koppel record", "Koppel bedrag"],
    )  # fmt: skip
    for line in result.invoice.lines:
        line_type = source.line_type(line.code)
        match, record_id, booked = result.line_matches.get(line.line_id, ("", None, None))
        sheet.append(
            [
                line.line_id,
                line.code,
                line_type.label_nl if line_type.known else f"{line.code} (onbekend)",
                line_type.group if line_type.known else "onbekend",
                line.order_number,
                line.ean,
                float(line.quantity),
                float(line.net),
                float(line.vat),
                None if line.vat_rate is None else float(line.vat_rate),
                MATCH_WORDS.get(match, ""),
                record_id,
                None if booked is None else float(booked),
            ]
        )


def differences_sheet(sheet, result: Reconciliation) -> None:
    header(
        sheet, ["Soort", "Bestelnummer", "Betaald door bol", "Geboekt door Koppel", "Koppel record", "Reden"]
    )
    for item in result.differences:
        sheet.append(
            [
                DIFFERENCE_WORDS[item.kind],
                item.order_number,
                None if item.paid is None else float(item.paid),
                None if item.booked is None else float(item.booked),
                item.record_id,
                item.reason,
            ]
        )
