"""Rolling windows per customer: sums and counts of deposits and withdrawals.

Pure arithmetic over movements the gateway has already read (and locked) for the
customer; the new movement is counted with them. A window is the half-open interval
(t - length, t] back from the new movement's time t, so a movement exactly 24 h old has
left the 24 h window. Movements stamped after t (another replica's clock running ahead)
are counted, not dropped: a window that counts too much holds, one that counts too little
lets structuring through.

Comparison is the rule's own: `Threshold.crossed_by` (at_or_above `>=`, more_than `>`).
A count limit has no comparison of its own: it is reached at the count ("5 times a day";
the KoFIU indicators are 이상, at or above).

Linked transactions (Switzerland: CHF 1,000 over 30 days for a customer not identified)
are the same sum over a window, bound to the customer's verification level: crossing one
refuses the movement until the customer is identified.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from aml.findings import AmlReason, Cited, Value, aml_finding, report_request
from aml.money import Money
from policy.decision import Finding
from rules.model import Direction, LinkedTransactionsRule, Rail, RollingWindowRule, Window

WINDOW_LENGTH: dict[Window, timedelta] = {
    Window.DAY: timedelta(hours=24),
    Window.WEEK: timedelta(days=7),
    Window.MONTH: timedelta(days=30),
}


class MovementDirection(enum.StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True, slots=True)
class Movement:
    at: datetime
    direction: MovementDirection
    amount: Money  # already converted to the threshold's currency
    # Fiat through the bank or a transfer on a chain: a cash report counts only the
    # rails it covers.
    rail: Rail = Rail.VIRTUAL_ASSET
    # Several movements summed (all at or after `at`): `amount` is their total.
    count: int = 1


class CurrencyMismatch(ValueError):
    """A movement in another currency than the threshold: the caller must convert first."""


_DIRECTIONS: dict[Direction, frozenset[MovementDirection]] = {
    Direction.DEPOSITS: frozenset({MovementDirection.DEPOSIT}),
    Direction.WITHDRAWALS: frozenset({MovementDirection.WITHDRAWAL}),
    Direction.BOTH: frozenset(MovementDirection),
}


def counts_toward(direction: Direction, movement: Movement) -> bool:
    return movement.direction in _DIRECTIONS[direction]


@dataclass(frozen=True, slots=True)
class WindowTotal:
    window: Window
    direction: Direction
    count: int
    total: Money | None  # None when no currency was asked for (a count-only rule)


def in_window(movement: Movement, window: Window, now: datetime) -> bool:
    return movement.at > now - WINDOW_LENGTH[window]


def window_total(
    movements: Sequence[Movement],
    window: Window,
    direction: Direction,
    now: datetime,
    currency: str | None = None,
) -> WindowTotal:
    """Sum and count of `movements` in the window and direction, as of `now`."""
    # in_window and counts_toward, with what they look up taken once per call, not per movement.
    since, wanted = now - WINDOW_LENGTH[window], _DIRECTIONS[direction]
    selected = [m for m in movements if m.at > since and m.direction in wanted]
    total: Money | None = None
    if currency is not None:
        wrong = sorted({m.amount.currency for m in selected} - {currency})
        if wrong:
            raise CurrencyMismatch(f"movements in {', '.join(wrong)}, threshold in {currency}")
        total = Money(sum((m.amount.amount for m in selected), Decimal(0)), currency)
    return WindowTotal(window, direction, sum(m.count for m in selected), total)


def binds(rule: LinkedTransactionsRule, level: str | None) -> bool:
    """Is a customer at verification `level` bound (None: not verified, so bound)?"""
    return level is None or level in rule.levels


def evaluate_linked(
    rules: Sequence[Cited[LinkedTransactionsRule]],
    history: Sequence[Movement],
    new: Movement,
    level: str | None,
) -> list[Finding]:
    """A refusal for every linked-transactions limit the new movement takes its window
    over, for a customer the rule binds."""
    findings = []
    for cited in rules:
        rule = cited.rule
        if not binds(rule, level) or not counts_toward(rule.direction, new):
            continue
        currency = rule.total.currency
        after = window_total([*history, new], rule.window, rule.direction, new.at, currency)
        assert after.total is not None  # a currency was asked for
        if not rule.total.crossed_by(after.total.amount):
            continue
        findings.append(
            aml_finding(
                rule_id=rule.id,
                outcome="deny",
                reason=AmlReason.LINKED_TRANSACTIONS_LIMIT,
                message=f"{rule.direction.value} linked over the last {rule.window.value} come to "
                f"{after.total.amount} {currency}, over the {rule.total.amount} {currency} a customer "
                f"not identified (level {level or 'none'}) may move: identification is required",
                values={
                    "window": rule.window.value,
                    "direction": rule.direction.value,
                    "total": str(after.total.amount),
                    "count": after.count,
                    "currency": currency,
                    "threshold": str(rule.total.amount),
                    "comparison": rule.total.comparison.value,
                    "level": level,
                },
                citation=cited.citation,
            )
        )
    return findings


def compute_totals(
    history: Sequence[Movement], new: Movement, currency: str
) -> dict[tuple[Window, Direction], WindowTotal]:
    """Every window and direction (24h and 7d; deposits, withdrawals, both), new one included."""
    movements = [*history, new]
    return {
        (window, direction): window_total(movements, window, direction, new.at, currency)
        for window in Window
        for direction in Direction
    }


def _plus(before: WindowTotal, new: Movement) -> WindowTotal:
    """`before` with the new movement in it: it lies in every window that ends at its own
    time, and the caller has checked its direction and currency."""
    total = before.total
    if total is not None:
        total = Money(total.amount + new.amount.amount, total.currency)
    return WindowTotal(before.window, before.direction, before.count + new.count, total)


def _evaluate(
    cited: Cited[RollingWindowRule], history: Sequence[Movement], new: Movement
) -> Finding | None:
    rule = cited.rule
    if not counts_toward(rule.direction, new):
        # The new movement adds nothing to this window: it was judged when its last
        # movement arrived.
        return None
    currency = rule.total.currency if rule.total is not None else None
    before = window_total(history, rule.window, rule.direction, new.at, currency)
    if currency in (None, new.amount.currency):
        after = _plus(before, new)
    else:  # not the rule's currency: window_total refuses it, naming the currencies
        after = window_total([*history, new], rule.window, rule.direction, new.at, currency)
    crossed: list[str] = []
    was_crossed = False
    values: dict[str, Value] = {"window": rule.window.value, "direction": rule.direction.value}
    if rule.total is not None and after.total is not None and before.total is not None:
        values |= {
            "total": str(after.total.amount),
            "total_before": str(before.total.amount),
            "currency": rule.total.currency,
            "threshold": str(rule.total.amount),
            "comparison": rule.total.comparison.value,
        }
        if rule.total.crossed_by(after.total.amount):
            crossed.append("total")
        was_crossed = rule.total.crossed_by(before.total.amount)
    if rule.count is not None:
        values |= {"count": after.count, "count_before": before.count, "count_limit": rule.count}
        if after.count >= rule.count:
            crossed.append("count")
        was_crossed = was_crossed or before.count >= rule.count
    if not crossed:
        return None
    values["crossed"] = ",".join(crossed)
    # Crossed before this movement too: the gateway may add it to the open report
    # instead of filing a new one.
    values["already_crossed"] = was_crossed
    by_total = "total" in crossed
    reason = AmlReason.ROLLING_WINDOW_TOTAL if by_total else AmlReason.ROLLING_WINDOW_COUNT
    measure = f"{values['total']} {values['currency']}" if by_total else f"{after.count} movements"
    return aml_finding(
        rule_id=rule.id,
        outcome=rule.outcome,
        reason=reason,
        message=f"{rule.direction.value} in the last {rule.window.value}: {measure} crosses the rule's limit",
        values=values,
        citation=cited.citation,
        report=report_request(
            rule.report,
            after.total.amount if rule.total is not None and after.total is not None else None,
            rule.total.currency if rule.total is not None else None,
        ),
    )


def evaluate_rolling_windows(
    rules: Sequence[Cited[RollingWindowRule]], history: Sequence[Movement], new: Movement
) -> list[Finding]:
    """A finding for every rule the new movement makes (or keeps) crossed."""
    return [f for f in (_evaluate(cited, history, new) for cited in rules) if f is not None]
