"""IVMS101: every TRISA sample classified, TRISA's negative variants, originator names."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from aml.ivms101 import (
    MAX_NESTING,
    Address,
    IdentityPayload,
    Ivms101Invalid,
    LegalPerson,
    NationalIdentification,
    NaturalPerson,
    Person,
    matches_customer,
    originator_name,
    parse,
    parse_payload,
)
from kyc.names import NameMatchReason
from tests.aml.support import TODAY

FIXTURES = Path(__file__).parent / "fixtures" / "ivms101" / "trisa"
# protojson's snake_case keys: the unknown key is named first, with the camelCase one meant.
PROTOJSON = "originator.originator_persons"


@dataclass(frozen=True)
class Sample:
    path: str
    model: type[BaseModel]
    accepted: bool
    why: str  # what the sample is; for a refused one, why it is refused
    field: str | None = None  # the first field named, for a refused one
    member: str | None = None  # validate this member of the file (the TRP inquiry's "IVMS101")


SAMPLES = [
    # ivms101_testdata: IVMS101 wire JSON (accepted) and TRISA's protojson style (refused).
    Sample("ivms101_testdata/identity_payload.json", IdentityPayload, True, "full payload, both VASPs"),
    Sample("ivms101_testdata/identity_payload.pb.json", IdentityPayload, False, "protojson style (snake_case keys)", PROTOJSON),
    Sample("ivms101_testdata/identity_payload_alt.json", IdentityPayload, False, "non-standard keys (nameIdentifiers, street, dob, ...)",
           "originator.originatorPersons.0.naturalPerson.name.nameIdentifier"),
    Sample("ivms101_testdata/person_natural_person.json", Person, True, "one natural person"),
    Sample("ivms101_testdata/person_legal_person.json", Person, True, "one legal person"),
    Sample("ivms101_testdata/person_both_persons.json", Person, False, "a person that is both natural and legal", ""),
    Sample("ivms101_testdata/natural_person.json", NaturalPerson, True, "part: natural person"),
    Sample("ivms101_testdata/legal_person.json", LegalPerson, True, "part: legal person"),
    Sample("ivms101_testdata/address.json", Address, True, "part: address"),
    Sample("ivms101_testdata/national_identification.json", NationalIdentification, True, "part: national identification"),
    # OpenVASP TRP: the inquiry carries IVMS101 wire JSON in its "IVMS101" member.
    Sample("openvasp_trp/inquiry.json", IdentityPayload, True, "TRP inquiry payload, no beneficiaryVASP", member="IVMS101"),
    Sample("openvasp_trp_client/inquiry.json", IdentityPayload, True, "TRP inquiry payload, no beneficiary account", member="IVMS101"),
    Sample("openvasp_trp/inquiry.json", IdentityPayload, False, "the TRP inquiry wrapper is not a payload", "asset"),
    Sample("openvasp_trp_client/inquiry.json", IdentityPayload, False, "the TRP inquiry wrapper is not a payload", "asset"),
    Sample("openvasp_trp/identity.json", IdentityPayload, False, "protojson style identity payload", PROTOJSON),
    Sample("envelope/payload_identity.json", IdentityPayload, False, "protojson style identity payload", PROTOJSON),
    # Not payloads at all: envelopes, transactions, TRP protocol messages. Offered as a
    # payload, each is refused (the first field named is whichever pydantic reports first).
    Sample("envelope/payload.json", IdentityPayload, False, "TRISA payload wrapper (protojson identity)"),
    Sample("envelope/pending_payload.json", IdentityPayload, False, "TRISA payload wrapper (protojson identity)"),
    Sample("envelope/payload_pending.json", IdentityPayload, False, "TRISA pending message"),
    Sample("envelope/payload_transaction.json", IdentityPayload, False, "TRISA transaction"),
    Sample("envelope/error_envelope.json", IdentityPayload, False, "TRISA error envelope"),
    Sample("envelope/sealed_envelope.json", IdentityPayload, False, "sealed (encrypted) envelope"),
    Sample("envelope/unsealed_envelope.json", IdentityPayload, False, "unsealed envelope"),
    Sample("openvasp_trp/transaction.json", IdentityPayload, False, "TRISA transaction"),
    Sample("openvasp_trp/sealed_envelope.json", IdentityPayload, False, "sealed (encrypted) envelope"),
    Sample("openvasp_trp/unsealed_envelope.json", IdentityPayload, False, "unsealed envelope"),
    Sample("openvasp_trp_client/identity.json", IdentityPayload, False, "TRP VASP identity (name, LEI, certificate)"),
    Sample("openvasp_trp_client/acknowledged.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/approved.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/canceled.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/confirmation.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/extensions.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/rejected.json", IdentityPayload, False, "TRP protocol message"),
    Sample("openvasp_trp_client/version.json", IdentityPayload, False, "TRP protocol message"),
]  # fmt: skip


def _raw(sample: Sample) -> str:
    text = (FIXTURES / sample.path).read_text(encoding="utf-8")
    return json.dumps(json.loads(text)[sample.member]) if sample.member else text


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.path}{'#' + s.member if s.member else ''}")
def test_sample(sample: Sample) -> None:
    if sample.accepted:
        parse(_raw(sample), sample.model, today=TODAY)
        return
    with pytest.raises(Ivms101Invalid) as refused:
        parse(_raw(sample), sample.model, today=TODAY)
    if sample.field is not None:
        fields = [e.field for e in refused.value.errors]
        assert sample.field in fields or any(f.startswith(sample.field) for f in fields), fields


def test_every_sample_file_is_classified() -> None:
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json")}
    assert on_disk == {s.path for s in SAMPLES}


def test_both_persons_refused_for_the_right_reason() -> None:
    with pytest.raises(Ivms101Invalid) as refused:
        parse((FIXTURES / "ivms101_testdata/person_both_persons.json").read_text(), Person, today=TODAY)
    assert "exactly one of naturalPerson or legalPerson" in str(refused.value)


# --- TRISA's negative variants, built from the valid payload --------------------------

VALID = json.loads((FIXTURES / "ivms101_testdata/identity_payload.json").read_text(encoding="utf-8"))
ORIGINATOR = "originator.originatorPersons.0.naturalPerson"
VASP = "originatingVASP.originatingVASP.legalPerson"


def _edit(change: Callable[[dict[str, Any]], object]) -> str:
    payload = copy.deepcopy(VALID)
    change(payload)
    return json.dumps(payload)


def _person(p: dict[str, Any]) -> dict[str, Any]:
    person: dict[str, Any] = p["originator"]["originatorPersons"][0]["naturalPerson"]
    return person


def _nested(depth: int) -> list[Any]:
    """`depth` lists one inside the other: [[[...]]]."""
    nested: list[Any] = []
    for _ in range(depth - 1):
        nested = [nested]
    return nested


def _vasp(p: dict[str, Any]) -> dict[str, Any]:
    vasp: dict[str, Any] = p["originatingVASP"]["originatingVASP"]["legalPerson"]
    return vasp


@dataclass(frozen=True)
class Variant:
    id: str
    raw: str
    field: str  # the field the first error names
    message: str = ""  # a fragment of its message


VARIANTS = [
    Variant("empty-person", _edit(lambda p: p["originator"]["originatorPersons"].__setitem__(0, {})), "originator.originatorPersons.0", "exactly one"),
    Variant("no-originator-persons", _edit(lambda p: p["originator"].__setitem__("originatorPersons", [])), "originator.originatorPersons"),
    Variant("missing-beneficiary", _edit(lambda p: p.pop("beneficiary")), "beneficiary", "Field required"),
    Variant("name-without-identifiers", _edit(lambda p: _person(p)["name"].__setitem__("nameIdentifier", [])), f"{ORIGINATOR}.name.nameIdentifier"),
    Variant("name-without-type", _edit(lambda p: _person(p)["name"]["nameIdentifier"][0].pop("nameIdentifierType")), f"{ORIGINATOR}.name.nameIdentifier.0.nameIdentifierType"),
    Variant("no-legal-name", _edit(lambda p: _person(p)["name"]["nameIdentifier"][0].__setitem__("nameIdentifierType", "ALIA")), f"{ORIGINATOR}.name.nameIdentifier", "LEGL"),
    Variant("protojson-enum-in-camel-case", _edit(lambda p: _person(p)["name"]["nameIdentifier"][0].__setitem__("nameIdentifierType", "NATURAL_PERSON_NAME_TYPE_CODE_LEGL")), f"{ORIGINATOR}.name.nameIdentifier.0.nameIdentifierType"),
    Variant("address-type-outside-enum", _edit(lambda p: _person(p)["geographicAddress"][0].__setitem__("addressType", "HOUSE")), f"{ORIGINATOR}.geographicAddress.0.addressType"),
    Variant("country-lunar", _edit(lambda p: _person(p)["geographicAddress"][0].__setitem__("country", "Lunar")), f"{ORIGINATOR}.geographicAddress.0.country"),
    Variant("country-lower-case", _edit(lambda p: _person(p)["geographicAddress"][0].__setitem__("country", "us")), f"{ORIGINATOR}.geographicAddress.0.country"),
    Variant("eight-address-lines", _edit(lambda p: _person(p)["geographicAddress"][0].__setitem__("addressLine", ["line"] * 8)), f"{ORIGINATOR}.geographicAddress.0.addressLine"),
    Variant("neither-street-nor-address-line", _edit(lambda p: _person(p)["geographicAddress"][0].pop("streetName")), f"{ORIGINATOR}.geographicAddress.0", "C8"),
    Variant("street-without-building", _edit(lambda p: _person(p)["geographicAddress"][0].pop("buildingNumber")), f"{ORIGINATOR}.geographicAddress.0", "C8"),
    Variant("empty-national-identifier", _edit(lambda p: _person(p)["nationalIdentification"].__setitem__("nationalIdentifier", "")), f"{ORIGINATOR}.nationalIdentification.nationalIdentifier"),
    Variant("national-identifier-over-35", _edit(lambda p: _person(p)["nationalIdentification"].__setitem__("nationalIdentifier", "1" * 36)), f"{ORIGINATOR}.nationalIdentification.nationalIdentifier"),
    Variant("country-of-issue-america", _edit(lambda p: _person(p)["nationalIdentification"].__setitem__("countryOfIssue", "America")), f"{ORIGINATOR}.nationalIdentification.countryOfIssue"),
    Variant("registration-authority-malformed", _edit(lambda p: _person(p)["nationalIdentification"].__setitem__("registrationAuthority", "RA1")), f"{ORIGINATOR}.nationalIdentification.registrationAuthority"),
    Variant("date-of-birth-without-place", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].pop("placeOfBirth")), f"{ORIGINATOR}.dateAndPlaceOfBirth.placeOfBirth"),
    Variant("place-of-birth-without-date", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].pop("dateOfBirth")), f"{ORIGINATOR}.dateAndPlaceOfBirth.dateOfBirth"),
    Variant("date-of-birth-80-80-80-80", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].__setitem__("dateOfBirth", "80-80-80-80")), f"{ORIGINATOR}.dateAndPlaceOfBirth.dateOfBirth"),
    Variant("date-of-birth-2023-02-30", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].__setitem__("dateOfBirth", "2023-02-30")), f"{ORIGINATOR}.dateAndPlaceOfBirth.dateOfBirth"),
    Variant("date-of-birth-in-future", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].__setitem__("dateOfBirth", "2099-01-01")), f"{ORIGINATOR}.dateAndPlaceOfBirth.dateOfBirth", "C2"),
    Variant("date-of-birth-today", _edit(lambda p: _person(p)["dateAndPlaceOfBirth"].__setitem__("dateOfBirth", TODAY.isoformat())), f"{ORIGINATOR}.dateAndPlaceOfBirth.dateOfBirth", "C2"),
    Variant("number-for-a-string", _edit(lambda p: _person(p).__setitem__("customerIdentification", 2642)), f"{ORIGINATOR}.customerIdentification"),
    Variant("unknown-key", _edit(lambda p: _person(p).__setitem__("nickname", "JJ")), f"{ORIGINATOR}.nickname", "unknown field 'nickname'"),
    Variant("originator-not-identifiable-c1", _edit(lambda p: [_person(p).pop(k) for k in ("geographicAddress", "nationalIdentification", "customerIdentification", "dateAndPlaceOfBirth")]), "originator.originatorPersons.0", "C1"),
    Variant("legal-person-socs-c7", _edit(lambda p: _vasp(p)["nationalIdentification"].__setitem__("nationalIdentifierType", "SOCS")), f"{VASP}.nationalIdentification", "C7"),
    Variant("legal-person-lei-with-authority-c9", _edit(lambda p: _vasp(p)["nationalIdentification"].__setitem__("registrationAuthority", "RA000001")), f"{VASP}.nationalIdentification", "C9"),
    Variant("legal-person-country-of-issue-c9", _edit(lambda p: _vasp(p)["nationalIdentification"].__setitem__("countryOfIssue", "US")), f"{VASP}.nationalIdentification", "C9"),
    Variant("lei-malformed-c11", _edit(lambda p: _vasp(p)["nationalIdentification"].__setitem__("nationalIdentifier", "NOT-AN-LEI")), f"{VASP}.nationalIdentification", "C11"),
    Variant("legal-person-without-legal-name", _edit(lambda p: _vasp(p)["name"]["nameIdentifier"].pop(0)), f"{VASP}.name.nameIdentifier", "LEGL"),
    Variant("duplicate-key", '{"originator": {}, "originator": {}}', "originator", "twice"),
    Variant("nan", '{"originator": NaN}', "(payload)", "NaN"),
    Variant("not-json", "{originator:", "(payload)", "not valid JSON"),
    Variant("not-an-object", "[]", "(payload)"),
    Variant("too-long", " " * (64 * 1024 + 1), "(payload)", "longer than"),
    # Deep nesting would make json.loads raise RecursionError: refused before parsing.
    Variant("arrays-nested-5000-deep", "[" * 5000 + "]" * 5000, "(payload)", f"nested deeper than {MAX_NESTING}"),
    Variant("objects-nested-5000-deep", '{"a":' * 5000 + "1" + "}" * 5000, "(payload)", f"nested deeper than {MAX_NESTING}"),
    Variant("deep-nesting-inside-a-member", _edit(lambda p: _person(p).__setitem__("customerIdentification", _nested(MAX_NESTING))), "(payload)", "nested deeper than"),
    Variant("deep-nesting-unbalanced", "[" * 5000, "(payload)", "nested deeper than"),
    Variant("brackets-in-a-string-are-text", _edit(lambda p: _person(p).__setitem__("customerIdentification", "[{" * 60)), f"{ORIGINATOR}.customerIdentification", "at most 50"),
    Variant("nesting-at-the-limit-is-parsed", "[" * MAX_NESTING + "]" * MAX_NESTING, "(payload)", "Input should be an object"),
]  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_invalid_variant_names_the_field(variant: Variant) -> None:
    with pytest.raises(Ivms101Invalid) as refused:
        parse_payload(variant.raw, today=TODAY)
    first = refused.value.errors[0]
    assert refused.value.field == variant.field, refused.value.errors
    assert variant.message in first.message


def test_bytes_in_no_json_encoding_are_invalid() -> None:
    with pytest.raises(Ivms101Invalid) as refused:
        parse_payload(b"\xff\xfe\xff", today=TODAY)  # a UTF-16 byte order mark, then half a unit
    assert refused.value.field == "(payload)" and "not valid JSON" in refused.value.errors[0].message


# --- Originator names -------------------------------------------------------------------

PAYLOAD = parse_payload(json.dumps(VALID), today=TODAY)


def _with_originator(person: dict[str, Any]) -> IdentityPayload:
    payload = copy.deepcopy(VALID)
    payload["originator"]["originatorPersons"] = [person]
    return parse_payload(json.dumps(payload), today=TODAY)


KOREAN = _with_originator(
    {
        "naturalPerson": {
            "name": {
                "nameIdentifier": [{"primaryIdentifier": "KIM", "secondaryIdentifier": "MINJUN", "nameIdentifierType": "LEGL"}],
                "localNameIdentifier": [{"primaryIdentifier": "김", "secondaryIdentifier": "민준", "nameIdentifierType": "LEGL"}],
            },
            "customerIdentification": "C-1",
        }
    }
)
CORPORATE = _with_originator(
    {
        "legalPerson": {
            "name": {"nameIdentifier": [{"legalPersonName": "Acme Trading Ltd.", "legalPersonNameIdentifierType": "LEGL"}]},
            "customerNumber": "C-2",
        }
    }
)


@dataclass(frozen=True)
class NameCase:
    id: str
    payload: IdentityPayload
    legal_name: str
    native_name: str | None
    matches: bool
    compared_with: str | None = None


NAME_CASES = [
    NameCase("latin-given-name-first", PAYLOAD, "Jane Howard", None, True, "legal_name"),
    NameCase("latin-family-name-first-upper-case", PAYLOAD, "HOWARD JANE", None, True, "legal_name"),
    NameCase("maiden-name-is-not-the-legal-name", PAYLOAD, "Jane Price", None, False),
    NameCase("one-letter-differs", PAYLOAD, "Jane Howart", None, False),
    NameCase("beneficiary-is-not-the-originator", PAYLOAD, "Lawrence Clark", None, False),
    NameCase("hangul-local-name", KOREAN, "Somebody Else", "김민준", True, "native_name"),
    NameCase("hangul-with-space", KOREAN, "Somebody Else", "김 민준", True, "native_name"),
    NameCase("hangul-differs", KOREAN, "Somebody Else", "김민주", False),
    NameCase("romanised-korean", KOREAN, "Kim Minjun", "김민준", True, "legal_name"),
    NameCase("corporate-punctuation", CORPORATE, "ACME TRADING LTD", None, True, "legal_name"),
    NameCase("corporate-other-name", CORPORATE, "Acme Holdings Ltd", None, False),
]  # fmt: skip


@pytest.mark.parametrize("case", NAME_CASES, ids=lambda c: c.id)
def test_matches_customer(case: NameCase) -> None:
    found = matches_customer(case.payload, case.legal_name, case.native_name)
    assert found.matches is case.matches
    assert found.compared_with == case.compared_with
    if not case.matches:
        assert found.reason is NameMatchReason.MISMATCH


@pytest.mark.parametrize(
    ("payload", "name"),
    [(PAYLOAD, "Jane Howard"), (KOREAN, "MINJUN KIM"), (CORPORATE, "Acme Trading Ltd.")],
    ids=["natural-person", "natural-person-korean", "legal-person"],
)
def test_originator_name(payload: IdentityPayload, name: str) -> None:
    assert originator_name(payload) == name


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        pytest.param(lambda p: p.__setitem__("Originator", p.pop("originator")), "Originator",
                     "unknown field 'Originator' (did you mean 'originator'?)", id="capital-originator"),
        pytest.param(lambda p: _person(p).__setitem__("date_and_place_of_birth", _person(p).pop("dateAndPlaceOfBirth")),
                     f"{ORIGINATOR}.date_and_place_of_birth",
                     "unknown field 'date_and_place_of_birth' (did you mean 'dateAndPlaceOfBirth'?)", id="snake-case-nested"),
        pytest.param(lambda p: p["originator"].__setitem__("accountNumbers", p["originator"].pop("accountNumber")),
                     "originator.accountNumbers", "unknown field 'accountNumbers' (did you mean 'accountNumber'?)",
                     id="plural-misspelling"),
        pytest.param(lambda p: _person(p).__setitem__("nickname", "JJ"), f"{ORIGINATOR}.nickname",
                     "unknown field 'nickname'", id="nothing-like-it"),
    ],
)  # fmt: skip
def test_an_unknown_key_is_named_first_with_the_key_meant(
    edit: Callable[[dict[str, Any]], object], field: str, message: str
) -> None:
    with pytest.raises(Ivms101Invalid) as refused:
        parse_payload(_edit(edit), today=TODAY)
    first = refused.value.errors[0]
    assert (first.field, first.message) == (field, message)
    if "did you mean" not in message:
        assert message == first.message  # no guess where nothing is close
    # The key it meant is not also reported as missing: the one mistake, named once.
    meant = message.split("'")[3] if "did you mean" in message else None
    parent = field.rpartition(".")[0]
    assert all(e.field != ".".join(filter(None, [parent, meant])) for e in refused.value.errors)
