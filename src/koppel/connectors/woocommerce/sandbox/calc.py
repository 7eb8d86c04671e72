"""WooCommerce's arithmetic: the cart's taxes, coupons, shipping and fees (``WC_Cart_Totals``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from .common import RAW, ZERO, fmt2, fmt_raw, rnd
from .settings import CLASS_ORDER, StoreSettings, TaxRate

# --- WooCommerce's arithmetic ------------------------------------------------------------------------------


@dataclass(slots=True)
class Taxed:
    """An amount split into net and taxes per rate id (unrounded, as ``WC_Tax::calc_tax`` returns them)."""

    net: Decimal
    taxes: dict[int, Decimal]


def calc_tax(amount: Decimal, rates: list[TaxRate], inclusive: bool) -> Taxed:
    """``WC_Tax::calc_tax`` for non-compound rates: inclusive amounts are split, exclusive ones taxed."""
    if not rates:
        return Taxed(amount, {})
    total_rate = sum((r.rate for r in rates), ZERO)
    if inclusive:
        tax = amount - amount / (1 + total_rate / 100) if total_rate else ZERO
        shares = {r.id: (tax * r.rate / total_rate if total_rate else ZERO) for r in rates}
        shares = {k: v.quantize(RAW, rounding=ROUND_HALF_UP) for k, v in shares.items()}
        return Taxed(amount - sum(shares.values(), ZERO), shares)
    taxes = {r.id: (amount * r.rate / 100).quantize(RAW, rounding=ROUND_HALF_UP) for r in rates}
    return Taxed(amount, taxes)


@dataclass(slots=True)
class Coupon:
    code: str
    kind: str
    amount: Decimal


class Discounts:
    """``WC_Discounts`` on line prices in whole cents (in the shop's price basis)."""

    def __init__(self, prices: list[Decimal], quantities: list[int]) -> None:
        self.prices = prices
        self.quantities = quantities
        self.given: list[dict[str, Decimal]] = [defaultdict(lambda: ZERO) for _ in prices]

    def left(self, i: int) -> Decimal:
        return self.prices[i] - sum(self.given[i].values(), ZERO)

    def apply(self, coupon: Coupon) -> None:
        cents_amount = (coupon.amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if coupon.kind == "percent":
            self._percent(coupon.code, coupon.amount)
        elif coupon.kind == "fixed_product":
            for i, quantity in enumerate(self.quantities):
                self._give(i, coupon.code, min(cents_amount * quantity, self.left(i)))
        else:
            self._fixed_cart(coupon.code, cents_amount)

    def _give(self, i: int, code: str, amount: Decimal) -> Decimal:
        amount = max(ZERO, amount.quantize(Decimal(1), rounding=ROUND_FLOOR))
        self.given[i][code] += amount
        return amount

    def _percent(self, code: str, percent: Decimal) -> None:
        total = given = ZERO
        for i in range(len(self.prices)):
            base = self.prices[i].quantize(Decimal(1), rounding=ROUND_HALF_UP)
            given += self._give(
                i, code, min((base * percent / 100).quantize(Decimal(1), ROUND_FLOOR), self.left(i))
            )
            total += base
        wanted = (total * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        if given < wanted:
            self._remainder(code, wanted - given)

    def _fixed_cart(self, code: str, amount: Decimal) -> Decimal:
        count = sum(q for i, q in enumerate(self.quantities) if self.left(i) > 0)
        if not count or amount <= 0:
            return ZERO
        per_unit = (amount / count).quantize(Decimal(1), rounding=ROUND_FLOOR)
        if per_unit <= 0:
            return self._remainder(code, amount)
        given = sum(
            (self._give(i, code, min(per_unit * q, self.left(i))) for i, q in enumerate(self.quantities)),
            ZERO,
        )
        if 0 < given < amount:
            given += self._fixed_cart(code, amount - given)
        return given

    def _remainder(self, code: str, amount: Decimal) -> Decimal:
        """``apply_coupon_remainder``: one cent per unit, item after item, until it is spent."""
        given = ZERO
        for i, quantity in enumerate(self.quantities):
            for _ in range(quantity):
                if given >= amount:
                    return given
                given += self._give(i, code, min(self.left(i), Decimal(1)))
        return given


@dataclass(slots=True)
class Calculated:
    items: list[dict[str, Any]]
    shipping_lines: list[dict[str, Any]]
    fee_lines: list[dict[str, Any]]
    coupon_lines: list[dict[str, Any]]
    tax_lines: list[dict[str, Any]]
    totals: dict[str, str]


class Calculator:
    """One order's amounts, as ``WC_Cart_Totals`` computes them at checkout."""

    def __init__(self, settings: StoreSettings, rates: list[TaxRate], spec: dict[str, Any]) -> None:
        self.settings = settings
        self.rates = rates
        self.spec = spec
        self.incl = bool(spec["prices_include_tax"])
        self.per_line = not settings.tax_round_at_subtotal
        self.taxing = settings.calc_taxes and not spec.get("vat_exempt")

    def class_rates(self, tax_class: str | None) -> list[TaxRate]:
        if tax_class is None or not self.taxing:
            return []
        return [r for r in self.rates if r.tax_class == tax_class]

    def line_tax(self, value: Decimal) -> Decimal:
        """``round_line_tax``: per line, unless taxes are rounded at the subtotal."""
        return rnd(value) if self.per_line else value

    def run(self) -> Calculated:
        items = self._items()
        shipping = self._shipping(items)
        fees = self._fees(items, shipping)
        return self._totals(items, shipping, fees)

    # items ----------------------------------------------------------------------------------------------

    def _items(self) -> list[dict[str, Any]]:
        lines = self.spec["line_items"]
        prices = []
        for line in lines:
            amount = line["price"] * line["quantity"]
            if self.incl and self.spec.get("vat_exempt") and self.settings.calc_taxes:
                # A VAT-exempt customer in a shop with prices incl. tax pays the price without the base tax.
                amount = calc_tax(amount, self._rates_of(line, force=True), True).net
            prices.append(amount * 100)
        discounts = Discounts(prices, [line["quantity"] for line in lines])
        for coupon in self.spec["coupons"]:
            discounts.apply(coupon)
        result = []
        for i, line in enumerate(lines):
            rates = self._rates_of(line)
            inclusive = self.incl and not self.spec.get("vat_exempt")
            before = calc_tax(prices[i] / 100, rates, inclusive)
            after = calc_tax(discounts.left(i) / 100, rates, inclusive)
            result.append(
                {"line": line, "rates": rates, "before": before, "after": after, "given": discounts.given[i]}
            )
        return result

    def _rates_of(self, line: dict[str, Any], force: bool = False) -> list[TaxRate]:
        if line.get("tax_status") == "none":
            return []
        if force:
            return [r for r in self.rates if r.tax_class == line.get("tax_class", "")]
        return self.class_rates(line.get("tax_class", ""))

    # shipping and fees ----------------------------------------------------------------------------------

    def _shipping_rates(self, items: list[dict[str, Any]], tax_class: str | None) -> list[TaxRate]:
        """``WC_Tax::get_shipping_tax_rates``: with ``inherit``, the class of the cart's taxable items (the
        standard rate when it is among them or when they differ without a match)."""
        if tax_class != "inherit":
            return self.class_rates(tax_class)
        classes = {item["line"].get("tax_class", "") for item in items if item["rates"]}
        if not classes:
            return []
        if len(classes) == 1:
            return self.class_rates(classes.pop())
        if "" not in classes:
            for slug in CLASS_ORDER:
                if slug in classes:
                    return self.class_rates(slug)
        return self.class_rates("")

    def _shipping(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for line in self.spec["shipping_lines"]:
            rates = self._shipping_rates(items, line.get("tax_class", "inherit"))
            result.append({"line": line, "taxed": calc_tax(line["total"], rates, False)})
        return result

    def _class_costs(
        self, items: list[dict[str, Any]], shipping: list[dict[str, Any]]
    ) -> dict[str | None, Decimal]:
        costs: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
        for item in items:
            net = item["after"].net
            if net > 0:
                costs[item["line"].get("tax_class", "") if item["rates"] else None] += net
        for ship in shipping:
            tax_class = ship["line"].get("tax_class", "inherit")
            if ship["line"]["total"] > 0 and tax_class != "inherit":
                costs[tax_class] += ship["line"]["total"]
        return costs

    def _fees(self, items: list[dict[str, Any]], shipping: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for line in self.spec["fee_lines"]:
            amount = line["total"]
            taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
            if self.taxing and amount < 0:
                # Negative fees have their tax split over the cart's tax classes, so they work as a discount.
                costs = self._class_costs(items, shipping)
                whole = sum(costs.values(), ZERO)
                for tax_class, cost in costs.items():
                    if tax_class is None or not whole:
                        continue
                    for rate_id, tax in calc_tax(
                        amount * cost / whole, self.class_rates(tax_class), False
                    ).taxes.items():
                        taxes[rate_id] += tax
            elif line.get("tax_status", "taxable") == "taxable":
                taxes.update(calc_tax(amount, self.class_rates(line.get("tax_class", "")), False).taxes)
            result.append({"line": line, "taxed": Taxed(amount, dict(taxes))})
        return result

    # totals ---------------------------------------------------------------------------------------------

    def _totals(
        self, items: list[dict[str, Any]], shipping: list[dict[str, Any]], fees: list[dict[str, Any]]
    ) -> Calculated:
        cart_taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
        ship_taxes: dict[int, Decimal] = defaultdict(lambda: ZERO)
        items_total = fees_total = shipping_total = discount = discount_tax = ZERO
        for item in items:
            before, after = item["before"], item["after"]
            items_total += rnd(after.net) if self.per_line else after.net
            discount += before.net - after.net
            for rate_id, tax in after.taxes.items():
                cart_taxes[rate_id] += self.line_tax(tax)
            discount_tax += sum(map(self.line_tax, before.taxes.values()), ZERO) - sum(
                map(self.line_tax, after.taxes.values()), ZERO
            )
        for fee in fees:
            fees_total += fee["taxed"].net
            for rate_id, tax in fee["taxed"].taxes.items():
                cart_taxes[rate_id] += self.line_tax(tax)
        for ship in shipping:
            shipping_total += ship["taxed"].net
            for rate_id, tax in ship["taxed"].taxes.items():
                ship_taxes[rate_id] += self.line_tax(tax)
        all_taxes = sum(cart_taxes.values(), ZERO) + sum(ship_taxes.values(), ZERO)
        tax_lines = self._tax_lines(cart_taxes, ship_taxes)
        cart_tax = sum((Decimal(t["tax_total"]) for t in tax_lines), ZERO)
        shipping_tax = sum((Decimal(t["shipping_tax_total"]) for t in tax_lines), ZERO)
        totals = {
            "discount_total": fmt2(discount),
            "discount_tax": fmt2(discount_tax),
            "shipping_total": fmt2(shipping_total),
            "shipping_tax": fmt2(shipping_tax),
            "cart_tax": fmt2(cart_tax),
            "total": fmt2(items_total + fees_total + shipping_total + all_taxes),
            "total_tax": fmt2(cart_tax + shipping_tax),
        }
        return Calculated(
            [self._item_json(item) for item in items],
            [self._charge_json(s, "shipping") for s in shipping],
            [self._charge_json(f, "fee") for f in fees],
            self._coupon_json(items),
            tax_lines,
            totals,
        )

    def _tax_lines(self, cart: dict[int, Decimal], shipping: dict[int, Decimal]) -> list[dict[str, Any]]:
        lines = []
        for rate in self.rates:
            if rate.id not in cart and rate.id not in shipping:
                continue
            line = {
                "id": 0,
                "rate_code": rate.code,
                "rate_id": rate.id,
                "label": rate.name,
                "compound": rate.compound,
                "tax_total": fmt2(cart.get(rate.id, ZERO)),
                "shipping_tax_total": fmt2(shipping.get(rate.id, ZERO)),
                "rate_percent": float(rate.rate),
                "meta_data": [],
            }
            if self.settings.legacy_tax_lines:
                del line["rate_percent"]
            lines.append(line)
        return lines

    def _item_json(self, item: dict[str, Any]) -> dict[str, Any]:
        before, after, line = item["before"], item["after"], item["line"]
        subtotal_tax = sum(map(self.line_tax, before.taxes.values()), ZERO)
        total_tax = sum(map(self.line_tax, after.taxes.values()), ZERO)
        quantity = line["quantity"]
        return {
            "subtotal": fmt2(before.net),
            "subtotal_tax": fmt2(subtotal_tax),
            "total": fmt2(after.net),
            "total_tax": fmt2(total_tax),
            "taxes": [
                {"id": rate_id, "total": fmt_raw(after.taxes[rate_id]), "subtotal": fmt_raw(tax)}
                for rate_id, tax in before.taxes.items()
            ],
            "price": float(round(after.net / quantity, 6)) if quantity else 0,
        }

    def _charge_json(self, charge: dict[str, Any], kind: str) -> dict[str, Any]:
        taxed = charge["taxed"]
        data = {
            "total": fmt2(taxed.net),
            "total_tax": fmt2(sum(map(self.line_tax, taxed.taxes.values()), ZERO)),
            "taxes": [
                {"id": rate_id, "total": fmt_raw(tax), "subtotal": ""} for rate_id, tax in taxed.taxes.items()
            ],
        }
        if kind == "fee":
            data["tax_status"] = charge["line"].get("tax_status", "taxable")
        return data

    def _coupon_json(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for coupon in self.spec["coupons"]:
            gross = tax = ZERO
            for item in items:
                given = item["given"].get(coupon.code, ZERO) / 100
                gross += given
                inclusive = self.incl and not self.spec.get("vat_exempt")
                tax += sum(calc_tax(given, item["rates"], inclusive).taxes.values(), ZERO)
            net = gross - tax if self.incl else gross
            result.append({"code": coupon.code, "discount": fmt2(net), "discount_tax": fmt2(tax)})
        return result
