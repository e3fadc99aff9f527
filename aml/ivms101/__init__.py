"""Strict validation of IVMS101 travel-rule payloads (originator and beneficiary data).

Accepted shape: IVMS101 wire JSON only — camelCase keys and the standard's enumeration
codes ("LEGL", "HOME", "LEIX"), as TRISA's `ivms101_testdata/*.json`, ivmsvalidator.com
and the OpenVASP TRP `IVMS101` member use. The top level is an IdentityPayload:
`originator` and `beneficiary` required, `originatingVASP`, `beneficiaryVASP`,
`transferPath` and `payloadMetadata` optional (the gateway is the originating VASP, and a
transfer to a self-hosted wallet has no beneficiary VASP).

Refused: TRISA's protojson style (snake_case keys, "NATURAL_PERSON_NAME_TYPE_CODE_LEGL"),
which its own README calls an internal format, not the wire format; and lenient variants
(`lastName`, `street`, `dob`, …). Accepting a second spelling would let one payload mean
two things to two parsers.

Strict means: unknown keys refused; JSON types exact (no number for a string); present
text fields non-empty and within the standard's lengths; duplicate JSON keys refused;
codes from the standard's lists; country codes ISO 3166-1 alpha-2 (or "XX"); and the
standard's constraints C1-C11 that a single payload can violate (named where checked).
Every error names the field path in the payload's own (camelCase) spelling; a key the
standard does not have is named first, with the key it most likely meant ("unknown field
'Originator' (did you mean 'originator'?)"), so the sender sees the cause rather than only
the field it left missing.

The package by role: `model` (the payload as pydantic models), `parse` (bounds, then
strict reading, errors by field path), `checks` (does it name the customer; `missing_data`
checks a parsed payload for the elements a jurisdiction requires beyond
the standard's minimum (the rule packs' `required_data`, `TravelData` here)).
"""

from __future__ import annotations

from aml.ivms101.checks import (
    matches_beneficiary,
    matches_customer,
    missing_data,
    originator_name,
)
from aml.ivms101.model import (
    LEGAL_PERSON_ID_TYPES,
    AccountNumber,
    Address,
    AddressType,
    Beneficiary,
    BeneficiaryVasp,
    Country,
    DateAndPlaceOfBirth,
    IdentityPayload,
    IntermediaryVasp,
    LegalNameType,
    LegalPerson,
    LegalPersonName,
    LegalPersonNameId,
    NationalIdentification,
    NationalIdType,
    NaturalNameType,
    NaturalPerson,
    NaturalPersonName,
    NaturalPersonNameId,
    OriginatingVasp,
    Originator,
    PayloadMetadata,
    Person,
    Text16,
    Text35,
    Text50,
    Text70,
    Text100,
    TransferPath,
    Transliteration,
    TravelData,
)
from aml.ivms101.parse import (
    MAX_NESTING,
    MAX_PAYLOAD_CHARS,
    FieldError,
    Ivms101Invalid,
    bounds_problem,
    parse,
    parse_payload,
)

__all__ = [
    "LEGAL_PERSON_ID_TYPES",
    "MAX_NESTING",
    "MAX_PAYLOAD_CHARS",
    "AccountNumber",
    "Address",
    "AddressType",
    "Beneficiary",
    "BeneficiaryVasp",
    "Country",
    "DateAndPlaceOfBirth",
    "FieldError",
    "IdentityPayload",
    "IntermediaryVasp",
    "Ivms101Invalid",
    "LegalNameType",
    "LegalPerson",
    "LegalPersonName",
    "LegalPersonNameId",
    "NationalIdType",
    "NationalIdentification",
    "NaturalNameType",
    "NaturalPerson",
    "NaturalPersonName",
    "NaturalPersonNameId",
    "OriginatingVasp",
    "Originator",
    "PayloadMetadata",
    "Person",
    "Text16",
    "Text35",
    "Text50",
    "Text70",
    "Text100",
    "TransferPath",
    "Transliteration",
    "TravelData",
    "bounds_problem",
    "matches_beneficiary",
    "matches_customer",
    "missing_data",
    "originator_name",
    "parse",
    "parse_payload",
]
