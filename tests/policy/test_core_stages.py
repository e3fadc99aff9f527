"""The core stages as a table of cases: one readable id per case, the rule it expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from policy.action import Action, ActionKind, ParseProblem, Side
from policy.core_stages import core_stages
from policy.decision import Finding, Outcome, strictest
from policy.facts import (
    Authentication,
    AuthStatus,
    CustomerFacts,
    CustomerStatus,
    Facts,
    Market,
    MarketCatalog,
)
from policy.pipeline import Pipeline

NOW = datetime(2026, 11, 24, tzinfo=UTC)
CATALOG = MarketCatalog(
    {
        "BTCUSDT": Market("BTCUSDT", "BTC", "USDT", trading=True),
        "OLDUSDT": Market("OLDUSDT", "OLD", "USDT", trading=False),
    },
    frozenset({"BTC", "USDT", "OLD"}),
    NOW,
)
ORDER = Action(
    ActionKind.ORDER, "binance.order.create", "c1", symbol="BTCUSDT", side=Side.BUY, quantity=Decimal("1")
)


@dataclass(frozen=True)
class Case:
    id: str
    action: Action = ORDER
    auth: AuthStatus = AuthStatus.OK
    customer: CustomerStatus | None = CustomerStatus.ACTIVE
    catalog: MarketCatalog | None = CATALOG
    outcome: Outcome = Outcome.ALLOW
    rules: list[str] = field(default_factory=list)


CASES = [
    Case("clean-order-allowed"),
    Case("bad-signature", auth=AuthStatus.BAD_SIGNATURE, outcome=Outcome.DENY, rules=["core.auth.bad_signature"]),
    Case("stale-timestamp", auth=AuthStatus.STALE_TIMESTAMP, outcome=Outcome.DENY, rules=["core.auth.stale_timestamp"]),
    Case("auth-failure-stops-before-customer-check", auth=AuthStatus.MISSING_SIGNATURE,
         customer=CustomerStatus.SUSPENDED, outcome=Outcome.DENY, rules=["core.auth.missing_signature"]),
    Case("suspended-customer", customer=CustomerStatus.SUSPENDED, outcome=Outcome.DENY, rules=["core.customer.customer_inactive"]),
    Case("closed-customer", customer=CustomerStatus.CLOSED, outcome=Outcome.DENY, rules=["core.customer.customer_inactive"]),
    Case("no-customer", customer=None, outcome=Outcome.DENY, rules=["core.customer.unknown_customer"]),
    Case("all-parse-problems-reported",
         action=Action(ActionKind.ORDER, "x", "c1", problems=(
             ParseProblem("missing_parameter", "side", "m"), ParseProblem("malformed_parameter", "quantity", "m"))),
         outcome=Outcome.DENY, rules=["core.request.missing_parameter", "core.request.malformed_parameter"]),
    Case("unknown-symbol", action=Action(ActionKind.ORDER, "x", "c1", symbol="DOGEUSDT"),
         outcome=Outcome.DENY, rules=["core.instrument.unknown_symbol"]),
    Case("closed-market", action=Action(ActionKind.ORDER, "x", "c1", symbol="OLDUSDT"),
         outcome=Outcome.DENY, rules=["core.instrument.symbol_not_trading"]),
    Case("unknown-asset", action=Action(ActionKind.WITHDRAWAL, "x", "c1", asset="NOPE"),
         outcome=Outcome.DENY, rules=["core.instrument.unknown_asset"]),
    Case("account-read-needs-no-catalog", action=Action(ActionKind.ACCOUNT_READ, "x", "c1"), catalog=None),
    Case("symbol-without-catalog-refused", catalog=None, outcome=Outcome.DENY, rules=["core.instrument.unknown_symbol"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_core_stages(case: Case) -> None:
    pipeline = Pipeline(core_stages(), "test")
    facts = Facts(
        now=NOW,
        authentication=Authentication(case.auth),
        customer=CustomerFacts("c1", case.customer) if case.customer else None,
        markets=case.catalog,
    )
    verdict = pipeline.decide(case.action, facts)
    assert verdict.outcome is case.outcome
    assert [f.rule_id for f in verdict.findings] == case.rules
    assert verdict.pack_version == "test"


def _finding(outcome: Outcome) -> Finding:
    return Finding("s", "r", outcome, outcome.value, "m")


STRICTNESS = [
    ("nothing-is-allow", [], Outcome.ALLOW),
    ("deny-beats-hold", [Outcome.HOLD, Outcome.DENY, Outcome.ALLOW], Outcome.DENY),
    ("hold-beats-report", [Outcome.ALLOW_AND_REPORT, Outcome.HOLD], Outcome.HOLD),
    ("report-beats-allow", [Outcome.ALLOW, Outcome.ALLOW_AND_REPORT], Outcome.ALLOW_AND_REPORT),
]


@pytest.mark.parametrize(
    ("outcomes", "expected"), [c[1:] for c in STRICTNESS], ids=[c[0] for c in STRICTNESS]
)
def test_strictest_outcome_wins(outcomes: list[Outcome], expected: Outcome) -> None:
    assert strictest([_finding(o) for o in outcomes]) is expected


def test_only_allow_outcomes_forward() -> None:
    assert [o for o in Outcome if o.forwards] == [Outcome.ALLOW, Outcome.ALLOW_AND_REPORT]
