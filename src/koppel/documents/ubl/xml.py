"""Small lxml helpers for UBL 2.1: namespaced elements and the number formats EN 16931 wants."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from ..money import fmt

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"


def root(name: str, namespace: str) -> etree._Element:
    return etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace, "cac": CAC, "cbc": CBC})


def cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    """A basic element; callers leave out empty values (Peppol R008: no empty elements)."""
    element = etree.SubElement(parent, f"{{{CBC}}}{name}", attributes)
    element.text = text
    return element


def cbc_if(parent: etree._Element, name: str, text: str) -> None:
    if text.strip():
        cbc(parent, name, text.strip())


def amount(parent: etree._Element, name: str, value: Decimal, currency: str) -> etree._Element:
    """An amount with two decimals (BR-DEC rules) in the document currency (PEPPOL-EN16931-R051)."""
    return cbc(parent, name, fmt(value), currencyID=currency)


def number(value: Decimal) -> str:
    """A quantity, price or percentage without exponent or trailing zeros: ``2``, ``8.2562``, ``5.5``."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def price(value: Decimal) -> str:
    """A unit price with at least two decimals: ``50.00``, ``8.2562``."""
    return number(value) if -value.normalize().as_tuple().exponent > 2 else fmt(value)


def serialize(document: etree._Element) -> bytes:
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
