"""Cash reports count cash: movements on the rails a rule covers (fiat through the bank),
one by one or added up over the jurisdiction's calendar day, as the rule says; a
virtual-asset transfer never opens a CTR, whatever its value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from aml.findings import AmlReason, Cited
from aml.money import Money
from aml.single import cash_report
from aml.windows import CurrencyMismatch, Movement, MovementDirection
from rules.calendar import local_date
from rules.model import Rail
from tests.aml.support import NOW, cash_report_rule

DEP, WD = MovementDirection.DEPOSIT, MovementDirection.WITHDRAWAL
BANK, CHAIN = Rail.BANK, Rail.VIRTUAL_ASSET
KR_DAY = cash_report_rule("kr.cash_report.current", "10000000", "KRW", "at_or_above")
US_DAY = cash_report_rule("us.cash_report", "10000", "USD", "more_than")
KR_EACH = cash_report_rule("kr.each", "10000000", "KRW", "at_or_above", period="movement")
KR_ANY_RAIL = cash_report_rule("kr.any", "10000000", "KRW", "at_or_above", rails=("bank", "virtual_asset"))
# NOW is 21:00 in Seoul; Seoul's day began at 15:00 UTC the day before.
SEOUL_MIDNIGHT = datetime(2026, 2, 28, 15, 0, tzinfo=NOW.tzinfo)


def seoul(at: datetime) -> date:
    return local_date(at, "KR")


def mv(
    at: datetime, amount: str, rail: Rail = BANK, direction: MovementDirection = DEP, currency: str = "KRW"
) -> Movement:
    return Movement(at, direction, Money(Decimal(amount), currency), rail)


def _report(
    rule: object, history: list[Movement], new: Movement, day: Callable[[datetime], date] = seoul
) -> str | None:
    findings = cash_report(Cited(rule, "cite"), history, new, day)  # type: ignore[arg-type]
    if not findings:
        return None
    [finding] = findings
    assert finding.report is not None
    assert (finding.outcome, finding.reason, finding.report.kind, finding.citation) == (
        "allow_and_report",
        AmlReason.CASH_REPORT_THRESHOLD,
        "CTR",
        "cite",
    )
    assert isinstance(finding.values["total"], str)
    # The report asks for what crossed: the total, in the threshold's currency.
    assert (finding.report.amount, finding.report.currency) == (Decimal(finding.values["total"]), rule.threshold.currency)  # type: ignore[attr-defined]
    return finding.values["total"]


EARLY = SEOUL_MIDNIGHT + timedelta(minutes=1)
LATE_YESTERDAY = SEOUL_MIDNIGHT - timedelta(minutes=1)

CASES = [
    # (id, rule, history, new, reported total or None)
    ("kr-exactly-10m-bank", KR_DAY, [], mv(NOW, "10000000"), "10000000"),
    ("kr-one-won-under", KR_DAY, [], mv(NOW, "9999999"), None),
    ("kr-16m-chain-is-not-cash", KR_DAY, [], mv(NOW, "16200000", CHAIN), None),
    ("kr-day-adds-up", KR_DAY, [mv(EARLY, "6000000")], mv(NOW, "4000000"), "10000000"),
    ("kr-day-adds-withdrawals-too", KR_DAY, [mv(EARLY, "6000000", direction=WD)], mv(NOW, "4000000"), "10000000"),
    ("kr-yesterday-in-seoul-is-another-day", KR_DAY, [mv(LATE_YESTERDAY, "6000000")], mv(NOW, "4000000"), None),
    ("kr-chain-movements-of-the-day-do-not-count", KR_DAY, [mv(EARLY, "6000000", CHAIN)], mv(NOW, "4000000"), None),
    ("kr-chain-after-bank-cash-is-not-judged", KR_DAY, [mv(EARLY, "12000000")], mv(NOW, "1", CHAIN), None),
    ("kr-per-movement-rule-does-not-add-up", KR_EACH, [mv(EARLY, "6000000")], mv(NOW, "4000000"), None),
    ("kr-per-movement-rule-alone", KR_EACH, [], mv(NOW, "10000000"), "10000000"),
    ("a-rule-covering-chain-transfers-counts-them", KR_ANY_RAIL, [mv(EARLY, "6000000")], mv(NOW, "4000000", CHAIN), "10000000"),
    ("us-exactly-10000-is-not-more-than", US_DAY, [], mv(NOW, "10000", currency="USD"), None),
    ("us-day-more-than-10000", US_DAY, [mv(NOW - timedelta(hours=2), "9000", currency="USD")], mv(NOW, "1000.01", currency="USD"), "10000.01"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "history", "new", "total"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_cash_report_per_rail_and_day(
    rule: object, history: list[Movement], new: Movement, total: str | None
) -> None:
    assert _report(rule, history, new) == total


def test_the_day_is_the_jurisdictions() -> None:
    history = [mv(EARLY, "6000000")]  # 00:01 on 1 March in Seoul, still 28 February in UTC
    utc_day: Callable[[datetime], date] = lambda at: at.date()  # noqa: E731
    assert _report(KR_DAY, history, mv(NOW, "4000000"), seoul) == "10000000"
    assert _report(KR_DAY, history, mv(NOW, "4000000"), utc_day) is None


def test_day_values_name_the_day_and_what_came_before() -> None:
    [finding] = cash_report(Cited(KR_DAY), [mv(EARLY, "11000000")], mv(NOW, "5"), seoul)
    assert finding.values["day"] == "2026-03-01" and finding.values["total_before"] == "11000000"
    assert finding.values["already_crossed"] is True and finding.values["rails"] == ["bank"]


def test_a_movement_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        cash_report(Cited(KR_DAY), [mv(EARLY, "5", currency="USD")], mv(NOW, "1"), seoul)
