"""Travel rule: whom a rule covers (VASPs, self-hosted wallets, or both) and the data a
jurisdiction requires beyond IVMS101's minimum, each missing element named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aml.findings import AmlReason, Cited
from aml.ivms101 import TravelData, missing_data, parse_payload
from aml.single import travel_rule
from policy.decision import Finding
from rules.model import Counterparty, TravelRule
from tests.aml.support import TODAY, valuer
from tests.aml.support import travel_rule as tr

SAMPLE = json.loads(
    (Path(__file__).parent / "fixtures/ivms101/trisa/ivms101_testdata/identity_payload.json").read_text()
)
CUSTOMER = "Jane Howard"
PERSON = "originator.originatorPersons.0.naturalPerson"
HK_DATA: list[str | list[str]] = [
    "originator.account_number", "beneficiary.account_number",
    ["originator.address", "originator.national_id", "originator.date_and_place_of_birth"],
]  # fmt: skip
HK = tr("hk.travel_rule.current", "8000", "HKD", required_data=HK_DATA)
KR = tr("kr.travel_rule.current", "1000000", "KRW", counterparty="vasp",
        required_data=["originator.account_number", "beneficiary.account_number"])  # fmt: skip
SELF_ONLY = tr("xx.travel_rule.self_hosted", "0", "USD", counterparty="self_hosted")
ANY = tr("ch.travel_rule.current", "0", "CHF")


def _payload(*drop: str, edit: Callable[[dict[str, Any]], object] | None = None) -> str:
    payload = json.loads(json.dumps(SAMPLE))
    person = payload["originator"]["originatorPersons"][0]["naturalPerson"]
    for key in drop:
        if key in ("originator.accountNumber", "beneficiary.accountNumber"):
            payload[key.split(".")[0]].pop("accountNumber")
        else:
            person.pop(key)
    if edit:
        edit(payload)
    return json.dumps(payload)


def _decide(rules: list[TravelRule], payload: str | None, counterparty: Counterparty = Counterparty.VASP,
            amount: str = "2000") -> list[Finding]:  # fmt: skip
    return travel_rule(
        [Cited(r, f"cite {r.id}") for r in rules], valuer(amount, "USDT"), counterparty=counterparty,
        payload=payload, legal_name=CUSTOMER, native_name=None, today=TODAY,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "counterparty", "fires"),
    [
        pytest.param([KR], Counterparty.VASP, "kr.travel_rule.current", id="vasp-rule-to-a-vasp"),
        pytest.param([KR], Counterparty.SELF_HOSTED, None, id="vasp-rule-spares-self-hosted"),
        pytest.param([ANY], Counterparty.SELF_HOSTED, "ch.travel_rule.current", id="any-rule-to-self-hosted"),
        pytest.param([ANY], Counterparty.VASP, "ch.travel_rule.current", id="any-rule-to-a-vasp"),
        pytest.param([SELF_ONLY], Counterparty.VASP, None, id="self-hosted-rule-spares-a-vasp"),
        pytest.param(
            [SELF_ONLY], Counterparty.SELF_HOSTED, "xx.travel_rule.self_hosted", id="self-hosted-rule-fires"
        ),
        pytest.param(
            [KR, ANY], Counterparty.SELF_HOSTED, "ch.travel_rule.current", id="only-covering-rules-bind"
        ),
    ],
)
def test_counterparty_scope(rules: list[TravelRule], counterparty: Counterparty, fires: str | None) -> None:
    findings = _decide(rules, None, counterparty)
    assert [(f.rule_id, f.reason) for f in findings] == (
        [(fires, AmlReason.TRAVEL_RULE_MISSING)] if fires else []
    )
    if fires:
        assert findings[0].values["required_by"] == [fires]


@pytest.mark.parametrize(
    ("rules", "payload", "field", "message"),
    [
        pytest.param([HK], _payload(), None, None, id="hk-everything-there"),
        pytest.param([HK], _payload("geographicAddress", "nationalIdentification"), None, None, id="hk-birth-data-is-enough"),
        pytest.param([HK], _payload("geographicAddress", "dateAndPlaceOfBirth"), None, None, id="hk-id-number-is-enough"),
        pytest.param([HK], _payload("nationalIdentification", "dateAndPlaceOfBirth"), None, None, id="hk-address-is-enough"),
        pytest.param([HK], _payload("geographicAddress", "nationalIdentification", "dateAndPlaceOfBirth"), PERSON,
                     "one of geographicAddress, nationalIdentification or dateAndPlaceOfBirth is required", id="hk-none-of-the-three"),
        pytest.param([HK], _payload("originator.accountNumber"), "originator.accountNumber",
                     "accountNumber is required", id="hk-originator-account-missing"),
        pytest.param([KR], _payload("beneficiary.accountNumber"), "beneficiary.accountNumber",
                     "accountNumber is required", id="kr-beneficiary-wallet-address-missing"),
        pytest.param([KR], _payload("geographicAddress", "nationalIdentification", "dateAndPlaceOfBirth"), None, None,
                     id="kr-asks-no-identity-data"),
    ],
)  # fmt: skip
def test_required_data(rules: list[TravelRule], payload: str, field: str | None, message: str | None) -> None:
    findings = _decide(rules, payload)
    if field is None:
        assert findings == []
        return
    [finding] = findings
    assert (finding.outcome, finding.reason, finding.rule_id) == (
        "deny",
        AmlReason.TRAVEL_RULE_DATA_MISSING,
        rules[0].id,
    )
    assert finding.values["field"] == field and field in finding.message
    assert message is not None and message in finding.message
    assert finding.citation == f"cite {rules[0].id}"


def test_the_rule_requiring_the_data_is_cited_not_the_binding_one() -> None:
    # A zero threshold binds (the lowest), but Hong Kong's rule is the one asking for the data.
    zero = tr("ch.travel_rule.current", "0", "CHF")
    [finding] = _decide(
        [zero, HK], _payload("geographicAddress", "nationalIdentification", "dateAndPlaceOfBirth")
    )
    assert (finding.rule_id, finding.reason) == ("hk.travel_rule.current", AmlReason.TRAVEL_RULE_DATA_MISSING)
    assert set(finding.values["required_by"]) == {"ch.travel_rule.current", "hk.travel_rule.current"}  # type: ignore[arg-type]


def test_below_the_threshold_nothing_is_required() -> None:
    assert _decide([HK], None, amount="1000") == []


def _legal_originator(p: dict[str, Any]) -> None:
    p["originator"]["originatorPersons"] = [p["originatingVASP"]["originatingVASP"]]


def test_a_legal_person_has_no_birth_date_but_may_give_an_address() -> None:
    payload = parse_payload(_payload(edit=_legal_originator), today=TODAY)
    birth = [[TravelData.ORIGINATOR_BIRTH]]
    [error] = missing_data(payload, birth)
    assert error.field == "originator.originatorPersons.0.legalPerson.dateAndPlaceOfBirth"
    assert missing_data(payload, [[TravelData.ORIGINATOR_BIRTH, TravelData.ORIGINATOR_ADDRESS]]) == ()


def test_every_person_must_carry_it() -> None:
    def two(p: dict[str, Any]) -> None:
        person = p["originator"]["originatorPersons"][0]
        bare = json.loads(json.dumps(person))
        for key in ("geographicAddress", "nationalIdentification", "dateAndPlaceOfBirth"):
            bare["naturalPerson"].pop(key)
        p["originator"]["originatorPersons"].append(bare)

    payload = parse_payload(_payload(edit=two), today=TODAY)
    [error] = missing_data(payload, [[TravelData.ORIGINATOR_ADDRESS]])
    assert error.field == "originator.originatorPersons.1.naturalPerson.geographicAddress"
