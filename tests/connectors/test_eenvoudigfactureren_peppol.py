"""EenvoudigFactureren sends a business customer's invoices and credit notes through Peppol when the
connection says so (``POST invoices/{id}/send`` with ``methods.peppol``), by e-mail too when documents are
e-mailed; consumers keep e-mail; the plan shows exactly that call."""

from __future__ import annotations

from koppel.connectors.eenvoudigfactureren.connector import EenvoudigFacturerenTarget
from koppel.sync.models import Kind, Record, State
from tests.conftest import book, connect, make_order

BUSINESS = {"company": "Brasserie Anvers BV", "country": "BE", "vatnumber": "BE0403019261"}


def peppol_connection(account, shop, eenvoudigfactureren, **settings):
    return connect(
        account,
        shop,
        eenvoudigfactureren,
        target_settings={"peppol_for_businesses": True, **settings},
    )


def test_a_business_invoice_goes_through_peppol_and_a_consumer_by_e_mail(
    account, shop, eenvoudigfactureren, deliver, retry_fast
) -> None:
    connection = peppol_connection(account, shop, eenvoudigfactureren, document_status="final_email")
    business = book(shop, connection, deliver, make_order(customer=BUSINESS))
    consumer = book(shop, connection, deliver, make_order())
    assert business.state == consumer.state == State.HANDLED
    assert "sent through Peppol" in business.message and "e-mailed" in consumer.message
    state = eenvoudigfactureren.state()
    (delivery,) = state["peppol_deliveries"]
    assert str(delivery["invoice_id"]) == business.target_invoice_id and delivery["format"] == "peppolbis3"
    assert delivery["to"] == "BE0403019261"
    mailed = {str(mail["invoice_id"]) for mail in state["emails"]}
    assert mailed == {business.target_invoice_id, consumer.target_invoice_id}


def test_without_e_mail_a_business_invoice_only_goes_through_peppol(
    account, shop, eenvoudigfactureren, deliver, retry_fast
) -> None:
    connection = peppol_connection(account, shop, eenvoudigfactureren, document_status="final")
    record = book(shop, connection, deliver, make_order(customer=BUSINESS))
    state = eenvoudigfactureren.state()
    assert [str(d["invoice_id"]) for d in state["peppol_deliveries"]] == [record.target_invoice_id]
    assert state["emails"] == []
    sends = [r for r in eenvoudigfactureren.requests() if r["path"].endswith("/send")]
    assert [r["json"] for r in sends] == [{"methods": {"peppol": {}}}]
    assert Record.objects.filter(connection=connection, kind=Kind.ORDER).count() == 1


def test_the_plan_shows_the_peppol_send() -> None:
    from koppel.connectors.kmoshops.connector import KmoShopsSource
    from koppel.documents.checks import invoice_for

    invoice = invoice_for(KmoShopsSource.parse_order(make_order(customer=BUSINESS)), "NL")
    plan = EenvoudigFacturerenTarget.planned_requests(
        invoice, {"peppol_for_businesses": True, "document_status": "final_email"}
    )
    assert (plan[-1].method, plan[-1].path.rsplit("/", 1)[-1]) == ("POST", "send")
    assert plan[-1].json == {"methods": {"peppol": {}, "email": {"recipient": "main_contact"}}}
