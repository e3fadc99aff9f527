"""The IVMS101 payload as pydantic models: the wire JSON's shape, field by field, with the
standard's lengths, code lists and constraints C1-C11 (see aml/ivms101/__init__.py)."""

from __future__ import annotations

import enum
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kyc.countries import COUNTRY_CODES

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LEI = re.compile(r"^[0-9A-Z]{18}[0-9]{2}$")


def _country(code: str) -> str:
    # IVMS101 C3: ISO 3166-1 alpha-2, or "XX" where the country is not known.
    if code != "XX" and code not in COUNTRY_CODES:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


Country = Annotated[str, AfterValidator(_country)]
# Present text is never empty; the maximum lengths are the standard's.
Text16 = Annotated[str, Field(min_length=1, max_length=16)]
Text35 = Annotated[str, Field(min_length=1, max_length=35)]
Text50 = Annotated[str, Field(min_length=1, max_length=50)]
Text70 = Annotated[str, Field(min_length=1, max_length=70)]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]
NaturalNameType = Literal["ALIA", "BIRT", "MAID", "LEGL", "MISC"]
LegalNameType = Literal["LEGL", "SHRT", "TRAD"]
AddressType = Literal["HOME", "BIZZ", "GEOG"]
NationalIdType = Literal["ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC"]
Transliteration = Literal[
    "arab", "aran", "armn", "cyrl", "deva", "geor", "grek", "hani", "hebr", "kana", "kore", "thai", "othr"
]  # fmt: skip
LEGAL_PERSON_ID_TYPES = frozenset({"RAID", "MISC", "LEIX", "TXID"})


class TravelData(enum.StrEnum):
    """Data a jurisdiction requires to travel beyond IVMS101's minimum (both parties'
    names): the vocabulary of a travel-rule rule's `required_data`."""

    ORIGINATOR_ACCOUNT_NUMBER = "originator.account_number"
    ORIGINATOR_ADDRESS = "originator.address"
    ORIGINATOR_NATIONAL_ID = "originator.national_id"
    ORIGINATOR_CUSTOMER_ID = "originator.customer_id"
    ORIGINATOR_BIRTH = "originator.date_and_place_of_birth"
    BENEFICIARY_ACCOUNT_NUMBER = "beneficiary.account_number"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)


class NaturalPersonNameId(_Strict):
    primary_identifier: Text100 = Field(alias="primaryIdentifier")
    secondary_identifier: Text100 | None = Field(default=None, alias="secondaryIdentifier")
    name_identifier_type: NaturalNameType = Field(alias="nameIdentifierType")


def _has_legal_name(types: list[str]) -> None:
    if "LEGL" not in types:
        raise ValueError("at least one name identifier must have type LEGL (IVMS101 C5/C6)")


class NaturalPersonName(_Strict):
    name_identifier: tuple[NaturalPersonNameId, ...] = Field(alias="nameIdentifier", min_length=1)
    local_name_identifier: tuple[NaturalPersonNameId, ...] = Field(default=(), alias="localNameIdentifier")
    phonetic_name_identifier: tuple[NaturalPersonNameId, ...] = Field(
        default=(), alias="phoneticNameIdentifier"
    )

    @field_validator("name_identifier")
    @classmethod
    def _legal_name_present(cls, value: tuple[NaturalPersonNameId, ...]) -> tuple[NaturalPersonNameId, ...]:
        _has_legal_name([n.name_identifier_type for n in value])
        return value


