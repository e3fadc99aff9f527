"""How long the log must be kept: the longest record-keeping period in force for the
jurisdictions the exchange serves, read from the rule packs' `record_retention` rules.

A jurisdiction is a country (`KR`) or a country and region (`US-NY`): the region's own
rule (New York's 7 years) applies on top of the country's. Two conservative choices,
because not knowing is no reason to delete:

- a period the packs mark unverified counts as the longest verified period in the book;
- a jurisdiction with no pack of its own gets the longest verified period too (not the
  default pack's, which is a floor for unlisted customers, not a licence to drop).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rules.book import DEFAULT_COUNTRY, Applicable, RuleBook
from rules.model import RetentionRule


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class RetentionPolicy:
    years: int
    governed_by: tuple[str, ...]  # the jurisdictions whose period is the longest
    citations: tuple[str, ...]
    # Periods that run from the end of the customer relationship: (jurisdiction, years).
    relationship_end: tuple[tuple[str, int], ...]
    rule_pack: str  # the book version the periods were read from

    def cutoff(self, today: date) -> date:
        """Nothing recorded on or after this day may be dropped."""
        return years_before(today, self.years)

    def as_json(self, today: date) -> dict[str, object]:
        return {
            "years": self.years,
            "governed_by": list(self.governed_by),
            "citations": list(self.citations),
            "relationship_end": [{"jurisdiction": j, "years": y} for j, y in self.relationship_end],
            "cutoff": self.cutoff(today).isoformat(),
            "rule_pack": self.rule_pack,
        }


@dataclass(frozen=True)
class _Period:
    years: int
    citation: str
    runs_from_relationship_end: bool


def known_jurisdictions(book: RuleBook) -> list[str]:
    """Every country with a pack, and every region a retention rule names (US-NY)."""
    codes = {country for country in book.packs if country != DEFAULT_COUNTRY}
    for country, pack in book.packs.items():
        codes.update(
            f"{country}-{rule.region}"
            for rule in pack.rules
            if isinstance(rule, RetentionRule) and rule.region is not None
        )
    return sorted(codes)


def _rules_for(book: RuleBook, code: str, on: date) -> list[Applicable]:
    country, _, region = code.partition("-")
    found = book.applicable(home=country, residence=country, region=region or None, on=on)
    return [a for a in found if isinstance(a.rule, RetentionRule)]


def _longest_verified(book: RuleBook, on: date) -> _Period:
    candidates = [
        a
        for code in known_jurisdictions(book)
        for a in _rules_for(book, code, on)
        if isinstance(a.rule, RetentionRule) and not a.rule.unverified
    ]
    if not candidates:
        raise ValueError(f"rule pack {book.version} has no verified record_retention rule")
    best = max(candidates, key=lambda a: a.rule.years if isinstance(a.rule, RetentionRule) else 0)
    assert isinstance(best.rule, RetentionRule)
    return _Period(best.rule.years, best.citation, False)


def _period(book: RuleBook, code: str, on: date, fallback: _Period) -> _Period:
    country = code.partition("-")[0]
    if country not in book.packs:
        return _Period(fallback.years, f"{code}: no rule pack, the longest verified period applies", False)
    found = _rules_for(book, code, on)
    if not found:
        why = f"{code}: no retention rule in force, the longest verified period applies"
        return _Period(fallback.years, why, False)
    periods = []
    for applicable in found:
        rule = applicable.rule
        assert isinstance(rule, RetentionRule)
        years, why = rule.years, f"{code}: {rule.years} years ({rule.id}; {applicable.citation})"
        if rule.unverified and rule.years < fallback.years:
            years = fallback.years
            why = f"{why}; unverified, so the longest verified period ({years}) applies"
        periods.append(_Period(years, why, rule.runs_from == "relationship_end"))
    return max(periods, key=lambda p: p.years)


def policy_for(book: RuleBook, jurisdictions: Iterable[str], on: date) -> RetentionPolicy:
    """The policy for the jurisdictions served; none given means every one the book knows."""
    served = sorted(set(jurisdictions)) or known_jurisdictions(book)
    fallback = _longest_verified(book, on)
    periods = {code: _period(book, code, on, fallback) for code in served}
    years = max(p.years for p in periods.values())
    governing = tuple(code for code in served if periods[code].years == years)
    relationship = tuple((code, p.years) for code, p in periods.items() if p.runs_from_relationship_end)
    return RetentionPolicy(
        years, governing, tuple(periods[c].citation for c in governing), relationship, book.version
    )
