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

`missing_data` checks a parsed payload for the elements a jurisdiction requires beyond
the standard's minimum (the rule packs' `required_data`, `TravelData` here).
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kyc.countries import COUNTRY_CODES
from kyc.names import NameMatch, NameMatchReason, match_holder_name

# A travel-rule payload describes two parties; anything larger is not one.
MAX_PAYLOAD_CHARS = 64 * 1024
# Arrays and objects nested deeper than this are refused before any parser sees them. The
# deepest IVMS101 structure is 9 levels (the payload, transferPath, its transferPath list,
# an intermediary, its intermediaryVASP person, naturalPerson, geographicAddress, an
# address, its addressLine; a nameIdentifier entry is as deep), so 32 leaves room for
# any member the standard might add while staying far below where the parsers give out:
# Python's json recurses once per level and raises RecursionError near the interpreter's
# limit (1000, less on a deep stack), which no caller expects from a validator.
MAX_NESTING = 32
# A JSON string (brackets inside it are text), or an unterminated one: that runs to the
# end, where the parser will stop too. Never backtracks, so the scan is linear.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
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


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path in the payload's spelling, e.g. "originator.originatorPersons.0"
    message: str


class Ivms101Invalid(ValueError):
    """The payload is refused; `errors` names every field at fault, `field` the first."""

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @property
    def field(self) -> str:
        return self.errors[0].field


_ROOT = "(payload)"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise Ivms101Invalid(tuple(FieldError(k, "key given twice") for k in duplicates))
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise Ivms101Invalid((FieldError(_ROOT, f"{name} is not JSON"),))


def _too_deep(raw: str | bytes) -> bool:
    """Are arrays and objects nested deeper than MAX_NESTING? Counted the way the parser
    reads them: brackets inside strings are not structure."""
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError:
        return False  # json.loads refuses it as not JSON
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_NESTING:
            return True
    return False


