"""The country-rules stage: may this customer, resident where they are, make this call on
an exchange operating from the home jurisdiction, on this day? Pure: facts in, findings out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome
from policy.facts import CustomerFacts, Facts
from rules.book import Applicable, RuleBook
from rules.model import AssetClassRule, CallForActionRule, LicenceRule, TradingRule

# Calls that move money or prepare to: the ones country rules restrict. Reading an account
# and cancelling an order stay possible, so a customer can always see and wind down.
RESTRICTED = frozenset(
    {ActionKind.ORDER, ActionKind.WITHDRAWAL, ActionKind.DEPOSIT_ADDRESS, ActionKind.DEPOSIT_CREDIT}
)
STAGE = "country_rules"


@dataclass(frozen=True)
class CountryRulesStage:
    book: RuleBook
    home_country: str
    licences_held: frozenset[str]
    as_of: date | None = None  # pinned by setting; otherwise the request's own date
    name: str = STAGE
    gate: bool = False

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        customer = facts.customer
        if action.kind not in RESTRICTED or customer is None:
            return []
        if customer.residence_country is None:
            return [_deny("core.jurisdiction.residence_unknown", "residence_unknown",
                          "The customer's country of residence is not on record.", {}, None)]  # fmt: skip
        on = self.as_of or facts.now.date()
        found = list(
            self.book.applicable(
                home=self.home_country,
                residence=customer.residence_country,
                region=customer.residence_region,
                on=on,
            )
        )
        findings = [
            *self._call_for_action(customer, on),
            *self._trading(found, customer),
            *self._licences(found, customer),
            *self._asset_classes(action, found),
        ]
        return findings

    def _call_for_action(self, customer: CustomerFacts, on: date) -> Iterator[Finding]:
        # FATF's list binds everyone, so it lives in the default pack and always applies.
        default = self.book.pack_for("ZZ")
        for rule in default.rules:
            if not isinstance(rule, CallForActionRule) or not rule.in_force(on):
                continue
            parties = {"residence": customer.residence_country, "nationality": customer.nationality}
            matched = {role: country for role, country in parties.items() if country in rule.countries}
            if matched:
                yield _deny(rule.id, "fatf_call_for_action",
                            f"Customer {' and '.join(matched)} in a FATF call-for-action jurisdiction.",
                            dict(matched), default.citation(rule))  # fmt: skip

    def _trading(self, found: list[Applicable], customer: CustomerFacts) -> Iterator[Finding]:
        for applicable, rule in self.book.of_kind(TradingRule, iter(found)):
            if not rule.allowed:
                yield _deny(rule.id, "trading_prohibited",
                            f"Crypto trading is prohibited for residents of {applicable.pack.country}.",
                            {"residence": customer.residence_country}, applicable.citation)  # fmt: skip

    def _licences(self, found: list[Applicable], customer: CustomerFacts) -> Iterator[Finding]:
        for applicable, rule in self.book.of_kind(LicenceRule, iter(found)):
            if rule.licence not in self.licences_held:
                yield _deny(rule.id, "licence_required",
                            f"Serving residents of {applicable.pack.country}"
                            f"{'-' + rule.region if rule.region else ''} requires {rule.description}.",
                            {"licence": rule.licence, "residence": customer.residence_country,
                             "region": customer.residence_region}, applicable.citation)  # fmt: skip

    def _asset_classes(self, action: Action, found: list[Applicable]) -> Iterator[Finding]:
        """Every rule that bans an asset's class speaks: home and residence alike."""
        assets = dict.fromkeys(a for a in (action.base_asset, action.quote_asset, action.asset) if a)
        bans = [(a, r) for a, r in self.book.of_kind(AssetClassRule, iter(found)) if not r.allowed]
        for asset in assets:
            asset_class = self.book.asset_class(asset)
            for applicable, rule in bans:
                if rule.asset_class is not asset_class:
                    continue
                yield _deny(rule.id, "asset_class_prohibited",
                            f"{asset} is a {asset_class.value.replace('_', ' ')}, not allowed "
                            f"for this customer under {applicable.pack.country} rules.",
                            {"asset": asset, "asset_class": asset_class.value,
                             "jurisdiction": applicable.pack.country, "as": applicable.role.value},
                            applicable.citation)  # fmt: skip


def _deny(
    rule_id: str, reason: str, message: str, values: dict[str, object], citation: str | None
) -> Finding:
    return Finding(STAGE, rule_id, Outcome.DENY, reason, message, dict(values), citation)
