"""The pre-checks of the manual, run on every order before anything is sent to the target.

Each check yields a :class:`CheckResult` with a stable code. The order of :func:`run_checks` is the order a
merchant reads them in; :func:`first_failure` decides what happens to the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from .codes import Code
from .i18n import Text as _
from .model import Invoice, Order, build_invoice
from .money import CENT, ZERO, cents, fmt, fmt_rate, vat_factor
from .vat import (
    is_cross_border_business,
    normalized_rate,
    vat_compact,
    vat_number_problem,
)
from .vat_notes import pct
from .vat_rules import VatDecision, VatNumberCheck, VatPolicy, ViesOutcome, decide

#: Codes that leave a record waiting or skipped rather than in error.
WAITING_CODES = frozenset({Code.STATUS_NOT_ELIGIBLE})
SKIPPING_CODES = frozenset({Code.BEFORE_START_DATE, Code.ALREADY_PROCESSED})


@dataclass(frozen=True, slots=True)
class CheckResult:
    code: Code
    passed: bool
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"code": str(self.code), "passed": self.passed, "message": self.message}


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need to know beyond the order itself.

    ``target_vat_rates`` is ``None`` when the target's rates are unknown (the check then passes with a note).
    ``existing_booking`` describes an invoice that already carries this order's reference, if any.
    """

    shop_country: str = "NL"
    eligible_statuses: frozenset[str] = field(default_factory=frozenset)
    start_at: datetime | None = None
    target_name: str = "the target"
    target_vat_rates: frozenset[Decimal] | None = None
    existing_booking: str | None = None
    #: Statuses that mean the whole order was cancelled: never booked (skipped, ``ORDER_CANCELLED``).
    cancelled_statuses: frozenset[str] = field(default_factory=frozenset)
    #: The connection's VAT rules (OSS, VIES); ``None``: the shop country's, without OSS or VIES.
    vat_policy: VatPolicy | None = None
    #: Asks VIES about a compact VAT number (cached), when the policy checks VAT numbers in VIES.
    vies: Callable[[str], VatNumberCheck] | None = None

    @property
    def policy(self) -> VatPolicy:
        return self.vat_policy if self.vat_policy is not None else VatPolicy(home=self.shop_country.upper())

    def vat_rule_checks(self, order: Order) -> list[CheckResult]:
        """:func:`check_vat_rules` for a caller that holds the context (the worker's pre-checks)."""
        return list(check_vat_rules(order, self))


def expected_total(order: Order) -> tuple[Decimal, Decimal]:
    """Sum of lines plus shipping incl. VAT, and the rounding tolerance allowed against the shop's total.

    With prices incl. VAT each line's gross is what the customer pays, so the sum is exact: a difference
    means something is not on a line. Unless the shop keeps net amounts and derives the gross from them
    (``Order.gross_from_net``, WooCommerce), or prices are excl. VAT: then the shop may round VAT per line,
    per rate or per order, and half a cent per line is accepted, rounded up to whole cents.
    :func:`invoice_for` books such a difference on a rounding line.
    """
    lines = order.all_lines
    tolerance = (Decimal("0.005") * len(lines)).quantize(CENT, rounding=ROUND_CEILING)
    if order.prices_include_vat:
        return sum((line.amount for line in lines), ZERO), tolerance if order.gross_from_net else ZERO
    total = ZERO
    for line in lines:
        net = line.amount
        total += net + cents(net * (vat_factor(line.vat_rate) - 1))
    return total, tolerance


def check_status(order: Order, ctx: CheckContext) -> CheckResult:
    if order.status in ctx.cancelled_statuses:
        return CheckResult(
            Code.ORDER_CANCELLED, False, _("The order was cancelled before it was booked; nothing to invoice")
        )
    ok = order.status in ctx.eligible_statuses
    allowed = ", ".join(sorted(ctx.eligible_statuses)) or "none"
    return CheckResult(
        Code.STATUS_NOT_ELIGIBLE,
        ok,
        f"Status {order.status!r} is eligible"
        if ok
        else _(
            "Status %(status)s is not one the connection books (%(allowed)s); waiting for a change",
            status=repr(order.status),
            allowed=allowed,
        ),
    )


