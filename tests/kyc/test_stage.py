"""The KYC stage as a table of cases: one readable id per case, the reasons it expects."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest

from kyc.facts import BankAccountFacts, CustomerType, KycFacts
from kyc.rules import KycRuleSet, Ruled
from kyc.stage import KycReason, evaluate_kyc
from kyc.verification import Effectiveness, Missing
from policy.decision import Finding
from tests.kyc.rulesets import (
    JP_2018,
    JP_NOW,
    KR_2018,
    KR_NOW,
    KR_NOW_CORPORATES,
    KR_NOW_NO_FOREIGNERS,
    level,
)

R = KycReason
GOOD_ACCOUNT = BankAccountFacts(holder_confirmed=True, holder_name_matches=True, at_partner_bank=True)

KR_ADULT = KycFacts(
    customer_type=CustomerType.INDIVIDUAL,
    verification=Effectiveness(()),
    level="full",
    age=30,
    nationality="KR",
    residence_country="KR",
    residence_region=None,
    is_resident_of_home=True,
    bank_account=GOOD_ACCOUNT,
)


def kr(**changes: object) -> KycFacts:
    return replace(KR_ADULT, **changes)  # type: ignore[arg-type]


def foreigner(country: str, *, resident: bool, region: str | None = None, **changes: object) -> KycFacts:
    """A national of `country`, living in Korea (resident) or at home."""
    return kr(nationality=country, residence_country="KR" if resident else country,
              residence_region=None if resident else region, is_resident_of_home=resident, **changes)  # fmt: skip


def jp(**changes: object) -> KycFacts:
    return kr(**{"nationality": "JP", "residence_country": "JP", **changes})


def unverified(*missing: Missing) -> Effectiveness:
    return Effectiveness(missing)


CORPORATE = kr(customer_type=CustomerType.CORPORATE, age=None)
FOREIGN = ["JP", "US", "CH", "EE", "HK", "CN"]


@dataclass(frozen=True)
class Case:
    id: str
    rules: KycRuleSet
    facts: KycFacts | None
    kind: str = "order"
    reasons: list[KycReason] = field(default_factory=list)
    amount: Decimal | None = Decimal("100000")
    currency: str | None = "KRW"


CASES = [
    # Reading and cancelling never need KYC, whatever the record says.
    *[Case(f"{k}-needs-no-kyc", KR_2018, None, kind=k) for k in ("public_read", "account_read", "cancel")],
    Case("account-read-by-barred-minor-foreigner", KR_2018, foreigner("US", resident=False, age=12, verification=unverified(Missing.NOT_VERIFIED)), kind="account_read"),
    # Verification.
    Case("kr-verified-adult-order", KR_2018, KR_ADULT),
    Case("kr-verified-adult-order-now", KR_NOW, KR_ADULT),
    Case("no-kyc-record", KR_NOW, None, reasons=[R.NOT_VERIFIED]),
    *[Case(f"not-verified-{k}", KR_NOW, kr(verification=unverified(Missing.NOT_VERIFIED), level=None), kind=k, reasons=[R.NOT_VERIFIED])
      for k in ("order", "withdrawal", "deposit_address", "deposit_credit")],
    Case("verification-expired", KR_NOW, kr(verification=unverified(Missing.VERIFICATION_EXPIRED)), reasons=[R.VERIFICATION_EXPIRED]),
    Case("document-expired", KR_NOW, kr(verification=unverified(Missing.DOCUMENT_EXPIRED)), reasons=[R.DOCUMENT_EXPIRED]),
    Case("verification-and-document-expired", KR_NOW, kr(verification=unverified(Missing.VERIFICATION_EXPIRED, Missing.DOCUMENT_EXPIRED)),
         reasons=[R.VERIFICATION_EXPIRED, R.DOCUMENT_EXPIRED]),
    Case("unknown-kind-needs-kyc", KR_NOW, None, kind="margin_loan", reasons=[R.NOT_VERIFIED]),
    # Age: Korea 19 (2018 and now), as home country and as the customer's own.
    Case("kr-18-barred-2018", KR_2018, kr(age=18), reasons=[R.UNDERAGE]),
    Case("kr-18-barred-now", KR_NOW, kr(age=18), reasons=[R.UNDERAGE]),
    Case("kr-19-allowed-2018", KR_2018, kr(age=19)),
    Case("kr-19-allowed-now", KR_NOW, kr(age=19)),
    Case("individual-without-age-fails-closed", KR_NOW, kr(age=None), reasons=[R.UNDERAGE]),
    Case("jp-19-barred-at-jp-exchange-2018", JP_2018, jp(age=19), reasons=[R.UNDERAGE]),
    Case("jp-20-allowed-at-jp-exchange-2018", JP_2018, jp(age=20)),
    Case("jp-18-allowed-at-jp-exchange-now", JP_NOW, jp(age=18)),
    Case("jp-17-barred-at-jp-exchange-now", JP_NOW, jp(age=17), reasons=[R.UNDERAGE]),
    Case("jp-resident-in-kr-18-barred-by-home-minimum", KR_NOW, foreigner("JP", resident=True, age=18), reasons=[R.UNDERAGE]),
    Case("kr-national-18-living-in-japan-allowed-at-jp-exchange", JP_NOW, kr(residence_country="JP", age=18)),
    Case("jp-national-18-living-in-korea-barred-at-jp-exchange", JP_NOW, jp(residence_country="KR", age=18), reasons=[R.UNDERAGE]),
    Case("us-alabama-18-barred-by-state", JP_NOW, kr(nationality="US", residence_country="US", residence_region="AL", age=18), reasons=[R.UNDERAGE]),
    Case("us-mississippi-20-barred-by-state", JP_NOW, kr(nationality="US", residence_country="US", residence_region="MS", age=20), reasons=[R.UNDERAGE]),
    Case("us-new-york-18-allowed", JP_NOW, kr(nationality="US", residence_country="US", residence_region="NY", age=18)),
    *[Case(f"{c.lower()}-17-barred-at-jp-exchange", JP_NOW, kr(nationality=c, residence_country=c, age=17), reasons=[R.UNDERAGE])
      for c in ("CH", "EE", "HK", "CN")],
    *[Case(f"{c.lower()}-18-allowed-at-jp-exchange", JP_NOW, kr(nationality=c, residence_country=c, age=18))
      for c in ("CH", "EE", "HK", "CN")],
    # Korea 2018: all foreigners barred, residents or not [KR4]; non-residents barred [KR3].
    *[Case(f"{c.lower()}-resident-foreigner-barred-2018", KR_2018, foreigner(c, resident=True), reasons=[R.FOREIGNER_NOT_ALLOWED]) for c in FOREIGN],
    *[Case(f"{c.lower()}-non-resident-barred-2018", KR_2018, foreigner(c, resident=False, region="CA" if c == "US" else None),
           reasons=[R.FOREIGNER_NOT_ALLOWED, R.NON_RESIDENT_NOT_ALLOWED]) for c in FOREIGN],
    Case("kr-national-abroad-barred-2018", KR_2018, kr(residence_country="US", residence_region="CA", is_resident_of_home=False), reasons=[R.NON_RESIDENT_NOT_ALLOWED]),
    # Korea now: resident foreigners allowed [KR21]; non-residents barred [KR17][KR18].
    *[Case(f"{c.lower()}-resident-foreigner-allowed-now", KR_NOW, foreigner(c, resident=True)) for c in FOREIGN],
    *[Case(f"{c.lower()}-non-resident-foreigner-barred-now", KR_NOW, foreigner(c, resident=False, region="CA" if c == "US" else None),
           reasons=[R.FOREIGNER_NOT_ALLOWED, R.NON_RESIDENT_NOT_ALLOWED]) for c in FOREIGN],
    *[Case(f"{c.lower()}-resident-foreigner-barred-by-conservative-pack", KR_NOW_NO_FOREIGNERS, foreigner(c, resident=True), reasons=[R.FOREIGNER_NOT_ALLOWED]) for c in FOREIGN],
    Case("kr-national-abroad-barred-now", KR_NOW, kr(residence_country="JP", is_resident_of_home=False), reasons=[R.NON_RESIDENT_NOT_ALLOWED]),
    Case("foreigner-and-minor-both-reported", KR_2018, foreigner("US", resident=True, age=17), reasons=[R.UNDERAGE, R.FOREIGNER_NOT_ALLOWED]),
    Case("barred-foreigner-cannot-withdraw-either", KR_2018, foreigner("JP", resident=True), kind="withdrawal", amount=Decimal("1"), currency="BTC",
         reasons=[R.FOREIGNER_NOT_ALLOWED]),
    Case("any-foreigner-at-jp-exchange", JP_NOW, foreigner("CN", resident=False)),
    # Corporates: barred in 2018 [KR24]; now as the pack says [KR24][KR28].
    Case("corporate-barred-2018", KR_2018, CORPORATE, reasons=[R.CORPORATE_NOT_ALLOWED]),
    Case("corporate-barred-now-pack-off", KR_NOW, CORPORATE, reasons=[R.CORPORATE_NOT_ALLOWED]),
    Case("corporate-allowed-now-pack-on", KR_NOW_CORPORATES, CORPORATE),
    Case("corporate-has-no-age-check", KR_NOW_CORPORATES, replace(CORPORATE, age=None)),
    # Real-name bank account for KRW (2018 and now).
    *[Case(f"krw-{k}-without-account-{name}", rules, kr(bank_account=None), kind=k, reasons=[R.REAL_NAME_ACCOUNT_MISSING])
      for k in ("deposit_credit", "withdrawal", "deposit_address") for name, rules in (("2018", KR_2018), ("now", KR_NOW))],
    Case("krw-withdrawal-unconfirmed-account", KR_NOW, kr(bank_account=replace(GOOD_ACCOUNT, holder_confirmed=False)), kind="withdrawal",
         reasons=[R.REAL_NAME_ACCOUNT_MISSING]),
    Case("krw-deposit-holder-mismatch", KR_NOW, kr(bank_account=replace(GOOD_ACCOUNT, holder_name_matches=False)), kind="deposit_credit",
         reasons=[R.REAL_NAME_HOLDER_MISMATCH]),
    Case("krw-withdrawal-holder-mismatch-2018", KR_2018, kr(bank_account=replace(GOOD_ACCOUNT, holder_name_matches=False)), kind="withdrawal",
         reasons=[R.REAL_NAME_HOLDER_MISMATCH]),
    Case("krw-deposit-other-bank-2018", KR_2018, kr(bank_account=replace(GOOD_ACCOUNT, at_partner_bank=False)), kind="deposit_credit",
         reasons=[R.REAL_NAME_NOT_PARTNER_BANK]),
    Case("krw-deposit-address-other-bank-2018", KR_2018, kr(bank_account=replace(GOOD_ACCOUNT, at_partner_bank=False)), kind="deposit_address",
         reasons=[R.REAL_NAME_NOT_PARTNER_BANK]),
    Case("krw-withdrawal-other-bank-2018-allowed", KR_2018, kr(bank_account=replace(GOOD_ACCOUNT, at_partner_bank=False)), kind="withdrawal"),
    Case("krw-deposit-other-bank-now-per-pack", KR_NOW, kr(bank_account=replace(GOOD_ACCOUNT, at_partner_bank=False)), kind="deposit_credit"),
    Case("krw-deposit-partner-bank-2018", KR_2018, KR_ADULT, kind="deposit_credit"),
    Case("krw-mismatch-and-other-bank-both-reported", KR_2018, kr(bank_account=BankAccountFacts(True, False, False)), kind="deposit_credit",
         reasons=[R.REAL_NAME_HOLDER_MISMATCH, R.REAL_NAME_NOT_PARTNER_BANK]),
    Case("btc-withdrawal-needs-no-bank-account", KR_2018, kr(bank_account=None), kind="withdrawal", amount=Decimal("1"), currency="BTC"),
    Case("krw-order-needs-no-bank-account", KR_2018, kr(bank_account=None), kind="order"),
    Case("krw-at-jp-exchange-needs-no-bank-account", JP_NOW, jp(bank_account=None), kind="deposit_credit", currency="JPY"),
    # Levels: which kinds, up to what amount (rule-pack setting).
    Case("level-1-may-order", KR_NOW, kr(level="basic"), amount=Decimal("1000000")),
    Case("level-1-order-over-cap", KR_NOW, kr(level="basic"), amount=Decimal("1000000.01"), reasons=[R.LEVEL_AMOUNT_EXCEEDED]),
    Case("level-1-may-not-withdraw", KR_NOW, kr(level="basic"), kind="withdrawal", reasons=[R.LEVEL_ACTION_NOT_ALLOWED]),
    Case("level-1-may-not-get-deposit-address", KR_NOW, kr(level="basic"), kind="deposit_address", currency="BTC", reasons=[R.LEVEL_ACTION_NOT_ALLOWED]),
    Case("level-2-withdrawal-within-cap", KR_NOW, kr(level="standard"), kind="withdrawal", amount=Decimal("50000000")),
    Case("level-2-withdrawal-over-cap", KR_NOW, kr(level="standard"), kind="withdrawal", amount=Decimal("50000001"), reasons=[R.LEVEL_AMOUNT_EXCEEDED]),
    Case("level-2-amount-unknown-fails-closed", KR_NOW, kr(level="standard"), amount=None, reasons=[R.LEVEL_AMOUNT_UNVERIFIABLE]),
    Case("level-2-amount-in-other-currency-fails-closed", KR_NOW, kr(level="standard"), currency="USDT", reasons=[R.LEVEL_AMOUNT_UNVERIFIABLE]),
    Case("level-3-uncapped", KR_NOW, kr(level="full"), amount=Decimal("999999999999"), currency=None),
    Case("level-not-in-pack-fails-closed", KR_NOW, kr(level="platinum"), reasons=[R.LEVEL_ACTION_NOT_ALLOWED]),
    Case("level-cap-more-than-lets-the-cap-through", KR_NOW, kr(level="standard"), amount=Decimal("50000000")),
    Case("level-cap-at-or-above-refuses-the-cap", KR_NOW, kr(level="strict_cap"), amount=Decimal("50000000"), reasons=[R.LEVEL_AMOUNT_EXCEEDED]),
    Case("level-cap-at-or-above-just-under", KR_NOW, kr(level="strict_cap"), amount=Decimal("49999999.99")),
    Case("verified-without-level-fails-closed", KR_NOW, kr(level=None), reasons=[R.LEVEL_ACTION_NOT_ALLOWED]),
    Case("unverified-gets-no-level-findings", KR_NOW, kr(level="basic", verification=unverified(Missing.NOT_VERIFIED)), kind="withdrawal",
         reasons=[R.NOT_VERIFIED]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kyc_stage(case: Case) -> None:
    findings = evaluate_kyc(case.kind, case.amount, case.currency, case.facts, case.rules)
    assert [f.reason for f in findings] == case.reasons
    for finding in findings:
        assert finding.outcome == "deny"
        assert finding.rule_id and finding.citation and finding.message
        assert case.kind in finding.message


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_underage_finding_names_rule_values_and_citation() -> None:
    finding = only(evaluate_kyc("order", None, None, kr(age=18), KR_2018))
    assert finding.rule_id == "kr.min_age.2018"
    assert finding.values == {"age": 18, "minimum_age": 19, "minimum_age_of": "KR"}
    assert finding.citation is not None and "[KR3]" in finding.citation


def test_strictest_minimum_age_is_named() -> None:
    facts = kr(nationality="US", residence_country="US", residence_region="MS", age=20)
    finding = only(evaluate_kyc("order", None, None, facts, JP_NOW))
    assert (finding.rule_id, finding.values["minimum_age"], finding.values["minimum_age_of"]) == (
        "us.min_age.ms",
        21,
        "US-MS",
    )


def test_foreigner_finding_values() -> None:
    finding = only(evaluate_kyc("order", Decimal("1"), "KRW", foreigner("HK", resident=True), KR_2018))
    assert finding.rule_id == "kr.foreigners.2018"
    assert finding.values == {"nationality": "HK", "home_country": "KR", "resident_of_home": True}
    assert finding.citation is not None and "[KR4]" in finding.citation


def test_verification_finding_says_what_is_missing() -> None:
    finding = only(
        evaluate_kyc("withdrawal", None, None, kr(verification=unverified(Missing.DOCUMENT_EXPIRED)), KR_NOW)
    )
    assert finding.rule_id == "kyc.verification.document_expired"
    assert finding.values == {"action": "withdrawal", "missing": "document_expired"}
    assert "document has expired" in finding.message


def test_amount_finding_values_are_strings_of_decimals() -> None:
    finding = only(evaluate_kyc("order", Decimal("2000000"), "KRW", kr(level="basic"), KR_NOW))
    assert finding.values == {
        "action": "order",
        "level": "basic",
        "amount": "2000000",
        "max_amount": "1000000",
        "currency": "KRW",
    }
    assert finding.rule_id == "kr.kyc.basic"


def test_real_name_findings_carry_no_account_details() -> None:
    facts = kr(bank_account=BankAccountFacts(True, False, False))
    for finding in evaluate_kyc("deposit_credit", Decimal("1"), "KRW", facts, KR_2018):
        assert finding.rule_id == "kr.real_name_account.2018"
        assert set(finding.values) <= {"currency", "holder_name_matches", "at_partner_bank"}


def test_rule_set_validates_itself() -> None:
    with pytest.raises(ValueError, match="home country"):
        replace(KR_NOW, home_country="XX")
    with pytest.raises(ValueError, match="minimum age key"):
        replace(KR_NOW, minimum_ages={"XX": Ruled(18, "r", "c")})
    # A level's cap is the pack's own threshold, validated where the pack is read: an
    # amount without its currency is refused there, not by a KYC copy of the rule.
    with pytest.raises(ValueError, match="currency"):
        level("kr.kyc.x", "x", ("order",), {"amount": "1", "comparison": "more_than"})
