from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from kyc.facts import CustomerType
from kyc.identity import IdentityIn, masked, parse_identity
from tests.kyc import ids

TODAY = date(2026, 3, 1)

KR_PERSON: dict[str, Any] = {
    "customer_type": "individual",
    "legal_name": "Kim Minjun",
    "native_name": "김민준",
    "date_of_birth": "1990-01-01",
    "nationality": "KR",
    "residence_country": "KR",
    "contact": {"email": "minjun.kim@example.com", "phone": "+82 10-1234-5678"},
    "national_id": {"country": "KR", "type": "rrn", "number": ids.KR_RRN},
    "identity_document": {
        "type": "passport",
        "number": "M12345678",
        "issuing_country": "KR",
        "expiry_date": "2030-05-31",
    },
    "pep": False,
    "risk_rating": "low",
}


def person(**changes: Any) -> dict[str, Any]:
    return {**KR_PERSON, **changes}


VALID: list[tuple[str, dict[str, Any]]] = [
    ("kr-rrn", KR_PERSON),
    ("kr-foreign-resident-arn", person(nationality="US", national_id={"country": "KR", "type": "arn", "number": ids.KR_ARN})),
    ("jp-my-number", person(nationality="JP", residence_country="JP", native_name="山田太郎", legal_name="Taro Yamada",
                            national_id={"country": "JP", "type": "my_number", "number": ids.JP_MY_NUMBER})),
    ("us-ssn-with-state", person(nationality="US", residence_country="US", residence_region="NY", native_name=None,
                                 national_id={"country": "US", "type": "ssn", "number": ids.US_SSN})),
    ("ee-isikukood", person(nationality="EE", residence_country="EE",
                            national_id={"country": "EE", "type": "isikukood", "number": ids.EE_ISIKUKOOD})),
    ("cn-resident-id", person(nationality="CN", residence_country="CN",
                              national_id={"country": "CN", "type": "resident_id", "number": ids.CN_RIC})),
    ("ch-ahv", person(nationality="CH", residence_country="CH", national_id={"country": "CH", "type": "ahv", "number": ids.CH_AHV})),
    ("hk-hkid", person(nationality="HK", residence_country="HK", national_id={"country": "HK", "type": "hkid", "number": ids.HK_HKID})),
    ("passport-as-national-id", person(nationality="DE", national_id={"country": "DE", "type": "passport", "number": "C01X00T47"})),
    ("corporate-without-person-fields", {"customer_type": "corporate", "legal_name": "Example Trading Co., Ltd.",
                                         "nationality": "KR", "residence_country": "KR",
                                         "contact": {"email": "ops@example.com"}, "risk_rating": "medium"}),
    ("id-card-without-expiry", person(identity_document={"type": "national_id_card", "number": "AB12345", "issuing_country": "KR"})),
    ("born-today", person(date_of_birth="2026-03-01", national_id={"country": "KR", "type": "passport", "number": "M12345678"})),
]  # fmt: skip