def check_start_date(order: Order, ctx: CheckContext) -> CheckResult:
    start = ctx.start_at
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)  # a start date without an offset is taken as UTC
    ok = start is None or order.created_at >= start
    when = ctx.start_at.isoformat(timespec="minutes") if ctx.start_at else ""
    return CheckResult(
        Code.BEFORE_START_DATE,
        ok,
        "Placed after the start date"
        if ok
        else _(
            "Placed %(placed)s, before the start date %(start)s",
            placed=order.created_at.isoformat(timespec="minutes"),
            start=when,
        ),
    )


def check_not_processed(order: Order, ctx: CheckContext) -> CheckResult:
    if ctx.existing_booking:
        return CheckResult(Code.ALREADY_PROCESSED, False, ctx.existing_booking)
    return CheckResult(Code.ALREADY_PROCESSED, True, f"Order {order.number} has not been booked yet")


def check_total(order: Order, ctx: CheckContext) -> CheckResult:
    expected, tolerance = expected_total(order)
    difference = order.total - expected
    if abs(difference) <= tolerance:
        note = f" (rounding difference {fmt(difference)})" if difference else ""
        return CheckResult(Code.TOTAL_MISMATCH, True, f"Total {fmt(order.total)} matches the lines{note}")
    return CheckResult(
        Code.TOTAL_MISMATCH,
        False,
        _(
            "Order total %(total)s differs from lines plus shipping %(expected)s by %(difference)s",
            total=fmt(order.total),
            expected=fmt(expected),
            difference=fmt(difference),
        ),
    )


def check_icp_vat_number(order: Order, ctx: CheckContext) -> Iterable[CheckResult]:
    customer = order.customer
    if not is_cross_border_business(order, ctx.shop_country):
        yield CheckResult(Code.ICP_VAT_NUMBER_MISSING, True, "Not an intra-community business order")
        return
    country = customer.country
    assert country is not None  # is_cross_border_business guarantees it
    if not customer.vat_number.strip():
        yield CheckResult(
            Code.ICP_VAT_NUMBER_MISSING,
            False,
            _(
                "Business order from %(country)s (%(customer)s) has no VAT number",
                country=country.name_en,
                customer=customer.company or customer.full_name,
            ),
        )
        return
    yield CheckResult(Code.ICP_VAT_NUMBER_MISSING, True, f"VAT number {customer.vat_number} given")
    problem = vat_number_problem(customer.vat_number, country)
    if problem:
        yield CheckResult(Code.ICP_VAT_NUMBER_INVALID, False, problem.message)
        return
    yield vies_result(customer.vat_number, vies_answer(order, ctx))


def vies_answer(order: Order, ctx: CheckContext) -> VatNumberCheck | None:
    """VIES's answer on the customer's VAT number, when the connection checks VAT numbers in VIES and the
    number passes the offline check (a cross-border business order); ``None`` when VIES is not asked."""
    number = order.customer.vat_number
    if not (ctx.policy.vies and ctx.vies is not None and is_cross_border_business(order, ctx.shop_country)):
        return None
    if not number.strip() or vat_number_problem(number, order.customer.country) is not None:
        return None
    return ctx.vies(vat_compact(number))


def vies_result(vat_number: str, answer: VatNumberCheck | None) -> CheckResult:
    """The VAT number check after the offline one passed: VIES refusing the number fails it; VIES not
    answering leaves the offline check standing (the order is booked, and the invoice line says so)."""
    if answer is None:
        return CheckResult(Code.ICP_VAT_NUMBER_INVALID, True, f"VAT number {vat_number} is valid")
    if answer.outcome == ViesOutcome.INVALID:
        return CheckResult(
            Code.ICP_VAT_NUMBER_INVALID,
            False,
            _(
                "VIES says VAT number %(number)s is not valid (%(message)s)",
                number=repr(vat_number),
                message=answer.message,
            ),
        )
    if answer.outcome == ViesOutcome.UNAVAILABLE:
        return CheckResult(
            Code.ICP_VAT_NUMBER_INVALID,
            True,
            _(
                "VAT number %(number)s has a valid format and check digits; VIES could not be asked "
                "(%(message)s), so that check counts",
                number=vat_number,
                message=answer.message,
            ),
        )
    return CheckResult(
        Code.ICP_VAT_NUMBER_INVALID, True, f"VAT number {vat_number} is valid (VIES, {answer.checked_at})"
    )


