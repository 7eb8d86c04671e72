"""Finding an object by its id, and sending an invoice: by e-mail or through Peppol."""

from __future__ import annotations

from typing import Any

from .common import _DIGITS, _stamp
from .render import _bad, _not_found
from .state import Account
from .values import _email, _text


def _find(objects: dict[int, dict[str, Any]], raw_id: str) -> dict[str, Any]:
    found = objects.get(int(raw_id)) if _DIGITS.match(raw_id) else None
    if found is None:
        raise _not_found()
    return found


def _peppol(account: Account, invoice: dict[str, Any], options: Any) -> dict[str, Any]:
    """Record a delivery of ``invoice`` through Peppol (as Peppol BIS 3.0): the client needs a VAT number,
    its Peppol identifier (0208/9925 for Belgium, 9944 for the Netherlands, ...)."""
    if options not in (None, {}):
        raise _bad("Invalid value for field methods.peppol: expected an empty object")
    client = account.clients.get(invoice["client_id"]) or {}
    vat_number = str(client.get("tax_code") or "").replace(" ", "").replace(".", "").upper()
    if not vat_number:
        raise _bad("The client has no VAT number: it cannot be reached through Peppol")
    delivery = {
        "invoice_id": invoice["invoice_id"],
        "number": invoice["number"],
        "to": vat_number,
        "format": "peppolbis3",
        "time": _stamp(),
    }
    account.peppol_deliveries.append(delivery)
    invoice["sent"] = "yes"
    invoice["modified"] = delivery["time"]
    return {"recipient": vat_number, "format": "peppolbis3"}


def _mail(account: Account, invoice: dict[str, Any], recipient: Any) -> dict[str, Any]:
    """Record an e-mail of ``invoice`` to ``recipient`` (``main_contact``: the client's address)."""
    wanted = _text(recipient, "recipient").strip() or "main_contact"
    if wanted == "main_contact":
        client = account.clients.get(invoice["client_id"])
        address = client["email_address"] if client is not None else ""
        if not address:
            raise _bad("The client has no e-mail address")
    else:
        address = _email(wanted, "recipient")
    stamp = _stamp()
    account.emails.append(
        {"invoice_id": invoice["invoice_id"], "number": invoice["number"], "to": address, "time": stamp}
    )
    invoice["sent"] = "yes"
    invoice["modified"] = stamp
    return {"invoice_id": invoice["invoice_id"], "sent": "yes", "recipient": address}
