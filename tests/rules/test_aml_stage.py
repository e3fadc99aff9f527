"""The AML stage with the shipped packs, facts in, findings out: a cash report counts cash
(the bank rail, KRW in Korea) and adds up the jurisdiction's calendar day, never a
virtual-asset transfer; a VASP-to-VASP travel rule spares a declared self-hosted wallet;
Switzerland's linked transactions refuse an unidentified customer over CHF 1,000 in 30
days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from aml.facts import AmlFacts, FxPoint, PastMovement, PricePoint
from aml.windows import MovementDirection
from kyc.facts import CustomerType, KycFacts
from kyc.verification import Effectiveness
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome
from policy.facts import Authentication, AuthStatus, CustomerFacts, CustomerStatus, Facts
from rules.aml_stage import AmlStage
from rules.loader import load_rule_book
from tests.support import travel_rule_params

# 21:00 in Seoul on 1 March: Seoul's day began nine hours before UTC's.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
SEOUL_MIDNIGHT = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
DEP, WD = MovementDirection.DEPOSIT, MovementDirection.WITHDRAWAL
BOOK = load_rule_book()
PRICES = (PricePoint("BTC", "USDT", Decimal("60000"), NOW - timedelta(seconds=5)),)
FX = tuple(
    FxPoint(source, target, Decimal(rate), NOW - timedelta(seconds=5))
    for source, target, rate in [("USDT", "USD", "1"), ("USD", "KRW", "1350"), ("USD", "CHF", "0.9")]
)


def _past(at: datetime, asset: str, amount: str, direction: MovementDirection = DEP) -> PastMovement:
    return PastMovement(at, direction, asset, Decimal(amount))


def _facts(
    direction: MovementDirection,
    history: tuple[PastMovement, ...] = (),
    residence: str = "KR",
    level: str | None = "full",
) -> Facts:
    kyc = KycFacts(
        customer_type=CustomerType.INDIVIDUAL, verification=Effectiveness(()), level=level, age=30,
        nationality=residence, residence_country=residence, residence_region=None, is_resident_of_home=True,
    )  # fmt: skip
    aml = AmlFacts(
        direction=direction, prices=PRICES, fx=FX, price_max_age_seconds=60, history=history,
        sanctions_snapshot="sha256:test", screening=None, legal_name="Kim Minjun",
    )  # fmt: skip
    customer = CustomerFacts("c1", CustomerStatus.ACTIVE, residence, None, residence)
    return Facts(NOW, Authentication(AuthStatus.OK), customer, None, kyc=kyc, aml=aml)


def _action(kind: ActionKind, asset: str, amount: str, **extra: object) -> Action:
    return Action(kind, "test", customer_id="c1", asset=asset, quantity=Decimal(amount), **extra)  # type: ignore[arg-type]


def _decide(home: str, action: Action, facts: Facts) -> dict[str, Finding]:
    stage = AmlStage(BOOK, home, as_of=TODAY)
    found = {f.rule_id: f for f in stage.evaluate(action, facts)}
    assert found["aml.valuation"].outcome is Outcome.ALLOW  # valued, not refused for a price
    return found


CTR = "kr.cash_report.current"
DEPOSIT, WITHDRAWAL = ActionKind.DEPOSIT_CREDIT, ActionKind.WITHDRAWAL


@pytest.mark.parametrize(
    ("history", "kind", "asset", "amount", "reported_total"),
    [
        pytest.param((), DEPOSIT, "KRW", "10000000", "10000000", id="krw-deposit-10m-is-cash"),
        pytest.param((), WITHDRAWAL, "KRW", "10000000", "10000000", id="krw-withdrawal-10m-is-cash"),
        pytest.param((), DEPOSIT, "KRW", "9999999", None, id="krw-one-won-under"),
        pytest.param((), DEPOSIT, "BTC", "0.2", None, id="btc-deposit-16m-krw-is-not-cash"),
        pytest.param((), WITHDRAWAL, "BTC", "0.2", None, id="btc-withdrawal-16m-krw-is-not-cash"),
        pytest.param((_past(SEOUL_MIDNIGHT + timedelta(minutes=30), "KRW", "6000000"),), DEPOSIT, "KRW", "5000000",
                     "11000000", id="two-krw-movements-one-seoul-day-add-up"),
        pytest.param((_past(SEOUL_MIDNIGHT + timedelta(minutes=30), "KRW", "6000000", WD),), DEPOSIT, "KRW", "5000000",
                     "11000000", id="deposits-and-withdrawals-of-the-day-add-up"),
        pytest.param((_past(SEOUL_MIDNIGHT - timedelta(minutes=30), "KRW", "6000000"),), DEPOSIT, "KRW", "5000000",
                     None, id="the-seoul-day-before-is-another-day"),
        pytest.param((_past(SEOUL_MIDNIGHT + timedelta(minutes=30), "BTC", "0.1"),), DEPOSIT, "KRW", "5000000",
                     None, id="a-btc-deposit-the-same-day-is-not-cash"),
        pytest.param((_past(SEOUL_MIDNIGHT + timedelta(minutes=30), "KRW", "6000000"),), DEPOSIT, "BTC", "0.1",
                     None, id="a-btc-deposit-after-krw-cash-is-not-cash"),
    ],
)  # fmt: skip
def test_ctr_per_rail_and_per_day(
    history: tuple[PastMovement, ...], kind: ActionKind, asset: str, amount: str, reported_total: str | None
) -> None:
    direction = DEP if kind is DEPOSIT else WD
    action = _action(kind, asset, amount, address="110-123-456789" if kind is WITHDRAWAL else None)
    findings = _decide("KR", action, _facts(direction, history))
    if reported_total is None:
        assert CTR not in findings
        return
    ctr = findings[CTR]
    assert ctr.report is not None
    assert (ctr.report.kind, ctr.as_json()["values"]["report"], ctr.values["total"], ctr.values["day"]) == (
        "CTR",
        "CTR",
        reported_total,
        "2026-03-01",
    )
    assert ctr.values["rails"] == ["bank"] and ctr.citation


def test_a_second_cash_movement_after_the_crossing_is_flagged() -> None:
    history = (_past(SEOUL_MIDNIGHT + timedelta(hours=1), "KRW", "12000000"),)
    ctr = _decide("KR", _action(DEPOSIT, "KRW", "1000"), _facts(DEP, history))[CTR]
    assert ctr.values["already_crossed"] is True and ctr.values["total_before"] == "12000000"


TRAVEL = travel_rule_params()["questionnaire"]


@pytest.mark.parametrize(
    ("home", "self_hosted", "payload", "expected"),
    [
        pytest.param("KR", False, None, "travel_rule_missing", id="kr-to-a-vasp-needs-data"),
        pytest.param("KR", True, None, None, id="kr-vasp-to-vasp-rule-spares-a-self-hosted-wallet"),
        pytest.param("KR", False, TRAVEL, None, id="kr-to-a-vasp-with-data"),
        pytest.param("CH", True, None, "travel_rule_missing", id="ch-covers-self-hosted-wallets-too"),
    ],
)
def test_travel_rule_counterparty_scope(
    home: str, self_hosted: bool, payload: str | None, expected: str | None
) -> None:
    action = _action(WITHDRAWAL, "BTC", "0.02", address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                     self_hosted=self_hosted, travel_rule=payload)  # fmt: skip
    findings = _decide(home, action, _facts(WD, residence=home))
    reasons = {
        f.reason for f in findings.values() if f.rule_id.endswith(("travel_rule.current", "travel_rule"))
    }
    assert reasons == ({expected} if expected else set())


LINKED = "ch.linked_transactions.unidentified"


@pytest.mark.parametrize(
    ("level", "history", "amount", "refused"),
    [
        pytest.param("basic", (_past(NOW - timedelta(days=20), "BTC", "0.0167"),), "0.002", True,
                     id="basic-901-chf-then-108-chf-in-30-days"),
        pytest.param("basic", (_past(NOW - timedelta(days=31), "BTC", "0.0167"),), "0.002", False,
                     id="a-movement-31-days-old-is-not-linked"),
        pytest.param("basic", (), "0.0185", False, id="basic-999-chf-alone"),
        pytest.param("basic", (), "0.0186", True, id="basic-1004-chf-alone"),
        pytest.param(None, (), "0.0186", True, id="not-verified-is-bound-too"),
        pytest.param("full", (_past(NOW - timedelta(days=20), "BTC", "0.0167"),), "0.002", False,
                     id="identified-customer-not-bound"),
    ],
)  # fmt: skip
def test_linked_transactions(
    level: str | None, history: tuple[PastMovement, ...], amount: str, refused: bool
) -> None:
    findings = _decide(
        "CH", _action(DEPOSIT, "BTC", amount), _facts(DEP, history, residence="CH", level=level)
    )
    assert (LINKED in findings) is refused
    if refused:
        finding = findings[LINKED]
        assert (finding.outcome.value, finding.reason) == ("deny", "linked_transactions_limit")
        assert finding.values["window"] == "30d" and finding.citation
