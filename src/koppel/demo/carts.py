"""The WooCommerce order and the Shopify cart of a :class:`~.orders.Basket`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .orders import PRODUCTS, Basket, _money

COUNTRY_NAMES = {"NL": "Netherlands", "BE": "Belgium"}
#: The shops' product ids of :data:`PRODUCTS`, by SKU.
PRODUCT_IDS = {product[0]: 101 + n for n, product in enumerate(PRODUCTS)}
#: WooCommerce's tax class of each VAT rate (the sandbox's Dutch rates: standard 21%, reduced 9%).
WOO_TAX_CLASSES = {"21.00": "", "9.00": "reduced-rate"}
#: A payment method of :class:`OrderMaker` as WooCommerce's gateway (id, title) and as Shopify's gateway.
WOO_PAYMENTS = {
    "iDEAL": ("mollie_wc_gateway_ideal", "iDEAL"),
    "Bancontact": ("mollie_wc_gateway_bancontact", "Bancontact"),
    "Overschrijving": ("bacs", "Directe bankoverschrijving"),
}
SHOPIFY_GATEWAYS = {
    "iDEAL": "Mollie - iDEAL",
    "Bancontact": "Mollie - Bancontact",
    "Overschrijving": "Bank Deposit",
}


def _net(gross: str, rate: str) -> str:
    return _money(Decimal(gross) / (1 + Decimal(rate) / 100))


def _shipping_title(basket: Basket) -> str:
    if not Decimal(basket.shipping["price"]):
        return "Gratis verzending"
    return "PostNL" if basket.customer.country == "NL" else "bpost"


def woo_order(basket: Basket) -> dict[str, Any]:
    """A basket as an order body for ``POST /_sandbox/woocommerce/stores/{store}/orders`` in a shop with
    prices incl. VAT: the shop computes the VAT, the discount and the total, as WooCommerce's checkout does.
    Shipping costs are entered excl. VAT in WooCommerce (5.74 makes 6.95 at 21%)."""
    customer = basket.customer
    address = {
        "first_name": customer.firstname,
        "last_name": customer.lastname,
        "company": customer.company,
        "address_1": f"{customer.address1} {customer.house_number}",
        "postcode": customer.zipcode,
        "city": customer.city,
        "country": customer.country,
    }
    gateway, title = WOO_PAYMENTS[basket.payment]
    free = not Decimal(basket.shipping["price"])
    order: dict[str, Any] = {
        "status": "processing" if basket.paid else "pending",
        "payment_method": gateway,
        "payment_method_title": title,
        "billing": {**address, "email": customer.email, "phone": customer.telnr},
        "shipping": address,
        "line_items": [
            {
                "name": line["description"],
                "product_id": PRODUCT_IDS[line["sku"]],
                "sku": line["sku"],
                "quantity": line["amount"],
                "price": line["price"],
                "tax_class": WOO_TAX_CLASSES[line["tax_rate"]],
            }
            for line in basket.lines
        ],
        "shipping_lines": [
            {
                "method_title": _shipping_title(basket),
                "method_id": "free_shipping" if free else "flat_rate",
                "total": _net(basket.shipping["price"], basket.shipping["tax_rate"]),
                "tax_class": WOO_TAX_CLASSES[basket.shipping["tax_rate"]],
            }
        ],
    }
    if basket.discount is not None:
        kind = "percent" if basket.discount.kind == "percent" else "fixed_cart"
        order["coupon_lines"] = [
            {"code": basket.discount.code.lower(), "discount_type": kind, "amount": basket.discount.amount}
        ]
    if customer.vatnumber:
        order["meta_data"] = [{"key": "_billing_vat_number", "value": customer.vatnumber}]
    if basket.intra_community:
        order["vat_exempt"] = True  # the shop's VAT plugin: the customer pays the prices without VAT
    return order


def shopify_cart(basket: Basket) -> dict[str, Any]:
    """A basket as a cart for ``POST /_sandbox/shopify/shops/{shop}/orders`` in a shop with taxes included:
    the shop allocates the discount over the lines, computes the VAT per line and the total. An unpaid
    order is a manual payment (bank deposit), ``pending`` until the shop marks it paid."""
    customer, icp = basket.customer, basket.intra_community

    def priced(item: dict[str, Any], price: str) -> dict[str, Any]:
        rate = item["tax_rate"]
        return {"price": _net(price, rate) if icp else price, "tax_rate": "0.00" if icp else rate}

    cart: dict[str, Any] = {
        "line_items": [
            {"title": line["description"], "sku": line["sku"], "quantity": line["amount"]}
            | priced(line, line["price"])
            for line in basket.lines
        ],
        "shipping_lines": [
            {"title": _shipping_title(basket)} | priced(basket.shipping, basket.shipping["price"])
        ],
        "email": customer.email,
        "financial_status": "paid" if basket.paid else "pending",
        "payment_gateway_names": [SHOPIFY_GATEWAYS[basket.payment if basket.paid else "Overschrijving"]],
        "billing_address": {
            "first_name": customer.firstname,
            "last_name": customer.lastname,
            "company": customer.company or None,
            "address1": f"{customer.address1} {customer.house_number}",
            "city": customer.city,
            "zip": customer.zipcode,
            "country": COUNTRY_NAMES[customer.country],
            "country_code": customer.country,
            "phone": customer.telnr or None,
        },
    }
    if basket.discount is not None:
        kind = "percentage" if basket.discount.kind == "percent" else "fixed_amount"
        cart["discounts"] = [
            {"code": basket.discount.code, "value_type": kind, "value": basket.discount.amount}
        ]
    if customer.vatnumber:
        cart["note_attributes"] = [{"name": "VAT number", "value": customer.vatnumber}]
    return cart
