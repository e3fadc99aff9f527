"""KYC facts are worked out once per record, customer, day, currency and destination, and
their dumps found by identity: what a call is decided and recorded on must be what working
it out afresh gives, whichever of those changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from gateway.decide import facts_codec
from gateway.decide.kyc_facts import BankAccountRecord, KycRecord, _work_out, kyc_facts
from kyc.verification import Verification, VerificationStatus
from policy.facts import CustomerFacts, CustomerStatus

CUSTOMER = CustomerFacts("c-1", CustomerStatus.ACTIVE, "KR", None, "KR")
RECORD = KycRecord(
    Verification(VerificationStatus.VERIFIED, "full", "officer", datetime(2024, 1, 2, tzinfo=UTC)),
    date(2030, 1, 1),
    date(2008, 6, 15),  # 18 on 15 June 2026
    (
        BankAccountRecord("KRW", True, True, True, "hash-krw"),
        BankAccountRecord("USD", True, False, False, "hash-usd"),
    ),
)
DAY = date(2026, 6, 14)


def test_the_same_call_gets_the_same_facts_and_each_change_is_worked_out() -> None:
    first = kyc_facts(RECORD, CUSTOMER, "KR", DAY, "KRW", "hash-krw")
    assert first is kyc_facts(RECORD, CUSTOMER, "KR", DAY, "KRW", "hash-krw")
    assert first == _work_out(RECORD, CUSTOMER, "KR", DAY, "KRW", "hash-krw")
    assert first is not None and first.age == 17 and first.destination_is_own_account

    changes = [
        ((RECORD, CUSTOMER, "KR", date(2026, 6, 15), "KRW", "hash-krw"), "age"),
        ((RECORD, CUSTOMER, "KR", DAY, "USD", "hash-krw"), "bank_account"),
        ((RECORD, CUSTOMER, "KR", DAY, "KRW", "hash-usd"), "destination_is_own_account"),
        ((RECORD, CUSTOMER, "JP", DAY, "KRW", "hash-krw"), "is_resident_of_home"),
        ((RECORD, dataclasses.replace(CUSTOMER, residence_region="Seoul"), "KR", DAY, "KRW", "hash-krw"),
         "residence_region"),
        ((dataclasses.replace(RECORD, document_expiry=date(2026, 1, 1)), CUSTOMER, "KR", DAY, "KRW", "hash-krw"),
         "verification"),
    ]  # fmt: skip
    for args, field in changes:
        facts = kyc_facts(*args)
        assert facts == _work_out(*args)
        assert facts is not None and getattr(facts, field) != getattr(first, field), field


def test_an_equal_record_in_a_new_object_gets_equal_facts() -> None:
    """A key cache refill brings new objects with the same content."""
    again = kyc_facts(dataclasses.replace(RECORD), dataclasses.replace(CUSTOMER), "KR", DAY, "KRW", None)
    assert again == kyc_facts(RECORD, CUSTOMER, "KR", DAY, "KRW", None)


def test_shared_dumps_follow_the_value_not_only_the_object() -> None:
    shared = facts_codec._SharedDumps(4)
    adapter = facts_codec._FIELD_ADAPTERS[[n for n, _ in facts_codec._FIELD_ADAPTERS].index("customer")][1]
    first = shared.dump(adapter, CUSTOMER)
    assert shared.dump(adapter, CUSTOMER) is first
    assert shared.dump(adapter, dataclasses.replace(CUSTOMER)) == first
    moved = dataclasses.replace(CUSTOMER, residence_country="JP")
    assert shared.dump(adapter, moved) == adapter.dump_python(moved, mode="json") != first
    for n in range(10):  # past its bound: cleared, and still right
        other = dataclasses.replace(CUSTOMER, customer_id=f"c-{n}")
        assert shared.dump(adapter, other) == adapter.dump_python(other, mode="json")
