"""The customer's identity as the admin API receives it, validated field by field.

Validate with `parse_identity(data, today=...)` (or `IdentityIn.model_validate(data,
context={"today": ...})`): `today` decides what "in the future" means, so tests are
deterministic. Errors are pydantic `ValidationError`s whose ``loc`` names the field
(``date_of_birth``, ``national_id.number``, ...) and whose inputs are hidden, so neither
an error message nor `repr`/`str` of a record carries personal data; `masked` is the view
for logs and admin responses.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kyc.countries import normalise_country, normalise_region
from kyc.errors import KycValidationError
from kyc.facts import CustomerType
from kyc.national_id import (
    NationalId,
    consistent_with_birth_date,
    mask_number,
    normalise_id_type,
    validate_national_id,
)

# Nobody alive was born before this; an earlier date of birth is a typing error.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
NAME_MAX_LENGTH = 200


class RiskRating(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DocumentType(enum.StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID_CARD = "national_id_card"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"


def _refuse(error: KycValidationError) -> PydanticCustomError:
    # Passed as context, not as the template: a brace in the message is not a placeholder.
    return PydanticCustomError(error.code, "{message}", {"message": error.message})


def _missing(message: str) -> PydanticCustomError:
    return PydanticCustomError("missing", message)


def _date_only(value: Any) -> Any:
    # Lax pydantic reads numbers as Unix times; a date of birth is written as a date.
    if isinstance(value, datetime) or not isinstance(value, str | date):
        raise PydanticCustomError("date_type", "must be a date written YYYY-MM-DD")
    return value


StrictDate = Annotated[date, BeforeValidator(_date_only)]


def _country(value: str) -> str:
    try:
        return normalise_country(value)
    except KycValidationError as exc:
        raise _refuse(exc) from None


def _today(info: ValidationInfo) -> date:
    context = info.context if isinstance(info.context, Mapping) else {}
    today = context.get("today")
    # Without a context the server's UTC date is used; tests and replays pass one.
    return today if isinstance(today, date) else datetime.now(UTC).date()


class _Model(BaseModel):
    # hide_input_in_errors: a refused national id must not reappear in an error or a log.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, str_strip_whitespace=True
    )


class NationalIdIn(_Model):
    country: str
    type: str
    number: SecretStr

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str, info: ValidationInfo) -> str:
        if "country" not in info.data:
            return value  # the country's own error is reported
        try:
            return normalise_id_type(info.data["country"], value)
        except KycValidationError as exc:
            raise _refuse(exc) from None

    @field_validator("number")
    @classmethod
    def _valid_number(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if "country" not in info.data or "type" not in info.data:
            return value  # no rule to check against; the other field's error is reported
        try:
            checked = validate_national_id(info.data["country"], info.data["type"], value.get_secret_value())
        except KycValidationError as exc:
            raise _refuse(exc) from None
        return SecretStr(checked.number)

    def validated(self) -> NationalId:
        return validate_national_id(self.country, self.type, self.number.get_secret_value())


class IdentityDocumentIn(_Model):
    type: DocumentType
    number: SecretStr
    issuing_country: str
    expiry_date: StrictDate | None = None

    @field_validator("issuing_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("number")
    @classmethod
    def _number(cls, value: SecretStr) -> SecretStr:
        compact = re.sub(r"[\s\-]", "", value.get_secret_value()).upper()
        if not re.fullmatch(r"[A-Z0-9]{5,20}", compact):
            raise PydanticCustomError("document_number_invalid", "must be 5-20 letters or digits")
        return SecretStr(compact)

    @model_validator(mode="after")
    def _passport_expires(self) -> IdentityDocumentIn:
        if self.type is DocumentType.PASSPORT and self.expiry_date is None:
            raise _missing("expiry_date: required for a passport")
        return self


class ContactIn(_Model):
    email: str | None = Field(default=None, repr=False, max_length=254)
    phone: str | None = Field(default=None, repr=False)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        # A shape check only; the address is proven by the confirmation mail, not here.
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise PydanticCustomError("email_invalid", "must be an e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = re.sub(r"[\s\-().]", "", value)
        # ITU-T E.164: a country code and at most 15 digits in all.
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", compact):
            raise PydanticCustomError(
                "phone_invalid", "must be an international number, e.g. +82 10 1234 5678"
            )
        return compact

    @model_validator(mode="after")
    def _reachable(self) -> ContactIn:
        if self.email is None and self.phone is None:
            raise _missing("an e-mail address or a phone number is required")
        return self


class IdentityIn(_Model):
    """One customer's identity. Fields are declared in the order their checks need."""

    customer_type: CustomerType
    legal_name: str = Field(repr=False, min_length=1, max_length=NAME_MAX_LENGTH)
    native_name: str | None = Field(default=None, repr=False, min_length=1, max_length=NAME_MAX_LENGTH)
    date_of_birth: StrictDate | None = Field(default=None, repr=False, validate_default=True)
    nationality: str
    residence_country: str
    residence_region: str | None = Field(default=None, validate_default=True)
    contact: ContactIn = Field(repr=False)
    national_id: NationalIdIn | None = Field(default=None, repr=False, validate_default=True)
    identity_document: IdentityDocumentIn | None = Field(default=None, repr=False, validate_default=True)
    pep: bool = False
    risk_rating: RiskRating

    @field_validator("date_of_birth")
    @classmethod
    def _birth_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            if info.data.get("customer_type") is CustomerType.INDIVIDUAL:
                raise _missing("required for an individual customer")
            return None
        today = _today(info)
        if value > today:
            raise PydanticCustomError("date_of_birth_future", "is in the future")
        if value < EARLIEST_BIRTH_DATE:
            raise PydanticCustomError(
                "date_of_birth_impossible",
                "is before {earliest}",
                {"earliest": EARLIEST_BIRTH_DATE.isoformat()},
            )
        return value

    @field_validator("nationality", "residence_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("residence_region")
    @classmethod
    def _region(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("residence_country")
        if country is None:
            return value  # the country is already refused
        try:
            return normalise_region(country, value)
        except KycValidationError as exc:
            raise _refuse(exc) from None

    @field_validator("national_id", "identity_document")
    @classmethod
    def _required_for_individuals(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("customer_type") is CustomerType.INDIVIDUAL:
            raise _missing("required for an individual customer")
        return value

    @field_validator("national_id")
    @classmethod
    def _matches_birth_date(cls, value: NationalIdIn | None, info: ValidationInfo) -> NationalIdIn | None:
        birth_date = info.data.get("date_of_birth")
        if (
            value is not None
            and birth_date is not None
            and not consistent_with_birth_date(value.validated(), birth_date)
        ):
            raise PydanticCustomError(
                "national_id_birth_date_mismatch", "the birth date encoded in the number is not date_of_birth"
            )
        return value


def parse_identity(data: Mapping[str, Any], *, today: date) -> IdentityIn:
    """Validate an admin API body; raises pydantic's ValidationError with field locations."""
    return IdentityIn.model_validate(data, context={"today": today})


def _mask_name(name: str) -> str:
    # First letter of each word; the rest hidden with a fixed width so length leaks nothing.
    return " ".join(word[0] + "***" for word in name.split())


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def masked(identity: IdentityIn) -> dict[str, Any]:
    """A view safe for logs and admin responses: no full name, number or date of birth."""
    national_id = identity.national_id
    document = identity.identity_document
    contact = identity.contact
    return {
        "customer_type": identity.customer_type.value,
        "legal_name": _mask_name(identity.legal_name),
        "native_name": _mask_name(identity.native_name) if identity.native_name else None,
        "birth_year": identity.date_of_birth.year if identity.date_of_birth else None,
        "nationality": identity.nationality,
        "residence_country": identity.residence_country,
        "residence_region": identity.residence_region,
        "contact": {
            "email": _mask_email(contact.email) if contact.email else None,
            "phone": mask_number(contact.phone) if contact.phone else None,
        },
        "national_id": None
        if national_id is None
        else {
            "country": national_id.country,
            "type": national_id.type,
            "number": mask_number(national_id.number.get_secret_value()),
        },
        "identity_document": None
        if document is None
        else {
            "type": document.type.value,
            "issuing_country": document.issuing_country,
            "number": mask_number(document.number.get_secret_value()),
            "expiry_date": document.expiry_date.isoformat() if document.expiry_date else None,
        },
        "pep": identity.pep,
        "risk_rating": identity.risk_rating.value,
    }
