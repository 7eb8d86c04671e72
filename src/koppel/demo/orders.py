"""Made-up orders: customers, products, the scenarios and :class:`OrderMaker`; what placing an order
answers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.connections.models import Connection


#: The spec's example order, in the reference material next to the repository (absent elsewhere).
EXAMPLE_ORDER = Path(__file__).resolve().parents[4] / "shared" / "specs" / "kmoshops" / "order-example.json"


@dataclass(frozen=True)
class Customer:
    firstname: str
    lastname: str
    address1: str
    house_number: str
    zipcode: str
    city: str
    country: str
    email: str
    telnr: str = ""
    company: str = ""
    vatnumber: str = ""

    def as_json(self) -> dict[str, str]:
        return {"address2": "", "mobile": "", **asdict(self)}


def _customers(table: str) -> tuple[Customer, ...]:
    return tuple(Customer(*map(str.strip, row.split("|"))) for row in table.strip().splitlines())


# first name|last name|street|number|postcode|city|country|e-mail|phone|company|VAT number
CONSUMERS = _customers("""
Sanne|Jansen|Kerkstraat|14|3511 LK|Utrecht|NL|sanne.jansen@example.nl|||
Daan|de Vries|Lange Voorhout|3|2514 EA|Den Haag|NL|daan@devries.example|||
Fleur|Bakker|Oudegracht|210|3511 NR|Utrecht|NL|fleur.bakker@example.nl|||
Mohamed|El Amrani|Witte de Withstraat|50|3012 BR|Rotterdam|NL|m.elamrani@example.nl|010 1234567||
Lotte|Visser|Vismarkt|7|9712 CA|Groningen|NL|lotte.visser@example.nl|||
Lieselot|Peeters|Meir|45|2000|Antwerpen|BE|lieselot.peeters@example.be|+32 3 1234567||
Wout|Janssens|Veldstraat|12|9000|Gent|BE|wout.janssens@example.be|||
Camille|Dubois|Rue Neuve|8|1000|Bruxelles|BE|camille.dubois@example.be|||
""")
#: Domestic businesses: prices excluding VAT, paid on account.
NL_BUSINESSES = _customers("""
Pieter|Mulder|Keizersgracht|100|1015 CX|Amsterdam|NL|inkoop@noord.example||Studio Noord BV|NL853746333B01
Gert|Verbeek|Markt|3|5211 JV|'s-Hertogenbosch|NL|gert@bloemenhuis.example||Bloemenhuis Verbeek|
""")
#: Belgian businesses with a valid VAT number: intra-community supplies at 0%.
BE_BUSINESSES = _customers("""
Lien|Vandenberghe|Kortrijksesteenweg|200|9830|Latem|BE|lien@drukkerij-vdb.example||Drukkerij VDB|BE0045678981
Julien|Lemaire|Rue de Namur|10|5000|Namur|BE|julien@lemaire.example||Atelier Lemaire SRL|BE 0065.432.141
""")
#: Belgian businesses without a (valid) VAT number, whose orders cannot be booked as they are.
BE_BUSINESS_WITHOUT_VAT, BE_BUSINESS_BAD_VAT = _customers("""
Els|Claes|Bruul|20|2800|Mechelen|BE|els@dezoeteinval.example||Koffiebar De Zoete Inval|
Tom|Willems|Diestsestraat|88|3000|Leuven|BE|tom@fietsenwillems.example||Fietsen Willems BV|BE0123456789
""")

#: (sku, description, unit price incl. VAT, VAT rate): books and food at 9%, the rest at 21%.
PRODUCTS = (
    ("KOF-1KG", "Koffiebonen espresso 1 kg", "24.95", "9.00"),
    ("THEE-BIO", "Theepakket biologisch", "12.50", "9.00"),
    ("BOEK-VEG", "Kookboek Vegetarisch Koken", "29.99", "9.00"),
    ("STROOP-B", "Stroopwafels in blik", "6.45", "9.00"),
    ("MOK-KER", "Keramische mok", "9.95", "21.00"),
    ("LAMP-LED", "Bureaulamp LED", "49.00", "21.00"),
    ("DOEK-LIN", "Linnen theedoeken (set van 3)", "17.50", "21.00"),
    ("PLAID-WOL", "Wollen plaid", "79.00", "21.00"),
    ("NOTE-A5", "Notitieboek A5", "7.95", "21.00"),
    ("FIETS-LICHT", "Fietsverlichtingset", "34.95", "21.00"),
)
SEVEN_PERCENT_LINE = {
    "sku": "KINDERBOEK-DE",
    "description": "Kinderboek (Duitse import, 7% btw)",
    "amount": 1,
    "price": "14.00",
    "tax_rate": "7.00",
}
FREE_SHIPPING_FROM = Decimal("75.00")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    expect: str
    """What Koppel should make of it: ``handled``, or the error code."""


SCENARIOS = {
    s.key: s
    for s in (
        Scenario("example", "the example order of the KMO Shops spec", "handled"),
        Scenario("consumer", "consumer order, prices incl. VAT", "handled"),
        Scenario("business", "Dutch business, prices excl. VAT, on account", "handled"),
        Scenario("icp", "Belgian business with VAT number: intra-community, 0% VAT", "handled"),
        Scenario("pending", "pending order, paid a little later", "open, then handled"),
        Scenario("mismatch", "a discount the shop did not put on a line", "TOTAL_MISMATCH"),
        Scenario("icp-missing", "Belgian business without VAT number", "ICP_VAT_NUMBER_MISSING"),
        Scenario("icp-invalid", "Belgian business with a wrong VAT number", "ICP_VAT_NUMBER_INVALID"),
        Scenario("vat7", "a line at 7% VAT, a rate the administration lacks", "VAT_CODE_MISSING"),
    )
}
#: The first orders show every kind once; after them the mix is mostly good orders.
OPENING = ("example", "mismatch", "icp", "icp-missing", "pending", "vat7", "business", "icp-invalid")
GOOD_MIX = ("consumer",) * 6 + ("business",) * 2 + ("icp",) * 1
FAILING = ("mismatch", "icp-missing", "icp-invalid", "vat7", "pending")

#: What the WooCommerce and Shopify shops show: what is new with them (discounts, payment later, a webhook
#: delivered twice), all booked in the end.
SHOP_SCENARIOS = {
    s.key: s
    for s in (
        Scenario("consumer", "consumer order, prices incl. VAT", "handled"),
        Scenario("business", "Dutch business with a VAT number, prices incl. VAT", "handled"),
        Scenario("icp", "Belgian business with VAT number: intra-community, 0% VAT", "handled"),
        Scenario("coupon", "coupon code: a Korting line per VAT rate", "handled"),
        Scenario("pending", "unpaid order, paid a little later", "open, then handled"),
        Scenario("duplicate", "its webhook delivered twice (sandbox knob)", "handled"),
    )
}
SHOP_OPENING = ("coupon", "consumer", "pending", "duplicate", "icp", "coupon", "business")
SHOP_MIX = ("consumer",) * 5 + ("coupon",) * 2 + ("business", "icp", "pending")


@dataclass(frozen=True)
class DiscountCode:
    code: str
    kind: str
    """``percent`` or ``fixed`` (an amount off the cart, incl. VAT)."""
    amount: str


DISCOUNT_CODES = (DiscountCode("WELKOM10", "percent", "10"), DiscountCode("VOORJAAR5", "fixed", "5.00"))


@dataclass(frozen=True)
class Basket:
    """What a customer bought, before any platform's order shape: the lines and shipping as a KMO Shops
    order has them, at the shop's prices incl. VAT."""

    customer: Customer
    lines: list[dict[str, Any]]
    shipping: dict[str, str]
    payment: str
    paid: bool
    discount: DiscountCode | None = None
    intra_community: bool = False
    """A business customer from another EU country with a VAT number: the shop charges no VAT."""


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}"