class Address(_Strict):
    address_type: AddressType = Field(alias="addressType")
    department: Text50 | None = None
    sub_department: Text70 | None = Field(default=None, alias="subDepartment")
    street_name: Text70 | None = Field(default=None, alias="streetName")
    building_number: Text16 | None = Field(default=None, alias="buildingNumber")
    building_name: Text35 | None = Field(default=None, alias="buildingName")
    floor: Text70 | None = None
    post_box: Text16 | None = Field(default=None, alias="postBox")
    room: Text70 | None = None
    post_code: Text16 | None = Field(default=None, alias="postCode")
    town_name: Text35 = Field(alias="townName")
    town_location_name: Text35 | None = Field(default=None, alias="townLocationName")
    district_name: Text35 | None = Field(default=None, alias="districtName")
    country_sub_division: Text35 | None = Field(default=None, alias="countrySubDivision")
    address_line: tuple[Text70, ...] = Field(default=(), alias="addressLine", max_length=7)
    country: Country

    @model_validator(mode="after")
    def _valid_address(self) -> Address:
        # C8: an addressLine, or a streetName with a buildingName or buildingNumber.
        street = self.street_name is not None and (
            self.building_name is not None or self.building_number is not None
        )
        if not self.address_line and not street:
            raise ValueError(
                "needs addressLine, or streetName with buildingName or buildingNumber (IVMS101 C8)"
            )
        return self


class NationalIdentification(_Strict):
    national_identifier: Text35 = Field(alias="nationalIdentifier")
    national_identifier_type: NationalIdType = Field(alias="nationalIdentifierType")
    country_of_issue: Country | None = Field(default=None, alias="countryOfIssue")
    registration_authority: str | None = Field(
        default=None, alias="registrationAuthority", pattern=r"^RA\d{6}$"
    )  # C10: a GLEIF Registration Authorities List code

    @model_validator(mode="after")
    def _valid_lei(self) -> NationalIdentification:
        # C11 asks for a valid LEI (ISO 17442). Only its form is checked: 18 alphanumerics
        # and 2 check digits. The mod 97 check digits are not, because TRISA's reference
        # samples, which the standard's implementers treat as valid, carry an LEI
        # (213800AQUAUP6I215N33) whose check digits fail; refusing them would refuse real
        # counterparties' payloads. A VASP's LEI is verified against GLEIF by the directory.
        if self.national_identifier_type == "LEIX" and not _LEI.match(self.national_identifier):
            raise ValueError("nationalIdentifier is not an LEI: 18 letters or digits and 2 digits (C11)")
        return self


class DateAndPlaceOfBirth(_Strict):
    date_of_birth: str = Field(alias="dateOfBirth")
    place_of_birth: Text70 = Field(alias="placeOfBirth")

    @field_validator("date_of_birth")
    @classmethod
    def _historic(cls, value: str, info: ValidationInfo) -> str:
        if not _DATE.match(value):
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            born = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("must be a date written YYYY-MM-DD") from exc
        today = (info.context or {}).get("today")
        if not isinstance(today, date):
            raise RuntimeError("IVMS101 validation needs context={'today': date}")
        if born >= today:  # C2: DateInPast
            raise ValueError("must be in the past (IVMS101 C2)")
        return value


class NaturalPerson(_Strict):
    name: NaturalPersonName
    geographic_address: tuple[Address, ...] = Field(default=(), alias="geographicAddress")
    national_identification: NationalIdentification | None = Field(
        default=None, alias="nationalIdentification"
    )
    customer_identification: Text50 | None = Field(default=None, alias="customerIdentification")
    date_and_place_of_birth: DateAndPlaceOfBirth | None = Field(default=None, alias="dateAndPlaceOfBirth")
    country_of_residence: Country | None = Field(default=None, alias="countryOfResidence")


class LegalPersonNameId(_Strict):
    legal_person_name: Text100 = Field(alias="legalPersonName")
    legal_person_name_identifier_type: LegalNameType = Field(alias="legalPersonNameIdentifierType")


class LegalPersonName(_Strict):
    name_identifier: tuple[LegalPersonNameId, ...] = Field(alias="nameIdentifier", min_length=1)
    local_name_identifier: tuple[LegalPersonNameId, ...] = Field(default=(), alias="localNameIdentifier")
    phonetic_name_identifier: tuple[LegalPersonNameId, ...] = Field(
        default=(), alias="phoneticNameIdentifier"
    )

    @field_validator("name_identifier")
    @classmethod
    def _legal_name_present(cls, value: tuple[LegalPersonNameId, ...]) -> tuple[LegalPersonNameId, ...]:
        _has_legal_name([n.legal_person_name_identifier_type for n in value])
        return value


