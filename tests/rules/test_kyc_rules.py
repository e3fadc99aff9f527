"""The KYC values read out of the shipped packs: home and residence, then and now."""

from __future__ import annotations

from datetime import date

import pytest

from rules.kyc_rules import kyc_rule_set
from rules.loader import load_rule_book

BOOK = load_rule_book()
SEED, NOW = date(2018, 3, 1), date(2026, 11, 24)


def test_korea_2018_home_rules() -> None:
    rules = kyc_rule_set(BOOK, home="KR", residence="KR", region=None, on=SEED)
    assert rules.minimum_ages["KR"].value == 19 and rules.minimum_ages["KR"].rule_id == "kr.min_age.2018"
    assert not rules.foreigners.value.allowed and rules.foreigners.rule_id == "kr.foreigners.2018"
    assert rules.non_residents_allowed.value is False
    assert rules.corporates_allowed.value is False and rules.corporates_allowed.rule_id == "kr.corporates.2018"
    assert rules.real_name_accounts["KRW"].value.partner_bank_required_for_deposit
    assert "https://" in rules.real_name_accounts["KRW"].citation
    assert {"basic", "full"} <= set(rules.level_limits)
    assert "withdrawal" not in rules.level_limits["basic"].value.actions


def test_korea_now_keeps_korean_values_and_adds_residence_ages() -> None:
    rules = kyc_rule_set(BOOK, home="KR", residence="JP", region=None, on=NOW)
    assert rules.minimum_ages["KR"].rule_id == "kr.min_age.current"
    assert rules.minimum_ages["JP"].value == 18


@pytest.mark.parametrize("residence", ["US", "CH", "EE", "HK", "BR"])
def test_a_country_without_an_age_takes_the_baseline(residence: str) -> None:
    rules = kyc_rule_set(BOOK, home="KR", residence=residence, region=None, on=NOW)
    assert rules.minimum_ages[residence].value == 18
    assert rules.minimum_ages[residence].rule_id == "zz.min_age"


def test_home_without_restrictions_allows_foreigners() -> None:
    rules = kyc_rule_set(BOOK, home="CH", residence="DE", region=None, on=NOW)
    # No rule on foreigners: none to apply (nothing restricts them), named as such.
    assert rules.foreigners.value is None and rules.foreigners.rule_id == "ch.foreigners.none"
    assert rules.corporates_allowed.value and rules.non_residents_allowed.value