def _message(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, through tuple[...], Optional and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _keys_of(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    return {field.alias or name: _model_in(field.annotation) for name, field in model.model_fields.items()}


def _keys_at(model: type[BaseModel], parent: Sequence[str | int]) -> list[str]:
    """The keys the object at `parent` (a validation error's location) may have."""
    current: type[BaseModel] | None = model
    for part in parent:
        if isinstance(part, int):
            continue  # an index into a list: the same model
        current = _keys_of(current).get(part) if current is not None else None
    return list(_keys_of(current)) if current is not None else []


def _spelling(key: str) -> str:
    return key.replace("_", "").lower()


def _meant(key: str, allowed: list[str]) -> str | None:
    """The key a sender most likely meant: the same letters in another case or with
    underscores (`Originator`, `originator_persons`), else the closest spelling."""
    same = [k for k in allowed if _spelling(k) == _spelling(key)]
    if same:
        return same[0]
    spelt = {_spelling(k): k for k in allowed}
    close = difflib.get_close_matches(_spelling(key), list(spelt), n=1, cutoff=0.8)
    return spelt[close[0]] if close else None


def _errors(exc: ValidationError, model: type[BaseModel]) -> tuple[FieldError, ...]:
    """The validation errors, an unknown key first and named as such. A required key
    left "missing" because the sender spelt it another way is the same mistake: only the
    unknown key is reported for it."""
    unknown: list[FieldError] = []
    explained: set[tuple[str | int, ...]] = set()
    for e in exc.errors():
        if e["type"] != "extra_forbidden":
            continue
        *parent, key = e["loc"]
        meant = _meant(str(key), _keys_at(model, parent))
        hint = f" (did you mean {meant!r}?)" if meant else ""
        unknown.append(FieldError(".".join(str(p) for p in e["loc"]), f"unknown field {str(key)!r}{hint}"))
        if meant:
            explained.add((*parent, meant))
    rest = [
        FieldError(".".join(str(p) for p in e["loc"]) or _ROOT, _message(e))
        for e in exc.errors()
        if e["type"] != "extra_forbidden" and not (e["type"] == "missing" and tuple(e["loc"]) in explained)
    ]
    return (*unknown, *rest)


M = TypeVar("M", bound=BaseModel)


def bounds_problem(raw: str | bytes) -> str | None:
    """Why a payload is refused before any parser reads it (too long, nested too deep)."""
    if len(raw) > MAX_PAYLOAD_CHARS:
        return f"longer than {MAX_PAYLOAD_CHARS} characters"
    if _too_deep(raw):
        return f"nested deeper than {MAX_NESTING} levels"
    return None


def parse(raw: str | bytes, model: type[M], *, today: date) -> M:
    """Validate `raw` JSON as `model` (IdentityPayload, Person, Address, …) or raise
    `Ivms101Invalid`. `today` decides whether a date of birth is in the past."""
    too_big = bounds_problem(raw)
    if too_big is not None:
        raise Ivms101Invalid((FieldError(_ROOT, too_big),))
    try:
        # First pass only to refuse what the validator would silently resolve:
        # a key given twice (which copy counts?) and NaN/Infinity.
        json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise Ivms101Invalid((FieldError(_ROOT, f"not valid JSON: {exc.msg}"),)) from exc
    except UnicodeDecodeError as exc:  # bytes in none of JSON's encodings
        raise Ivms101Invalid(
            (FieldError(_ROOT, "not valid JSON: not UTF-8, UTF-16 or UTF-32 text"),)
        ) from exc
    try:
        return model.model_validate_json(raw, context={"today": today})
    except ValidationError as exc:
        raise Ivms101Invalid(_errors(exc, model)) from exc


def parse_payload(raw: str | bytes, *, today: date) -> IdentityPayload:
    return parse(raw, IdentityPayload, today=today)


def _ordered_names(primary: str, secondary: str | None) -> list[str]:
    # IVMS101: primaryIdentifier is the family name. Latin names are usually written
    # given name first, CJK names family name first; try both and let the matcher judge.
    if not secondary:
        return [primary]
    return [f"{secondary} {primary}", f"{primary} {secondary}"]


def _legal_names(person: Person) -> list[str]:
    """Every legal name a person carries (LEGL identifiers, Latin and local script)."""
    if person.natural_person is not None:
        name = person.natural_person.name
        return [
            text
            for n in (*name.name_identifier, *name.local_name_identifier)
            if n.name_identifier_type == "LEGL"
            for text in _ordered_names(n.primary_identifier, n.secondary_identifier)
        ]
    assert person.legal_person is not None  # Person guarantees exactly one
    legal = person.legal_person.name
    return [
        n.legal_person_name
        for n in (*legal.name_identifier, *legal.local_name_identifier)
        if n.legal_person_name_identifier_type == "LEGL"
    ]


def originator_name(payload: IdentityPayload) -> str:
    """The first originator's legal name (given name first for a natural person)."""
    return _legal_names(payload.originator.originator_persons[0])[0]


def matches_customer(payload: IdentityPayload, legal_name: str, native_name: str | None) -> NameMatch:
    """Does an originator's legal name match the customer's KYC name? Same comparison as
    the real-name bank account check (kyc.names): presentation forgiven, letters not."""
    return _any_matches(payload.originator.originator_persons, legal_name, native_name)


def matches_beneficiary(payload: IdentityPayload, legal_name: str, native_name: str | None) -> NameMatch:
    """For a deposit the customer is the beneficiary (the originator is the other side):
    does a beneficiary's legal name match the customer's KYC name? Same comparison."""
    return _any_matches(payload.beneficiary.beneficiary_persons, legal_name, native_name)


def _any_matches(persons: Sequence[Person], legal_name: str, native_name: str | None) -> NameMatch:
    for person in persons:
        for candidate in _legal_names(person):
            found = match_holder_name(candidate, legal_name, native_name)
            if found.matches:
                return found
    return NameMatch(False, NameMatchReason.MISMATCH, None)


# Where each element sits: on the party (its accountNumber), or on each of its persons
# (a natural person's key, a legal person's key; None where a legal person has none).
_PARTY_KEYS: dict[TravelData, str] = {
    TravelData.ORIGINATOR_ACCOUNT_NUMBER: "accountNumber",
    TravelData.BENEFICIARY_ACCOUNT_NUMBER: "accountNumber",
}
_PERSON_KEYS: dict[TravelData, tuple[str, str | None]] = {
    TravelData.ORIGINATOR_ADDRESS: ("geographicAddress", "geographicAddress"),
    TravelData.ORIGINATOR_NATIONAL_ID: ("nationalIdentification", "nationalIdentification"),
    TravelData.ORIGINATOR_CUSTOMER_ID: ("customerIdentification", "customerNumber"),
    TravelData.ORIGINATOR_BIRTH: ("dateAndPlaceOfBirth", None),
}


def _party(payload: IdentityPayload, element: TravelData) -> tuple[str, dict[str, Any], list[Person]]:
    if element.value.startswith("beneficiary."):
        beneficiary = payload.beneficiary
        return "beneficiary", beneficiary.model_dump(by_alias=True), list(beneficiary.beneficiary_persons)
    originator = payload.originator
    return "originator", originator.model_dump(by_alias=True), list(originator.originator_persons)


def _person_has(person: Person, element: TravelData) -> tuple[bool, str]:
    """Whether `person` carries the element, and its key for that kind of person."""
    natural_key, legal_key = _PERSON_KEYS[element]
    if person.natural_person is not None:
        return bool(person.natural_person.model_dump(by_alias=True).get(natural_key)), "naturalPerson"
    assert person.legal_person is not None  # Person guarantees exactly one
    found = legal_key is not None and bool(person.legal_person.model_dump(by_alias=True).get(legal_key))
    return found, "legalPerson"


def _key(element: TravelData, kind: str) -> str | None:
    if element in _PARTY_KEYS:
        return _PARTY_KEYS[element]
    natural_key, legal_key = _PERSON_KEYS[element]
    return natural_key if kind == "naturalPerson" else legal_key


def _missing(what: list[str]) -> str:
    if len(what) == 1:
        return f"{what[0]} is required by the travel rule in force"
    return f"one of {', '.join(what[:-1])} or {what[-1]} is required by the travel rule in force"


def missing_data(
    payload: IdentityPayload, required: Sequence[Sequence[TravelData]]
) -> tuple[FieldError, ...]:
    """What `required` asks for and the payload lacks: one error per entry (an element,
    or alternatives of which one must be there) and, for data about a person, per person.
    Each names the field in the payload's spelling."""
    errors: list[FieldError] = []
    for group in required:
        party, fields, persons = _party(payload, group[0])
        on_party = [e for e in group if e in _PARTY_KEYS and fields.get(_PARTY_KEYS[e])]
        if on_party:
            continue
        per_person = [e for e in group if e in _PERSON_KEYS]
        if not per_person:
            keys = [_PARTY_KEYS[e] for e in group]
            errors.append(FieldError(f"{party}.{keys[0]}", _missing(keys)))
            continue
        member = "originatorPersons" if party == "originator" else "beneficiaryPersons"
        for index, person in enumerate(persons):
            found = [_person_has(person, e) for e in per_person]
            if any(has for has, _ in found):
                continue
            kind = found[0][1]
            # A legal person has no date of birth: name what a natural person would give.
            keys = [k for k in (_key(e, kind) for e in group) if k is not None] or [
                _PERSON_KEYS[e][0] for e in per_person
            ]
            path = f"{party}.{member}.{index}.{kind}" + (f".{keys[0]}" if len(keys) == 1 else "")
            errors.append(FieldError(path, _missing(keys)))
    return tuple(errors)
