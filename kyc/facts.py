"""What the KYC stage knows about a customer when a request arrives.

The gateway fills these in from the stored KYC record before the pipeline runs (no I/O
in the stage). Nothing personal is kept here: an age, not a date of birth; booleans
about the bank account, not its number or holder name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kyc.verification import Effectiveness


class CustomerType(enum.StrEnum):
    """Who the identity belongs to: a person or a company (the pipeline's customer facts
    carry it too, so it lives here, below both)."""

    INDIVIDUAL = "individual"
    CORPORATE = "corporate"


@dataclass(frozen=True, slots=True)
class BankAccountFacts:
    """The customer's real-name bank account (Korea's 실명확인 입출금계정)."""

    holder_confirmed: bool  # the bank confirmed the account is in the customer's name
    holder_name_matches: bool  # the holder name the bank reports matches the KYC name (kyc.names)
    at_partner_bank: bool  # held at the exchange's partner (collection-account) bank


@dataclass(frozen=True, slots=True)
class KycFacts:
    customer_type: CustomerType
    verification: Effectiveness  # effective, or what is missing
    level: str | None  # verification level (a rule-pack level name); None unless verified
    age: int | None  # whole years on the request date (kyc.age); None for corporates
    nationality: str
    residence_country: str
    residence_region: str | None
    is_resident_of_home: bool  # resident of the exchange's home country (the gateway decides)
    bank_account: BankAccountFacts | None = None  # None: no real-name account on record
    # A withdrawal's destination is one of the customer's own confirmed accounts in the
    # currency; None when the call names no destination.
    destination_is_own_account: bool | None = None

    @property
    def has_bank_account(self) -> bool:
        return self.bank_account is not None
