"""Structuring: several movements in a window, each just under a threshold: hold and STR."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from aml.findings import AmlReason, Cited
from aml.money import Money
from aml.structuring import band_floor, evaluate_structuring, in_band
from aml.windows import Movement, MovementDirection
from rules.model import StructuringRule
from tests.aml.support import NOW, structuring_rule

DEP, WD = MovementDirection.DEPOSIT, MovementDirection.WITHDRAWAL
KRW_10M = structuring_rule("10000000", "KRW")  # band 10 %, count 3, 24 h
USD_10K_MORE_THAN = structuring_rule("10000", "USD", "more_than")
WEEK_5 = structuring_rule("10000000", "KRW", band="5", count=5, window="7d")


def mv(hours_ago: float, amount: str, currency: str = "KRW", direction: MovementDirection = WD) -> Movement:
    return Movement(NOW - timedelta(hours=hours_ago), direction, Money(Decimal(amount), currency))


@dataclass(frozen=True)
class Case:
    id: str
    rule: StructuringRule
    history: list[Movement]
    new: Movement
    held: bool


CASES = [
    Case("three-at-95pct-in-24h", KRW_10M, [mv(5, "9500000"), mv(2, "9500000")], mv(0, "9500000"), True),
    Case("two-at-95pct", KRW_10M, [mv(2, "9500000")], mv(0, "9500000"), False),
    Case("one-of-three-outside-window", KRW_10M, [mv(25, "9500000"), mv(2, "9500000")], mv(0, "9500000"), False),
    Case("deposits-and-withdrawals-alike", KRW_10M, [mv(5, "9500000", direction=DEP), mv(2, "9500000")], mv(0, "9500000"), True),
    Case("band-floor-90pct-included", KRW_10M, [mv(5, "9000000"), mv(2, "9000000")], mv(0, "9000000"), True),
    Case("just-below-floor-not-in-band", KRW_10M, [mv(5, "8999999"), mv(2, "9500000")], mv(0, "9500000"), False),
    Case("at-threshold-crosses-not-in-band", KRW_10M, [mv(5, "10000000"), mv(2, "9500000")], mv(0, "9500000"), False),
    Case("new-movement-outside-band", KRW_10M, [mv(5, "9500000"), mv(3, "9500000"), mv(2, "9500000")], mv(0, "100"), False),
    Case("more-than-exactly-threshold-is-under", USD_10K_MORE_THAN, [mv(5, "10000", "USD"), mv(2, "10000", "USD")], mv(0, "10000", "USD"), True),
    Case("more-than-above-threshold-not-under", USD_10K_MORE_THAN, [mv(5, "10000.01", "USD"), mv(2, "10000", "USD")], mv(0, "10000", "USD"), False),
    Case("week-window-five", WEEK_5, [mv(24 * d, "9600000") for d in (1, 2, 3, 6)], mv(0, "9999999"), True),
    Case("week-window-band-5pct", WEEK_5, [mv(24 * d, "9400000") for d in (1, 2, 3, 6)], mv(0, "9999999"), False),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_structuring(case: Case) -> None:
    findings = evaluate_structuring([Cited(case.rule, "cite")], case.history, case.new)
    if not case.held:
        assert findings == []
        return
    [finding] = findings
    assert (finding.outcome, finding.reason, finding.report and finding.report.kind) == ("hold", AmlReason.STRUCTURING_SUSPECTED, "STR")
    assert finding.values["count"] >= case.rule.count  # type: ignore[operator]


def test_finding_values() -> None:
    [finding] = evaluate_structuring([Cited(KRW_10M)], [mv(5, "9500000"), mv(2, "9600000")], mv(0, "9700000"))
    assert finding.values["amounts"] == ["9500000", "9600000", "9700000"]
    assert Decimal(str(finding.values["band_floor"])) == Decimal("9000000")
    assert finding.values["comparison"] == "at_or_above"


def test_band_edges() -> None:
    reference = KRW_10M.reference
    assert band_floor(reference, Decimal("10")) == Decimal("9000000")
    assert in_band(Decimal("9999999.99"), reference, Decimal("10"))
    assert not in_band(Decimal("10000000"), reference, Decimal("10"))
