"""``contacts``: create (``POST contacts.json``), list with ``query`` (every term must occur in the name,
address, e-mail, VAT or KvK number or customer id, ignoring case), get one. Moneybird numbers each contact
(``customer_id``) unless one is given; a contact needs a company name or a first or last name."""

from __future__ import annotations

import re
from typing import Any

from koppel.documents.countries import country_by_code
from koppel.sandbox.http import Response

from .body import resource, text
from .errors import Invalid, not_found
from .gate import Call
from .listing import page
from .state import stamp

FIELDS = (
    "company_name",
    "firstname",
    "lastname",
    "address1",
    "address2",
    "zipcode",
    "city",
    "country",
    "phone",
    "delivery_method",
    "customer_id",
    "tax_number",
    "chamber_of_commerce",
    "bank_account",
    "attention",
    "email",
    "send_invoices_to_attention",
    "send_invoices_to_email",
    "send_estimates_to_attention",
    "send_estimates_to_email",
    "email_ubl",
)
EMAILS = ("email", "send_invoices_to_email", "send_estimates_to_email")
SEARCHED = ("company_name", "firstname", "lastname", "address1", "zipcode", "city", "customer_id")
SEARCHED += ("tax_number", "chamber_of_commerce", *EMAILS)
DELIVERY_METHODS = ("Email", "Simplerinvoicing", "Peppol", "Manual", "Post")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    errors = Invalid()
    values = {key: text(data, key, errors) for key in FIELDS if key != "email_ubl"}
    for key in EMAILS:
        if values[key] and not _EMAIL.match(values[key].strip()):
            errors.add(key, "is invalid")
    if not (values["company_name"].strip() or values["firstname"].strip() or values["lastname"].strip()):
        errors.add("company_name", "can't be blank")
    country = values["country"].strip().upper()
    if country and (len(country) != 2 or country_by_code(country) is None):
        errors.add("country", "is invalid")
    if values["delivery_method"] and values["delivery_method"] not in DELIVERY_METHODS:
        errors.add("delivery_method", "is invalid")
    errors.check()
    values["country"] = country or "NL"
    values["delivery_method"] = values["delivery_method"] or "Email"
    values["email"] = values["email"] or values["send_invoices_to_email"]
    values["email_ubl"] = data.get("email_ubl") is not False
    return values


def create_contact(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    values = _validated(data)
    administration = call.administration
    if not values["customer_id"]:
        values["customer_id"] = str(len(administration.contacts) + 1)
    contact_id, moment = call.ids.new(), stamp()
    contact = {"id": contact_id, "administration_id": administration.id, **values}
    contact.update(created_at=moment, updated_at=moment, version=1, archived=False)
    administration.contacts[contact_id] = contact
    return contact


def _matches(contact: dict[str, Any], terms: list[str]) -> bool:
    haystack = " ".join(str(contact.get(key) or "") for key in SEARCHED).casefold()
    return all(term in haystack for term in terms)


async def create(call: Call) -> Response:
    return Response.json(create_contact(call, resource(call.request, "contact", FIELDS)), 201)


async def listing(call: Call) -> Response:
    terms = call.request.query.get("query", "").casefold().split()
    found = [c for c in call.administration.contacts.values() if _matches(c, terms)]
    return page(call.request, found, call.url("contacts.json"))


async def get(call: Call, contact_id: str) -> Response:
    contact = call.administration.contacts.get(contact_id)
    if contact is None:
        raise not_found()
    return Response.json(contact)
