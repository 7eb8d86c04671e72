"""Orders through webhook → worker → the Factuursturen sandbox: what is particular to Factuursturen (its exact
requests, excl.-VAT debtors, VAT shifting, the hourly limit). What every target does alike, each error code
included, is in ``test_every_target.py``."""

from __future__ import annotations

import json

from koppel.sync.models import Attempt, State
from tests.conftest import book, make_order, shared_file


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


def test_hourly_rate_limit_pauses_and_resumes(shop, administration, connection, deliver, monkeypatch):
    from koppel.connectors.factuursturen import client as fs_client

    monkeypatch.setattr(fs_client, "seconds_to_next_hour", lambda now=None: 0.2)
    administration.knobs(rate_limit_burst=1)
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED
    [only] = Attempt.objects.filter(record=record)  # waited out in the same attempt
    assert only.outcome == "handled" and "after waiting 0.2 s for a rate limit" in only.message
    assert any(call["status"] == 403 for call in only.calls)
    connection.refresh_from_db()
    assert connection.target_paused_until is not None


def test_a_shop_rate_limit_pauses_fetching_and_uses_up_no_tries(shop, administration, connection, deliver):
    shop.knobs(fail_next=[429])  # answered with Retry-After: 1
    record = book(shop, connection, deliver, make_order())
    assert record.state == State.HANDLED, record.message
    [only] = Attempt.objects.filter(record=record)
    assert only.outcome == "handled" and "after waiting 1.0 s" in only.message
    assert [call["status"] for call in only.calls][:2] == [429, 200]
    assert record.attempts == 0
    connection.refresh_from_db()
    assert connection.source_paused_until is not None
