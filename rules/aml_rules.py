"""Reading the AML values (reporting thresholds, travel rule, self-hosted proof, rolling
windows, linked transactions, structuring, hold expiry) out of the rule book in force. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from aml.findings import Cited
from rules.book import Applicable, RuleBook
from rules.model import (
    CashReportRule,
    HoldExpiryRule,
    LinkedTransactionsRule,
    Rail,
    RollingWindowRule,
    SelfHostedRule,
    StructuringRule,
    TravelRule,
)

R = TypeVar("R")
# Where no pack says how long a hold may wait: three days, the packs' own choice.
DEFAULT_HOLD_HOURS = 72


@dataclass(frozen=True)
class AmlRuleSet:
    cash_reports: tuple[Cited[CashReportRule], ...]
    travel_rules: tuple[Cited[TravelRule], ...]
    self_hosted: tuple[Cited[SelfHostedRule], ...]
    windows: tuple[Cited[RollingWindowRule], ...]
    structuring: tuple[Cited[StructuringRule], ...]
    hold_hours: int  # the shortest expiry in force: a hold never outlives any rule's
    # Currencies that move only through a bank account under some pack (KRW: Korea's
    # real-name system), whatever the home: a movement of one is a bank transfer (the
    # bank rail, what a cash report counts), not a virtual-asset transfer (no travel rule).
    bank_currencies: frozenset[str] = frozenset()
    linked: tuple[Cited[LinkedTransactionsRule], ...] = ()

    def rail_of(self, asset: str) -> Rail:
        return Rail.BANK if asset in self.bank_currencies else Rail.VIRTUAL_ASSET


def _cited(found: list[Applicable], kind: type[R]) -> tuple[Cited[R], ...]:
    return tuple(
        Cited(a.rule, a.citation, jurisdiction=a.pack.country) for a in found if isinstance(a.rule, kind)
    )


def aml_rule_set(
    book: RuleBook, *, home: str, residence: str | None, region: str | None, on: date
) -> AmlRuleSet:
    found = list(book.applicable(home=home, residence=residence, region=region, on=on))
    expiries = [c.rule.hours for c in _cited(found, HoldExpiryRule)]
    return AmlRuleSet(
        cash_reports=_cited(found, CashReportRule),
        travel_rules=_cited(found, TravelRule),
        self_hosted=_cited(found, SelfHostedRule),
        windows=_cited(found, RollingWindowRule),
        structuring=_cited(found, StructuringRule),
        hold_hours=min(expiries, default=DEFAULT_HOLD_HOURS),
        bank_currencies=book.bank_currencies,
        linked=_cited(found, LinkedTransactionsRule),
    )
