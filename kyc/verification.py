"""Verification of a customer's identity: a pure state machine with its history.

    pending  -> verified | rejected
    verified -> expired (once its validity has run out) | rejected
    any      -> pending  (the customer resubmits)

Every change returns a new `Verification` with one more `HistoryEntry`; nothing is
changed in place, and an illegal change raises `IllegalTransition`. Storage appends the
entries; the stage reads `is_effective`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime

from kyc.errors import IllegalTransition

SYSTEM_ACTOR = "system"  # who expires a verification whose validity ran out


class VerificationStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"


_ALLOWED: dict[VerificationStatus, frozenset[VerificationStatus]] = {
    VerificationStatus.PENDING: frozenset({VerificationStatus.VERIFIED, VerificationStatus.REJECTED}),
    VerificationStatus.VERIFIED: frozenset({VerificationStatus.EXPIRED, VerificationStatus.REJECTED}),
    VerificationStatus.REJECTED: frozenset(),
    VerificationStatus.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    by: str
    from_status: VerificationStatus | None  # None for the first submission
    to_status: VerificationStatus
    level: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Verification:
    status: VerificationStatus
    level: str | None = None  # set while verified: a rule-pack level name, e.g. "full"
    verified_by: str | None = None
    verified_at: datetime | None = None
    valid_until: date | None = None  # last day the verification counts; None: no end
    note: str | None = None
    history: tuple[HistoryEntry, ...] = ()


class Missing(enum.StrEnum):
    """What stands between a customer and an effective verification."""

    NOT_VERIFIED = "not_verified"
    VERIFICATION_EXPIRED = "verification_expired"
    DOCUMENT_EXPIRED = "document_expired"


@dataclass(frozen=True, slots=True)
class Effectiveness:
    missing: tuple[Missing, ...]

    @property
    def effective(self) -> bool:
        return not self.missing


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("history times must be timezone-aware (UTC)")
    return at


def _actor(by: str) -> str:
    if not by.strip():
        raise ValueError("who made the change must be named")
    return by.strip()


def _record(
    current: Verification | None,
    to: VerificationStatus,
    *,
    by: str,
    at: datetime,
    level: str | None,
    note: str | None,
) -> HistoryEntry:
    _aware(at)
    if current is not None and current.history and at < current.history[-1].at:
        raise IllegalTransition("a change cannot be dated before the previous one")
    return HistoryEntry(at, _actor(by), current.status if current else None, to, level, note)


def submit(*, by: str, at: datetime, note: str | None = None) -> Verification:
    """A new record: the customer's identity is pending review."""
    entry = _record(None, VerificationStatus.PENDING, by=by, at=at, level=None, note=note)
    return Verification(VerificationStatus.PENDING, note=note, history=(entry,))


def resubmit(current: Verification, *, by: str, at: datetime, note: str | None = None) -> Verification:
    """From any status back to pending: new documents, a new review."""
    entry = _record(current, VerificationStatus.PENDING, by=by, at=at, level=None, note=note)
    return Verification(VerificationStatus.PENDING, note=note, history=(*current.history, entry))


def _check(current: Verification, to: VerificationStatus) -> None:
    if to not in _ALLOWED[current.status]:
        raise IllegalTransition(f"{current.status.value} -> {to.value} is not allowed")


def verify(
    current: Verification,
    *,
    by: str,
    at: datetime,
    level: str,
    valid_until: date | None,
    note: str | None = None,
) -> Verification:
    _check(current, VerificationStatus.VERIFIED)
    if not level.strip():
        raise ValueError("a verification needs a level")
    if valid_until is not None and valid_until < at.date():
        raise ValueError("a verification cannot end before it is made")
    entry = _record(current, VerificationStatus.VERIFIED, by=by, at=at, level=level, note=note)
    return Verification(
        VerificationStatus.VERIFIED,
        level=level,
        verified_by=entry.by,
        verified_at=at,
        valid_until=valid_until,
        note=note,
        history=(*current.history, entry),
    )


def reject(current: Verification, *, by: str, at: datetime, note: str) -> Verification:
    """Refuse the identity; a review note saying why is required."""
    _check(current, VerificationStatus.REJECTED)
    if not note.strip():
        raise ValueError("a rejection needs a review note")
    entry = _record(current, VerificationStatus.REJECTED, by=by, at=at, level=None, note=note)
    return Verification(VerificationStatus.REJECTED, note=note, history=(*current.history, entry))


def expire(current: Verification, *, at: datetime, by: str = SYSTEM_ACTOR) -> Verification:
    """Mark a verification whose validity ran out (`valid_until` before `at`'s date)."""
    _check(current, VerificationStatus.EXPIRED)
    if current.valid_until is None or current.valid_until >= _aware(at).date():
        raise IllegalTransition("the verification has not run out yet")
    entry = _record(current, VerificationStatus.EXPIRED, by=by, at=at, level=current.level, note=None)
    return replace(current, status=VerificationStatus.EXPIRED, history=(*current.history, entry))


def is_effective(
    verification: Verification | None, identity_document_expiry: date | None, today: date
) -> Effectiveness:
    """Whether the verification counts today, and if not, everything that is missing.

    A verification or document counts through its last day (`valid_until`, the
    document's expiry date) and not after. A document without an expiry date (some
    national identity cards) never expires.
    """
    missing: list[Missing] = []
    if verification is None or verification.status in (
        VerificationStatus.PENDING,
        VerificationStatus.REJECTED,
    ):
        missing.append(Missing.NOT_VERIFIED)
    elif verification.status is VerificationStatus.EXPIRED or (
        verification.valid_until is not None and verification.valid_until < today
    ):
        missing.append(Missing.VERIFICATION_EXPIRED)
    if identity_document_expiry is not None and identity_document_expiry < today:
        missing.append(Missing.DOCUMENT_EXPIRED)
    return Effectiveness(tuple(missing))
