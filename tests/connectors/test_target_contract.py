"""The contract every target connector keeps, run against each target's sandbox over real HTTP.

A new target is a folder under ``koppel/connectors/`` whose connector passes this suite (add its sandbox
account to ``TARGETS`` in ``conftest.py``); the pipeline needs no change. What the pipeline relies on:

- ``test_connection`` raises ``AuthFailed`` for wrong credentials;
- ``vat_rates`` and ``layouts`` list what the administration has;
- ``find_debtor`` matches by e-mail, whatever its case; ``create_debtor`` creates exactly one;
- ``find_invoice`` finds what ``create_invoice`` booked, and an invoice booked by hand with the order number
  as its reference; the booked total is what the customer paid;
- ``planned_requests`` is exactly what is sent;
- failures are classified: 5xx and timeouts ``Unavailable`` (retried), the rate limit ``RateLimited`` with
  a wait, a refusal ``Rejected`` with the target's own message.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from koppel.connectors import registry
from koppel.connectors.base import Debtor, TargetConnector
from koppel.connectors.errors import AuthFailed, RateLimited, Rejected, Unavailable
from koppel.connectors.kmoshops.connector import KmoShopsSource
from koppel.documents.model import Invoice, build_invoice
from koppel.documents.vat import is_intra_community_supply
from tests.conftest import TARGETS, make_order


def invoice_of(**overrides) -> Invoice:
    order = KmoShopsSource.parse_order(make_order(**overrides))
    return build_invoice(order, intra_community=is_intra_community_supply(order, "NL"))


@pytest.fixture
def connector(target):
    item = target.connector()
    yield item
    item.close()


def book(connector: TargetConnector, invoice: Invoice) -> tuple[Debtor, str]:
    """What the pipeline does for a new order: look for the invoice, find or create the debtor, book."""
    assert connector.find_invoice(invoice) is None
    debtor = connector.find_debtor(invoice.customer) or connector.create_debtor(invoice)
    return debtor, connector.create_invoice(invoice, debtor).id


def test_every_target_has_a_sandbox_in_the_suite():
    assert set(registry.targets()) == set(TARGETS)


def test_connection_test_accepts_the_key_and_refuses_a_wrong_one(target, connector):
    connector.test_connection()
    wrong = registry.target(target.kind)(url=target.url, credentials=target.wrong_credentials())
    with pytest.raises(AuthFailed) as caught:
        wrong.test_connection()
    assert caught.value.code == "TARGET_AUTH_FAILED"
    assert "not-the-key" not in caught.value.message
    wrong.close()


def test_vat_rates_and_layouts_are_what_the_administration_has(connector):
    assert {Decimal("21"), Decimal("9"), Decimal("0")} <= connector.vat_rates()
    layouts = connector.layouts()
    assert layouts and all(layout.id and layout.name for layout in layouts)


def test_a_debtor_is_found_by_email_in_any_case_and_created_once(target, connector):
    invoice = invoice_of(customer={"email": "Karin.de.Wit@Example.nl"})
    assert connector.find_debtor(invoice.customer) is None
    created = connector.create_debtor(invoice)
    assert created.id
    again = invoice_of(customer={"email": "karin.de.wit@example.nl", "city": "Delft"})
    found = connector.find_debtor(again.customer)
    assert found is not None and found.id == created.id
    [client] = target.clients
    assert target.client_city(client) == "Utrecht"


def test_a_booked_invoice_is_found_and_totals_what_the_customer_paid(target, connector):
    invoice = invoice_of()
    assert connector.find_invoice(invoice) is None
    debtor, invoice_id = book(connector, invoice)
    found = connector.find_invoice(invoice)
    assert found is not None and found.id == invoice_id
    [stored] = target.invoices
    assert target.invoice_total(stored) == invoice.gross
    assert target.invoice_client(stored) == debtor.id
    # Another order of the same customer is not mistaken for this one.
    assert connector.find_invoice(invoice_of(customer={"email": invoice.customer.email})) is None


def test_an_invoice_booked_by_hand_with_the_order_number_is_found(target, connector):
    invoice = invoice_of()
    target.book_by_hand(reference=invoice.order_number)
    found = connector.find_invoice(invoice)
    assert found is not None and found.id


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # prices incl. VAT, 21% and 9%, shipping
        {"priceincltax": False},
        {
            "lines": [
                {"description": "Mok", "amount": 3, "price": "9.99", "tax_rate": "21"},
                {"description": "Koffie", "amount": 7, "price": "4.33", "tax_rate": "9"},
                {"description": "Cadeaubon", "amount": 1, "price": "25.00", "tax_rate": "0"},
            ],
            "shipping": {"description": "Verzendkosten", "price": "0.00", "tax_rate": "21"},
        },
        {
            "priceincltax": False,
            "lines": [{"description": "Stoel", "amount": 3, "price": "8.26", "tax_rate": "21"}],
            "shipping": {"description": "Verzendkosten", "price": "4.13", "tax_rate": "21"},
        },
    ],
    ids=["incl", "excl", "mixed-rates-free-shipping", "excl-odd-cents"],
)
def test_the_booked_total_is_the_invoice_total_to_the_cent(target, connector, overrides):
    invoice = invoice_of(**overrides)
    book(connector, invoice)
    [stored] = target.invoices
    assert target.invoice_total(stored) == invoice.gross


def test_the_pdf_is_a_pdf(connector):
    invoice = invoice_of()
    book(connector, invoice)
    found = connector.find_invoice(invoice)
    assert connector.invoice_pdf(found).startswith(b"%PDF-")


def is_placeholder(value) -> bool:
    """``"<debtor id>"``, ``"<tax rate id of 21%>"``: what a plan cannot know without calling the target."""
    return isinstance(value, str) and value.startswith("<") and value.endswith(">")


def unwrap(body: dict) -> dict:
    """A body wrapped in its resource's name (Moneybird's ``{"sales_invoice": {...}}``) unwrapped."""
    if len(body) == 1 and isinstance(only := next(iter(body.values())), dict):
        return only
    return body


def same(sent, planned) -> bool:
    """``sent`` is ``planned`` but for the placeholders, which stand for any value."""
    if is_placeholder(planned):
        return True
    if isinstance(planned, dict):
        return (
            isinstance(sent, dict)
            and sent.keys() == planned.keys()
            and all(same(sent[key], planned[key]) for key in planned)
        )
    if isinstance(planned, list):
        return isinstance(sent, list) and len(sent) == len(planned) and all(map(same, sent, planned))
    return sent == planned


def test_planned_requests_are_exactly_what_is_sent(target, connector):
    invoice = invoice_of(
        customer={"company": "Bakkerij De Witte", "firstname": "Karin", "lastname": "de Wit"}
    )
    plan = connector.planned_requests(invoice, connector.settings)
    debtor, _ = book(connector, invoice)
    sent = [r for r in target.requests() if r["method"] == "POST"]
    planned = [p for p in plan if p.method == "POST"]
    assert [r["path"].rstrip("/").rsplit("/", 1)[-1] for r in sent] == [
        p.path.rsplit("/", 1)[-1] for p in planned
    ]
    assert sent[0]["json"] == planned[0].json  # the debtor, as previewed
    assert same(sent[1]["json"], planned[1].json)  # the invoice, with the ids only booking knows
    body, plan_body = unwrap(sent[1]["json"]), unwrap(planned[1].json)
    debtor_field = next(key for key, value in plan_body.items() if is_placeholder(value))
    assert str(body[debtor_field]) == debtor.id
    gets = [r for r in target.requests() if r["method"] == "GET"]
    assert len(gets) == len([p for p in plan if p.method == "GET"])


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable_and_retried(target, connector, status):
    target.knobs(fail_next=[status])
    with pytest.raises(Unavailable) as caught:
        connector.vat_rates()
    assert caught.value.transient and caught.value.code == "TARGET_UNAVAILABLE"
    assert connector.vat_rates()  # the next call goes through


def test_the_rate_limit_says_how_long_to_wait(target, connector):
    target.knobs(rate_limit_burst=1)
    with pytest.raises(RateLimited) as caught:
        connector.find_debtor(invoice_of().customer)
    assert caught.value.transient and caught.value.retry_after and caught.value.retry_after > 0


def test_a_refusal_carries_the_targets_own_message(target):
    settings, customer, words = target.rejection
    connector = target.connector(settings)
    try:
        with pytest.raises(Rejected) as caught:
            connector.create_debtor(invoice_of(customer=customer))
    finally:
        connector.close()
    assert caught.value.code == "TARGET_REJECTED" and not caught.value.transient
    assert words in caught.value.message.lower()
    assert target.clients == []


def test_the_call_log_names_calls_without_secrets(target, connector):
    book(connector, invoice_of())
    assert connector.log.calls and all(
        {"method", "path", "status", "ms"} <= set(c) for c in connector.log.calls
    )
    assert target.api_key not in repr(connector.log.calls)


def test_an_order_number_and_email_with_a_comma_are_still_found(target, connector):
    invoice = invoice_of(number="K,42", customer={"email": '"jansen,sanne"@example.nl'})
    debtor, invoice_id = book(connector, invoice)
    assert connector.find_debtor(invoice.customer).id == debtor.id
    assert connector.find_invoice(invoice).id == invoice_id
