"""Single-movement rules: travel rule (stricter of home and residence), self-hosted
ownership proof. Cash reports: test_cash_report.py; counterparty scope and required data:
test_travel_scope.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from aml.findings import AmlReason, Cited
from aml.money import PriceUnavailable, Quote
from aml.ownership import Ownership
from aml.single import self_hosted, travel_rule
from rules.loader import load_rule_book
from rules.model import Counterparty, SelfHostedRule, TravelRule
from tests.aml.support import FX, NOW, PRICE_MAX_AGE, TODAY, self_hosted_rule, valuer
from tests.aml.support import travel_rule as tr

VALID_PAYLOAD = (Path(__file__).parent / "fixtures/ivms101/trisa/ivms101_testdata/identity_payload.json").read_text()
CUSTOMER = "Jane Howard"  # the originator's LEGL name in the payload

# --- Travel rule --------------------------------------------------------------------------

KR = tr("kr.travel_rule.current", "1000000", "KRW")
US = tr("us.travel_rule", "3000", "USD")
HK = tr("hk.travel_rule.current", "8000", "HKD")
CH = tr("ch.travel_rule.current", "0", "CHF")
EE = tr("ee.travel_rule.current", "0", "EUR")
US_RES = tr("us.travel_rule", "3000", "USD", "residence")
KR_RES = tr("kr.travel_rule.current", "1000000", "KRW", "residence")
CH_RES = tr("ch.travel_rule.current", "0", "CHF", "residence")


@dataclass(frozen=True)
class TravelCase:
    id: str
    rules: list[TravelRule]  # home first, then residence
    amount: str
    asset: str
    required_by: str | None  # the binding rule, None when no payload is needed
    also: tuple[str, ...] = ()


TRAVEL_CASES = [
    TravelCase("kr-999000-krw-below", [KR], "740", "USDT", None),
    TravelCase("kr-exactly-1m-krw", [KR], "1000000", "KRW", "kr.travel_rule.current"),
    TravelCase("kr-1000350-krw-above", [KR], "741", "USDT", "kr.travel_rule.current"),
    TravelCase("us-2999.99-usd-below", [US], "2999.99", "USDT", None),
    TravelCase("us-exactly-3000-usd", [US], "3000", "USDT", "us.travel_rule"),
    TravelCase("hk-7995-hkd-below", [HK], "1025", "USDT", None),
    TravelCase("hk-exactly-8000-hkd", [HK], "8000", "HKD", "hk.travel_rule.current"),
    TravelCase("hk-8002.8-hkd-above", [HK], "1026", "USDT", "hk.travel_rule.current"),
    TravelCase("ch-zero-every-withdrawal", [CH], "0.0001", "USDT", "ch.travel_rule.current"),
    TravelCase("ee-zero-every-withdrawal", [EE], "0.00000001", "BTC", "ee.travel_rule.current"),
    TravelCase("home-kr-residence-us-kr-stricter", [KR, US_RES], "1000", "USDT", "kr.travel_rule.current"),
    TravelCase("home-us-residence-kr-residence-stricter", [US, KR_RES], "1000", "USDT", "kr.travel_rule.current"),
    TravelCase("home-us-residence-ch-zero-binds", [US, CH_RES], "10", "USDT", "ch.travel_rule.current"),
    TravelCase("both-crossed-lowest-binds", [US, KR_RES], "5000", "USDT", "kr.travel_rule.current", ("us.travel_rule",)),
    TravelCase("both-crossed-zero-binds", [KR, CH_RES], "5000", "USDT", "ch.travel_rule.current", ("kr.travel_rule.current",)),
    TravelCase("us-and-hk-neither-crossed", [US, HK], "1000", "USDT", None),
]


def _travel(case: TravelCase, payload: str | None) -> list[object]:
    return list(
        travel_rule(
            [Cited(r, f"cite {r.id}") for r in case.rules],
            valuer(case.amount, case.asset),
            counterparty=Counterparty.VASP, payload=payload,
            legal_name=CUSTOMER,
            native_name=None,
            today=TODAY,
        )
    )


@pytest.mark.parametrize("case", TRAVEL_CASES, ids=lambda c: c.id)
def test_travel_rule_threshold(case: TravelCase) -> None:
    findings = travel_rule(
        [Cited(r, f"cite {r.id}") for r in case.rules],
        valuer(case.amount, case.asset),
        counterparty=Counterparty.VASP, payload=None,
        legal_name=CUSTOMER,
        native_name=None,
        today=TODAY,
    )
    if case.required_by is None:
        assert findings == []
        return
    [finding] = findings
    assert (finding.outcome, finding.reason) == ("deny", AmlReason.TRAVEL_RULE_MISSING)
    assert finding.rule_id == case.required_by
    assert finding.citation == f"cite {case.required_by}"
    assert set(finding.values["required_by"]) == {case.required_by, *case.also}  # type: ignore[arg-type]
    # With a valid payload naming the customer, the same withdrawal passes.
    assert _travel(case, VALID_PAYLOAD) == []


INVALID_PAYLOAD = VALID_PAYLOAD.replace('"addressType": "HOME"', '"addressType": "HOUSE"', 1)


@pytest.mark.parametrize(
    ("payload", "legal_name", "reason", "field"),
    [
        (None, CUSTOMER, AmlReason.TRAVEL_RULE_MISSING, None),
        ("", CUSTOMER, AmlReason.TRAVEL_RULE_MISSING, None),
        (INVALID_PAYLOAD, CUSTOMER, AmlReason.TRAVEL_RULE_INVALID, "originator.originatorPersons.0.naturalPerson.geographicAddress.0.addressType"),
        ("{}", CUSTOMER, AmlReason.TRAVEL_RULE_INVALID, "originator"),
        (VALID_PAYLOAD, "Kim Minjun", AmlReason.TRAVEL_RULE_ORIGINATOR_MISMATCH, "originator.originatorPersons"),
        (VALID_PAYLOAD, None, AmlReason.TRAVEL_RULE_ORIGINATOR_MISMATCH, "originator.originatorPersons"),
        (VALID_PAYLOAD, "HOWARD, Jane", None, None),
    ],
    ids=["missing", "empty", "invalid-names-field", "empty-object", "originator-is-someone-else", "no-kyc-name", "valid-and-matching"],
)  # fmt: skip
def test_travel_rule_payload(payload: str | None, legal_name: str | None, reason: AmlReason | None, field: str | None) -> None:
    findings = travel_rule([Cited(KR)], valuer("741", "USDT"), counterparty=Counterparty.VASP, payload=payload, legal_name=legal_name, native_name=None, today=TODAY)
    if reason is None:
        assert findings == []
        return
    [finding] = findings
    assert (finding.outcome, finding.reason) == ("deny", reason)
    assert finding.values.get("field") == field
    if field:
        assert field in finding.message or reason is not AmlReason.TRAVEL_RULE_INVALID


def test_travel_rule_records_the_conversion() -> None:
    money = valuer("741", "USDT")
    [finding] = travel_rule([Cited(KR)], money, counterparty=Counterparty.VASP, payload=None, legal_name=CUSTOMER, native_name=None, today=TODAY)
    assert finding.values["value"] == str(money.in_currency("KRW").value)
    assert [c.currency for c in money.used] == ["KRW"]
    assert finding.values["conversion"] == money.used[0].as_json()


def test_zero_threshold_needs_no_rate() -> None:
    without_chf = MappingProxyType({k: v for k, v in FX.items() if k != ("USD", "CHF")})
    money = valuer("5", "USDT", fx=without_chf)
    [finding] = travel_rule([Cited(CH)], money, counterparty=Counterparty.VASP, payload=None, legal_name=CUSTOMER, native_name=None, today=TODAY)
    assert finding.reason is AmlReason.TRAVEL_RULE_MISSING
    assert money.used == ()


def test_stale_price_fails_closed() -> None:
    stale = MappingProxyType({("BTC", "USDT"): Quote(Decimal("60000"), NOW - PRICE_MAX_AGE - timedelta(seconds=1))})
    with pytest.raises(PriceUnavailable):
        travel_rule([Cited(KR)], valuer("1", "BTC", prices=stale), counterparty=Counterparty.VASP, payload=None, legal_name=CUSTOMER, native_name=None, today=TODAY)


@pytest.mark.parametrize(
    ("home", "rule_id", "amount", "currency"),
    [
        ("KR", "kr.travel_rule.current", "1000000", "KRW"),
        ("US", "us.travel_rule", "3000", "USD"),
        ("HK", "hk.travel_rule.current", "8000", "HKD"),
        ("CH", "ch.travel_rule.current", "0", "CHF"),
        ("EE", "ee.travel_rule.current", "0", "EUR"),
    ],
)
def test_shipped_travel_rule_thresholds(home: str, rule_id: str, amount: str, currency: str) -> None:
    book = load_rule_book()
    found = book.of_kind(TravelRule, book.applicable(home=home, residence=None, region=None, on=TODAY))
    [(_, rule)] = found
    assert (rule.id, rule.threshold.amount, rule.threshold.currency) == (rule_id, Decimal(amount), currency)


# --- Self-hosted addresses (EU) -----------------------------------------------------------

EE_SELF_HOSTED = self_hosted_rule("ee.self_hosted.current", "1000", "EUR", "more_than")


@pytest.mark.parametrize(
    ("amount", "is_self_hosted", "ownership", "reason"),
    [
        ("1250", True, Ownership.MISSING, None),  # exactly EUR 1,000: not more than
        ("1250.01", True, Ownership.MISSING, AmlReason.SELF_HOSTED_PROOF_MISSING),
        ("1250.01", True, Ownership.INVALID, AmlReason.SELF_HOSTED_PROOF_INVALID),
        ("1250.01", True, Ownership.UNVERIFIABLE, AmlReason.SELF_HOSTED_PROOF_UNVERIFIABLE),
        ("5000", True, Ownership.VERIFIED, None),
        ("5000", False, Ownership.MISSING, None),
    ],
    ids=["exactly-eur-1000", "no-proof", "invalid-proof", "unverifiable-address", "proven", "hosted-destination"],
)
def test_self_hosted(amount: str, is_self_hosted: bool, ownership: Ownership, reason: AmlReason | None) -> None:
    findings = self_hosted(
        [Cited(EE_SELF_HOSTED)], valuer(amount, "USDT"), destination_self_hosted=is_self_hosted, ownership=ownership
    )
    assert [(f.outcome, f.reason) for f in findings] == ([("deny", reason)] if reason else [])


def test_shipped_ee_self_hosted_rule() -> None:
    book = load_rule_book()
    [(applicable, rule)] = book.of_kind(SelfHostedRule, book.applicable(home="EE", residence=None, region=None, on=TODAY))
    assert rule.id == "ee.self_hosted.current"
    findings = self_hosted([Cited(rule, applicable.citation)], valuer("1250.01", "USDT"), destination_self_hosted=True, ownership=Ownership.MISSING)
    assert [f.rule_id for f in findings] == ["ee.self_hosted.current"] and findings[0].citation
