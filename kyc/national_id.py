"""National identification numbers, validated per issuing country.

python-stdnum does the checksum work wherever it has the number; Hong Kong's HKID and
passport numbers are checked by hand below. Every failure is a `KycValidationError` on a
field of the admin API's ``national_id`` object, and its message never repeats the number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from stdnum.ch import ssn as ch_ssn
from stdnum.cn import ric as cn_ric
from stdnum.ee import ik as ee_ik
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.jp import in_ as jp_in
from stdnum.kr import rrn as kr_rrn
from stdnum.us import itin as us_itin
from stdnum.us import ssn as us_ssn

from kyc.countries import normalise_country
from kyc.errors import KycValidationError

FIELD_COUNTRY = "national_id.country"
FIELD_TYPE = "national_id.type"
FIELD_NUMBER = "national_id.number"

PASSPORT = "passport"
# Separators people type inside numbers: "900101-1234568", "756.9217.0769.85",
# "6214 9832 0257", "A123456(3)". Removed before any check, so every formatting of one
# number compacts to the same string (and hashes to the same value, kyc.hashing).
_SEPARATORS = re.compile(r"[\s\-./()]")


@dataclass(frozen=True, slots=True)
class NationalId:
    """A validated number: issuing country, id type and the compact number."""

    country: str
    type: str
    number: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.country}:{self.type}:{mask_number(self.number)}"


def mask_number(number: str) -> str:
    """Only the last few characters: 4 of a long number (12 or more), 2 of a short one."""
    shown = 4 if len(number) >= 12 else 2
    return "*" * max(len(number) - shown, 0) + number[-shown:]


def _stdnum(validate: Callable[[str], str]) -> Callable[[str], str]:
    def check(number: str) -> str:
        try:
            return validate(number)
        except StdnumValidationError as exc:
            raise KycValidationError(FIELD_NUMBER, "national_id_invalid", _describe(exc)) from None

    return check


def _describe(exc: StdnumValidationError) -> str:
    # stdnum's messages ("The number has an invalid length.") are about the number only.
    return str(exc).rstrip(".").lower()


def _kr_rrn(number: str) -> str:
    compact = _stdnum(kr_rrn.validate)(number)
    # The 7th digit encodes century and sex: 1-4 (and 9/0 for 1800s births) for Korean
    # nationals, 5-8 for registered foreigners, who hold an alien registration number
    # with the same layout (stdnum.kr.rrn docstring; en.wikipedia.org/wiki/
    # Resident_registration_number). Caveat: numbers issued from Oct 2020 (newborns and
    # re-issued numbers) have random trailing digits and may not pass the checksum
    # (unverified here); such customers go through document review by hand.
    if compact[6] not in "123490":
        raise KycValidationError(
            FIELD_NUMBER, "national_id_invalid", "is an alien registration number; use type 'arn'"
        )
    return compact


def _kr_arn(number: str) -> str:
    compact = _stdnum(kr_rrn.validate)(number)
    if compact[6] not in "5678":
        raise KycValidationError(
            FIELD_NUMBER, "national_id_invalid", "is a resident registration number; use type 'rrn'"
        )
    return compact


# HKID (Hong Kong identity card number). Format, per the Immigration Department's card
# layout and the widely published check-digit algorithm: one or two letters, six digits
# and a check digit 0-9 or A, printed as "A123456(3)". Letters count A=10 .. Z=35; a
# single-letter number is padded on the left with a space worth 36. The eight characters
# are weighted 9, 8, ..., 2; check = 11 - (sum mod 11), where 11 is written 0 and 10 is A.
_HKID = re.compile(r"^([A-Z]{1,2})([0-9]{6})([0-9A])$")
_HKID_SPACE = 36


def hkid_check_digit(prefix: str, digits: str) -> str:
    letters = prefix.rjust(2)
    values = [_HKID_SPACE if c == " " else ord(c) - ord("A") + 10 for c in letters] + [int(d) for d in digits]
    total = sum(weight * value for weight, value in zip(range(9, 1, -1), values, strict=True))
    check = 11 - total % 11
    return {10: "A", 11: "0"}.get(check, str(check))


def _hk_hkid(number: str) -> str:
    match = _HKID.match(number)
    if match is None:
        raise KycValidationError(
            FIELD_NUMBER, "national_id_invalid", "must be 1-2 letters, 6 digits and a check digit (0-9 or A)"
        )
    prefix, digits, check = match.groups()
    if hkid_check_digit(prefix, digits) != check:
        raise KycValidationError(FIELD_NUMBER, "national_id_invalid", "the number's checksum does not match")
    return number


# Passport numbers have no common checksum outside the machine-readable zone; ICAO 9303
# allows up to 9 characters in the document number field and issuers use 6 to 9.
_PASSPORT = re.compile(r"^[A-Z0-9]{6,9}$")


def _passport(number: str) -> str:
    if _PASSPORT.match(number) is None:
        raise KycValidationError(
            FIELD_NUMBER, "national_id_invalid", "a passport number is 6-9 letters or digits"
        )
    return number


# (country, type) -> validator returning the compact number. Type names are the admin
# API's vocabulary; regulations.md names the national id of each country (KR RRN, JP My
# Number, US SSN/TIN, EE isikukood, CN resident identity card, HK HKID; CH: AHV number,
# not an AML data item, accepted when given).
_VALIDATORS: dict[tuple[str, str], Callable[[str], str]] = {
    ("KR", "rrn"): _kr_rrn,
    ("KR", "arn"): _kr_arn,
    ("JP", "my_number"): _stdnum(jp_in.validate),
    ("US", "ssn"): _stdnum(us_ssn.validate),
    ("US", "itin"): _stdnum(us_itin.validate),
    ("EE", "isikukood"): _stdnum(ee_ik.validate),
    ("CN", "resident_id"): _stdnum(cn_ric.validate),
    ("CH", "ahv"): _stdnum(ch_ssn.validate),
    ("HK", "hkid"): _hk_hkid,
}

# The birth date some numbers encode, for `consistent_with_birth_date`.
_BIRTH_DATES: dict[tuple[str, str], Callable[[str], date]] = {
    ("KR", "rrn"): kr_rrn.get_birth_date,
    ("KR", "arn"): kr_rrn.get_birth_date,
    ("EE", "isikukood"): ee_ik.get_birth_date,
    ("CN", "resident_id"): cn_ric.get_birth_date,
}


def id_types_for(country: str) -> list[str]:
    """The id types known for a country (passport is known for every country)."""
    return sorted({t for c, t in _VALIDATORS if c == country} | {PASSPORT})


def _clean(number: str) -> str:
    # NFKC turns full-width digits and letters (common in Korean and Japanese input) into
    # ASCII; separators go; letters are compared upper-case (HKID, CN "X", passports).
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", number)).upper()


def normalise_id_type(country: str, id_type: str) -> str:
    """The canonical id type if `country` (already canonical) issues it, else a field error."""
    canonical = id_type.strip().lower()
    if canonical != PASSPORT and (country, canonical) not in _VALIDATORS:
        known = ", ".join(id_types_for(country))
        raise KycValidationError(
            FIELD_TYPE,
            "national_id_type_unknown",
            f"no national id type {canonical!r} for {country}; known: {known}",
        )
    return canonical


def validate_national_id(country: str, id_type: str, number: str) -> NationalId:
    """The validated, compact number, or a `KycValidationError` naming the field at fault."""
    canonical_country = normalise_country(country, FIELD_COUNTRY)
    canonical_type = normalise_id_type(canonical_country, id_type)
    check = _passport if canonical_type == PASSPORT else _VALIDATORS[(canonical_country, canonical_type)]
    cleaned = _clean(number)
    if not cleaned:
        raise KycValidationError(FIELD_NUMBER, "missing", "the number is empty")
    if not cleaned.isascii() or not cleaned.isalnum():
        raise KycValidationError(FIELD_NUMBER, "national_id_invalid", "may contain only letters and digits")
    return NationalId(canonical_country, canonical_type, check(cleaned))


def encoded_birth_date(national_id: NationalId) -> date | None:
    """The birth date the number encodes, or None for numbers that encode none."""
    extract = _BIRTH_DATES.get((national_id.country, national_id.type))
    if extract is None:
        return None
    try:
        return extract(national_id.number)
    except StdnumValidationError:
        return None


def consistent_with_birth_date(national_id: NationalId, birth_date: date) -> bool:
    """False only when the number encodes a birth date and it is not `birth_date`.

    China's number may carry the registration date instead of the birth date in rare
    cases (stdnum.cn.ric docstring); the caller reports a mismatch as a field error for
    an operator to correct, never as a silent rewrite.
    """
    encoded = encoded_birth_date(national_id)
    return encoded is None or encoded == birth_date
