from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from kyc.errors import IllegalTransition
from kyc.verification import (
    Missing,
    Verification,
    VerificationStatus,
    expire,
    is_effective,
    reject,
    resubmit,
    submit,
    verify,
)

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
S = VerificationStatus


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def pending() -> Verification:
    return submit(by="customer", at=T0)


def verified(valid_until: date | None = date(2026, 12, 31)) -> Verification:
    return verify(
        pending(), by="officer-1", at=at(1), level="standard", valid_until=valid_until, note="docs ok"
    )


def rejected() -> Verification:
    return reject(pending(), by="officer-1", at=at(1), note="blurred document")


def expired() -> Verification:
    return expire(verified(date(2026, 6, 30)), at=datetime(2026, 7, 1, tzinfo=UTC))


def test_submission_starts_the_history() -> None:
    v = pending()
    assert v.status is S.PENDING
    assert [(e.from_status, e.to_status, e.by) for e in v.history] == [(None, S.PENDING, "customer")]


def test_verify_records_who_when_level_and_note() -> None:
    v = verified()
    assert (v.status, v.level, v.verified_by, v.verified_at) == (S.VERIFIED, "standard", "officer-1", at(1))
    last = v.history[-1]
    assert (last.from_status, last.to_status, last.by, last.at, last.level, last.note) == (
        S.PENDING, S.VERIFIED, "officer-1", at(1), "standard", "docs ok",
    )  # fmt: skip


LEGAL: list[tuple[str, Callable[[], Verification], VerificationStatus]] = [
    ("pending-to-verified", verified, S.VERIFIED),
    ("pending-to-rejected", rejected, S.REJECTED),
    ("verified-to-expired-by-date", expired, S.EXPIRED),
    ("verified-to-rejected", lambda: reject(verified(), by="officer-2", at=at(5), note="fraud"), S.REJECTED),
    ("pending-to-pending-resubmission", lambda: resubmit(pending(), by="customer", at=at(1)), S.PENDING),
    ("verified-to-pending-resubmission", lambda: resubmit(verified(), by="customer", at=at(5)), S.PENDING),
    ("rejected-to-pending-resubmission", lambda: resubmit(rejected(), by="customer", at=at(5)), S.PENDING),
    ("expired-to-pending-resubmission", lambda: resubmit(expired(), by="customer", at=datetime(2026, 7, 2, tzinfo=UTC)), S.PENDING),
]  # fmt: skip


@pytest.mark.parametrize(("make", "status"), [c[1:] for c in LEGAL], ids=[c[0] for c in LEGAL])
def test_legal_transitions(make: Callable[[], Verification], status: VerificationStatus) -> None:
    v = make()
    assert v.status is status
    assert v.history[-1].to_status is status
    # The history only grows, each entry starting where the previous one ended.
    for before, after in zip(v.history, v.history[1:], strict=False):
        assert after.from_status is before.to_status
        assert after.at >= before.at


ILLEGAL: list[tuple[str, Callable[[], object]]] = [
    ("rejected-to-verified", lambda: verify(rejected(), by="o", at=at(5), level="basic", valid_until=None)),
    ("expired-to-verified", lambda: verify(expired(), by="o", at=datetime(2026, 7, 2, tzinfo=UTC), level="basic", valid_until=None)),
    ("verified-to-verified", lambda: verify(verified(), by="o", at=at(5), level="full", valid_until=None)),
    ("pending-to-expired", lambda: expire(pending(), at=at(5))),
    ("rejected-to-expired", lambda: expire(rejected(), at=at(5))),
    ("rejected-to-rejected", lambda: reject(rejected(), by="o", at=at(5), note="again")),
    ("expired-to-rejected", lambda: reject(expired(), by="o", at=datetime(2026, 7, 2, tzinfo=UTC), note="x")),
    ("verified-expire-before-its-date", lambda: expire(verified(date(2026, 6, 30)), at=datetime(2026, 6, 30, 23, tzinfo=UTC))),
    ("verified-without-end-never-expires", lambda: expire(verified(None), at=at(4000))),
    ("change-dated-before-previous", lambda: reject(verified(), by="o", at=T0, note="x")),
]  # fmt: skip


@pytest.mark.parametrize("make", [c[1] for c in ILLEGAL], ids=[c[0] for c in ILLEGAL])
def test_illegal_transitions(make: Callable[[], object]) -> None:
    with pytest.raises(IllegalTransition):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: reject(pending(), by="o", at=at(1), note="  "),
        lambda: verify(pending(), by=" ", at=at(1), level="basic", valid_until=None),
        lambda: verify(pending(), by="o", at=datetime(2026, 1, 2), level="basic", valid_until=None),
        lambda: verify(pending(), by="o", at=at(1), level=" ", valid_until=None),
        lambda: verify(pending(), by="o", at=at(10), level="basic", valid_until=date(2026, 1, 2)),
    ],
    ids=["rejection-without-note", "anonymous-actor", "naive-time", "blank-level", "ends-before-made"],
)
def test_bad_arguments(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


TODAY = date(2026, 3, 1)
EFFECTIVE = [
    ("verified-document-valid", verified(), date(2030, 1, 1), ()),
    ("verified-no-end-no-document-expiry", verified(None), None, ()),
    ("document-expires-today-still-counts", verified(), TODAY, ()),
    ("no-record", None, None, (Missing.NOT_VERIFIED,)),
    ("pending", pending(), date(2030, 1, 1), (Missing.NOT_VERIFIED,)),
    ("rejected", rejected(), date(2030, 1, 1), (Missing.NOT_VERIFIED,)),
    ("expired-status", expired(), date(2030, 1, 1), (Missing.VERIFICATION_EXPIRED,)),
    ("verified-but-ran-out", verified(date(2026, 2, 28)), date(2030, 1, 1), (Missing.VERIFICATION_EXPIRED,)),
    ("document-expired-yesterday", verified(), date(2026, 2, 28), (Missing.DOCUMENT_EXPIRED,)),
    ("pending-and-document-expired", pending(), date(2020, 1, 1), (Missing.NOT_VERIFIED, Missing.DOCUMENT_EXPIRED)),
    ("both-expired", verified(date(2026, 2, 1)), date(2026, 2, 1), (Missing.VERIFICATION_EXPIRED, Missing.DOCUMENT_EXPIRED)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("verification", "document_expiry", "missing"), [c[1:] for c in EFFECTIVE], ids=[c[0] for c in EFFECTIVE]
)
def test_is_effective(
    verification: Verification | None, document_expiry: date | None, missing: tuple[Missing, ...]
) -> None:
    result = is_effective(verification, document_expiry, TODAY)
    assert result.missing == missing
    assert result.effective is (not missing)
