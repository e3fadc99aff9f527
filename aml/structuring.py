"""Structuring: several movements, each just under a reporting threshold, in one window.

"Just under" is the band from `band_percent` below the reference threshold up to the
threshold itself, not including any amount that would cross it: below it for an
"at_or_above" threshold, at or below it for a "more_than" one (exactly USD 10,000 under a
"more than USD 10,000" rule is the very amount a splitter would choose). The band's lower
edge is included.

The pattern is judged when a movement in the band arrives: if it and the earlier in-band
movements in the window (deposits and withdrawals alike) reach `count`, the call is held
and an STR candidate raised. A movement outside the band adds nothing to the pattern, so
it raises nothing (the pattern was judged when its last member arrived).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from aml.findings import AmlReason, Cited, aml_finding, report_request
from aml.windows import WINDOW_LENGTH, CurrencyMismatch, Movement, in_window
from policy.decision import Finding, ReportKind
from rules.model import Comparison, StructuringRule, Threshold

_PERCENT = Decimal(100)


def band_floor(reference: Threshold, band_percent: Decimal) -> Decimal:
    """The lowest amount in the band (exact: a percentage of a Decimal)."""
    return reference.amount * (_PERCENT - band_percent) / _PERCENT


def in_band(amount: Decimal, reference: Threshold, band_percent: Decimal) -> bool:
    return amount >= band_floor(reference, band_percent) and not reference.crossed_by(amount)


@dataclass(frozen=True, slots=True)
class Band:
    """The amounts a structuring rule looks for, so the gateway reads only those movements
    (the band in the rule's currency, within its window) instead of the whole history."""

    currency: str
    floor: Decimal  # included
    threshold: Decimal
    threshold_in_band: bool  # a "more_than" reference: the threshold itself is just under
    window: timedelta


def bands(rules: Sequence[Cited[StructuringRule]]) -> tuple[Band, ...]:
    return tuple(
        Band(
            currency=c.rule.reference.currency,
            floor=band_floor(c.rule.reference, c.rule.band_percent),
            threshold=c.rule.reference.amount,
            threshold_in_band=c.rule.reference.comparison is Comparison.MORE_THAN,
            window=WINDOW_LENGTH[c.rule.window],
        )
        for c in rules
    )


def _evaluate(cited: Cited[StructuringRule], history: Sequence[Movement], new: Movement) -> Finding | None:
    rule = cited.rule
    currency = rule.reference.currency
    if new.amount.currency != currency:
        raise CurrencyMismatch(f"movement in {new.amount.currency}, threshold in {currency}")
    if not in_band(new.amount.amount, rule.reference, rule.band_percent):
        return None
    banded = [new]
    for movement in history:
        if not in_window(movement, rule.window, new.at):
            continue
        if movement.amount.currency != currency:
            raise CurrencyMismatch(f"movement in {movement.amount.currency}, threshold in {currency}")
        if in_band(movement.amount.amount, rule.reference, rule.band_percent):
            banded.append(movement)
    if len(banded) < rule.count:
        return None
    return aml_finding(
        rule_id=rule.id,
        outcome="hold",
        reason=AmlReason.STRUCTURING_SUSPECTED,
        message=(
            f"{len(banded)} movements in the last {rule.window.value} each just under "
            f"{rule.reference.amount} {currency}"
        ),
        values={
            "window": rule.window.value,
            "count": len(banded),
            "count_limit": rule.count,
            "currency": currency,
            "threshold": str(rule.reference.amount),
            "comparison": rule.reference.comparison.value,
            "band_floor": str(band_floor(rule.reference, rule.band_percent)),
            "band_percent": str(rule.band_percent),
            "amounts": [str(m.amount.amount) for m in sorted(banded, key=lambda m: m.at)],
        },
        citation=cited.citation,
        report=report_request(ReportKind.STR, currency=currency),
    )


def evaluate_structuring(
    rules: Sequence[Cited[StructuringRule]], history: Sequence[Movement], new: Movement
) -> list[Finding]:
    return [f for f in (_evaluate(cited, history, new) for cited in rules) if f is not None]
