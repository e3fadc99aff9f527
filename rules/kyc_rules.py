"""Reading the KYC values (ages, foreigners, corporates, real-name accounts, levels) out of
the rule book in force, for the KYC stage. Pure: the book and a date in, a rule set out.
The pack's rules are passed on as they are (no KYC copy of them), with their citations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from kyc.rules import KycRuleSet, Ruled
from rules.book import DEFAULT_COUNTRY, Applicable, RuleBook
from rules.model import (
    AppliesAs,
    CorporatesRule,
    ForeignersRule,
    KycLevelRule,
    MinimumAgeRule,
    NonResidentsRule,
    RealNameAccountRule,
)

R = TypeVar("R", ForeignersRule, NonResidentsRule, CorporatesRule)
V = TypeVar("V")

# Where a pack says nothing on a question, nothing restricts it; the reason is recorded.
_NO_RULE = "the rule pack has no rule on this; nothing restricts it"


def kyc_rule_set(
    book: RuleBook, *, home: str, residence: str | None, region: str | None, on: date
) -> KycRuleSet:
    found = list(book.applicable(home=home, residence=residence, region=region, on=on))
    no_foreigners_rule: Ruled[ForeignersRule | None] = Ruled(
        None, f"{home.lower()}.foreigners.none", _NO_RULE
    )
    return KycRuleSet(
        home_country=home,
        minimum_ages=_minimum_ages(book, found, (home, residence), on),
        foreigners=_first(book, found, ForeignersRule, lambda r: r, no_foreigners_rule),
        non_residents_allowed=_first(book, found, NonResidentsRule, lambda r: r.allowed,
                                     Ruled(True, f"{home.lower()}.non_residents.none", _NO_RULE)),
        corporates_allowed=_first(book, found, CorporatesRule, lambda r: r.allowed,
                                  Ruled(True, f"{home.lower()}.corporates.none", _NO_RULE)),
        level_limits={
            rule.level: Ruled(rule, rule.id, applicable.citation)
            for applicable, rule in book.of_kind(KycLevelRule, iter(found))
        },
        real_name_accounts={
            rule.currency: Ruled(rule, rule.id, applicable.citation)
            for applicable, rule in book.of_kind(RealNameAccountRule, iter(found))
        },
    )  # fmt: skip


def _first(
    book: RuleBook, found: list[Applicable], kind: type[R], convert: Callable[[R], V], default: Ruled[V]
) -> Ruled[V]:
    """The pack's rule of this kind in force (home before residence), or the default."""
    for applicable, rule in book.of_kind(kind, iter(found)):
        return Ruled(convert(rule), rule.id, applicable.citation)
    return default


def _minimum_ages(
    book: RuleBook, found: list[Applicable], countries: tuple[str, str | None], on: date
) -> dict[str, Ruled[int]]:
    """Ages keyed by country, or country-region where a rule is scoped to a region. A
    country whose pack sets no age takes the default pack's (a conservative baseline)."""
    home, residence = countries
    ages: dict[str, Ruled[int]] = {}
    for applicable, rule in book.of_kind(MinimumAgeRule, iter(found)):
        # Keyed by the customer's countries: a country without a pack of its own reads
        # the default pack, and its age is still that country's minimum.
        country = home if applicable.role is AppliesAs.HOME else residence
        if country is None:
            continue
        key = country + (f"-{rule.region}" if rule.region else "")
        if key not in ages or rule.years > ages[key].value:
            ages[key] = Ruled(rule.years, rule.id, applicable.citation)
    baseline = _default_age(book, on)
    for country in filter(None, countries):
        if country not in ages and baseline is not None:
            ages[country] = baseline
    return ages


def _default_age(book: RuleBook, on: date) -> Ruled[int] | None:
    pack = book.pack_for(DEFAULT_COUNTRY)
    for rule in pack.rules:
        if isinstance(rule, MinimumAgeRule) and rule.in_force(on):
            return Ruled(rule.years, rule.id, pack.citation(rule))
    return None
