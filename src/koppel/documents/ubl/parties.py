"""The parties of a UBL document: the seller (AccountingSupplierParty), the buyer (AccountingCustomerParty)
and where the goods went (Delivery)."""

from __future__ import annotations

from lxml import etree

from ..model import Invoice, Party
from . import xml
from .endpoints import buyer_endpoint, eas_for_vat, legal_entity_id, vat_id
from .seller import Seller
from .tax import UblError


def seller_party(document: etree._Element, seller: Seller, *, with_vat: bool) -> None:
    scheme = eas_for_vat(seller.vat_number)
    if scheme is None:
        raise UblError(f"the seller's VAT number {seller.vat_number!r} has no Peppol address scheme")
    party = xml.cac(xml.cac(document, "AccountingSupplierParty"), "Party")
    xml.cbc(party, "EndpointID", seller.vat_number, schemeID=scheme)
    xml.cbc(xml.cac(party, "PartyName"), "Name", seller.name)
    _address(party, "PostalAddress", seller.street, "", seller.city, seller.postal_code, seller.country)
    if with_vat:
        _tax_scheme(party, seller.vat_number)
    entity = xml.cac(party, "PartyLegalEntity")
    xml.cbc(entity, "RegistrationName", seller.name)
    legal = legal_entity_id(seller.coc_number, seller.country)
    if legal is not None:
        _company_id(entity, *legal)
    if seller.email:
        xml.cbc(xml.cac(party, "Contact"), "ElectronicMail", seller.email)


def buyer_country(customer: Party, seller: Seller) -> str:
    """The buyer's country code (BR-11 requires one): the order's, else the seller's own."""
    country = customer.country
    return country.alpha2 if country is not None else seller.country


def buyer_party(document: etree._Element, customer: Party, country: str, *, with_vat: bool) -> None:
    """The buyer. A consumer has no electronic address (PEPPOL-EN16931-R010 fails: B2C invoices are not
    Peppol documents, but they are EN 16931 ones)."""
    party = xml.cac(xml.cac(document, "AccountingCustomerParty"), "Party")
    vat_number = vat_id(customer.vat_number)
    endpoint = buyer_endpoint(customer.vat_number, customer.company_number, country)
    if endpoint is not None:
        xml.cbc(party, "EndpointID", endpoint[0], schemeID=endpoint[1])
    name = customer.company.strip() or customer.full_name or customer.email.strip() or "Particulier"
    if customer.company.strip() and customer.full_name:
        xml.cbc(xml.cac(party, "PartyName"), "Name", customer.company.strip())
    street = " ".join(p.strip() for p in (customer.street, customer.house_number) if p.strip())
    _address(party, "PostalAddress", street, customer.address2, customer.city, customer.zipcode, country)
    if with_vat and vat_number:
        _tax_scheme(party, vat_number)
    entity = xml.cac(party, "PartyLegalEntity")
    xml.cbc(entity, "RegistrationName", name)
    legal = legal_entity_id(customer.company_number, country)
    if legal is not None:
        _company_id(entity, *legal)
    contact_name = customer.full_name if customer.company.strip() else ""
    phone, email = (customer.phone or customer.mobile).strip(), customer.email.strip()
    if contact_name or phone or email:
        contact = xml.cac(party, "Contact")
        xml.cbc_if(contact, "Name", contact_name)
        xml.cbc_if(contact, "Telephone", phone)
        xml.cbc_if(contact, "ElectronicMail", email)


def _address(
    parent: etree._Element, name: str, street: str, street2: str, city: str, postal_code: str, country: str
) -> etree._Element:
    address = xml.cac(parent, name)
    xml.cbc_if(address, "StreetName", street)
    xml.cbc_if(address, "AdditionalStreetName", street2)
    xml.cbc_if(address, "CityName", city)
    xml.cbc_if(address, "PostalZone", postal_code)
    xml.cbc(xml.cac(address, "Country"), "IdentificationCode", country)
    return address


def _tax_scheme(party: etree._Element, vat_number: str) -> None:
    scheme = xml.cac(party, "PartyTaxScheme")
    xml.cbc(scheme, "CompanyID", vat_number)
    xml.cbc(xml.cac(scheme, "TaxScheme"), "ID", "VAT")


def _company_id(entity: etree._Element, value: str, scheme: str | None) -> None:
    if scheme:
        xml.cbc(entity, "CompanyID", value, schemeID=scheme)
    else:
        xml.cbc(entity, "CompanyID", value)


def delivery(document: etree._Element, invoice: Invoice, country: str) -> None:
    """Delivered on the order date to the billing address (an intra-community supply needs the date and
    the country: BR-IC-11, BR-IC-12); Koppel's order has no separate delivery address."""
    delivery = xml.cac(document, "Delivery")
    xml.cbc(delivery, "ActualDeliveryDate", invoice.date.isoformat())
    location = xml.cac(delivery, "DeliveryLocation")
    customer = invoice.customer
    street = " ".join(p.strip() for p in (customer.street, customer.house_number) if p.strip())
    _address(location, "Address", street, customer.address2, customer.city, customer.zipcode, country)
