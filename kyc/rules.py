"""The KYC part of a rule pack: every value carries the rule id and citation it comes from.

The rules are the pack's own (rules.model: ForeignersRule, KycLevelRule,
RealNameAccountRule), validated once, where the pack is loaded; rules/kyc_rules.py picks
those in force for a customer into a `KycRuleSet`. Tests build them by hand from
reference/regulations.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kyc.countries import COUNTRY_CODES
from rules.model import ForeignersRule, KycLevelRule, RealNameAccountRule

# Covariant: a Ruled[dict[...]] is a Ruled[Mapping[...]]; the value is never replaced.
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Ruled(Generic[T_co]):
    """A rule-pack value with the rule that sets it and where the rule comes from."""

    value: T_co
    rule_id: str
    citation: str


@dataclass(frozen=True, slots=True)
class KycRuleSet:
    home_country: str
    # Keys: an ISO 3166-1 country ("KR") or a region ("US-AL"), the loader's reading of the
    # pack's minimum_age rules with applies_as home/residence and region. The home
    # country's minimum applies to everyone; the residence's (its region's when there is
    # one) to its residents; the higher wins.
    minimum_ages: Mapping[str, Ruled[int]]
    foreigners: Ruled[ForeignersRule | None]  # None: the pack has no rule, nothing restricts
    non_residents_allowed: Ruled[bool]
    corporates_allowed: Ruled[bool]
    level_limits: Mapping[str, Ruled[KycLevelRule]]  # level name -> its rule
    real_name_accounts: Mapping[str, Ruled[RealNameAccountRule]] = field(default_factory=dict)  # by currency

    def __post_init__(self) -> None:
        if self.home_country not in COUNTRY_CODES:
            raise ValueError(f"home country {self.home_country!r} is not an ISO 3166-1 alpha-2 code")
        for key, minimum in self.minimum_ages.items():
            if key.split("-", 1)[0] not in COUNTRY_CODES:
                raise ValueError(f"minimum age key {key!r} is not a country or region code")
            if minimum.value < 0:
                raise ValueError(f"minimum age for {key} cannot be negative")