def vat_decision(order: Order, ctx: CheckContext) -> VatDecision:
    """The VAT rules' decision on ``order`` under the context's policy (VIES asked when it is on)."""
    return decide(order, ctx.policy, vies_answer(order, ctx))


def check_vat_rules(order: Order, ctx: CheckContext) -> Iterator[CheckResult]:
    """One failure (``VAT_RATE_MISMATCH``) per line whose rate the shop charged differs from the VAT rules';
    nothing when they agree (the rules' reasons are on the invoice's lines)."""
    for mismatch in vat_decision(order, ctx).mismatches:
        yield CheckResult(
            Code.VAT_RATE_MISMATCH,
            False,
            _(
                "Line %(line)s: the shop charged %(shop)s VAT, the VAT rules give %(rules)s (%(why)s)",
                line=repr(mismatch.line),
                shop=pct(mismatch.shop_rate),
                rules=pct(mismatch.rules_rate),
                why=mismatch.why,
            ),
        )


def check_vat_codes(order: Order, ctx: CheckContext) -> CheckResult:
    if ctx.target_vat_rates is None:
        return CheckResult(Code.VAT_CODE_MISSING, True, f"VAT rates of {ctx.target_name} not checked")
    known = {normalized_rate(rate) for rate in ctx.target_vat_rates}
    missing = [rate for rate in order.vat_rates if normalized_rate(rate) not in known]
    if not missing:
        return CheckResult(Code.VAT_CODE_MISSING, True, f"Every VAT rate exists in {ctx.target_name}")
    have = ", ".join(f"{fmt_rate(r)}%" for r in sorted(ctx.target_vat_rates)) or "none"
    lacking = ", ".join(f"{fmt_rate(r)}%" for r in missing)
    return CheckResult(
        Code.VAT_CODE_MISSING,
        False,
        _(
            "%(target)s has no VAT rate %(lacking)s (it has %(have)s)",
            target=ctx.target_name,
            lacking=lacking,
            have=have,
        ),
    )


def run_checks(order: Order, ctx: CheckContext) -> list[CheckResult]:
    """All checks, in the order the manual lists them after the eligibility checks. The VAT rules add a
    result only for a line they disagree with (``VAT_RATE_MISMATCH``)."""
    return [
        check_status(order, ctx),
        check_start_date(order, ctx),
        check_not_processed(order, ctx),
        check_total(order, ctx),
        *check_icp_vat_number(order, ctx),
        *check_vat_rules(order, ctx),
        check_vat_codes(order, ctx),
    ]


def first_failure(results: Iterable[CheckResult]) -> CheckResult | None:
    return next((result for result in results if not result.passed), None)


def invoice_for(order: Order, context: CheckContext | VatPolicy | str) -> Invoice:
    """The invoice Koppel books for ``order``: the VAT rules applied (every line's rate, category and reason;
    0% K with the legal mention for an intra-community supply, 0% G for an export), and a rounding line for
    a difference the total check accepts. ``context`` is the connection's check context, its VAT policy, or
    just the shop's country (its rules without OSS or VIES)."""
    decision = _decision_for(order, context)
    decided = decision.order
    _, tolerance = expected_total(decided)
    invoice = build_invoice(decided, intra_community=decision.intra_community, rounding_tolerance=tolerance)
    return replace(invoice, vat_note=decision.vat_note) if decision.vat_note else invoice


def _decision_for(order: Order, context: CheckContext | VatPolicy | str) -> VatDecision:
    if isinstance(context, CheckContext):
        return vat_decision(order, context)
    policy = context if isinstance(context, VatPolicy) else VatPolicy(home=context.upper())
    return decide(order, policy)
