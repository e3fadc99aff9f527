"""Rolling windows by the KR 2018 KoFIU indicators: KRW 10m a day, 20m a week, 5 a day, 7 a week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from aml.findings import AmlReason, Cited
from aml.money import Money
from aml.windows import (
    CurrencyMismatch,
    Movement,
    MovementDirection,
    compute_totals,
    evaluate_rolling_windows,
)
from rules.loader import load_rule_book
from rules.model import Direction, RollingWindowRule, Window
from tests.aml.support import NOW, rolling_rule

DEP, WD = MovementDirection.DEPOSIT, MovementDirection.WITHDRAWAL


def mv(hours_ago: float, direction: MovementDirection, krw: str) -> Movement:
    return Movement(NOW - timedelta(hours=hours_ago), direction, Money(Decimal(krw), "KRW"))


KRW_10M = ("10000000", "KRW", "at_or_above")
DAY_TOTAL = rolling_rule("kr.str.day_total.2018", "24h", "both", total=KRW_10M)
WEEK_TOTAL = rolling_rule("kr.str.week_total.2018", "7d", "both", total=("20000000", "KRW", "at_or_above"))
DAY_COUNT = rolling_rule("kr.str.day_count.2018", "24h", "both", count=5)
WEEK_COUNT = rolling_rule("kr.str.week_count.2018", "7d", "both", count=7)
KR_2018 = [DAY_TOTAL, WEEK_TOTAL, DAY_COUNT, WEEK_COUNT]
MORE_THAN = rolling_rule("test.day_total.more_than", "24h", "both", total=("10000000", "KRW", "more_than"))
DEPOSITS = rolling_rule("test.day_deposits", "24h", "deposits", total=KRW_10M, outcome="hold")
WITHDRAWALS = rolling_rule("test.day_withdrawals", "24h", "withdrawals", total=KRW_10M, outcome="hold")


@dataclass(frozen=True)
class Case:
    id: str
    rules: list[RollingWindowRule]
    history: list[Movement]
    new: Movement
    crossed: dict[str, AmlReason]  # rule id → reason


CASES = [
    Case("single-9.99m-nothing", KR_2018, [], mv(0, WD, "9999999"), {}),
    Case("single-exactly-10m-at-or-above-crosses", KR_2018, [], mv(0, WD, "10000000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("two-make-exactly-10m", KR_2018, [mv(3, DEP, "6000000")], mv(0, WD, "4000000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("more-than-at-exactly-10m-does-not-cross", [MORE_THAN], [mv(3, DEP, "6000000")], mv(0, WD, "4000000"), {}),
    Case("more-than-one-won-over-crosses", [MORE_THAN], [mv(3, DEP, "6000000")], mv(0, WD, "4000001"), {"test.day_total.more_than": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("movement-exactly-24h-old-has-left", KR_2018, [mv(24, DEP, "6000000")], mv(0, WD, "4000000"), {}),
    Case("movement-23h59m-old-counts", KR_2018, [mv(23 + 59 / 60, DEP, "6000000")], mv(0, WD, "4000000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("week-total-20m-over-six-days", KR_2018, [mv(24 * d, DEP, "4000000") for d in (1, 2, 3, 4)], mv(0, WD, "4000000"), {"kr.str.week_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("week-total-eight-days-ago-excluded", KR_2018, [mv(24 * 8, DEP, "9000000"), mv(48, DEP, "9000000")], mv(0, WD, "9000000"), {}),
    Case("fourth-in-a-day-nothing", KR_2018, [mv(h, DEP, "1000") for h in (1, 2, 3)], mv(0, WD, "1000"), {}),
    Case("fifth-in-a-day-reports", KR_2018, [mv(h, DEP, "1000") for h in (1, 2, 3, 4)], mv(0, WD, "1000"), {"kr.str.day_count.2018": AmlReason.ROLLING_WINDOW_COUNT}),
    Case("seventh-in-a-week-reports", KR_2018, [mv(24 * d + 1, DEP, "1000") for d in range(6)], mv(0, WD, "1000"), {"kr.str.week_count.2018": AmlReason.ROLLING_WINDOW_COUNT}),
    Case("sixth-in-a-week-nothing", KR_2018, [mv(24 * d + 1, DEP, "1000") for d in range(5)], mv(0, WD, "1000"), {}),
    Case("deposits-only-counts-deposits", [DEPOSITS], [mv(1, DEP, "6000000"), mv(2, WD, "9000000")], mv(0, DEP, "4000000"), {"test.day_deposits": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("deposits-only-ignores-withdrawals", [DEPOSITS], [mv(1, DEP, "1000000"), mv(2, WD, "9000000")], mv(0, DEP, "4000000"), {}),
    Case("withdrawals-only-counts-withdrawals", [WITHDRAWALS], [mv(1, WD, "6000000"), mv(2, DEP, "9000000")], mv(0, WD, "4000000"), {"test.day_withdrawals": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("new-movement-in-other-direction-adds-nothing", [WITHDRAWALS], [mv(1, WD, "11000000")], mv(0, DEP, "1"), {}),
    Case("both-sums-deposits-and-withdrawals", [DAY_TOTAL], [mv(1, DEP, "5000000")], mv(0, WD, "5000000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
    Case("total-and-count-on-separate-rules", KR_2018, [mv(h, DEP, "2500000") for h in (1, 2, 3, 4)], mv(0, WD, "2500000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL, "kr.str.day_count.2018": AmlReason.ROLLING_WINDOW_COUNT}),
    Case("future-stamped-movement-counts", KR_2018, [mv(-0.01, DEP, "6000000")], mv(0, WD, "4000000"), {"kr.str.day_total.2018": AmlReason.ROLLING_WINDOW_TOTAL}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rolling_windows(case: Case) -> None:
    findings = evaluate_rolling_windows([Cited(r, "cite") for r in case.rules], case.history, case.new)
    assert {f.rule_id: f.reason for f in findings} == case.crossed
    for finding in findings:
        assert finding.report is not None and finding.report.kind == "STR" and finding.citation == "cite"


def test_finding_values_and_outcome() -> None:
    [finding] = evaluate_rolling_windows([Cited(DEPOSITS)], [mv(1, DEP, "6000000")], mv(0, DEP, "4000000"))
    assert finding.outcome == "hold"
    assert finding.values == {
        "window": "24h",
        "direction": "deposits",
        "total": "10000000",
        "total_before": "6000000",
        "currency": "KRW",
        "threshold": "10000000",
        "comparison": "at_or_above",
        "crossed": "total",
        "already_crossed": False,
    }


def test_already_crossed_is_flagged() -> None:
    [finding] = evaluate_rolling_windows([Cited(DAY_TOTAL)], [mv(1, DEP, "10000000")], mv(0, WD, "1"))
    assert finding.values["already_crossed"] is True


def test_totals_per_window_and_direction() -> None:
    history = [mv(1, DEP, "100"), mv(2, WD, "20"), mv(30, DEP, "3"), mv(24 * 8, WD, "999")]
    totals = compute_totals(history, mv(0, WD, "4000"), "KRW")
    got = {(w.value, d.value): (t.count, str(t.total.amount if t.total else None)) for (w, d), t in totals.items()}
    assert got == {
        ("24h", "deposits"): (1, "100"),
        ("24h", "withdrawals"): (2, "4020"),
        ("24h", "both"): (3, "4120"),
        ("7d", "deposits"): (2, "103"),
        ("7d", "withdrawals"): (2, "4020"),
        ("7d", "both"): (4, "4123"),
        # The movement 8 days old counts in the 30-day window only.
        ("30d", "deposits"): (2, "103"),
        ("30d", "withdrawals"): (3, "5019"),
        ("30d", "both"): (5, "5122"),
    }
    assert set(totals) == {(w, d) for w in Window for d in Direction}


def test_movements_must_be_in_the_threshold_currency() -> None:
    usd = Movement(NOW, WD, Money(Decimal("1"), "USD"))
    with pytest.raises(CurrencyMismatch):
        evaluate_rolling_windows([Cited(DAY_TOTAL)], [mv(1, DEP, "1")], usd)
    # A count-only rule needs no currency.
    assert evaluate_rolling_windows([Cited(DAY_COUNT)], [], usd) == []


def test_shipped_kr_2018_pack() -> None:
    book = load_rule_book()
    applicable = book.of_kind(
        RollingWindowRule, book.applicable(home="KR", residence="KR", region=None, on=date(2018, 3, 1))
    )
    # The KoFIU indicators (reports); the exchange's own withdrawal hold is tested with the gateway.
    rules = [Cited(rule, a.citation) for a, rule in applicable if rule.outcome == "allow_and_report"]
    assert {c.rule.id for c in rules} == {r.id for r in KR_2018}
    findings = evaluate_rolling_windows(rules, [mv(3, DEP, "6000000")], mv(0, WD, "4000000"))
    assert [(f.rule_id, f.outcome, f.report and f.report.kind) for f in findings] == [("kr.str.day_total.2018", "allow_and_report", "STR")]
    assert findings[0].citation
