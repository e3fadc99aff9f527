"""What a parsed payload is checked for beyond its shape: whether it names the customer
(originator of a withdrawal, beneficiary of a deposit), and the data a jurisdiction
requires beyond the standard's minimum (`missing_data`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aml.ivms101.model import IdentityPayload, Person, TravelData
from aml.ivms101.parse import FieldError
from kyc.names import NameMatch, NameMatchReason, match_holder_name


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
