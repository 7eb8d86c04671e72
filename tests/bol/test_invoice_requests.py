"""Customers' invoice requests at bol.com answered with the target's PDF, through real HTTP against the bol
and Factuursturen sandboxes: uploaded once, followed to its process status and shown on the record; a
request for a shipment not booked yet waits; a refused upload is incorrect and tried again a few times."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from django.test import Client

from koppel.accounts.models import ApiToken
from koppel.connectors.base import BookedInvoice
from koppel.connectors.bol import client as bol_client
from koppel.connectors.bol import signatures
from koppel.sync import housekeeping, invoice_requests
from koppel.sync.models import Record, State
from koppel.sync.tasks import answer_invoice_requests
from tests.bol.test_pipeline import bol_connection, push
from tests.conftest import drain


@pytest.fixture(autouse=True)
def fresh_process_state():
    bol_client.BUCKETS.clear()
    signatures.KEYS.clear()
    yield


def shipped_and_booked(client, sandbox, connection, bol_shop) -> tuple[dict, Record]:
    """An order placed and shipped at bol, its SHIPMENT push booked by the worker."""
    order = bol_shop.place(notify=False)
    shipment = bol_shop.ship(order["orderId"])
    assert push(client, sandbox, connection, "SHIPMENT", shipment["shipmentId"]).status_code == 202
    drain()
    record = Record.objects.get(connection=connection, source_order_id=shipment["shipmentId"])
    assert record.state == State.HANDLED, record.message
    return shipment, record


def answer(connection) -> None:
    """One run of the job as the worker does it, with its follow-ups of the process status."""
    answer_invoice_requests.enqueue(connection.pk)
    drain()


def target_pdf(administration, record: Record) -> bytes:
    target = administration.connector()
    try:
        return target.invoice_pdf(BookedInvoice(record.target_invoice_id, record.target_invoice_number))
    finally:
        target.close()


def bol_status(bol_shop, shipment_id: str) -> str:
    params = {"shipment-id": shipment_id, "state": "ALL"}
    (row,) = bol_shop.api("GET", "/retailer/shipments/invoices/requests", params=params).json()[
        "invoiceRequests"
    ]
    return row["status"]


def test_a_request_is_answered_with_the_targets_pdf_once(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    shipment, record = shipped_and_booked(client, sandbox, connection, bol_shop)
    bol_shop.request_invoice(shipment["shipmentId"])

    assert housekeeping.schedule_invoice_requests() == 1  # as the worker's housekeeper plans it
    drain()
    (upload,) = bol_shop.invoices()
    pdf = httpx.get(f"{bol_shop.control}/invoices/{shipment['shipmentId']}").content
    expected = target_pdf(administration, record)
    assert pdf == expected and pdf.startswith(b"%PDF-") and upload["size"] == len(expected) > 0
    assert upload["sha256"] == hashlib.sha256(expected).hexdigest()
    assert record.target_invoice_number.encode() in pdf
    assert upload["filename"] == f"invoice-{record.target_invoice_number}.pdf"
    assert upload["status"] == "SUCCESS" and upload["content_type"] == "application/pdf"
    assert bol_status(bol_shop, shipment["shipmentId"]) == "INVOICE_UPLOADED"
    record.refresh_from_db()
    assert record.invoice_request == "uploaded"
    assert (
        record.invoice_upload["tries"] == 1
        and record.invoice_upload["process_id"] == upload["process_status_id"]
    )

    assert housekeeping.schedule_invoice_requests() == 0  # not due again for minutes
    answer(connection)
    answer(connection)
    assert len(bol_shop.invoices()) == 1


def test_the_record_page_and_the_api_show_the_request(
    client, sandbox, account, bol_shop, administration, retry_fast, django_user_model
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    shipment, record = shipped_and_booked(client, sandbox, connection, bol_shop)
    bol_shop.request_invoice(shipment["shipmentId"])
    answer(connection)

    user = django_user_model.objects.create_user("anna@bakkerij.nl", "anna@bakkerij.nl", "x")
    account.members.add(user)
    merchant = Client(HTTP_ACCEPT_LANGUAGE="en")
    merchant.force_login(user)
    page = merchant.get(record.get_absolute_url()).content.decode()
    assert "Customer's invoice request</dt><dd>Uploaded</dd>" in page
    _item, token = ApiToken.issue(account, "test")
    body = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(f"/api/records/{record.pk}").json()
    assert body["invoice_request"] == "uploaded"


def test_a_request_for_a_shipment_not_booked_yet_waits(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    order = bol_shop.place(notify=False)
    shipment = bol_shop.ship(order["orderId"])
    bol_shop.request_invoice(shipment["shipmentId"])
    assert answer_invoice_requests.call(connection.pk).startswith("uploaded 0, waiting 1")  # no record yet

    assert push(client, sandbox, connection, "SHIPMENT", shipment["shipmentId"]).status_code == 202
    answer_invoice_requests.call(connection.pk)  # the record exists, queued: not booked yet
    record = Record.objects.get(connection=connection, source_order_id=shipment["shipmentId"])
    assert (record.state, record.invoice_request) == (State.QUEUED, "requested")
    assert bol_shop.invoices() == []

    drain()  # the booking
    answer(connection)
    record.refresh_from_db()
    assert (record.state, record.invoice_request) == (State.HANDLED, "uploaded")
    assert len(bol_shop.invoices()) == 1
    assert httpx.get(f"{bol_shop.control}/invoices/{shipment['shipmentId']}").content == target_pdf(
        administration, record
    )


def test_a_failed_upload_is_incorrect_and_tried_again_a_few_times(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    shipment, record = shipped_and_booked(client, sandbox, connection, bol_shop)
    bol_shop.request_invoice(shipment["shipmentId"])
    bol_shop.knobs(fail_invoice_uploads=True)

    answer(connection)
    record.refresh_from_db()
    assert record.invoice_request == "incorrect"
    assert "damaged" in record.invoice_upload["message"]
    assert bol_status(bol_shop, shipment["shipmentId"]) == "INVOICE_INCORRECT"
    assert [u["status"] for u in bol_shop.invoices()] == ["FAILURE"]

    for _ in range(3):  # later runs: at most MAX_UPLOADS in all
        answer(connection)
    record.refresh_from_db()
    assert record.invoice_request == "incorrect" and record.invoice_upload["tries"] == 3
    assert len(bol_shop.invoices()) == invoice_requests.MAX_UPLOADS == 3


def test_a_retry_after_a_failed_upload_can_succeed(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    shipment, record = shipped_and_booked(client, sandbox, connection, bol_shop)
    bol_shop.request_invoice(shipment["shipmentId"])
    bol_shop.knobs(fail_invoice_uploads=True)
    answer(connection)
    bol_shop.knobs(fail_invoice_uploads=False)
    answer(connection)
    record.refresh_from_db()
    assert (record.invoice_request, record.invoice_upload["message"]) == ("uploaded", "")
    assert [u["status"] for u in bol_shop.invoices()] == ["FAILURE", "SUCCESS"]
    answer(connection)
    assert len(bol_shop.invoices()) == 2


def test_the_order_source_answers_on_the_orders_record(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration, source="order")
    order = bol_shop.place(notify=False)
    assert push(client, sandbox, connection, "ORDER", order["orderId"]).status_code == 202
    drain()
    shipment = bol_shop.ship(order["orderId"])
    bol_shop.request_invoice(shipment["shipmentId"])
    answer(connection)
    record = Record.objects.get(connection=connection, source_order_id=order["orderId"])
    assert record.invoice_request == "uploaded"
    (upload,) = bol_shop.invoices()
    assert upload["shipment_id"] == shipment["shipmentId"]
    assert httpx.get(f"{bol_shop.control}/invoices/{shipment['shipmentId']}").content == target_pdf(
        administration, record
    )


def test_a_source_without_invoice_requests_is_skipped(connection) -> None:
    assert not invoice_requests.supported(connection.source_class)
    assert housekeeping.schedule_invoice_requests() == 0
    assert answer_invoice_requests.call(connection.pk).startswith("uploaded 0, waiting 0")


def test_a_target_away_uses_up_no_upload(
    client, sandbox, account, bol_shop, administration, retry_fast
) -> None:
    connection = bol_connection(account, bol_shop, administration)
    shipment, record = shipped_and_booked(client, sandbox, connection, bol_shop)
    bol_shop.request_invoice(shipment["shipmentId"])
    administration.knobs(fail_next=[503])  # the PDF is not given this time
    answer(connection)
    record.refresh_from_db()
    assert (record.invoice_request, record.invoice_upload["tries"]) == ("requested", 0)
    assert "503" in record.invoice_upload["message"] and bol_shop.invoices() == []
    bol_shop.knobs(fail_next=[503])  # bol away: the run reads nothing and changes nothing
    assert answer_invoice_requests.call(connection.pk) == "not-read"
    answer(connection)
    record.refresh_from_db()
    assert (record.invoice_request, record.invoice_upload["tries"]) == ("uploaded", 1)
    assert len(bol_shop.invoices()) == 1
