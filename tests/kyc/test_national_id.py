from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from kyc.errors import KycValidationError
from kyc.national_id import (
    consistent_with_birth_date,
    encoded_birth_date,
    hkid_check_digit,
    validate_national_id,
)
from tests.kyc import ids


@dataclass(frozen=True)
class Valid:
    id: str
    country: str
    type: str
    number: str
    compact: str


VALID = [
    Valid("kr-rrn-dashed", "KR", "rrn", ids.KR_RRN, ids.KR_RRN_COMPACT),
    Valid("kr-rrn-compact", "KR", "rrn", ids.KR_RRN_COMPACT, ids.KR_RRN_COMPACT),
    Valid("kr-rrn-full-width-digits", "KR", "rrn", "９００１０１－１２３４５１１", ids.KR_RRN_COMPACT),  # noqa: RUF001
    Valid("kr-rrn-lower-case-inputs", "kr", "RRN", ids.KR_RRN, ids.KR_RRN_COMPACT),
    Valid("kr-rrn-leap-day", "KR", "rrn", ids.KR_RRN_LEAP, "0402294123456"),
    Valid("kr-arn-foreign-resident", "KR", "arn", ids.KR_ARN, "9001015234511"),
    Valid("jp-my-number-spaced", "JP", "my_number", ids.JP_MY_NUMBER, "123456789018"),
    Valid("jp-my-number-stdnum-example", "JP", "my_number", "6214 9832 0257", "621498320257"),
    Valid("us-ssn-dashed", "US", "ssn", ids.US_SSN, "111223333"),
    Valid("us-ssn-spaced", "US", "ssn", "111 22 3333", "111223333"),
    Valid("us-itin", "US", "itin", ids.US_ITIN, "912701234"),
    Valid("ee-isikukood", "EE", "isikukood", ids.EE_ISIKUKOOD, ids.EE_ISIKUKOOD),
    Valid("ee-isikukood-leap-day", "EE", "isikukood", ids.EE_ISIKUKOOD_LEAP, ids.EE_ISIKUKOOD_LEAP),
    Valid("cn-resident-id", "CN", "resident_id", ids.CN_RIC, ids.CN_RIC),
    Valid("ch-ahv-dotted", "CH", "ahv", ids.CH_AHV, "7561234567897"),
    Valid("hk-hkid-one-letter", "HK", "hkid", ids.HK_HKID, "A1234563"),
    Valid("hk-hkid-two-letters", "HK", "hkid", "AB987654(3)", "AB9876543"),
    Valid("hk-hkid-check-a", "HK", "hkid", "R123456(A)", "R123456A"),
    Valid("hk-hkid-check-zero", "HK", "hkid", "g000005(0)", "G0000050"),
    Valid("passport-any-country", "DE", "passport", "c01x00t47", "C01X00T47"),
    Valid("passport-kr", "KR", "passport", "M12345678", "M12345678"),
]


@pytest.mark.parametrize("case", VALID, ids=[c.id for c in VALID])
def test_valid_numbers(case: Valid) -> None:
    national_id = validate_national_id(case.country, case.type, case.number)
    assert national_id.number == case.compact
    assert national_id.country == case.country.upper()
    assert national_id.type == case.type.lower()


@dataclass(frozen=True)
class Invalid:
    id: str
    country: str
    type: str
    number: str
    field: str
    code: str = "national_id_invalid"