class LegalPerson(_Strict):
    name: LegalPersonName
    geographic_address: tuple[Address, ...] = Field(default=(), alias="geographicAddress")
    customer_number: Text50 | None = Field(default=None, alias="customerNumber")
    national_identification: NationalIdentification | None = Field(
        default=None, alias="nationalIdentification"
    )
    country_of_registration: Country | None = Field(default=None, alias="countryOfRegistration")

    @field_validator("national_identification")
    @classmethod
    def _legal_person_identifier(cls, value: NationalIdentification | None) -> NationalIdentification | None:
        if value is None:
            return value
        if value.national_identifier_type not in LEGAL_PERSON_ID_TYPES:  # C7
            raise ValueError("a legal person's identifier type is RAID, MISC, LEIX or TXID (IVMS101 C7)")
        if value.country_of_issue is not None:  # C9
            raise ValueError("a legal person's identifier has no countryOfIssue (IVMS101 C9)")
        is_lei = value.national_identifier_type == "LEIX"
        if is_lei == (value.registration_authority is not None):  # C9
            raise ValueError("registrationAuthority is required unless the identifier is an LEI (IVMS101 C9)")
        return value


class Person(_Strict):
    natural_person: NaturalPerson | None = Field(default=None, alias="naturalPerson")
    legal_person: LegalPerson | None = Field(default=None, alias="legalPerson")

    @model_validator(mode="after")
    def _exactly_one(self) -> Person:
        if (self.natural_person is None) == (self.legal_person is None):
            raise ValueError("a person is exactly one of naturalPerson or legalPerson")
        return self


def _identifies_originator(person: Person) -> Person:
    # C1 (natural person) and C4 (legal person): the originator must be identifiable
    # beyond a name.
    natural, legal = person.natural_person, person.legal_person
    if natural is not None and not (
        natural.geographic_address
        or natural.customer_identification
        or natural.national_identification
        or natural.date_and_place_of_birth
    ):
        raise ValueError(
            "an originator needs geographicAddress, customerIdentification, nationalIdentification "
            "or dateAndPlaceOfBirth (IVMS101 C1)"
        )
    if legal is not None and not (
        any(a.address_type == "GEOG" for a in legal.geographic_address)
        or legal.customer_number
        or legal.national_identification
    ):
        raise ValueError(
            "an originator needs a GEOG geographicAddress, customerNumber or nationalIdentification "
            "(IVMS101 C4)"
        )
    return person


AccountNumber = Annotated[str, Field(min_length=1, max_length=100)]


class Originator(_Strict):
    originator_persons: tuple[Annotated[Person, AfterValidator(_identifies_originator)], ...] = Field(
        alias="originatorPersons", min_length=1
    )
    account_number: tuple[AccountNumber, ...] = Field(default=(), alias="accountNumber")


class Beneficiary(_Strict):
    beneficiary_persons: tuple[Person, ...] = Field(alias="beneficiaryPersons", min_length=1)
    account_number: tuple[AccountNumber, ...] = Field(default=(), alias="accountNumber")


class OriginatingVasp(_Strict):
    originating_vasp: Person = Field(alias="originatingVASP")


class BeneficiaryVasp(_Strict):
    beneficiary_vasp: Person = Field(alias="beneficiaryVASP")


class IntermediaryVasp(_Strict):
    intermediary_vasp: Person = Field(alias="intermediaryVASP")
    sequence: int = Field(ge=0)


class TransferPath(_Strict):
    transfer_path: tuple[IntermediaryVasp, ...] = Field(alias="transferPath")


class PayloadMetadata(_Strict):
    transliteration_method: tuple[Transliteration, ...] = Field(default=(), alias="transliterationMethod")


class IdentityPayload(_Strict):
    originator: Originator
    beneficiary: Beneficiary
    originating_vasp: OriginatingVasp | None = Field(default=None, alias="originatingVASP")
    beneficiary_vasp: BeneficiaryVasp | None = Field(default=None, alias="beneficiaryVASP")
    transfer_path: TransferPath | None = Field(default=None, alias="transferPath")
    payload_metadata: PayloadMetadata | None = Field(default=None, alias="payloadMetadata")