def example_order() -> dict[str, Any] | None:
    """The spec's example order, placed now (its own date would be before the connection's start)."""
    try:
        order = json.loads(EXAMPLE_ORDER.read_text())
    except (OSError, ValueError):
        return None
    for key in ("id", "number", "created_at", "updated_at"):
        order.pop(key, None)
    return order


class OrderMaker:
    """Realistic KMO Shops orders: Dutch and Belgian customers, 21% and 9% lines, shipping, repeat
    customers (so debtors are found again rather than created), and on request the ones that fail."""

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)
        self.seen: list[Customer] = []

    def scenarios(self, *, failing: bool = True) -> Iterator[str]:
        """The demo's sequence: the opening, then roughly one failing order in six."""
        if failing:
            yield from OPENING if EXAMPLE_ORDER.exists() else ("consumer", *OPENING[1:])
        while True:
            if failing and self.random.random() < 1 / 6:
                yield self.random.choice(FAILING)
            else:
                yield self.random.choice(GOOD_MIX)

    def consumer(self) -> Customer:
        if self.seen and self.random.random() < 0.4:
            return self.random.choice(self.seen)
        customer = self.random.choice(CONSUMERS)
        self.seen.append(customer)
        return customer

    def lines(self, count: int, *, include_vat: bool, zero_rated: bool = False) -> list[dict[str, Any]]:
        return [
            self.line(product, include_vat=include_vat, zero_rated=zero_rated)
            for product in self.random.sample(PRODUCTS, count)
        ]

    def line(
        self, product: tuple[str, str, str, str], *, include_vat: bool, zero_rated: bool = False
    ) -> dict[str, Any]:
        sku, description, price, rate = product
        gross = Decimal(price)
        net = gross / (1 + Decimal(rate) / 100)
        return {
            "sku": sku,
            "description": description,
            "amount": self.random.choice((1, 1, 1, 2, 3)),
            "price": _money(gross if include_vat else net),
            "tax_rate": "0.00" if zero_rated else rate,
        }

    def mixed_lines(self) -> list[dict[str, Any]]:
        """A product at 9% and one at 21%, sometimes a third: a discount then falls on both rates."""
        picked = [
            self.random.choice([p for p in PRODUCTS if p[3] == "9.00"]),
            self.random.choice([p for p in PRODUCTS if p[3] == "21.00"]),
        ]
        if self.random.random() < 0.5:
            picked.append(self.random.choice([p for p in PRODUCTS if p not in picked]))
        return [self.line(product, include_vat=True) for product in picked]

    @staticmethod
    def shipping(customer: Customer, lines: list[dict[str, Any]], *, zero_rated: bool) -> dict[str, str]:
        subtotal = sum(Decimal(line["price"]) * line["amount"] for line in lines)
        price = "0.00" if subtotal >= FREE_SHIPPING_FROM else "9.95" if customer.country == "BE" else "6.95"
        return {"description": "Verzendkosten", "price": price, "tax_rate": "0.00" if zero_rated else "21.00"}

    def make(self, scenario: str) -> dict[str, Any]:
        """An order body for ``POST /_sandbox/kmoshops/shops/{shop}/orders`` (id and total by the shop)."""
        if scenario == "example" and (order := example_order()) is not None:
            return order  # without the file: a consumer order
        include_vat, zero_rated, status, paid, payment = True, False, "paid", True, "iDEAL"
        if scenario == "business":
            customer = self.random.choice(NL_BUSINESSES)
            include_vat, status, paid, payment = False, "processing", False, "Op rekening"
        elif scenario == "icp":
            customer = self.random.choice(BE_BUSINESSES)
            include_vat, zero_rated, payment = False, True, "Overschrijving"
        elif scenario == "icp-missing":
            customer = BE_BUSINESS_WITHOUT_VAT
        elif scenario == "icp-invalid":
            customer = BE_BUSINESS_BAD_VAT
        else:
            customer = self.consumer()
        if scenario == "pending":
            status, paid, payment = "pending", False, "Bankoverschrijving"
        elif customer.country == "BE" and not customer.company:
            payment = "Bancontact"
        lines = self.lines(self.random.randint(1, 3), include_vat=include_vat, zero_rated=zero_rated)
        if scenario == "vat7":
            lines.append(dict(SEVEN_PERCENT_LINE))
        order: dict[str, Any] = {
            "status": status,
            "paid": paid,
            "priceincltax": include_vat,
            "payment_method": payment,
            "customer": customer.as_json(),
            "lines": lines,
            "shipping": self.shipping(customer, lines, zero_rated=zero_rated),
        }
        if scenario == "mismatch":
            from koppel.connectors.kmoshops.sandbox import order_total

            order["total"] = _money(Decimal(order_total(order)) - Decimal("5.00"))
        return order

    def shop_scenarios(self) -> Iterator[str]:
        """The WooCommerce and Shopify shops' sequence (keys of :data:`SHOP_SCENARIOS`): the opening, then
        mostly plain orders, with coupons and now and then an order paid later."""
        yield from SHOP_OPENING
        while True:
            yield self.random.choice(SHOP_MIX)

    def basket(self, scenario: str) -> Basket:
        """A basket for one of :data:`SHOP_SCENARIOS`, from the same customers and products."""
        payment, icp = "iDEAL", False
        if scenario == "business":
            customer = self.random.choice(NL_BUSINESSES)
        elif scenario == "icp":
            customer, payment, icp = self.random.choice(BE_BUSINESSES), "Overschrijving", True
        else:
            customer = self.consumer()
            if customer.country == "BE":
                payment = "Bancontact"
        if scenario == "coupon":
            lines, discount = self.mixed_lines(), self.random.choice(DISCOUNT_CODES)
        else:
            lines, discount = self.lines(self.random.randint(1, 3), include_vat=True), None
        shipping = self.shipping(customer, lines, zero_rated=False)
        return Basket(customer, lines, shipping, payment, scenario != "pending", discount, icp)


# ---------------------------------------------------------------------------------------- shops


@dataclass(frozen=True)
class PlacedOrder:
    """An order the demo placed: the shop's order id and number, what the shop charged (when known), and
    what the shop does to it a little later (besides paying a pending order)."""

    order_id: str
    number: str
    charged: Decimal | None = None
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True)
class Done:
    """What a follow-up did: the line to print ("" prints none), a new order to label in the outcome lines
    (a second shipment: its order and scenario), and what comes next."""

    change: str
    watch: tuple[PlacedOrder, Scenario] | None = None
    then: FollowUp | None = None


@dataclass(frozen=True)
class FollowUp:
    """Something a shop does to an order ``delay`` seconds after the last step (ships the rest, a customer
    asks for the invoice); ``word`` is printed in the state column."""

    delay: float
    word: str
    act: Callable[[httpx.Client, Connection], Done]
