"""Orders through webhook → worker → the Factuursturen sandbox, one behaviour a test, checked where a
merchant or bookkeeper would look: the record's state and reason, and the invoices in Factuursturen."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from koppel.sync.models import Attempt, Record, State
from tests.conftest import drain, in_past, make_order, record_of, shared_file


def book(shop, connection, deliver, order):
    shop.place(order)
    response = deliver(connection, order["id"])
    assert response.status_code == 202, response.content
    drain()
    return record_of(connection, order)


def invoice_posts(administration):
    return [r for r in administration.requests() if r["method"] == "POST" and r["path"].endswith("/invoices")]


# -- the happy path ---------------------------------------------------------------------------------------


def test_example_order_sends_exactly_the_previewed_requests(shop, administration, connection, deliver):
    from koppel.preview import preview

    example = json.loads(shared_file("specs/kmoshops/order-example.json").read_text())
    record = book(shop, connection, deliver, example)

    assert record.state == State.HANDLED, record.message
    assert record.error_code == ""
    assert record.payload["id"] == example["id"]  # the order as the shop sent it is kept
    [client] = administration.clients
    [invoice] = administration.invoices
    assert record.target_debtor_id == client["clientnr"]
    assert record.target_invoice_id == invoice["id"]
    assert invoice["totalintax"] == "308.43"
    assert invoice["reference"]["line1"] == "367439"

    planned = preview(example, source="kmoshops", target="factuursturen")["requests"]
    sent = [r for r in administration.requests() if r["method"] == "POST"]
    assert [r["path"].rsplit("/", 1)[-1] for r in sent] == ["clients", "invoices"]
    assert sent[0]["json"] == planned[2]["json"]
    expected_invoice = dict(planned[3]["json"], clientnr=client["clientnr"])
    assert sent[1]["json"] == expected_invoice
    assert expected_invoice["lines"] == [
        {"amount": "1", "description": "Bed Boxspring", "tax_rate": "21.00", "price": "249.00"},
        {"amount": "2", "description": "Hoofdkussen", "tax_rate": "21.00", "price": "19.99"},
        {"amount": "1", "description": "Slaapgids (boek)", "tax_rate": "9.00", "price": "12.50"},
        {"amount": "1", "description": "Verzendkosten", "tax_rate": "21.00", "price": "6.95"},
    ]


def test_debtor_is_reused_by_email_and_never_modified(shop, administration, connection, deliver):
    first = book(shop, connection, deliver, make_order(customer={"email": "trouwe.klant@example.nl"}))
    # Same customer, different spelling of the address: the debtor is found by e-mail, not changed.
    second = book(
        shop,
        connection,
        deliver,
        make_order(
            customer={"email": "Trouwe.Klant@example.nl", "address1": "Nieuwe Gracht", "city": "Delft"}
        ),
    )
    assert first.state == second.state == State.HANDLED
    [client] = administration.clients
    assert client["city"] == "Utrecht"
    assert first.target_debtor_id == second.target_debtor_id == client["clientnr"]
    assert {i["clientnr"] for i in administration.invoices} == {client["clientnr"]}
    assert not [r for r in administration.requests() if r["method"] == "PUT"]


def test_existing_extax_debtor_gets_prices_excluding_vat(shop, administration, connection, deliver):
    administration.add_client(
        {"contact": "Piet Pieters", "email": "piet@example.nl", "tax_type": "extax", "country": "Nederland"}
    )
    order = make_order(
        customer={"email": "piet@example.nl"},
        lines=[{"description": "Lamp", "amount": 1, "price": "121.00", "tax_rate": "21.00"}],
        shipping=None,
        total="121.00",
    )
    record = book(shop, connection, deliver, order)
    assert record.state == State.HANDLED
    assert len(administration.clients) == 1
    [post] = invoice_posts(administration)
    assert post["json"]["lines"][0]["price"] == "100.00"
    assert administration.invoices[0]["totalintax"] == "121.00"


# -- each pre-check, with a real order --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"total": "99.99"}, "TOTAL_MISMATCH", "differs from lines plus shipping"),
        (
            {"customer": {"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": ""}},
            "ICP_VAT_NUMBER_MISSING",
            "has no VAT number",
        ),
        (
            {"customer": {"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "BE0403019262"}},
            "ICP_VAT_NUMBER_INVALID",
            "wrong format or check digits",
        ),
        (
            {"customer": {"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "NL004495445B01"}},
            "ICP_VAT_NUMBER_INVALID",
            "but the billing country is Belgium",
        ),
        (
            {
                "lines": [{"description": "Kinderstoel", "amount": 1, "price": "50.00", "tax_rate": "7.00"}],
                "shipping": None,
                "total": "50.00",
            },
            "VAT_CODE_MISSING",
            "has no VAT rate 7.00%",
        ),
    ],
)
def test_pre_check_failures_are_explained_and_book_nothing(
    shop, administration, connection, deliver, overrides, code, words
):
    record = book(shop, connection, deliver, make_order(**overrides))
    assert record.state == State.ERROR
    assert record.error_code == code
    assert words in record.message
    assert administration.invoices == []
    assert administration.clients == []


def test_missing_vat_rate_names_the_rates_the_administration_has(shop, administration, connection, deliver):
    order = make_order(
        lines=[{"description": "Kinderstoel", "amount": 1, "price": "50.00", "tax_rate": "7"}],
        shipping=None,
        total="50.00",
    )
    record = book(shop, connection, deliver, order)
    assert "0.00%, 9.00%, 21.00%" in record.message


def test_valid_intra_community_order_is_booked_vat_shifted(shop, administration, connection, deliver):
    order = make_order(
        customer={
            "company": "Brasserie Anvers BV",
            "country": "BE",
            "vatnumber": "BE0403019261",
            "city": "Antwerpen",
            "zipcode": "2000",
        },
        lines=[{"description": "Koffiemolen", "amount": 2, "price": "80.00", "tax_rate": "0"}],
        shipping=None,
        priceincltax=False,
        total="160.00",
    )
    record = book(shop, connection, deliver, order)
    assert record.state == State.HANDLED, record.message
    [client] = administration.clients
    assert client["tax_shifted"] == "true"
    assert client["taxnumber"] == "BE0403019261"
    assert record.document["intra_community"] is True


def test_status_not_eligible_waits_open_then_books_on_change(shop, administration, connection, deliver):
    order = make_order(status="pending", paid=False)
    record = book(shop, connection, deliver, order)
    assert record.state == State.OPEN
    assert record.error_code == "STATUS_NOT_ELIGIBLE"
    assert administration.invoices == []

    shop.update(order["id"], {"status": "paid", "paid": True})
    assert deliver(connection, order["id"], "order.updated").status_code == 202
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED
    assert len(administration.invoices) == 1


def test_order_before_start_date_is_skipped(shop, administration, connection, deliver):
    connection.start_at = datetime.now(UTC)
    connection.save()
    record = book(shop, connection, deliver, make_order(created_at=in_past(3)))
    assert record.state == State.SKIPPED
    assert record.error_code == "BEFORE_START_DATE"
    assert administration.invoices == []


def test_order_booked_by_hand_is_already_processed(shop, administration, connection, deliver):
    order = make_order()
    [client] = [administration.add_client({"contact": "Handmatig", "email": "hand@example.nl"})]
    administration.create_invoice(
        {
            "clientnr": client.get("clientnr", "1"),
            "action": "send",
            "sendmethod": "mail",
            "reference": {"line1": order["number"]},
            "lines": [{"amount": "1", "description": "Handmatig", "tax_rate": "21", "price": "10.00"}],
        }
    )
    record = book(shop, connection, deliver, order)
    assert record.state == State.SKIPPED
    assert record.error_code == "ALREADY_PROCESSED"
    assert order["number"] in record.message
    assert len(administration.invoices) == 1


# -- failures on the way ----------------------------------------------------------------------------------


def test_wrong_shop_api_key_is_source_auth_failed(shop, administration, connection, deliver):
    connection.source_credentials = {"api_key": "not-the-key"}
    connection.save()
    record = book(shop, connection, deliver, make_order())
    assert (record.state, record.error_code) == (State.ERROR, "SOURCE_AUTH_FAILED")
    assert "not-the-key" not in record.message


def test_wrong_factuursturen_key_is_target_auth_failed(shop, administration, connection, deliver):
    connection.target_credentials = {"username": administration.username, "api_key": "wrong"}
    connection.save()
    record = book(shop, connection, deliver, make_order())
    assert (record.state, record.error_code) == (State.ERROR, "TARGET_AUTH_FAILED")
    assert administration.invoices == []


def test_target_rejection_carries_the_targets_own_message(shop, administration, connection, deliver):
    # Automatic e-mailing needs an e-mail address; Factuursturen refuses a debtor without one.
    connection.target_settings = {"send_invoice": "email"}
    connection.save()
    record = book(shop, connection, deliver, make_order(customer={"email": ""}))
    assert (record.state, record.error_code) == (State.ERROR, "TARGET_REJECTED")
    assert "Factuursturen answered 400" in record.message
    assert "email" in record.message.lower()


def test_deleted_order_is_source_order_not_found(shop, administration, connection, deliver):
    order = make_order()
    shop.place(order)
    shop.delete(order["id"])
    deliver(connection, order["id"])
    drain()
    record = record_of(connection, order)
    assert (record.state, record.error_code) == (State.ERROR, "SOURCE_ORDER_NOT_FOUND")


def test_unreadable_order_is_order_invalid_and_kept(shop, administration, connection, deliver):
    record = book(shop, connection, deliver, make_order(lines=[], total="0.00"))
    assert (record.state, record.error_code) == (State.ERROR, "ORDER_INVALID")
    assert "lines" in record.message
    assert record.payload is not None and record.payload["lines"] == []


def test_transient_failures_retry_then_book(shop, administration, connection, deliver):
    administration.knobs(fail_next=[503, 502])
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    outcomes = list(Attempt.objects.filter(record=record).values_list("outcome", flat=True))
    assert outcomes == ["retry", "retry", "handled"]
    assert len(administration.invoices) == 1


def test_retries_exhausted_is_target_unavailable(shop, administration, connection, deliver, retry_fast):
    administration.knobs(fail_next=[500] * 10)
    record = book(shop, connection, deliver, make_order())
    assert (record.state, record.error_code) == (State.ERROR, "TARGET_UNAVAILABLE")
    assert f"Gave up after {retry_fast.RETRY_MAX_ATTEMPTS} attempts" in record.message
    assert Attempt.objects.filter(record=record).count() == retry_fast.RETRY_MAX_ATTEMPTS


def test_hourly_rate_limit_pauses_and_resumes(shop, administration, connection, deliver, monkeypatch):
    from koppel.connectors.factuursturen import client as fs_client

    monkeypatch.setattr(fs_client, "seconds_to_next_hour", lambda now=None: 0.2)
    administration.knobs(rate_limit_burst=1)
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED
    first = Attempt.objects.filter(record=record).first()
    assert first.outcome == "retry" and "hourly API limit" in first.message
    assert any(call["status"] == 403 for call in first.calls)
    connection.refresh_from_db()
    assert connection.target_paused_until is not None


# -- exactly once -----------------------------------------------------------------------------------------


def test_crash_after_target_stored_invoice_does_not_book_twice(shop, administration, connection, deliver):
    administration.knobs(fail_after_commit_next=1)
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED
    assert "after an interrupted attempt" in record.message
    assert len(administration.invoices) == 1
    assert len(invoice_posts(administration)) == 1


def test_duplicate_and_late_webhooks_book_one_invoice(shop, administration, connection, deliver):
    order = make_order()
    shop.place(order)
    for event in ("order.created", "order.created", "order.updated", "order.created"):
        assert deliver(connection, order["id"], event).status_code == 202
    drain()
    # A late update after booking changes nothing.
    assert deliver(connection, order["id"], "order.updated").status_code == 202
    drain()
    assert Record.objects.filter(connection=connection).count() == 1
    assert record_of(connection, order).state == State.HANDLED
    assert len(administration.invoices) == 1


def test_handled_order_cannot_be_processed_again(shop, administration, connection, deliver):
    from koppel.sync.services import AlreadyHandled, reprocess

    record = book(shop, connection, deliver, make_order())
    with pytest.raises(AlreadyHandled):
        reprocess(record)


def test_process_button_books_after_the_merchant_fixed_the_cause(shop, administration, connection, deliver):
    from koppel.sync.services import reprocess

    order = make_order(customer={"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": ""})
    record = book(shop, connection, deliver, order)
    assert record.error_code == "ICP_VAT_NUMBER_MISSING"
    shop.update(order["id"], {"customer": {**order["customer"], "vatnumber": "BE0403019261"}})
    reprocess(record)
    drain()
    record.refresh_from_db()
    assert record.state == State.HANDLED
    assert administration.clients[0]["taxnumber"] == "BE0403019261"
