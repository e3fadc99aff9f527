"""The KYC stage in the pipeline: the kyc package's rules, with values from the rule book
in force. Pure: facts in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kyc.rules import KycRuleSet
from kyc.stage import KYC_FREE_KINDS, STAGE, evaluate_kyc
from policy.action import Action, ActionKind
from policy.decision import Finding
from policy.facts import Facts
from rules.book import CustomerRules, RuleBook
from rules.calendar import local_date
from rules.kyc_rules import kyc_rule_set


def moved_amount(action: Action) -> tuple[Decimal | None, str | None]:
    """What a call moves, in which currency: a withdrawal's amount, an order's notional."""
    if action.kind is ActionKind.WITHDRAWAL:
        return action.quantity, action.asset
    if action.kind is ActionKind.ORDER:
        return action.notional, action.quote_asset
    return None, action.asset


@dataclass(frozen=True)
class KycStage:
    book: RuleBook
    home_country: str
    as_of: date | None = None
    name: str = STAGE
    gate: bool = False
    _rules: CustomerRules[KycRuleSet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", CustomerRules(self.book, self.home_country, kyc_rule_set))

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        if action.kind.value in KYC_FREE_KINDS or facts.customer is None:
            return []
        customer = facts.customer
        today = self.as_of or local_date(facts.now, self.home_country)
        rules = self._rules.of(customer.residence_country, customer.residence_region, today)
        amount, currency = moved_amount(action)
        return evaluate_kyc(action.kind.value, amount, currency, facts.kyc, rules)
