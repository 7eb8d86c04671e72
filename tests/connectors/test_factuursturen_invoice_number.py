"""Factuursturen answers ``POST invoices`` with the new id only: Koppel reads the invoice back once for the
number the customer sees, stores it on the record (Report tab), and never fails a booking over it."""

from __future__ import annotations

import httpx
import pytest

from koppel.connectors.base import BookedInvoice
from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.documents.model import build_invoice
from koppel.sync.models import State
from tests.conftest import Administration, book, make_order


@pytest.fixture
def connector(administration):
    item = administration.connector()
    yield item
    item.close()


def invoice_of(**overrides):
    return build_invoice(KmoShopsSource.parse_order(make_order(**overrides)), intra_community=False)


def only_calls_left(administration: Administration, calls: int) -> None:
    """Shrink the hour's budget so that exactly ``calls`` more API calls are answered."""
    limit = httpx.get(f"{administration.control}/knobs").json()["hourly_limit"]
    used = limit - administration.state()["rate_limit_remaining"]
    administration.knobs(hourly_limit=used + calls)


def test_the_booked_record_carries_the_invoice_number(shop, administration, connection, deliver):
    record = book(shop, connection, deliver, make_order())

    assert record.state == State.HANDLED, record.message
    [invoice] = administration.invoices
    assert record.target_invoice_id == invoice["id"]
    assert record.target_invoice_number == invoice["invoicenr_full"] != ""
    assert record.message == f"Booked as Factuursturen invoice {invoice['invoicenr_full']}"
    reads = [
        r for r in administration.requests() if r["method"] == "GET" and r["path"].endswith(invoice["id"])
    ]
    assert len(reads) == 1  # read back once


def test_create_invoice_returns_the_number_and_the_pdf_is_found_by_it(administration, connector):
    invoice = invoice_of()
    debtor = connector.create_debtor(invoice)
    booked = connector.create_invoice(invoice, debtor)

    [stored] = administration.invoices
    assert (booked.id, booked.number, booked.note) == (stored["id"], stored["invoicenr_full"], "")
    assert connector.find_invoice(invoice) == booked
    assert connector.invoice_pdf(booked).startswith(b"%PDF-")


def test_a_failed_read_back_still_books_once_with_a_note(administration, connector):
    invoice = invoice_of()
    debtor = connector.create_debtor(invoice)
    only_calls_left(administration, 1)  # the POST goes through; the read-back meets the hourly limit

    booked = connector.create_invoice(invoice, debtor)

    [stored] = administration.invoices
    assert (booked.id, booked.number) == (stored["id"], "")
    assert "invoice number could not be read back" in booked.note and stored["id"] in booked.note
    administration.knobs(hourly_limit=100_000)
    assert connector.find_invoice(invoice).number == stored["invoicenr_full"]  # nothing booked twice
    assert len(administration.invoices) == 1
    # What the record stores after such a booking (the id, no number) still opens the PDF.
    assert connector.invoice_pdf(BookedInvoice(id=booked.id)).startswith(b"%PDF-")


def test_a_pdf_of_a_stored_number_the_api_does_not_know_is_found_by_the_id(administration, connector):
    invoice = invoice_of()
    booked = connector.create_invoice(invoice, connector.create_debtor(invoice))
    stale = BookedInvoice(id=booked.id, number="not-a-number")
    assert connector.invoice_pdf(stale).startswith(b"%PDF-")


def test_the_read_back_is_in_the_planned_requests(administration, connector):
    invoice = invoice_of()
    plan = connector.planned_requests(invoice, connector.settings)
    assert [(p.method, p.path.split("/")[0]) for p in plan][-2:] == [
        ("POST", "invoices"),
        ("GET", "invoices"),
    ]
    connector.create_invoice(invoice, connector.create_debtor(invoice))
    sent = [
        (r["method"], r["path"].rsplit("/api/v1/", 1)[-1].split("/")[0]) for r in administration.requests()
    ]
    assert sent[-2:] == [("POST", "invoices"), ("GET", "invoices")]


def test_the_sandbox_answers_the_read_back_as_the_real_api(administration, connector):
    """``GET invoices/{id}`` wraps the invoice in ``{"invoice": ...}``, with ``invoicenr`` and
    ``invoicenr_full`` (research A1; ``shared/specs/factuursturen/factuursturen_invoice_response.json``)."""
    invoice = invoice_of()
    booked = connector.create_invoice(invoice, connector.create_debtor(invoice))
    auth = (administration.username, administration.api_key)
    answer = httpx.get(f"{administration.url}/invoices/{booked.id}", auth=auth)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"invoice"}
    assert body["invoice"]["invoicenr_full"] == booked.number
    assert body["invoice"]["invoicenr"]
