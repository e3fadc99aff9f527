from __future__ import annotations

import hashlib
import hmac

import pytest

from kyc.hashing import national_id_hash
from kyc.national_id import validate_national_id
from tests.kyc import ids

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.mark.parametrize(
    ("country", "id_type", "a", "b"),
    [
        ("KR", "rrn", ids.KR_RRN, ids.KR_RRN_COMPACT),
        ("KR", "rrn", ids.KR_RRN, "９００１０１ １２３４５１１"),  # noqa: RUF001
        ("JP", "my_number", ids.JP_MY_NUMBER, "123456789018"),
        ("US", "ssn", ids.US_SSN, "111 22 3333"),
        ("CH", "ahv", ids.CH_AHV, "7561234567897"),
        ("HK", "hkid", ids.HK_HKID, "a1234563"),
        ("CN", "resident_id", ids.CN_RIC, " 110101-19900101-1237 "),
    ],
    ids=[
        "kr-dash",
        "kr-full-width",
        "jp-spaces",
        "us-spaces",
        "ch-dots",
        "hk-brackets-case",
        "cn-separators",
    ],
)
def test_same_number_in_any_format_hashes_alike(country: str, id_type: str, a: str, b: str) -> None:
    first = national_id_hash(KEY, validate_national_id(country, id_type, a))
    second = national_id_hash(KEY, validate_national_id(country.lower(), id_type.upper(), b))
    assert first == second
    assert len(first) == 64


def test_is_hmac_sha256_of_country_type_number() -> None:
    expected = hmac.new(KEY, f"KR:rrn:{ids.KR_RRN_COMPACT}".encode(), hashlib.sha256).hexdigest()
    assert national_id_hash(KEY, validate_national_id("KR", "rrn", ids.KR_RRN)) == expected


def test_a_different_key_gives_a_different_hash() -> None:
    national_id = validate_national_id("KR", "rrn", ids.KR_RRN)
    assert national_id_hash(KEY, national_id) != national_id_hash(OTHER_KEY, national_id)


def test_type_and_country_are_part_of_the_identity() -> None:
    # The same characters as a passport number are a different identity.
    rrn = validate_national_id("KR", "rrn", "900101-1234511")
    passport = validate_national_id("KR", "passport", "M12345678")
    other_passport = validate_national_id("JP", "passport", "M12345678")
    hashes = {national_id_hash(KEY, x) for x in (rrn, passport, other_passport)}
    assert len(hashes) == 3


def test_hash_never_contains_the_number() -> None:
    digest = national_id_hash(KEY, validate_national_id("KR", "rrn", ids.KR_RRN))
    assert ids.KR_RRN_COMPACT not in digest


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 31], ids=["empty", "short", "31-bytes"])
def test_weak_keys_are_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        national_id_hash(key, validate_national_id("KR", "rrn", ids.KR_RRN))
