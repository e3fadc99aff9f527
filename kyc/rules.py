"""The KYC part of a rule pack: every value carries the rule id and citation it comes from.

The rule-pack loader (rules/, written separately) builds a `KycRuleSet` from the pack in
force; tests build them by hand from reference/regulations.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from kyc.countries import COUNTRY_CODES

# Covariant: a Ruled[dict[...]] is a Ruled[Mapping[...]]; the value is never replaced.
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Ruled(Generic[T_co]):
    """A rule-pack value with the rule that sets it and where the rule comes from."""

    value: T_co
    rule_id: str
    citation: str


@dataclass(frozen=True, slots=True)
class LevelLimit:
    """What one verification level may do: these action kinds, up to this amount each."""

    actions: frozenset[str]
    max_amount: Decimal | None = None  # None: no cap
    currency: str | None = None  # the cap's currency; the gateway converts amounts into it
    # The pack's comparison (rules.model.Comparison): "more_than" lets max_amount itself
    # through, "at_or_above" refuses it too.
    refuse_when: Literal["more_than", "at_or_above"] = "more_than"

    def __post_init__(self) -> None:
        if (self.max_amount is None) != (self.currency is None):
            raise ValueError("a level's max_amount and currency go together")
        if self.max_amount is not None and self.max_amount < 0:
            raise ValueError("a level's max_amount cannot be negative")

    def exceeded_by(self, amount: Decimal) -> bool:
        if self.max_amount is None:
            return False
        if self.refuse_when == "at_or_above":
            return amount >= self.max_amount
        return amount > self.max_amount


@dataclass(frozen=True, slots=True)
class ForeignersRule:
    """Customers whose nationality is not the home country's: all allowed, none, or only
    those resident in the home country (the pack's `foreigners` rule)."""

    allowed: bool
    residents_allowed: bool = False


@dataclass(frozen=True, slots=True)
class RealNameAccountRule:
    """Korea's real-name system for one currency: money moves only through a confirmed
    account in the customer's name; with `partner_bank_required_for_deposit`, deposits
    only from an account at the exchange's own bank (2018: other banks withdraw only)."""

    partner_bank_required_for_deposit: bool


@dataclass(frozen=True, slots=True)
class KycRuleSet:
    home_country: str
    # Keys: an ISO 3166-1 country ("KR") or a region ("US-AL"), the loader's reading of the
    # pack's minimum_age rules with applies_as home/residence and region. The home
    # country's minimum applies to everyone; the residence's (its region's when there is
    # one) to its residents; the higher wins.
    minimum_ages: Mapping[str, Ruled[int]]
    foreigners: Ruled[ForeignersRule]
    non_residents_allowed: Ruled[bool]
    corporates_allowed: Ruled[bool]
    level_limits: Mapping[str, Ruled[LevelLimit]]  # level name -> its limit and rule
    real_name_accounts: Mapping[str, Ruled[RealNameAccountRule]] = field(default_factory=dict)  # by currency

    def __post_init__(self) -> None:
        if self.home_country not in COUNTRY_CODES:
            raise ValueError(f"home country {self.home_country!r} is not an ISO 3166-1 alpha-2 code")
        for key, minimum in self.minimum_ages.items():
            if key.split("-", 1)[0] not in COUNTRY_CODES:
                raise ValueError(f"minimum age key {key!r} is not a country or region code")
            if minimum.value < 0:
                raise ValueError(f"minimum age for {key} cannot be negative")
