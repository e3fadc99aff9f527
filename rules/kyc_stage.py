"""The KYC stage in the pipeline: the kyc package's rules, with values from the rule book
in force, turned into policy findings. Pure: facts in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kyc.rules import KycRuleSet
from kyc.stage import KYC_FREE_KINDS, evaluate_kyc
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome
from policy.facts import Facts
from rules.book import RuleBook
from rules.kyc_rules import kyc_rule_set

STAGE = "kyc"
MEMO_MAX = 1024


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
    _memo: dict[tuple[str | None, str | None, date], KycRuleSet] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        if action.kind.value in KYC_FREE_KINDS or facts.customer is None:
            return []
        customer = facts.customer
        on = self.as_of or facts.now.date()
        key = (customer.residence_country, customer.residence_region, on)
        rules = self._memo.get(key)
        if rules is None:  # the book is immutable: one rule set per question and day
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            rules = self._memo[key] = kyc_rule_set(
                self.book, home=self.home_country, residence=key[0], region=key[1], on=on
            )
        amount, currency = moved_amount(action)
        return [
            Finding(STAGE, f.rule_id, Outcome.DENY, f.reason.value, f.message, dict(f.values), f.citation)
            for f in evaluate_kyc(action.kind.value, amount, currency, facts.kyc, rules)
        ]
