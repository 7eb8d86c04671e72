"""Booking an invoice (``action`` send) or keeping a saved or repeating one, and sending a saved one."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .clients import SEND_METHODS, _reference
from .common import _AMSTERDAM, _DATE, NOT_EMAILED, PAYMENT_CONDITION, _bad, _int_text, _text, _today
from .lines import _cents, _decimal, _Line, _parse_lines, invoice_totals
from .state import Account


class Booking:
    """The sandbox's Python API for invoices (also used by the API and the control API)."""

    def add_invoice(self, account: Account, data: Any) -> dict[str, Any]:
        """Validate and book an invoice (``action`` send) or keep a saved/repeating one; returns it."""
        if not isinstance(data, dict):
            raise _bad("Invalid request body: expected a JSON object")
        if data.get("clientnr") in (None, ""):
            raise _bad("Field clientnr is required")
        client = account.clients.get(str(data["clientnr"]).strip())
        if client is None:
            raise _bad(f"Client {data['clientnr']} not found")
        action = data.get("action")
        if action in (None, ""):
            raise _bad("Field action is required")
        if action not in ("send", "save", "repeat"):
            raise _bad(f"Invalid value for field action: {action} (allowed: send, save, repeat)")
        if action in ("save", "repeat"):
            savename = _text(data.get("savename"), "savename")
            if not savename:
                raise _bad(f"Field savename is required for action {action}")
            if len(savename) > 20:
                raise _bad("Field savename is too long (max 20 characters)")
        sendmethod = data.get("sendmethod")
        if action == "send" and sendmethod in (None, ""):
            raise _bad("Field sendmethod is required for action send")
        if sendmethod not in (None, "") and sendmethod not in SEND_METHODS:
            raise _bad(
                f"Invalid value for field sendmethod: {sendmethod} (allowed: {', '.join(SEND_METHODS)})"
            )
        profile = _text(data.get("profile"), "profile") or account.default_profile
        if profile not in {p["id"] for p in account.profiles}:
            raise _bad(f"Invalid profile: {profile}")
        reference = _reference(data.get("reference") or {}, {"line1": "", "line2": "", "line3": ""})
        lines = _parse_lines(data.get("lines"), frozenset(account.taxes))
        sent = _text(data.get("sent"), "sent") or _today().isoformat()
        try:
            sent_date = date.fromisoformat(sent) if _DATE.match(sent) else None
        except ValueError:
            sent_date = None
        if sent_date is None:
            raise _bad(f"Invalid date for field sent: {sent} (expected YYYY-MM-DD)")
        period = int(_int_text(data.get("paymentperiod") or client["top"] or "30", "paymentperiod"))
        method = _text(data.get("alreadypaidmethod"), "alreadypaidmethod")
        if len(method) > 32:
            raise _bad("Field alreadypaidmethod is too long (max 32 characters)")

        taxes, tax, total = invoice_totals(lines, client["tax_type"] == "intax")
        paid = Decimal(0)
        if data.get("alreadypaid") not in (None, ""):
            if data["alreadypaid"] == "full":
                paid = total
            else:
                paid = _cents(_decimal(data["alreadypaid"], "Invalid value for field alreadypaid"))
                if paid < 0:
                    raise _bad("Invalid value for field alreadypaid")
        now = datetime.now(_AMSTERDAM)
        history = [
            {
                "date": now.date().isoformat(),
                "time": now.strftime("%H:%M"),
                "description": "Factuur aangemaakt",
            }
        ]
        if action == "send" and sendmethod == "email":
            to = client["email"].strip()
            sent_by = f"Factuur per e-mail verstuurd naar {to}" if to else NOT_EMAILED
            history.append({**history[0], "description": sent_by})
        elif action == "send":
            history.append({**history[0], "description": "Factuur verstuurd"})
        if paid:
            amount = f"{paid:.2f}".replace(".", ",")
            note = f"Betaling van € {amount} geregistreerd" + (f" ({method})" if method else "")
            history.append({**history[0], "description": note})

        if action == "save":
            return self._save_invoice(
                account, data, client, profile, reference, lines, sent, taxes, tax, total
            )
        if action == "repeat":
            key = str(len(account.repeated_invoices) + 1)
            account.repeated_invoices[key] = {**data, "id": key}
            return account.repeated_invoices[key]

        number = account.next_number.get(sent_date.year, 1)
        account.next_number[sent_date.year] = number + 1
        invoice_id = f"{sent_date.year}{number:04d}"
        open_amount = total - paid
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "invoicenr_full": f"F{invoice_id}",
            "invoicenr": f"F{invoice_id}",
            "reference": reference,
            "lines": {f"line{n}": line.out() for n, line in enumerate(lines, 1)},
            "profile": profile,
            "discounttype": "percentage",
            "discount": "0",
            "paymentcondition": PAYMENT_CONDITION,
            "paymentperiod": str(period),
            "collection": "0",
            "tax": f"{tax:.2f}",
            "totalintax": f"{total:.2f}",
            "clientnr": client["clientnr"],
            **{key: client[key] for key in ("company", "contact", "address", "zipcode", "city", "country")},
            **{key: client[key] for key in ("phone", "mobile", "email", "taxnumber")},
            "invoicenote": _text(data.get("invoicenote"), "invoicenote"),
            "sent": sent,
            "uncollectible": "",
            "lastreminder": "",
            "open": f"{open_amount:.2f}",
            "paiddate": sent if paid and open_amount <= 0 else "",
            "taxes": taxes,
            "payment_url": f"https://www.factuursturen.nl/pay?i={invoice_id}",
            "duedate": (sent_date + timedelta(days=period)).isoformat(),
            "history": {f"item{n}": item for n, item in enumerate(history, 1)},
            "tax_type": client["tax_type"],
            "language": client["default_doclang"] or "nl",
            "tax_shifted": client["tax_shifted"],
            "sendmethod": sendmethod,
        }
        account.put_invoice(invoice)
        account.put_client({**client, "lastinvoice": max(client["lastinvoice"], sent)})
        return invoice

    @staticmethod
    def _save_invoice(
        account: Account,
        data: dict[str, Any],
        client: dict[str, Any],
        profile: str,
        reference: dict[str, str],
        lines: list[_Line],
        sent: str,
        taxes: dict[str, dict[str, Any]],
        tax: Decimal,
        total: Decimal,
    ) -> dict[str, Any]:
        """A saved invoice (a draft): no number, nothing sent; a later send numbers it."""
        name = _text(data.get("savename"), "savename")
        overwrite = data.get("overwrite_if_exist") in (True, "true", "1", 1)
        same = next((k for k, v in account.saved_invoices.items() if v["savename"] == name), None)
        if overwrite and same is not None:
            key = same
        else:
            key = str(account.next_saved_id)
            account.next_saved_id += 1
        saved: dict[str, Any] = {
            "id": key,
            "savename": name,
            "clientnr": client["clientnr"],
            **{k: client[k] for k in ("company", "contact", "email")},
            "reference": reference,
            "lines": {f"line{n}": line.out() for n, line in enumerate(lines, 1)},
            "profile": profile,
            "sendmethod": _text(data.get("sendmethod"), "sendmethod") or client["sendmethod"],
            "sent": sent,
            "tax": f"{tax:.2f}",
            "totalintax": f"{total:.2f}",
            "taxes": taxes,
            "alreadypaid": _text(data.get("alreadypaid"), "alreadypaid"),
            "alreadypaidmethod": _text(data.get("alreadypaidmethod"), "alreadypaidmethod"),
        }
        account.put_saved(
            saved, {k: v for k, v in data.items() if k not in ("savename", "overwrite_if_exist")}
        )
        return saved

    def send_saved(self, account: Account, key: str) -> dict[str, Any]:
        """The merchant sends a saved invoice from Factuursturen's screens: it is numbered and sent as it
        was saved, and leaves the saved invoices."""
        if key not in account.saved_invoices:
            raise _bad(f"Saved invoice {key} not found")
        saved = account.saved_invoices[key]
        request = {**account.saved_requests[key], "action": "send", "sendmethod": saved["sendmethod"]}
        invoice = self.add_invoice(account, request)  # validated again: the client may have changed
        account.remove_saved(key)
        return invoice
