"""The country-rules stage over a synthetic book: a table of cases, one id each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from policy.action import Action, ActionKind, Side
from policy.facts import Authentication, AuthStatus, CustomerFacts, CustomerStatus, Facts
from rules.loader import load_rule_book
from rules.stage import CountryRulesStage
from tests.rules.synthetic import write_book

TODAY = datetime(2026, 11, 24, tzinfo=UTC)


def order(base: str, quote: str = "USDT") -> Action:
    return Action(ActionKind.ORDER, "x", "c", symbol=base + quote, base_asset=base, quote_asset=quote, side=Side.BUY)


WITHDRAW_XMR = Action(ActionKind.WITHDRAWAL, "x", "c", asset="XMR")
READ = Action(ActionKind.ACCOUNT_READ, "x", "c")
CANCEL = Action(ActionKind.CANCEL, "x", "c", symbol="BTCUSDT")


@dataclass(frozen=True)
class Case:
    id: str
    action: Action
    residence: str | None
    nationality: str | None = None
    region: str | None = None
    home: str = "ZZ"
    licences: frozenset[str] = frozenset()
    on: date | None = None
    rules: tuple[str, ...] = ()


CASES = [
    Case("resident-of-nowhere-special-trades", order("BTC"), "FR", "FR"),
    Case("trading-ban-refuses-orders", order("BTC"), "AX", "AX", rules=("ax.trading.ban",)),
    Case("trading-ban-not-yet-in-force", order("BTC"), "AX", "AX", on=date(2020, 1, 1)),
    Case("trading-ban-still-lets-a-customer-read", READ, "AX", "AX"),
    Case("trading-ban-still-lets-a-customer-cancel", CANCEL, "AX", "AX"),
    Case("privacy-coin-barred-for-residents", WITHDRAW_XMR, "AX", "AX", on=date(2020, 6, 1), rules=("ax.privacy.2020",)),
    Case("privacy-coin-allowed-before-the-rule", WITHDRAW_XMR, "AX", "AX", on=date(2018, 3, 1)),
    Case("home-rule-binds-foreign-residents", order("XMR"), "FR", "FR", home="AX", rules=("ax.privacy.2020",)),
    Case("residence-only-rule-not-applied-as-home", order("BTC"), "FR", "FR", home="AX"),
    Case("security-token-barred-for-residents", order("STKN"), "BB", "BB", region="CA", rules=("bb.securities",)),
    Case("state-licence-missing", order("BTC"), "BB", "BB", region="NY", rules=("bb.ny.licence",)),
    Case("state-licence-held", order("BTC"), "BB", "BB", region="NY", licences=frozenset({"BB-NY-LICENCE"})),
    Case("state-licence-other-state", order("BTC"), "BB", "BB", region="CA"),
    Case("call-for-action-residence", order("BTC"), "KP", "FR", rules=("zz.call_for_action",)),
    Case("call-for-action-nationality", order("BTC"), "FR", "IR", rules=("zz.call_for_action",)),
    Case("unknown-residence-refused", order("BTC"), None, rules=("core.jurisdiction.residence_unknown",)),
    Case("unknown-residence-may-still-read", READ, None),
]


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_book(tmp_path_factory.mktemp("book"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_country_stage(book_dir: Path, case: Case) -> None:
    stage = CountryRulesStage(load_rule_book(book_dir), case.home, case.licences, case.on)
    customer = CustomerFacts("c", CustomerStatus.ACTIVE, case.residence, case.region, case.nationality)
    facts = Facts(TODAY, Authentication(AuthStatus.OK), customer, None)
    findings = stage.evaluate(case.action, facts)
    assert tuple(f.rule_id for f in findings) == case.rules
    assert all(f.outcome.value == "deny" for f in findings)
    assert all(f.citation and "https://" in f.citation for f in findings if f.rule_id.startswith(("ax.", "bb.", "zz.")))
