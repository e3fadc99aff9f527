"""Country and US state codes: ISO 3166-1 alpha-2 and ISO 3166-2:US, as data.

python-stdnum has no ISO 3166 helper and pycountry is not a dependency, so the codes are
kept here. The list is the 249 officially assigned ISO 3166-1 alpha-2 codes as carried by
the IANA tz database's iso3166.tab ("current as of ISO/TC 46 N1108, 2023-04-05").
User-assigned codes (XK for Kosovo, XX, ZZ) and transitionally reserved ones (UK, AN) are
not countries and are refused.
"""

from __future__ import annotations

from kyc.errors import KycValidationError

_ISO_3166_1_ALPHA_2 = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE
BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD
CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF
GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK
TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES: frozenset[str] = frozenset(_ISO_3166_1_ALPHA_2.split())

# ISO 3166-2:US: 50 states, the District of Columbia and the 6 outlying areas (AS, GU, MP,
# PR, UM, VI), written without the "US-" prefix. Residence region matters for US customers
# because licensing (NY BitLicense, California DFAL, ...) is per state (regulations.md, US).
_US_STATES = """
AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD
MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC
SD TN TX UT VT VA WA WV WI WY
"""
US_STATES: frozenset[str] = frozenset(_US_STATES.split())
US_DISTRICT_AND_OUTLYING_AREAS: frozenset[str] = frozenset({"DC", "AS", "GU", "MP", "PR", "UM", "VI"})
US_REGIONS: frozenset[str] = US_STATES | US_DISTRICT_AND_OUTLYING_AREAS

# Countries whose residents must name their region (state) in the KYC record.
REGION_REQUIRED: dict[str, frozenset[str]] = {"US": US_REGIONS}


def is_country(code: str) -> bool:
    return code in COUNTRY_CODES


def normalise_country(code: str, field: str = "country") -> str:
    """The canonical (upper-case) alpha-2 code, or a field-level error."""
    canonical = code.strip().upper()
    if len(canonical) != 2 or not canonical.isascii() or not canonical.isalpha():
        raise KycValidationError(field, "country_malformed", "must be an ISO 3166-1 alpha-2 code, e.g. KR")
    if canonical not in COUNTRY_CODES:
        raise KycValidationError(field, "country_unknown", f"{canonical!r} is not an ISO 3166-1 alpha-2 code")
    return canonical


def normalise_region(country: str, region: str | None, field: str = "residence_region") -> str | None:
    """The canonical region code for countries that need one (US).

    Accepts ``NY`` or ``US-NY``. Elsewhere the region is optional free text, kept as given.
    """
    regions = REGION_REQUIRED.get(country)
    if regions is None:
        if region is None or not region.strip():
            return None
        return region.strip()
    if region is None or not region.strip():
        raise KycValidationError(field, "missing", f"required when the residence country is {country}")
    canonical = region.strip().upper().removeprefix(f"{country}-")
    if canonical not in regions:
        raise KycValidationError(
            field, "region_unknown", f"{canonical!r} is not an ISO 3166-2:{country} subdivision code"
        )
    return canonical
