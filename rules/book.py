"""The loaded rules: which apply to whom on which day."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from rules.model import AppliesAs, AssetClass, LicenceRule, PackFile, RealNameAccountRule, Rule

DEFAULT_COUNTRY = "ZZ"
_MEMO_MAX = 4096  # distinct (home, residence, region, day) questions kept
R = TypeVar("R")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Applicable:
    """A rule in force for a customer, with the pack it came from (for its citation)."""

    pack: PackFile
    rule: Rule
    role: AppliesAs

    @property
    def citation(self) -> str:
        return self.pack.citation(self.rule)


@dataclass(frozen=True)
class RuleBook:
    version: str
    packs: dict[str, PackFile]
    assets: dict[str, AssetClass]
    content: dict[str, Any]  # validated content per file, as stored with the version
    _memo: dict[tuple[str, str | None, str | None, date], tuple[Applicable, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def pack_for(self, country: str) -> PackFile:
        return self.packs.get(country) or self.packs[DEFAULT_COUNTRY]

    def applicable(
        self, *, home: str, residence: str | None, region: str | None, on: date
    ) -> Iterator[Applicable]:
        """Home rules apply to everyone; residence rules to the country's residents. A
        rule scoped to a region (a US state) applies only to residents of that region.

        Memoised: the book never changes, and every request asks the same few questions
        (a handful of countries, one date), so the answer is computed once per day."""
        key = (home, residence, region, on)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            found = self._memo[key] = tuple(self._find(home, residence, region, on))
        return iter(found)

    def _find(self, home: str, residence: str | None, region: str | None, on: date) -> Iterator[Applicable]:
        roles = [(self.pack_for(home), AppliesAs.HOME)]
        if residence is not None:
            roles.append((self.pack_for(residence), AppliesAs.RESIDENCE))
        seen: set[str] = set()  # a resident of the home country meets each rule once
        for pack, role in roles:
            for rule in pack.rules:
                if rule.id in seen or role not in rule.applies_as or not rule.in_force(on):
                    continue
                if rule.region is not None and (role is AppliesAs.HOME or rule.region != region):
                    continue
                seen.add(rule.id)
                yield Applicable(pack, rule, role)

    def of_kind(self, kind: type[R], found: Iterator[Applicable]) -> list[tuple[Applicable, R]]:
        return [(a, a.rule) for a in found if isinstance(a.rule, kind)]

    def asset_class(self, asset: str) -> AssetClass | None:
        return self.assets.get(asset)

    @functools.cached_property
    def bank_currencies(self) -> frozenset[str]:
        """Currencies moved only through bank accounts under some pack (Korea's real-name
        system: KRW), on any date: a withdrawal of one goes to an account number. Worked
        out once per book, not per withdrawal."""
        return frozenset(
            rule.currency
            for pack in self.packs.values()
            for rule in pack.rules
            if isinstance(rule, RealNameAccountRule)
        )

    def licences_of(self, country: str) -> frozenset[str]:
        """The licences a country's own pack names, at any date: what an exchange operating
        from there holds to be there at all."""
        return frozenset(r.licence for r in self.pack_for(country).rules if isinstance(r, LicenceRule))

    def all_rules(self) -> dict[str, dict[str, Any]]:
        """Every rule by id, as data: what the diff between two versions compares."""
        return {
            rule.id: {"country": pack.country, **rule.model_dump(mode="json")}
            for pack in self.packs.values()
            for rule in pack.rules
        }


class RuleSetBuilder(Protocol[T_co]):
    def __call__(
        self, book: RuleBook, *, home: str, residence: str | None, region: str | None, on: date
    ) -> T_co: ...


@dataclass(frozen=True)
class CustomerRules(Generic[T]):
    """A stage's rule set for a customer's jurisdiction on a day, built once: the book is
    immutable and every request asks one of a few questions."""

    book: RuleBook
    home: str
    build: RuleSetBuilder[T]
    _memo: dict[tuple[str | None, str | None, date], T] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def of(self, residence: str | None, region: str | None, on: date) -> T:
        key = (residence, region, on)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            found = self._memo[key] = self.build(
                self.book, home=self.home, residence=residence, region=region, on=on
            )
        return found


def diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changed = {}
    for rule_id in sorted(old.keys() & new.keys()):
        fields = {
            k: {"from": old[rule_id].get(k), "to": new[rule_id].get(k)}
            for k in sorted(old[rule_id].keys() | new[rule_id].keys())
            if old[rule_id].get(k) != new[rule_id].get(k)
        }
        if fields:
            changed[rule_id] = fields
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
    }
