"""The KYC stage as the pipeline runs it, with values from the shipped packs: Korea's
real-name accounts for KRW movements, then and now (the mock exchange has no KRW rails,
so these are exercised here rather than through ccxt)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kyc.facts import BankAccountFacts, CustomerType, KycFacts
from kyc.verification import Effectiveness
from policy.action import Action, ActionKind
from policy.facts import Authentication, AuthStatus, CustomerFacts, CustomerStatus, Facts
from rules.kyc_stage import KycStage
from rules.loader import load_rule_book

BOOK = load_rule_book()
SEED, NOW = date(2018, 3, 1), date(2026, 11, 24)
OWN_PARTNER = BankAccountFacts(holder_confirmed=True, holder_name_matches=True, at_partner_bank=True)
OWN_OTHER_BANK = BankAccountFacts(holder_confirmed=True, holder_name_matches=True, at_partner_bank=False)
NOT_CONFIRMED = BankAccountFacts(holder_confirmed=False, holder_name_matches=True, at_partner_bank=True)
SOMEONE_ELSE = BankAccountFacts(holder_confirmed=True, holder_name_matches=False, at_partner_bank=True)


@dataclass(frozen=True)
class Case:
    id: str
    kind: ActionKind
    on: date
    account: BankAccountFacts | None
    rules: tuple[str, ...]


CASES = [
    Case("2018-deposit-from-partner-bank", ActionKind.DEPOSIT_CREDIT, SEED, OWN_PARTNER, ()),
    Case("2018-deposit-from-other-bank", ActionKind.DEPOSIT_CREDIT, SEED, OWN_OTHER_BANK, ("kr.real_name_account.2018",)),
    Case("2018-withdraw-to-other-bank", ActionKind.WITHDRAWAL, SEED, OWN_OTHER_BANK, ()),
    Case("2018-no-account", ActionKind.WITHDRAWAL, SEED, None, ("kr.real_name_account.2018",)),
    Case("2018-holder-not-confirmed", ActionKind.WITHDRAWAL, SEED, NOT_CONFIRMED, ("kr.real_name_account.2018",)),
    Case("2018-someone-elses-account", ActionKind.DEPOSIT_CREDIT, SEED, SOMEONE_ELSE, ("kr.real_name_account.2018",)),
    Case("now-no-account", ActionKind.WITHDRAWAL, NOW, None, ("kr.real_name_account.current",)),
    Case("now-partner-bank-deposit", ActionKind.DEPOSIT_CREDIT, NOW, OWN_PARTNER, ()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_krw_real_name_rules(case: Case) -> None:
    stage = KycStage(BOOK, "KR", case.on)
    customer = CustomerFacts("c", CustomerStatus.ACTIVE, "KR", None, "KR")
    kyc = KycFacts(CustomerType.INDIVIDUAL, Effectiveness(()), "full", 30, "KR", "KR", None, True, case.account)
    facts = Facts(datetime(2026, 11, 24, tzinfo=UTC), Authentication(AuthStatus.OK), customer, None, kyc)
    action = Action(case.kind, "x", "c", asset="KRW", quantity=Decimal("1000000"))
    findings = stage.evaluate(action, facts)
    assert tuple(f.rule_id for f in findings) == case.rules
    assert all(f.citation for f in findings)


def test_crypto_movements_need_no_bank_account() -> None:
    stage = KycStage(BOOK, "KR", NOW)
    customer = CustomerFacts("c", CustomerStatus.ACTIVE, "KR", None, "KR")
    kyc = KycFacts(CustomerType.INDIVIDUAL, Effectiveness(()), "full", 30, "KR", "KR", None, True, None)
    facts = Facts(datetime(2026, 11, 24, tzinfo=UTC), Authentication(AuthStatus.OK), customer, None, kyc)
    assert stage.evaluate(Action(ActionKind.WITHDRAWAL, "x", "c", asset="BTC", quantity=Decimal("1")), facts) == []
