"""Rules take effect, and documents expire, on the jurisdiction's own day, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyc.facts import CustomerType, KycFacts
from kyc.verification import Effectiveness
from policy.action import Action, ActionKind
from policy.facts import Authentication, AuthStatus, CustomerFacts, CustomerStatus, Facts
from rules.calendar import _ZONES, local_date
from rules.kyc_stage import KycStage
from rules.loader import load_rule_book
from tests.conftest import gateway_settings

KST = timezone(timedelta(hours=9))
# 08:30 in Seoul on 25 March 2021, the day Korea's current real-name rule took over: still
# the 24th in UTC.
SEOUL_MORNING = datetime(2021, 3, 25, 8, 30, tzinfo=KST).astimezone(UTC)


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("KR", date(2021, 3, 25)),
        ("JP", date(2021, 3, 25)),
        ("US", date(2021, 3, 24)),
        ("ZZ", date(2021, 3, 24)),
    ],
)
def test_local_date(country: str, expected: date) -> None:
    assert local_date(SEOUL_MORNING, country) == expected


@given(
    st.lists(
        st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.timezones()
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_remembered_day_is_the_zone_s_own(moments: list[datetime]) -> None:
    """`local_date` remembers each country's last day and its bounds: for any sequence of
    instants (any zone they are written in, clock changes included, each also a
    microsecond either side) it answers as converting each one would."""
    for moment in moments:
        for instant in (moment - timedelta(microseconds=1), moment, moment + timedelta(microseconds=1)):
            for country in (*_ZONES, "ZZ"):
                assert local_date(instant, country) == instant.astimezone(_ZONES.get(country, UTC)).date()


def test_the_remembered_day_turns_at_each_local_midnight() -> None:
    """A microsecond before and at every local midnight of two years (each zone's clock
    changes included), in order, as the calls of a running gateway arrive."""
    for country, zone in _ZONES.items():
        for n in range(2 * 366):
            midnight = datetime.combine(date(2023, 1, 1) + timedelta(days=n), datetime.min.time(), zone)
            for instant in (midnight - timedelta(microseconds=1), midnight, midnight + timedelta(hours=12)):
                assert local_date(instant.astimezone(UTC), country) == instant.astimezone(zone).date()


def test_a_rule_applies_from_midnight_in_its_jurisdiction() -> None:
    stage = KycStage(load_rule_book(), "KR")  # no pinned date: the request's own day
    customer = CustomerFacts("c", CustomerStatus.ACTIVE, "KR", None, "KR")
    kyc = KycFacts(CustomerType.INDIVIDUAL, Effectiveness(()), "full", 30, "KR", "KR", None, True, None)
    facts = Facts(SEOUL_MORNING, Authentication(AuthStatus.OK), customer, None, kyc)
    action = Action(ActionKind.WITHDRAWAL, "x", "c", asset="KRW", quantity=Decimal("1000000"))
    assert [f.rule_id for f in stage.evaluate(action, facts)] == ["kr.real_name_account.current"]


def test_the_gateway_judges_ages_and_expiries_on_the_home_day() -> None:
    settings = gateway_settings("postgresql://nobody@127.0.0.1:1/x", "http://127.0.0.1:9", home_country="KR")
    assert settings.rules_day(SEOUL_MORNING) == date(2021, 3, 25)
    pinned = gateway_settings(
        "postgresql://nobody@127.0.0.1:1/x",
        "http://127.0.0.1:9",
        home_country="KR",
        rules_as_of=date(2018, 3, 1),
    )
    assert pinned.rules_day(SEOUL_MORNING) == date(2018, 3, 1)
