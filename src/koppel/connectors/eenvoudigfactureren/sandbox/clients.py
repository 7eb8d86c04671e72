"""Clients: their defaults and fields, delivery addresses and contacts, and their checks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .common import LANGUAGES
from .render import _bad, _object
from .values import (
    _assign_ids,
    _choice,
    _country_code,
    _country_from_name,
    _email,
    _reject_unknown,
    _text,
    country_name,
)

CLIENT_DEFAULTS: dict[str, Any] = {
    "external_client_id": "",
    "name": "",
    "attention": "",
    "number": "",
    "street": "",
    "street2": "",
    "postal_code": "",
    "city": "",
    "country_code": "BE",
    "delivery_address": None,
    "email_address": "",
    "phone_number": "",
    "mobile_number": "",
    "tax_code": "",
    "language": "nl",
    "contacts": [],
}
CLIENT_FIELDS = (
    "client_id",
    "uri",
    "external_client_id",
    "name",
    "attention",
    "number",
    "street",
    "street2",
    "postal_code",
    "city",
    "country_code",
    "country",
    "delivery_address",
    "email_address",
    "phone_number",
    "mobile_number",
    "tax_code",
    "language",
    "contacts",
    "created",
    "modified",
)
CLIENT_READ_ONLY = frozenset({"client_id", "uri", "created", "modified"})
CLIENT_LIMITS = {
    "external_client_id": 50,
    "name": 75,
    "attention": 100,
    "number": 55,
    "street": 150,
    "street2": 150,
    "city": 50,
    "postal_code": 10,
}
ADDRESS_FIELDS = ("street", "street2", "postal_code", "city", "country_code")
CONTACT_FIELDS = ("name", "email_address", "phone_number", "function")


def _delivery_address(value: Any) -> dict[str, str] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise _bad("Invalid value for field delivery_address: expected an object")
    _reject_unknown(value, ADDRESS_FIELDS, "delivery_address.")
    address = {
        key: _text(value.get(key), f"delivery_address.{key}", CLIENT_LIMITS.get(key))
        for key in ADDRESS_FIELDS[:-1]
    }
    address["country_code"] = _country_code(value.get("country_code"), "delivery_address.country_code")
    return address


def _contacts(value: Any, existing: list[dict[str, Any]], new_id: Callable[[], int]) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _bad("Invalid value for field contacts: expected a list")
    contacts: list[dict[str, Any]] = []
    for n, raw in enumerate(value, 1):
        where = f"contacts[{n}]"
        if not isinstance(raw, dict):
            raise _bad(f"Invalid value for field {where}: expected an object")
        _reject_unknown(raw, ("contact_id", *CONTACT_FIELDS), f"{where}.")
        contact = {"contact_id": raw.get("contact_id")}
        contact.update({key: _text(raw.get(key), f"{where}.{key}") for key in CONTACT_FIELDS})
        contact["email_address"] = _email(contact["email_address"], f"{where}.email_address")
        contacts.append(contact)
    _assign_ids(contacts, "contact_id", {c["contact_id"] for c in existing}, new_id)
    return contacts


def _client_value(key: str, value: Any) -> Any:
    if key == "country_code":
        return _country_code(value)
    if key == "delivery_address":
        return _delivery_address(value)
    if key == "language":
        return _choice(value, key, LANGUAGES)
    if key == "email_address":
        return _email(value, key)
    return _text(value, key, CLIENT_LIMITS.get(key))


def client_fields(
    data: Any, base: dict[str, Any], contacts: list[dict[str, Any]], new_contact_id: Callable[[], int]
) -> dict[str, Any]:
    """Validate client input over ``base`` (the defaults, or the stored client for a partial update) into
    the settable fields; ``contacts`` are the client's current ones, whose ids are kept when sent back."""
    data = _object(data)
    _reject_unknown(data, (*CLIENT_DEFAULTS, "country", *CLIENT_READ_ONLY))
    fields = {key: copy.deepcopy(base[key]) for key in CLIENT_DEFAULTS}
    for key, value in data.items():
        if key == "contacts":
            fields[key] = _contacts(value, contacts, new_contact_id)
        elif key in CLIENT_DEFAULTS:
            fields[key] = _client_value(key, value)
    if "country" in data and "country_code" not in data:
        fields["country_code"] = _country_from_name(data["country"])
    if not fields["name"].strip():
        raise _bad("Field name is required")
    return fields


def client_out(fields: dict[str, Any], **generated: Any) -> dict[str, Any]:
    """The client as the API shows it: ``generated`` gives client_id, uri, created and modified."""
    values = {**fields, **generated, "country": country_name(fields["country_code"])}
    return {key: values[key] for key in CLIENT_FIELDS}
