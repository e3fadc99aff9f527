"""The shipped packs say what the reference says: for each country and two dates (the
seed table's early 2018 and a day today), the key facts resolve through
`RuleBook.applicable` as expected. Plus the hygiene every rule owes: a cited source with
a URL, a note where unverified, and no two rules for the same thing in force at once."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from rules.book import RuleBook
from rules.loader import load_rule_book
from rules.model import (
    AssetClass,
    AssetClassRule,
    CallForActionRule,
    CashReportRule,
    CorporatesRule,
    ForeignersRule,
    HoldExpiryRule,
    KycLevelRule,
    LicenceRule,
    LinkedTransactionsRule,
    MinimumAgeRule,
    NonResidentsRule,
    RealNameAccountRule,
    RetentionRule,
    RollingWindowRule,
    SelfHostedRule,
    StructuringRule,
    TradingRule,
    TravelRule,
)

SEED = date(2018, 3, 1)
NOW = date(2026, 11, 24)
COUNTRIES = ["CH", "CN", "EE", "HK", "JP", "KR", "US"]
FULL = ("order", "withdrawal", "deposit_credit", "deposit_address")


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rule_book()


def _rules(book: RuleBook, home: str, residence: str | None, region: str | None, on: date) -> list[Any]:
    return [a.rule for a in book.applicable(home=home, residence=residence, region=region, on=on)]


def _kind(kind: type) -> Callable[[list[Any]], list[Any]]:
    return lambda rules: [r for r in rules if isinstance(r, kind)]


def _threshold(t: Any) -> tuple[Decimal, str, str]:
    return (t.amount, t.currency, t.comparison.value)


def _asset_allowed(asset_class: AssetClass) -> Callable[[list[Any]], bool]:
    # Stricter wins: one refusal from home or residence is enough.
    def allowed(rules: list[Any]) -> bool:
        return all(r.allowed for r in _kind(AssetClassRule)(rules) if r.asset_class is asset_class)

    return allowed


# What each fact reads off the rules in force. Sets where home and residence may both speak.
FACTS: dict[str, Callable[[list[Any]], Any]] = {
    "min_age": lambda rs: max((r.years for r in _kind(MinimumAgeRule)(rs)), default=None),
    "foreigners": lambda rs: {(r.allowed, r.residents_allowed) for r in _kind(ForeignersRule)(rs)},
    "non_residents": lambda rs: {r.allowed for r in _kind(NonResidentsRule)(rs)},
    "corporates": lambda rs: {r.allowed for r in _kind(CorporatesRule)(rs)},
    "real_name": lambda rs: {
        (r.currency, r.partner_bank_required_for_deposit) for r in _kind(RealNameAccountRule)(rs)
    },
    "travel_rule": lambda rs: {_threshold(r.threshold) for r in _kind(TravelRule)(rs)},
    "self_hosted": lambda rs: {_threshold(r.threshold) for r in _kind(SelfHostedRule)(rs)},
    "cash_report": lambda rs: {_threshold(r.threshold) for r in _kind(CashReportRule)(rs)},
    # Cash is fiat through the bank, added up per day, in every pack that has a CTR.
    "cash_scope": lambda rs: {(tuple(r.rails), r.period) for r in _kind(CashReportRule)(rs)},
    "travel_counterparty": lambda rs: {r.counterparty.value for r in _kind(TravelRule)(rs)},
    "travel_data": lambda rs: {tuple(tuple(g) for g in r.required_data) for r in _kind(TravelRule)(rs)},
    "linked": lambda rs: {
        (r.window.value, r.direction.value, _threshold(r.total), r.levels)
        for r in _kind(LinkedTransactionsRule)(rs)
    },
    "str_windows": lambda rs: {
        (r.window.value, r.direction.value, r.total and _threshold(r.total), r.count, r.outcome, r.report)
        for r in _kind(RollingWindowRule)(rs)
        if r.outcome == "allow_and_report"
    },
    "str_unverified": lambda rs: {
        r.unverified for r in _kind(RollingWindowRule)(rs) if r.outcome == "allow_and_report"
    },
    "hold_windows": lambda rs: {
        (r.window.value, r.direction.value, r.total and _threshold(r.total), r.unverified)
        for r in _kind(RollingWindowRule)(rs)
        if r.outcome == "hold"
    },
    "structuring": lambda rs: {
        (_threshold(r.reference), r.band_percent, r.count, r.window.value) for r in _kind(StructuringRule)(rs)
    },
    "trading": lambda rs: {r.allowed for r in _kind(TradingRule)(rs)},
    "licences": lambda rs: {r.licence for r in _kind(LicenceRule)(rs)},
    "retention": lambda rs: max((r.years for r in _kind(RetentionRule)(rs)), default=None),
    "hold_hours": lambda rs: {r.hours for r in _kind(HoldExpiryRule)(rs)},
    "kyc_levels": lambda rs: {r.level: tuple(r.actions) for r in _kind(KycLevelRule)(rs)},
    "ico_token": _asset_allowed(AssetClass.ICO_TOKEN),
    "privacy_coin": _asset_allowed(AssetClass.PRIVACY_COIN),
    "security_token": _asset_allowed(AssetClass.SECURITY_TOKEN),
    "stablecoin": _asset_allowed(AssetClass.STABLECOIN),
    "payment_coin": _asset_allowed(AssetClass.PAYMENT_COIN),
}

KRW_1M = (Decimal("1000000"), "KRW", "at_or_above")
KR_STR = {
    ("24h", "both", (Decimal("10000000"), "KRW", "at_or_above"), None, "allow_and_report", "STR"),
    ("7d", "both", (Decimal("20000000"), "KRW", "at_or_above"), None, "allow_and_report", "STR"),
    ("24h", "both", None, 5, "allow_and_report", "STR"),
    ("7d", "both", None, 7, "allow_and_report", "STR"),
}


def case(
    home: str, residence: str | None, on: date, fact: str, expected: Any, region: str | None = None
) -> Any:
    who = f"{residence}{'-' + region if region else ''}" if residence else "none"
    return pytest.param(
        home, residence, region, on, fact, expected, id=f"{home}-home/{who}-resident/{on.year}/{fact}"
    )


CASES = [
    # Korea, early 2018: emergency measures, real-name system, KoFIU guideline.
    case("KR", "KR", SEED, "min_age", 19),
    case("KR", "KR", SEED, "foreigners", {(False, False)}),
    case("KR", "KR", SEED, "non_residents", {False}),
    case("KR", "KR", SEED, "corporates", {False}),
    case("KR", "KR", SEED, "real_name", {("KRW", True)}),
    case("KR", "KR", SEED, "travel_rule", set()),
    case("KR", "KR", SEED, "cash_report", {(Decimal("20000000"), "KRW", "at_or_above")}),
    case("KR", "KR", SEED, "str_windows", KR_STR),
    case("KR", "KR", SEED, "str_unverified", {False}),
    case("KR", "KR", SEED, "ico_token", False),
    case("KR", "KR", SEED, "privacy_coin", True),
    case("KR", "KR", SEED, "payment_coin", True),
    case("KR", "KR", SEED, "retention", 5),
    case("KR", "KR", SEED, "hold_hours", {72}),
    case("KR", "KR", SEED, "kyc_levels", {"basic": ("order",), "full": FULL}),
    case("KR", "KR", SEED, "licences", set()),
    case(
        "KR",
        "KR",
        SEED,
        "hold_windows",
        {("24h", "withdrawals", (Decimal("50000000"), "KRW", "more_than"), True)},
    ),
    case(
        "KR",
        "KR",
        NOW,
        "structuring",
        {((Decimal("10000000"), "KRW", "at_or_above"), Decimal("10"), 3, "24h")},
    ),
    case("US", "US", NOW, "structuring", {((Decimal("10000"), "USD", "more_than"), Decimal("10"), 3, "24h")}),
    case("JP", "JP", NOW, "structuring", set()),
    # Korea today: SFIA, travel rule, CTR lowered; the guideline's indicators kept as the
    # exchange's own monitoring.
    case("KR", "KR", NOW, "min_age", 19),
    case("KR", "KR", NOW, "foreigners", {(False, False)}),
    case("KR", "KR", NOW, "non_residents", {False}),
    case("KR", "KR", NOW, "corporates", {False}),
    case("KR", "KR", NOW, "real_name", {("KRW", True)}),
    case("KR", "KR", NOW, "travel_rule", {KRW_1M}),
    case("KR", "KR", NOW, "cash_report", {(Decimal("10000000"), "KRW", "at_or_above")}),
    case("KR", "KR", NOW, "str_windows", KR_STR),
    case("KR", "KR", NOW, "str_unverified", {True}),
    case("KR", "KR", NOW, "ico_token", False),
    case("KR", "KR", NOW, "privacy_coin", False),
    case("KR", "KR", NOW, "retention", 5),
    case("KR", "KR", NOW, "kyc_levels", {"basic": ("order",), "full": FULL}),
    # Home-only Korean rules do not follow Korean residents abroad; residence ones do.
    case("US", "KR", NOW, "travel_rule", {(Decimal("3000"), "USD", "at_or_above")}),
    case("US", "KR", NOW, "real_name", set()),
    case("US", "KR", NOW, "min_age", 19),
    case("US", "KR", NOW, "ico_token", False),
    # Japan.
    case("JP", "JP", SEED, "licences", {"JP-FSA-CAESP"}),
    case("JP", "JP", NOW, "licences", {"JP-FSA-CAESP"}),
    case("KR", "JP", SEED, "licences", {"JP-FSA-CAESP"}),
    case("KR", "JP", NOW, "licences", {"JP-FSA-CAESP"}),
    case("KR", "JP", SEED, "privacy_coin", True),
    case("KR", "JP", NOW, "privacy_coin", False),
    case("JP", "JP", SEED, "privacy_coin", True),
    case("JP", "JP", NOW, "privacy_coin", False),
    case("JP", "JP", NOW, "security_token", False),
    case("JP", "JP", SEED, "min_age", 20),
    case("JP", "JP", NOW, "min_age", 18),
    case("KR", "JP", NOW, "min_age", 19),
    case("JP", "JP", SEED, "travel_rule", set()),
    case("JP", "JP", NOW, "travel_rule", {(Decimal("0"), "JPY", "at_or_above")}),
    case("JP", "JP", SEED, "retention", 7),
    case("JP", "JP", NOW, "retention", 7),
    # United States: federal rules in both eras; state licences by region.
    case("US", "US", SEED, "security_token", False),
    case("US", "US", NOW, "security_token", False),
    case("KR", "US", NOW, "security_token", False),
    case("US", "US", SEED, "cash_report", {(Decimal("10000"), "USD", "more_than")}),
    case("US", "US", NOW, "cash_report", {(Decimal("10000"), "USD", "more_than")}),
    case("US", "US", SEED, "travel_rule", {(Decimal("3000"), "USD", "at_or_above")}),
    case("US", "US", NOW, "travel_rule", {(Decimal("3000"), "USD", "at_or_above")}),
    case("US", "US", SEED, "retention", 5),
    case("US", "US", NOW, "retention", 7, region="NY"),
    case("US", "US", SEED, "min_age", None),
    case("KR", "US", SEED, "licences", {"US-FINCEN-MSB", "US-NY-BITLICENSE"}, region="NY"),
    case("KR", "US", NOW, "licences", {"US-FINCEN-MSB", "US-NY-BITLICENSE"}, region="NY"),
    case("KR", "US", SEED, "licences", {"US-FINCEN-MSB"}, region="CA"),
    case("KR", "US", NOW, "licences", {"US-FINCEN-MSB", "US-CA-DFAL"}, region="CA"),
    case("KR", "US", SEED, "licences", {"US-FINCEN-MSB", "US-HI-MTL"}, region="HI"),
    case("KR", "US", NOW, "licences", {"US-FINCEN-MSB"}, region="HI"),
    case("KR", "US", NOW, "licences", {"US-FINCEN-MSB", "US-LA-VCBL"}, region="LA"),
    case("KR", "US", NOW, "licences", {"US-FINCEN-MSB"}),
    # A region rule never applies through the home role; Korea's own registration does.
    case("US", "KR", NOW, "licences", {"KR-KOFIU-VASP"}, region="NY"),
    # Korea: no licensing regime in 2018; KoFIU VASP registration to serve residents now.
    case("KR", "KR", NOW, "licences", {"KR-KOFIU-VASP"}),
    case("JP", "KR", NOW, "licences", {"KR-KOFIU-VASP"}),
    case("JP", "KR", SEED, "licences", set()),
    # Residents may use foreign exchanges (the reference): no licence to serve them.
    case("KR", "CH", NOW, "licences", set()),
    case("KR", "EE", NOW, "licences", set()),
    case("KR", "EE", SEED, "licences", set()),
    # Hong Kong.
    case("HK", "HK", SEED, "travel_rule", set()),
    case("HK", "HK", NOW, "travel_rule", {(Decimal("8000"), "HKD", "at_or_above")}),
    case("KR", "HK", SEED, "licences", set()),
    case("KR", "HK", NOW, "licences", {"HK-SFC-VATP"}),
    case("HK", "HK", SEED, "stablecoin", True),
    case("HK", "HK", NOW, "stablecoin", False),
    case("HK", "HK", NOW, "retention", 5),
    # Switzerland.
    case("CH", "CH", SEED, "travel_rule", set()),
    case("CH", "CH", NOW, "travel_rule", {(Decimal("0"), "CHF", "at_or_above")}),
    case("CH", "CH", SEED, "retention", 10),
    case("CH", "CH", NOW, "retention", 10),
    case("CH", "CH", NOW, "min_age", None),
    # Estonia.
    case("EE", "EE", SEED, "travel_rule", set()),
    case("EE", "EE", SEED, "self_hosted", set()),
    case("EE", "EE", NOW, "travel_rule", {(Decimal("0"), "EUR", "at_or_above")}),
    case("EE", "EE", NOW, "self_hosted", {(Decimal("1000"), "EUR", "more_than")}),
    case("EE", "EE", NOW, "retention", 5),
    # China: nothing, on either date, on any exchange.
    case("KR", "CN", SEED, "trading", {False}),
    case("KR", "CN", NOW, "trading", {False}),
    case("CN", "CN", SEED, "trading", {False}),
    case("CN", None, NOW, "trading", {False}),
    case("KR", "CN", SEED, "ico_token", False),
    case("KR", "CN", NOW, "retention", 5),
    # Cash reports: cash only (the bank rail), per day.
    case("KR", "KR", SEED, "cash_scope", {(("bank",), "day")}),
    case("KR", "KR", NOW, "cash_scope", {(("bank",), "day")}),
    case("US", "US", NOW, "cash_scope", {(("bank",), "day")}),
    case("CN", "CN", NOW, "cash_scope", {(("bank",), "day")}),
    case("EE", "EE", NOW, "cash_scope", {(("bank",), "day")}),
    case("CH", "CH", NOW, "cash_scope", set()),
    case("HK", "HK", NOW, "cash_scope", set()),
    case("JP", "JP", NOW, "cash_scope", set()),
    # Travel rule: whom it covers and what must travel.
    case("KR", "KR", NOW, "travel_counterparty", {"vasp"}),
    case("KR", "KR", NOW, "travel_data", {(("originator.account_number",), ("beneficiary.account_number",))}),
    case("CH", "CH", NOW, "travel_counterparty", {"any"}),
    case("HK", "HK", NOW, "travel_counterparty", {"any"}),
    case(
        "HK",
        "HK",
        NOW,
        "travel_data",
        {
            (
                ("originator.account_number",),
                ("beneficiary.account_number",),
                ("originator.address", "originator.national_id", "originator.date_and_place_of_birth"),
            )
        },
    ),
    case(
        "EE",
        "EE",
        date(2023, 6, 1),
        "travel_data",
        {
            (
                ("originator.address",),
                ("originator.national_id", "originator.date_and_place_of_birth"),
            )
        },
    ),
    case("JP", "JP", NOW, "travel_counterparty", {"any"}),
    case("US", "US", NOW, "travel_counterparty", {"any"}),
    case("BR", "BR", NOW, "travel_counterparty", {"any"}),
    # Switzerland's linked transactions: CHF 1,000 over 30 days unless identified, from 2023.
    case("CH", "CH", NOW, "linked", {("30d", "both", (Decimal("1000"), "CHF", "more_than"), ("basic",))}),
    case("CH", "CH", date(2022, 12, 31), "linked", set()),
    # Countries without a pack get the FATF baseline.
    case("BR", "BR", SEED, "travel_rule", set()),
    case("BR", "BR", NOW, "travel_rule", {(Decimal("1000"), "USD", "at_or_above")}),
    case("BR", "BR", NOW, "min_age", 18),
    case("BR", "BR", NOW, "retention", 5),
    case("BR", "BR", NOW, "kyc_levels", {"basic": ("order",), "full": FULL}),
    case("KR", "BR", NOW, "min_age", 19),
    case("KR", "BR", NOW, "travel_rule", {KRW_1M}),
]


@pytest.mark.parametrize(("home", "residence", "region", "on", "fact", "expected"), CASES)
def test_fact_resolves(
    book: RuleBook, home: str, residence: str | None, region: str | None, on: date, fact: str, expected: Any
) -> None:
    assert FACTS[fact](_rules(book, home, residence, region, on)) == expected


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        pytest.param(SEED, {"KP", "IR"}, id="2018"),
        pytest.param(date(2021, 6, 1), {"KP", "IR"}, id="2021"),
        pytest.param(NOW, {"KP", "IR", "MM"}, id="2026"),
    ],
)
def test_call_for_action_list(book: RuleBook, on: date, expected: set[str]) -> None:
    # The stage reads it from the default pack whatever the home and residence.
    in_force = [r for r in book.pack_for("ZZ").rules if isinstance(r, CallForActionRule) and r.in_force(on)]
    assert len(in_force) == 1
    assert set(in_force[0].countries) == expected


def test_every_pack_is_shipped(book: RuleBook) -> None:
    assert sorted(book.packs) == [*COUNTRIES, "ZZ"]
    assert book.pack_for("BR").country == "ZZ"


@pytest.mark.parametrize(
    ("asset", "asset_class"),
    [
        ("BTC", "payment_coin"), ("ETH", "payment_coin"), ("XRP", "payment_coin"), ("LTC", "payment_coin"),
        ("USDT", "stablecoin"), ("USDC", "stablecoin"), ("XMR", "privacy_coin"), ("ZEC", "privacy_coin"),
        ("STKN", "security_token"), ("ICOT", "ico_token"),
    ],
)  # fmt: skip
def test_asset_registry(book: RuleBook, asset: str, asset_class: str) -> None:
    assert book.asset_class(asset) == AssetClass(asset_class)


def _all_rules(book: RuleBook) -> list[tuple[str, Any]]:
    return [(country, rule) for country, pack in sorted(book.packs.items()) for rule in pack.rules]


def test_every_rule_cites_a_source_with_a_url(book: RuleBook) -> None:
    for country, rule in _all_rules(book):
        pack = book.packs[country]
        assert rule.cite, rule.id
        for source in rule.cite:
            assert pack.sources[source].url.startswith(("https://", "http://")), (rule.id, source)


def test_every_source_listed_is_cited(book: RuleBook) -> None:
    for pack in book.packs.values():
        cited = {c for rule in pack.rules for c in rule.cite}
        assert set(pack.sources) == cited, pack.country


def test_unverified_rules_say_why(book: RuleBook) -> None:
    for _, rule in _all_rules(book):
        if rule.unverified:
            assert len(rule.note) > 20, rule.id


def test_rule_ids_name_their_country(book: RuleBook) -> None:
    for country, rule in _all_rules(book):
        assert rule.id.startswith(country.lower() + "."), rule.id


def _subject(rule: Any) -> tuple[Any, ...]:
    """What a rule is about: two rules with the same subject must not overlap in time."""
    return (
        rule.governs,
        tuple(sorted(a.value for a in rule.applies_as)),
        rule.region,
        getattr(rule, "asset_class", None),
        getattr(rule, "licence", None),
        getattr(rule, "level", None),
        getattr(rule, "window", None),
        getattr(rule, "direction", None),
        getattr(rule, "outcome", None),
        getattr(rule, "total", None) is not None,
        getattr(rule, "count", None) is not None,
    )


def test_one_rule_per_subject_on_any_day(book: RuleBook) -> None:
    # On any date exactly the rules in force then apply: successive versions of a rule
    # (2018 -> current) must meet, not overlap.
    for country, pack in sorted(book.packs.items()):
        by_subject: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
        for rule in pack.rules:
            by_subject[_subject(rule)].append(rule)
        for rules in by_subject.values():
            ordered = sorted(rules, key=lambda r: r.effective_from)
            for earlier, later in itertools.pairwise(ordered):
                assert earlier.effective_to is not None and earlier.effective_to <= later.effective_from, (
                    country,
                    earlier.id,
                    later.id,
                )


def test_both_eras_covered(book: RuleBook) -> None:
    for country in COUNTRIES:
        for on in (SEED, NOW):
            assert _rules(book, country, country, None, on), (country, on)