INVALID = [
    Invalid("kr-rrn-bad-checksum", "KR", "rrn", "900101-1234512", "national_id.number"),
    Invalid("kr-rrn-short", "KR", "rrn", "900101-123451", "national_id.number"),
    Invalid("kr-rrn-impossible-date", "KR", "rrn", "901301-1234511", "national_id.number"),
    Invalid("kr-rrn-29-feb-of-common-year", "KR", "rrn", "0502294123453", "national_id.number"),
    Invalid("kr-rrn-is-really-an-arn", "KR", "rrn", ids.KR_ARN, "national_id.number"),
    Invalid("kr-arn-is-really-an-rrn", "KR", "arn", ids.KR_RRN, "national_id.number"),
    Invalid("jp-my-number-bad-check", "JP", "my_number", "1234 5678 9019", "national_id.number"),
    Invalid("jp-my-number-letter", "JP", "my_number", "1234 5678 901X", "national_id.number"),
    Invalid("us-ssn-area-000", "US", "ssn", "000-12-3456", "national_id.number"),
    Invalid("us-ssn-area-666", "US", "ssn", "666-12-3456", "national_id.number"),
    Invalid("us-ssn-blacklisted-woolworth", "US", "ssn", "078-05-1120", "national_id.number"),
    Invalid("us-ssn-is-an-itin", "US", "ssn", ids.US_ITIN, "national_id.number"),
    Invalid("us-itin-wrong-group", "US", "itin", "912-93-4567", "national_id.number"),
    Invalid("ee-isikukood-bad-check", "EE", "isikukood", "39001011238", "national_id.number"),
    Invalid("cn-ric-bad-check", "CN", "resident_id", "110101199001011238", "national_id.number"),
    Invalid("cn-ric-unknown-place", "CN", "resident_id", "000000199001011235", "national_id.number"),
    Invalid("ch-ahv-bad-check", "CH", "ahv", "756.1234.5678.98", "national_id.number"),
    Invalid("ch-ahv-not-756", "CH", "ahv", "123.4567.8910.19", "national_id.number"),
    Invalid("hk-hkid-bad-check", "HK", "hkid", "A123456(4)", "national_id.number"),
    Invalid("hk-hkid-three-letters", "HK", "hkid", "ABC123456(3)", "national_id.number"),
    Invalid("hk-hkid-five-digits", "HK", "hkid", "A12345(3)", "national_id.number"),
    Invalid("passport-too-short", "KR", "passport", "M1234", "national_id.number"),
    Invalid("passport-too-long", "KR", "passport", "M123456789", "national_id.number"),
    Invalid("passport-symbol", "KR", "passport", "M1234_567", "national_id.number"),
    Invalid("empty-number", "KR", "rrn", "  - ", "national_id.number", "missing"),
    Invalid("non-ascii-number", "KR", "rrn", "九〇〇一〇一", "national_id.number"),
    Invalid("type-not-issued-there", "KR", "ssn", ids.US_SSN, "national_id.type", "national_id_type_unknown"),
    Invalid("no-national-type-for-de", "DE", "personalausweis", "T22000129", "national_id.type", "national_id_type_unknown"),
    Invalid("unknown-country", "XX", "passport", "M1234567", "national_id.country", "country_unknown"),
]  # fmt: skip


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid_numbers(case: Invalid) -> None:
    with pytest.raises(KycValidationError) as info:
        validate_national_id(case.country, case.type, case.number)
    assert (info.value.field, info.value.code) == (case.field, case.code)
    assert case.number not in str(info.value)  # the refused value is never echoed


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(KycValidationError, match="known: arn, passport, rrn"):
        validate_national_id("KR", "ssn", ids.US_SSN)


def test_repr_and_str_mask_the_number() -> None:
    national_id = validate_national_id("KR", "rrn", ids.KR_RRN)
    assert ids.KR_RRN_COMPACT not in repr(national_id)
    assert str(national_id) == "KR:rrn:*********4511"


@pytest.mark.parametrize(
    ("prefix", "digits", "check"),
    [
        ("A", "123456", "3"),
        ("AB", "987654", "3"),
        ("Z", "000001", "A"),
        ("G", "000005", "0"),
        ("XA", "000000", "8"),
    ],
    ids=["one-letter", "two-letters", "check-a", "check-zero", "two-letters-zeros"],
)
def test_hkid_check_digit(prefix: str, digits: str, check: str) -> None:
    # Worked by hand for A123456: 36*9 + 10*8 + 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 6*2 = 481;
    # 481 mod 11 = 8; 11 - 8 = 3.
    assert hkid_check_digit(prefix, digits) == check


@dataclass(frozen=True)
class Birth:
    id: str
    country: str
    type: str
    number: str
    birth_date: date
    consistent: bool


BIRTHS = [
    Birth("kr-rrn-matches", "KR", "rrn", ids.KR_RRN, date(1990, 1, 1), True),
    Birth("kr-rrn-differs", "KR", "rrn", ids.KR_RRN, date(1990, 1, 2), False),
    Birth("kr-rrn-2000s-leap-day", "KR", "rrn", ids.KR_RRN_LEAP, date(2004, 2, 29), True),
    Birth("kr-rrn-century-from-7th-digit", "KR", "rrn", ids.KR_RRN_LEAP, date(1904, 2, 29), False),
    Birth("kr-arn-matches", "KR", "arn", ids.KR_ARN, date(1990, 1, 1), True),
    Birth("ee-matches", "EE", "isikukood", ids.EE_ISIKUKOOD_LEAP, date(2000, 2, 29), True),
    Birth("ee-differs", "EE", "isikukood", ids.EE_ISIKUKOOD, date(1991, 1, 1), False),
    Birth("cn-matches", "CN", "resident_id", ids.CN_RIC, date(1990, 1, 1), True),
    Birth("cn-differs", "CN", "resident_id", ids.CN_RIC, date(1990, 1, 10), False),
    Birth("jp-encodes-nothing", "JP", "my_number", ids.JP_MY_NUMBER, date(1970, 1, 1), True),
    Birth("passport-encodes-nothing", "KR", "passport", "M12345678", date(1970, 1, 1), True),
]  # fmt: skip


@pytest.mark.parametrize("case", BIRTHS, ids=[c.id for c in BIRTHS])
def test_consistent_with_birth_date(case: Birth) -> None:
    national_id = validate_national_id(case.country, case.type, case.number)
    assert consistent_with_birth_date(national_id, case.birth_date) is case.consistent


def test_encoded_birth_date_reads_the_century_digit() -> None:
    assert encoded_birth_date(validate_national_id("KR", "rrn", ids.KR_RRN_LEAP)) == date(2004, 2, 29)
    assert encoded_birth_date(validate_national_id("JP", "my_number", ids.JP_MY_NUMBER)) is None
