"""The country-rules stage: may this customer, resident where they are, make this call on
an exchange operating from the home jurisdiction, on this day? Pure: facts in, findings out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome
from policy.facts import CustomerFacts, Facts
from rules.book import DEFAULT_COUNTRY, Applicable, CustomerRules, RuleBook
from rules.calendar import local_date
from rules.model import AssetClassRule, CallForActionRule, LicenceRule, PackFile, TradingRule

# Calls that move money or prepare to: the ones country rules restrict. Reading an account
# and cancelling an order stay possible, so a customer can always see and wind down.
RESTRICTED = frozenset(
    {ActionKind.ORDER, ActionKind.WITHDRAWAL, ActionKind.DEPOSIT_ADDRESS, ActionKind.DEPOSIT_CREDIT}
)
STAGE = "country_rules"


@dataclass(frozen=True)
class _CountryRuleSet:
    """What the country rules say for one jurisdiction on one day, worked out once."""

    standing: tuple[Finding, ...]  # trading bans and missing licences: every call is refused
    asset_bans: tuple[tuple[Applicable, AssetClassRule], ...]
    calls_for_action: tuple[CallForActionRule, ...]
    default_pack: PackFile


@dataclass(frozen=True)
class CountryRulesStage:
    book: RuleBook
    home_country: str
    licences_held: frozenset[str]
    as_of: date | None = None  # pinned by setting; otherwise the request's own date
    name: str = STAGE
    gate: bool = False
    _rules: CustomerRules[_CountryRuleSet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", CustomerRules(self.book, self.home_country, self._rule_set))

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        customer = facts.customer
        if action.kind not in RESTRICTED or customer is None:
            return []
        if customer.residence_country is None:
            return [_deny("core.jurisdiction.residence_unknown", "residence_unknown",
                          "The customer's country of residence is not on record.", {}, None)]  # fmt: skip
        today = self.as_of or local_date(facts.now, self.home_country)
        rules = self._rules.of(customer.residence_country, customer.residence_region, today)
        return [
            *_calls_for_action(rules, customer),
            *rules.standing,
            *self._asset_classes(action, rules),
        ]

    def _rule_set(
        self, book: RuleBook, *, home: str, residence: str | None, region: str | None, on: date
    ) -> _CountryRuleSet:
        found = list(book.applicable(home=home, residence=residence, region=region, on=on))
        # FATF's list binds everyone, so it lives in the default pack and always applies.
        default = book.pack_for(DEFAULT_COUNTRY)
        return _CountryRuleSet(
            standing=(*_trading(book, found, residence), *self._licences(book, found, residence, region)),
            asset_bans=tuple((a, r) for a, r in book.of_kind(AssetClassRule, iter(found)) if not r.allowed),
            calls_for_action=tuple(
                r for r in default.rules if isinstance(r, CallForActionRule) and r.in_force(on)
            ),
            default_pack=default,
        )

    def _licences(
        self, book: RuleBook, found: list[Applicable], residence: str | None, region: str | None
    ) -> Iterator[Finding]:
        for applicable, rule in book.of_kind(LicenceRule, iter(found)):
            if rule.licence not in self.licences_held:
                yield _deny(rule.id, "licence_required",
                            f"Serving residents of {applicable.pack.country}"
                            f"{'-' + rule.region if rule.region else ''} requires {rule.description}.",
                            {"licence": rule.licence, "residence": residence, "region": region},
                            applicable.citation)  # fmt: skip

    def _asset_classes(self, action: Action, rules: _CountryRuleSet) -> Iterator[Finding]:
        """Every rule that bans an asset's class speaks: home and residence alike."""
        if not rules.asset_bans:
            return
        assets = dict.fromkeys(a for a in (action.base_asset, action.quote_asset, action.asset) if a)
        for asset in assets:
            asset_class = self.book.asset_class(asset)
            for applicable, rule in rules.asset_bans:
                if rule.asset_class is not asset_class:
                    continue
                yield _deny(rule.id, "asset_class_prohibited",
                            f"{asset} is a {asset_class.value.replace('_', ' ')}, not allowed "
                            f"for this customer under {applicable.pack.country} rules.",
                            {"asset": asset, "asset_class": asset_class.value,
                             "jurisdiction": applicable.pack.country, "as": applicable.role.value},
                            applicable.citation)  # fmt: skip


def _calls_for_action(rules: _CountryRuleSet, customer: CustomerFacts) -> Iterator[Finding]:
    parties = {"residence": customer.residence_country, "nationality": customer.nationality}
    for rule in rules.calls_for_action:
        matched = {role: country for role, country in parties.items() if country in rule.countries}
        if matched:
            yield _deny(rule.id, "fatf_call_for_action",
                        f"Customer {' and '.join(matched)} in a FATF call-for-action jurisdiction.",
                        dict(matched), rules.default_pack.citation(rule))  # fmt: skip


def _trading(book: RuleBook, found: list[Applicable], residence: str | None) -> Iterator[Finding]:
    for applicable, rule in book.of_kind(TradingRule, iter(found)):
        if not rule.allowed:
            yield _deny(rule.id, "trading_prohibited",
                        f"Crypto trading is prohibited for residents of {applicable.pack.country}.",
                        {"residence": residence}, applicable.citation)  # fmt: skip


def _deny(
    rule_id: str, reason: str, message: str, values: dict[str, object], citation: str | None
) -> Finding:
    return Finding(STAGE, rule_id, Outcome.DENY, reason, message, dict(values), citation)
