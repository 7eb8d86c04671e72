"""One VAT engine for an NL or BE webshop: which VAT an order's lines carry, and why.

:func:`decide` takes an order as its source mapped it and a connection's :class:`VatPolicy` and answers a
:class:`VatDecision`: the order with every line's rate, UNCL5305 category and reason, the invoice's legal
mention, and the lines whose rate the shop charged differs from the rules' (:class:`Mismatch`). Pure Python:
VIES, when asked, is asked by the caller and its answer passed in (:class:`VatNumberCheck`).

The cases (``shared/research/einvoice-and-vat.md`` §7.3):

- **Domestic** (or no known country): the home country's VAT. The shop's rate is kept; whether the
  administration has it is the target's check (``VAT_CODE_MISSING``), the product's rate class is the shop's.
- **Intra-community supply**: a business in another member state with a usable VAT number (format and
  check digits, and VIES when asked and answering) and no VAT on any line: 0%, category K, the mention.
  A shop that charged home VAT on every line to such a business is booked as charged (the 0% rate also
  needs transport to the other state, which only the shop knows): category S.
- **Distance sale** to a consumer (or a business without a usable VAT number) in another member state: with
  OSS declared, the destination's rate (:func:`~.vat_rates.corresponding_rate`, or an explicit
  ``oss_rates`` entry); without it, the home rate. A destination rate the shop charged itself is kept
  either way (the shop applied OSS).
- **Export** outside the EU (Switzerland, the UK, Norway ...): 0%, category G, the mention. Like an
  intra-community supply, a shop that charged VAT (or a sales tax) is booked as charged: category S.
- A 0% line stays 0% with its category Z (zero-rated) or the source's E/O/AE, except in an
  intra-community supply (K) or an export (G).

A line whose ``vat_reason`` is set had no rate from the platform (bol.com): Koppel chose it from the
connection's settings, so the rules decide it (a home rate becomes the destination's under OSS, 0% for an
export) instead of comparing it. A line the platform gave a rate is never changed: a disagreement is a
mismatch, and the order is not booked (``VAT_RATE_MISMATCH``). Mismatches are about the place of supply,
which follows from the customer's country and the OSS declaration alone: a distance sale at another
country's rate, a business charged a rate its country does not have. The 0% of an intra-community supply
and of an export hangs on evidence only the shop has, so VAT charged there is booked as charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from .countries import Country
from .model import Order, OrderLine
from .money import ZERO
from .vat import vat_compact, vat_number_problem
from .vat_notes import country_name, export_note, intra_community_note, pct
from .vat_rates import RateTable, corresponding_rate, rate_key, rate_table

#: Categories of a 0% line a source may set, kept by the rules outside intra-community supplies and exports.
KEPT_ZERO_CATEGORIES = frozenset({"Z", "E", "O", "AE"})


class SaleCase(StrEnum):
    DOMESTIC = "domestic"
    UNKNOWN_COUNTRY = "unknown_country"
    INTRA_COMMUNITY = "intra_community"
    EU_BUSINESS_CHARGED = "eu_business_charged"
    DISTANCE_SALE = "distance_sale"
    EXPORT = "export"


class ViesOutcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    #: VIES (or the member state's register behind it) did not answer: the offline check counts.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class VatNumberCheck:
    """What VIES said about a VAT number: ``checked_at`` is VIES's request date, ``reference`` its
    consultation number (when it gave one)."""

    vat_number: str
    outcome: ViesOutcome
    message: str
    checked_at: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class VatPolicy:
    """A connection's VAT settings. ``home`` is the shop's country (NL or BE); ``oss`` that the merchant
    declares distance sales through the EU One Stop Shop; ``vies`` that VAT numbers are checked in VIES;
    ``oss_rates`` a product's rate in a country under OSS, by ``(country, product key)`` (:func:`product_key`
    of the SKU or EAN), for products classed otherwise abroad."""

    home: str = "NL"
    oss: bool = False
    vies: bool = False
    oss_rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)

    @property
    def home_table(self) -> RateTable:
        table = rate_table(self.home)
        if table is None:
            raise ValueError(f"{self.home!r} is no EU member state: the VAT rules are for NL and BE shops")
        return table


@dataclass(frozen=True, slots=True)
class Mismatch:
    line: str
    shop_rate: Decimal
    rules_rate: Decimal
    why: str


@dataclass(frozen=True, slots=True)
class VatDecision:
    case: SaleCase
    #: The customer's country (alpha-2), empty when unknown.
    country: str
    order: Order
    vat_note: str
    mismatches: tuple[Mismatch, ...]
    vat_check: VatNumberCheck | None = None

    @property
    def intra_community(self) -> bool:
        return self.case == SaleCase.INTRA_COMMUNITY


def policy_for(shop_country: str, *, oss: bool, vies: bool, source_settings: object = None) -> VatPolicy:
    """A connection's policy. A source whose own settings declare OSS (bol.com's "I declare OSS", with its
    ``oss_rates()`` per country and EAN) declares it for the connection too, so that the rules and the rates
    the source chose agree."""
    source_oss = bool(getattr(source_settings, "oss", False))
    rates = getattr(source_settings, "oss_rates", None)
    return VatPolicy(
        home=shop_country.upper(),
        oss=oss or source_oss,
        vies=vies,
        oss_rates=rates() if callable(rates) else {},
    )


def product_key(sku: str) -> str:
    """A SKU or EAN as compared: upper case; an all-digit one (an EAN) without leading zeros."""
    text = sku.strip().upper()
    return (text.lstrip("0") or "0") if text.isdigit() else text


def usable_vat_number(order: Order, vat_check: VatNumberCheck | None = None) -> bool:
    """The customer gave a VAT number with the right format and check digits for its country, and VIES,
    when it was asked and answered, did not refuse it."""
    number = order.customer.vat_number
    if not number.strip() or vat_number_problem(number, order.customer.country) is not None:
        return False
    return vat_check is None or vat_check.outcome != ViesOutcome.INVALID


def sale_case(order: Order, policy: VatPolicy, vat_check: VatNumberCheck | None = None) -> SaleCase:
    country = order.customer.country
    if country is None:
        return SaleCase.UNKNOWN_COUNTRY
    if country.alpha2 == policy.home.upper():
        return SaleCase.DOMESTIC
    if not country.eu:
        return SaleCase.EXPORT
    if usable_vat_number(order, vat_check):
        if all(rate == ZERO for rate in order.vat_rates):
            return SaleCase.INTRA_COMMUNITY
        return SaleCase.EU_BUSINESS_CHARGED
    return SaleCase.DISTANCE_SALE


def decide(order: Order, policy: VatPolicy, vat_check: VatNumberCheck | None = None) -> VatDecision:
    """The VAT of every line of ``order`` (as its source mapped it) under ``policy``; see the module."""
    case = sale_case(order, policy, vat_check)
    rules = _Rules(order, policy, case, vat_check)
    in_play = {id(line) for line in order.all_lines}
    mismatches: list[Mismatch] = []

    def one(line: OrderLine) -> OrderLine:
        if id(line) not in in_play:  # free shipping: not on the invoice
            return line
        decided, mismatch = rules.line(line)
        if mismatch is not None:
            mismatches.append(mismatch)
        return decided

    lines = tuple(one(line) for line in order.lines)
    shipping = one(order.shipping) if order.shipping is not None else None
    decided = replace(order, lines=lines, shipping=shipping)
    note = ""
    if not mismatches and case == SaleCase.INTRA_COMMUNITY:
        note = intra_community_note(policy.home)
    elif not mismatches and any(line.vat_category == "G" for line in decided.all_lines):
        note = export_note(policy.home)
    country = order.customer.country
    return VatDecision(
        case=case,
        country=country.alpha2 if country is not None else "",
        order=decided,
        vat_note=note,
        mismatches=tuple(mismatches),
        vat_check=vat_check,
    )


Decided = tuple[OrderLine, Mismatch | None]


class _Rules:
    """The rules of one order's case, line by line."""

    def __init__(
        self, order: Order, policy: VatPolicy, case: SaleCase, vat_check: VatNumberCheck | None
    ) -> None:
        self.order, self.policy, self.case, self.vat_check = order, policy, case, vat_check
        self.home = policy.home_table
        self.home_name = country_name(self.home.country)
        country: Country | None = order.customer.country
        self.country_name = country.name_en if country is not None else ""
        self.dest = rate_table(country.alpha2) if country is not None and country.eu else None

    def line(self, line: OrderLine) -> Decided:
        if line.vat_rate == ZERO:
            return self.zero(line), None
        if self.case == SaleCase.EXPORT:
            return self.export(line), None
        if self.case == SaleCase.EU_BUSINESS_CHARGED:
            return self.eu_business(line)
        if self.case == SaleCase.DISTANCE_SALE:
            return self.distance(line)
        return self.domestic(line), None  # INTRA_COMMUNITY has no line above 0%

    # -- the cases -------------------------------------------------------------------------------------------
    def zero(self, line: OrderLine) -> OrderLine:
        kept = line.vat_category if line.vat_category in KEPT_ZERO_CATEGORIES - {"Z"} else ""
        if self.case == SaleCase.INTRA_COMMUNITY and not kept:
            return _set(line, ZERO, "K", f"0%: intra-community supply to {self._buyer()}{self._vies_note()}")
        if self.case == SaleCase.EXPORT and not kept:
            return _set(line, ZERO, "G", f"0%: export to {self.country_name}, outside the EU")
        category = kept or "Z"
        words = "exempt" if category == "E" else "zero-rated" if category == "Z" else f"category {category}"
        return _set(line, ZERO, category, line.vat_reason or f"0%: {words}, as the shop charged it")

    def domestic(self, line: OrderLine) -> OrderLine:
        if line.vat_reason:
            return _set(line, line.vat_rate, "S", line.vat_reason)
        where = (
            f"a sale within {self.home_name}"
            if self.case == SaleCase.DOMESTIC
            else f"no known customer country: {self.home_name} VAT"
        )
        if self.home.has(line.vat_rate):
            return _set(line, line.vat_rate, "S", f"{pct(line.vat_rate)}: the shop's rate ({where})")
        return _set(
            line,
            line.vat_rate,
            "S",
            f"{pct(line.vat_rate)}: the shop's rate ({where}; not a {self.home.country} rate, so the "
            "administration must have it)",
        )

    def export(self, line: OrderLine) -> OrderLine:
        """0% for a rate Koppel chose; a rate the shop charged is booked as charged (0% needs the shop's
        proof that the goods left the EU, as an intra-community supply needs its transport)."""
        where = f"export to {self.country_name}, outside the EU"
        if line.vat_reason:
            return _set(line, ZERO, "G", f"0%: {where} (instead of {line.vat_reason})")
        return _set(
            line,
            line.vat_rate,
            "S",
            f"{pct(line.vat_rate)}: the shop's rate, booked as charged ({where}: 0% only when the shop "
            "charges no VAT)",
        )

    def eu_business(self, line: OrderLine) -> Decided:
        who = f"a business in {self.country_name} with a valid VAT number"
        if self.home.has(line.vat_rate):
            reason = line.vat_reason or (
                f"{pct(line.vat_rate)}: {self.home.country} VAT as the shop charged it to {who} (an "
                "intra-community supply at 0% has no VAT on any line)"
            )
            return _set(line, line.vat_rate, "S", reason), None
        assert self.dest is not None
        home_rate = corresponding_rate(line.vat_rate, self.dest, self.home) or self.home.standard
        why = f"{who} pays {self.home.country} VAT when the shop charges VAT, or 0% when it charges none"
        if line.vat_reason:
            reason = f"{pct(home_rate)}: {self.home.country} VAT for {who} (instead of {line.vat_reason})"
            return _set(line, home_rate, "S", reason), None
        return self._mismatch(line, home_rate, why)

    def distance(self, line: OrderLine) -> Decided:
        assert self.dest is not None
        who = "a consumer" if not self.order.customer.is_business else "a business without a valid VAT number"
        sale = f"a distance sale to {who} in {self.country_name}"
        if self.policy.oss:
            return self._oss(line, sale)
        if self.home.has(line.vat_rate):
            reason = line.vat_reason or (
                f"{pct(line.vat_rate)}: {self.home.country} VAT ({sale}; the connection does not declare OSS)"
            )
            return _set(line, line.vat_rate, "S", reason), None
        if self.dest.has(line.vat_rate):
            reason = line.vat_reason or (
                f"{pct(line.vat_rate)}: the {self.dest.country} rate the shop charged ({sale}: the shop "
                "applies OSS; the connection does not declare it)"
            )
            return _set(line, line.vat_rate, "S", reason), None
        return self._mismatch(line, self.home.standard, f"{sale} without OSS takes {self.home.country} VAT")

    def _oss(self, line: OrderLine, sale: str) -> Decided:
        assert self.dest is not None
        dest = self.dest.country
        override = self.policy.oss_rates.get((dest, product_key(line.sku))) if line.sku else None
        why = f"{sale} under OSS takes the {dest} rate"
        if override is not None:
            set_for = f"the {dest} rate set for {line.sku}"
            if rate_key(override) == rate_key(line.vat_rate):
                reason = line.vat_reason or f"{pct(override)}: {set_for} ({sale}, OSS)"
                return _set(line, line.vat_rate, "S", reason), None
            if line.vat_reason:
                reason = f"{pct(override)}: OSS, {set_for} (instead of {line.vat_reason})"
                return _set(line, override, "S", reason), None
            return self._mismatch(line, override, f"{why}, set for {line.sku}")
        if self.dest.has(line.vat_rate):
            reason = line.vat_reason or f"{pct(line.vat_rate)}: the {dest} rate ({sale}, OSS)"
            return _set(line, line.vat_rate, "S", reason), None
        mapped = corresponding_rate(line.vat_rate, self.home, self.dest)
        if mapped is not None and line.vat_reason:
            kind = "standard" if mapped == self.dest.standard else "corresponding reduced"
            rate = f"the {kind} rate in {self.country_name}"
            reason = f"{pct(mapped)}: OSS, {rate} (instead of {line.vat_reason})"
            return _set(line, mapped, "S", reason), None
        return self._mismatch(line, mapped if mapped is not None else self.dest.standard, why)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _mismatch(self, line: OrderLine, rules_rate: Decimal, why: str) -> Decided:
        """The shop's rate stays on the line (the order is not booked); the mismatch says what is due."""
        reason = f"{pct(line.vat_rate)}: the shop's rate; the VAT rules give {pct(rules_rate)} ({why})"
        kept = _set(line, line.vat_rate, "S", line.vat_reason or reason)
        return kept, Mismatch(line.description, line.vat_rate, rules_rate, why)

    def _buyer(self) -> str:
        customer = self.order.customer
        name = customer.company or customer.full_name
        number = vat_compact(customer.vat_number)
        return f"{name}, {self.country_name}, VAT number {number}" if name else f"VAT number {number}"

    def _vies_note(self) -> str:
        check = self.vat_check
        if check is None:
            return " (format and check digits checked, VIES not asked)"
        if check.outcome == ViesOutcome.VALID:
            reference = f", consultation {check.reference}" if check.reference else ""
            return f" (confirmed by VIES on {check.checked_at}{reference})"
        return f" (VIES could not be asked: {check.message}; format and check digits checked)"


def _set(line: OrderLine, rate: Decimal, category: str, reason: str) -> OrderLine:
    return replace(line, vat_rate=rate, vat_category=category, vat_reason=reason)
