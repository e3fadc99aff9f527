from __future__ import annotations

import pytest

from kyc.countries import COUNTRY_CODES, US_REGIONS, normalise_country, normalise_region
from kyc.errors import KycValidationError


def test_the_full_iso_list_is_present() -> None:
    # 249 officially assigned ISO 3166-1 alpha-2 codes.
    assert len(COUNTRY_CODES) == 249
    assert {"CH", "EE", "JP", "US", "HK", "KR", "CN", "SS", "BQ", "CW", "SX"} <= COUNTRY_CODES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("KR", "KR"), ("kr", "KR"), (" hk ", "HK"), ("AQ", "AQ")],
    ids=["upper", "lower", "padded", "antarctica"],
)
def test_known_codes(raw: str, expected: str) -> None:
    assert normalise_country(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("XK", "country_unknown"),  # Kosovo: user-assigned, not ISO
        ("UK", "country_unknown"),  # reserved; the code is GB
        ("ZZ", "country_unknown"),
        ("KOR", "country_malformed"),  # alpha-3
        ("K1", "country_malformed"),
        ("", "country_malformed"),
        ("한국", "country_malformed"),
    ],
    ids=["kosovo-user-assigned", "uk-reserved", "zz", "alpha-3", "digit", "empty", "non-ascii"],
)
def test_unknown_codes(raw: str, code: str) -> None:
    with pytest.raises(KycValidationError) as info:
        normalise_country(raw, "nationality")
    assert info.value.field == "nationality"
    assert info.value.code == code


def test_us_regions_are_iso_3166_2() -> None:
    assert len(US_REGIONS) == 57  # 50 states, DC, 6 outlying areas
    assert normalise_region("US", "ny") == "NY"
    assert normalise_region("US", "US-CA") == "CA"
    assert normalise_region("US", "PR") == "PR"


@pytest.mark.parametrize(
    ("region", "code"),
    [(None, "missing"), ("  ", "missing"), ("XX", "region_unknown")],
    ids=["absent", "blank", "unknown"],
)
def test_us_residence_needs_a_known_region(region: str | None, code: str) -> None:
    with pytest.raises(KycValidationError) as info:
        normalise_region("US", region)
    assert (info.value.field, info.value.code) == ("residence_region", code)


def test_other_countries_keep_free_text_region() -> None:
    assert normalise_region("KR", " Gyeonggi ") == "Gyeonggi"
    assert normalise_region("KR", None) is None
    assert normalise_region("KR", "") is None