@pytest.mark.parametrize("data", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_identities(data: dict[str, Any]) -> None:
    identity = parse_identity(data, today=TODAY)
    assert identity.customer_type in CustomerType


def test_values_are_normalised() -> None:
    identity = parse_identity(
        person(
            nationality="kr",
            residence_country="us",
            residence_region="us-ca",
            contact={"phone": "+1 (415) 555-0100"},
        ),
        today=TODAY,
    )
    assert (identity.nationality, identity.residence_country, identity.residence_region) == ("KR", "US", "CA")
    assert identity.contact.phone == "+14155550100"
    assert identity.national_id is not None
    assert identity.national_id.number.get_secret_value() == ids.KR_RRN_COMPACT
    assert identity.national_id.validated().number == ids.KR_RRN_COMPACT


@dataclass(frozen=True)
class Bad:
    id: str
    data: dict[str, Any]
    field: str
    type: str


def without(*keys: str) -> dict[str, Any]:
    return {k: v for k, v in KR_PERSON.items() if k not in keys}


BAD = [
    Bad("dob-in-the-future", person(date_of_birth="2026-03-02"), "date_of_birth", "date_of_birth_future"),
    Bad("dob-30-february", person(date_of_birth="1990-02-30"), "date_of_birth", "date_from_datetime_parsing"),
    Bad("dob-29-february-common-year", person(date_of_birth="1990-02-29"), "date_of_birth", "date_from_datetime_parsing"),
    Bad("dob-month-13", person(date_of_birth="1990-13-01"), "date_of_birth", "date_from_datetime_parsing"),
    Bad("dob-before-1900", person(date_of_birth="1899-12-31"), "date_of_birth", "date_of_birth_impossible"),
    Bad("dob-as-a-number", person(date_of_birth=19900101), "date_of_birth", "date_type"),
    Bad("dob-missing-for-individual", without("date_of_birth"), "date_of_birth", "missing"),
    Bad("dob-not-what-the-rrn-says", person(date_of_birth="1990-01-02"), "national_id", "national_id_birth_date_mismatch"),
    Bad("nationality-unknown", person(nationality="XK"), "nationality", "country_unknown"),
    Bad("nationality-alpha-3", person(nationality="KOR"), "nationality", "country_malformed"),
    Bad("residence-unknown", person(residence_country="ZZ"), "residence_country", "country_unknown"),
    Bad("us-residence-without-state", person(residence_country="US"), "residence_region", "missing"),
    Bad("us-residence-unknown-state", person(residence_country="US", residence_region="XY"), "residence_region", "region_unknown"),
    Bad("legal-name-missing", without("legal_name"), "legal_name", "missing"),
    Bad("legal-name-blank", person(legal_name="   "), "legal_name", "string_too_short"),
    Bad("customer-type-unknown", person(customer_type="trust"), "customer_type", "enum"),
    Bad("risk-rating-missing", without("risk_rating"), "risk_rating", "missing"),
    Bad("risk-rating-unknown", person(risk_rating="extreme"), "risk_rating", "enum"),
    Bad("contact-empty", person(contact={}), "contact", "missing"),
    Bad("contact-bad-email", person(contact={"email": "not-an-address"}), "contact.email", "email_invalid"),
    Bad("contact-bad-phone", person(contact={"phone": "010-1234-5678"}), "contact.phone", "phone_invalid"),
    Bad("national-id-missing-for-individual", without("national_id"), "national_id", "missing"),
    Bad("national-id-bad-checksum", person(national_id={"country": "KR", "type": "rrn", "number": "900101-1234512"}), "national_id.number", "national_id_invalid"),
    Bad("national-id-type-not-issued-there", person(national_id={"country": "KR", "type": "ssn", "number": ids.US_SSN}), "national_id.type", "national_id_type_unknown"),
    Bad("national-id-unknown-country", person(national_id={"country": "QQ", "type": "passport", "number": "M12345678"}), "national_id.country", "country_unknown"),
    Bad("national-id-number-missing", person(national_id={"country": "KR", "type": "rrn"}), "national_id.number", "missing"),
    Bad("hkid-bad-check-digit", person(national_id={"country": "HK", "type": "hkid", "number": "A123456(4)"}), "national_id.number", "national_id_invalid"),
    Bad("document-missing-for-individual", without("identity_document"), "identity_document", "missing"),
    Bad("document-expiry-impossible", person(identity_document={**KR_PERSON["identity_document"], "expiry_date": "2030-02-30"}), "identity_document.expiry_date", "date_from_datetime_parsing"),
    Bad("passport-without-expiry", person(identity_document={"type": "passport", "number": "M12345678", "issuing_country": "KR"}), "identity_document", "missing"),
    Bad("document-unknown-issuer", person(identity_document={**KR_PERSON["identity_document"], "issuing_country": "EU"}), "identity_document.issuing_country", "country_unknown"),
    Bad("document-number-malformed", person(identity_document={**KR_PERSON["identity_document"], "number": "#1"}), "identity_document.number", "document_number_invalid"),
    Bad("unknown-field", person(favourite_colour="blue"), "favourite_colour", "extra_forbidden"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_input_names_the_field(case: Bad) -> None:
    with pytest.raises(ValidationError) as info:
        parse_identity(case.data, today=TODAY)
    errors = [(".".join(str(p) for p in e["loc"]), e["type"]) for e in info.value.errors()]
    assert (case.field, case.type) in errors
    # One mistake, one error: the other fields are not blamed for it.
    assert len(errors) == 1, errors


def test_today_comes_from_the_validation_context() -> None:
    data = person(
        date_of_birth="2026-03-02", national_id={"country": "KR", "type": "passport", "number": "M12345678"}
    )
    with pytest.raises(ValidationError):
        IdentityIn.model_validate(data, context={"today": TODAY})
    assert IdentityIn.model_validate(data, context={"today": date(2026, 3, 2)}).date_of_birth == date(
        2026, 3, 2
    )


PERSONAL = ["Kim Minjun", "Minjun", "김민준", ids.KR_RRN, ids.KR_RRN_COMPACT, "1990-01-01", "1990, 1, 1",
            "minjun.kim@example.com", "+821012345678", "M12345678"]  # fmt: skip


def _assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, value


def test_repr_and_str_hold_no_personal_data() -> None:
    identity = parse_identity(KR_PERSON, today=TODAY)
    _assert_no_personal_data(repr(identity))
    _assert_no_personal_data(str(identity))
    assert identity.national_id is not None and identity.identity_document is not None
    _assert_no_personal_data(repr(identity.national_id))
    _assert_no_personal_data(repr(identity.identity_document))
    _assert_no_personal_data(repr(identity.contact))


def test_validation_errors_hold_no_personal_data() -> None:
    bad = person(national_id={"country": "KR", "type": "rrn", "number": "900101-1234512"}, nationality="XK")
    with pytest.raises(ValidationError) as info:
        parse_identity(bad, today=TODAY)
    assert "900101" not in str(info.value)
    assert "9001011234512" not in repr(info.value.errors())


def test_masked_view() -> None:
    view = masked(parse_identity(KR_PERSON, today=TODAY))
    _assert_no_personal_data(repr(view))
    assert view["legal_name"] == "K*** M***"
    assert view["native_name"] == "김***"
    assert view["birth_year"] == 1990
    assert view["national_id"] == {"country": "KR", "type": "rrn", "number": "*********4511"}
    assert view["identity_document"]["number"] == "*******78"
    assert view["contact"] == {"email": "m***@example.com", "phone": "*********5678"}
    assert (view["nationality"], view["residence_country"], view["pep"], view["risk_rating"]) == (
        "KR",
        "KR",
        False,
        "low",
    )


def test_masked_view_of_a_corporate() -> None:
    view = masked(parse_identity(VALID[9][1], today=TODAY))
    assert view["legal_name"] == "E*** T*** C*** L***"
    assert view["birth_year"] is None and view["national_id"] is None and view["identity_document"] is None
