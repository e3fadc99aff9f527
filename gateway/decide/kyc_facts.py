"""The KYC facts of a customer, as the gateway reads them from Postgres and hands them to
the KYC stage. The date of birth is personal data: it stays in this process's memory for
the key cache's lifetime and is never logged, recorded or exported; the stage sees an age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from kyc.age import age_on
from kyc.facts import BankAccountFacts, KycFacts
from kyc.verification import Verification, VerificationStatus, is_effective
from policy.facts import CustomerFacts


@dataclass(frozen=True, slots=True)
class BankAccountRecord:
    currency: str
    holder_confirmed: bool
    holder_name_matches: bool
    partner_bank: bool
    number_hash: str | None = None  # keyed hash of the number's digits (gateway.kyc_service)


@dataclass(frozen=True, slots=True)
class KycRecord:
    verification: Verification | None
    document_expiry: date | None
    date_of_birth: date | None
    bank_accounts: tuple[BankAccountRecord, ...]

    @classmethod
    def from_row(cls, row: Any, date_of_birth: date | None) -> KycRecord:
        verification = None
        if row["v_status"] is not None:
            verification = Verification(
                VerificationStatus(row["v_status"]), row["v_level"], row["v_by"], row["v_at"],
                row["v_valid_until"], None,
            )  # fmt: skip
        accounts = tuple(
            BankAccountRecord(a["currency"], a["confirmed"], a["matches"], a["partner"], a.get("number_hash"))
            for a in row["bank_accounts"] or ()
        )
        return cls(verification, row["document_expiry"], date_of_birth, accounts)


# The facts already worked out, per record, customer, day, currency and destination. The
# record and customer are the key cache's objects (gateway/binance/auth.py), the same for
# every call with a key while it stays cached, so they are told apart by identity; each
# entry holds them, so their ids cannot be reused while it is here. Bounded: cleared when
# full.
_Key = tuple[int, int, str, date, str | None, str | None]
_WORKED_OUT: dict[_Key, tuple[KycRecord, CustomerFacts, KycFacts]] = {}
_WORKED_OUT_MAX = 4096


def kyc_facts(
    record: KycRecord | None,
    customer: CustomerFacts,
    home: str,
    today: date,
    currency: str | None,
    destination_hash: str | None = None,
) -> KycFacts | None:
    """None when no identity was ever submitted: the stage then refuses as not verified."""
    if record is None or customer.residence_country is None or customer.nationality is None:
        return None
    key = (id(record), id(customer), home, today, currency, destination_hash)
    known = _WORKED_OUT.get(key)
    if known is not None and known[0] is record and known[1] is customer:
        return known[2]
    facts = _work_out(record, customer, home, today, currency, destination_hash)
    if len(_WORKED_OUT) >= _WORKED_OUT_MAX:
        _WORKED_OUT.clear()
    _WORKED_OUT[key] = (record, customer, facts)
    return facts


def _work_out(
    record: KycRecord,
    customer: CustomerFacts,
    home: str,
    today: date,
    currency: str | None,
    destination_hash: str | None,
) -> KycFacts:
    assert customer.residence_country is not None and customer.nationality is not None
    effectiveness = is_effective(record.verification, record.document_expiry, today)
    verified = effectiveness.effective and record.verification is not None
    return KycFacts(
        customer_type=customer.customer_type,
        verification=effectiveness,
        level=record.verification.level if verified and record.verification else None,
        age=age_on(record.date_of_birth, today) if record.date_of_birth else None,
        nationality=customer.nationality,
        residence_country=customer.residence_country,
        residence_region=customer.residence_region,
        is_resident_of_home=customer.residence_country == home,
        bank_account=_best_account(record.bank_accounts, currency),
        destination_is_own_account=(
            None
            if destination_hash is None
            else any(
                a.number_hash == destination_hash and a.holder_confirmed and a.currency == currency
                for a in record.bank_accounts
            )
        ),
    )


def _best_account(accounts: tuple[BankAccountRecord, ...], currency: str | None) -> BankAccountFacts | None:
    """The customer's strongest account in the currency: confirmed, matching, at the
    partner bank if there is one. None when there is no account in that currency."""
    candidates = [a for a in accounts if currency is None or a.currency == currency]
    if not candidates:
        return None
    best = max(candidates, key=lambda a: (a.holder_confirmed and a.holder_name_matches, a.partner_bank))
    return BankAccountFacts(best.holder_confirmed, best.holder_name_matches, best.partner_bank)
