"""The AML stage in the pipeline: sanctions screening, the travel rule and self-hosted
proof, cash reports (by rail, per movement or per day), rolling windows, linked
transactions and structuring, with values from the rule book in force. Pure: the gateway
gathers prices, movements and the screening into `facts.aml` (under the customer's lock)
and this turns them into findings.

A price or rate that is missing or stale cannot be guessed around: the stage answers it
as undecidable (Finding.cannot_decide: recorded as a deny, answered 503 and counted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aml.facts import AmlFacts, PastMovement
from aml.findings import STAGE
from aml.money import Money, PriceUnavailable, Valuer
from aml.ownership import Ownership, check_ownership
from aml.single import cash_report, self_hosted, travel_rule
from aml.structuring import evaluate_structuring
from aml.windows import Movement, MovementDirection, evaluate_linked, evaluate_rolling_windows
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome
from policy.facts import Facts
from rules.aml_rules import AmlRuleSet, aml_rule_set
from rules.book import CustomerRules, RuleBook
from rules.calendar import local_date
from rules.model import Counterparty, Rail

PRICE_UNAVAILABLE = "price_unavailable"
AML_FACTS_MISSING = "aml_facts_missing"
VALUATION_RULE = "aml.valuation"
VALUATION_SOURCES = (
    "Last prices from the exchange's own tickers (/api/v3/ticker/price) and the configured "
    "FX table (GATEWAY_FX_RATES), each with its time"
)
AML_KINDS = frozenset({ActionKind.WITHDRAWAL, ActionKind.DEPOSIT_CREDIT})


def _undecidable(rule_id: str, reason: str, message: str, **values: Any) -> Finding:
    return Finding.cannot_decide(STAGE, rule_id, reason, message, **values)


def _history_in(
    past_movements: Sequence[PastMovement],
    rules: AmlRuleSet,
    currency: str | None,
    value: Valuer,
    rails: frozenset[Rail] | None = None,
) -> list[Movement]:
    """Past movements (or sums of them) in `currency`: the value recorded with each, and
    today's for what the rules asked in a currency nobody valued it in then. None:
    count-only rules. `rails`: only movements on those rails (a cash report needs no
    price for a chain transfer)."""

    def today(amount: Decimal, asset: str) -> Decimal:
        assert currency is not None
        return (
            Valuer(amount, asset, value.prices, value.fx, value.now, value.max_age)
            .in_currency(currency)
            .value
        )

    movements = []
    for past in past_movements:
        rail = rules.rail_of(past.asset)
        if rails is not None and rail not in rails:
            continue
        if currency is None:
            amount = Money(past.amount, past.asset)
        else:
            recorded = past.value_in(currency)
            if recorded is None:
                recorded = today(past.amount, past.asset)
            elif unvalued := past.unvalued_in(currency):
                recorded += today(unvalued, past.asset)
            amount = Money(recorded, currency)
        movements.append(Movement(past.at, past.direction, amount, rail, past.count))
    return movements


def _new_movement(
    aml: AmlFacts, rules: AmlRuleSet, currency: str | None, valuer: Valuer, action: Action
) -> Movement:
    assert action.quantity is not None and action.asset is not None
    rail = rules.rail_of(action.asset)
    if currency is None:
        return Movement(valuer.now, aml.direction, Money(action.quantity, action.asset), rail)
    return Movement(valuer.now, aml.direction, valuer.in_currency(currency).money, rail)


def _day_in(jurisdiction: str | None, home: str) -> Callable[[datetime], date]:
    country = jurisdiction or home
    return lambda at: local_date(at, country)


def _patterns(
    rules: AmlRuleSet, aml: AmlFacts, valuer: Valuer, action: Action, level: str | None, home: str
) -> list[Finding]:
    found: list[Finding] = []
    histories: dict[tuple[str | None, frozenset[Rail] | None], list[Movement]] = {}

    def history(currency: str | None, rails: frozenset[Rail] | None = None) -> list[Movement]:
        key = (currency, rails)
        if key not in histories:
            histories[key] = _history_in(aml.history, rules, currency, valuer, rails)
        return histories[key]

    assert action.asset is not None
    rail = rules.rail_of(action.asset)
    for cash in rules.cash_reports:
        if rail not in cash.rule.rails:
            continue  # not cash under this rule: no price needed to know it
        cash_currency = cash.rule.threshold.currency
        new = _new_movement(aml, rules, cash_currency, valuer, action)
        on_day = _day_in(cash.jurisdiction, home)
        found += cash_report(cash, history(cash_currency, frozenset(cash.rule.rails)), new, on_day)
    for cited in rules.windows:
        currency = cited.rule.total.currency if cited.rule.total is not None else None
        new = _new_movement(aml, rules, currency, valuer, action)
        found += evaluate_rolling_windows([cited], history(currency), new)
    for linked in rules.linked:
        currency = linked.rule.total.currency
        new = _new_movement(aml, rules, currency, valuer, action)
        found += evaluate_linked([linked], history(currency), new, level)
    for structuring in rules.structuring:
        currency = structuring.rule.reference.currency
        new = _new_movement(aml, rules, currency, valuer, action)
        # Facts/1 kept every movement in `history`; later facts, the band's in `banded`.
        banded = history(currency) if aml.banded is None else _history_in(aml.banded, rules, currency, valuer)
        found += evaluate_structuring([structuring], banded, new)
    return found


def evaluate_aml(action: Action, facts: Facts, rules: AmlRuleSet, today: date, home: str) -> list[Finding]:
    aml = facts.aml
    if aml is None:
        missing = "AML facts were not gathered for a money-moving call"
        return [_undecidable("aml.facts", AML_FACTS_MISSING, missing)]
    screening = [aml.screening] if aml.screening is not None else []
    if action.quantity is None or action.asset is None:
        return screening  # malformed: the well-formedness gate has refused it already
    valuer = Valuer(action.quantity, action.asset, aml.price_table(), aml.fx_table(), facts.now, aml.max_age)
    found: list[Finding] = []
    try:
        if action.asset not in rules.bank_currencies:
            # Both directions: a receiving exchange has the travel rule's duties too.
            found += travel_rule(
                rules.travel_rules,
                valuer,
                # Undeclared: taken as another VASP's, which every travel rule covers.
                counterparty=Counterparty.SELF_HOSTED if action.self_hosted else Counterparty.VASP,
                payload=action.travel_rule,
                legal_name=aml.legal_name,
                native_name=aml.native_name,
                today=today,
                inbound=action.kind is ActionKind.DEPOSIT_CREDIT,
            )
            found += self_hosted(
                rules.self_hosted,
                valuer,
                destination_self_hosted=action.self_hosted,
                ownership=_ownership(action),
            )
        level = facts.kyc.level if facts.kyc is not None else None
        found += _patterns(rules, aml, valuer, action, level, home)
    except PriceUnavailable as exc:
        return [
            *screening,
            _undecidable(
                VALUATION_RULE, PRICE_UNAVAILABLE, f"cannot value the movement: {exc}",
                asset=exc.asset, problem=exc.reason,
            ),
        ]  # fmt: skip
    valuation = Finding(
        STAGE,
        VALUATION_RULE,
        Outcome.ALLOW,
        "",
        "prices and rates used",
        {"conversions": [c.as_json() for c in valuer.used]},
        VALUATION_SOURCES,
    )
    return [*screening, *found, valuation]


@dataclass(frozen=True)
class AmlStage:
    book: RuleBook
    home_country: str
    as_of: date | None = None
    name: str = STAGE
    gate: bool = False
    _rules: CustomerRules[AmlRuleSet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", CustomerRules(self.book, self.home_country, aml_rule_set))

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        if action.kind not in AML_KINDS or facts.customer is None:
            return []
        customer = facts.customer
        today = self.as_of or local_date(facts.now, self.home_country)
        rules = self._rules.of(customer.residence_country, customer.residence_region, today)
        return evaluate_aml(action, facts, rules, today, self.home_country)


def direction_of(kind: ActionKind) -> MovementDirection:
    return MovementDirection.WITHDRAWAL if kind is ActionKind.WITHDRAWAL else MovementDirection.DEPOSIT


def _ownership(action: Action) -> Ownership:
    """Checked only for a self-hosted counterparty (a withdrawal's destination, a
    deposit's sending address): a signature recovery is not free."""
    if not action.self_hosted:
        return Ownership.MISSING
    return check_ownership(action.ownership_proof, action.address or "", action.customer_id or "")
