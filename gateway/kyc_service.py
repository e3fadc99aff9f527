"""KYC use cases shared by the admin API, the console and demo seeding: submitting an
identity (which sends its verification back to pending), verifying it, and reading it as
a viewer may see it."""

from __future__ import annotations

import functools
import string
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from gateway.audit.events import EventKind, EventLog
from gateway.audit.masking import Viewer
from gateway.binance.auth import KeyDirectory
from gateway.sealing import SecretBox, derive_key, keyed_hash
from gateway.store import kyc as store
from kyc import verification as states
from kyc.errors import IllegalTransition
from kyc.hashing import national_id_hash
from kyc.identity import IdentityIn, masked
from kyc.names import match_holder_name
from rules.book import RuleBook
from rules.model import KycLevelRule

IDENTITY_HASH_PURPOSE = "kyc.national_id_hash"
ACCOUNT_HASH_PURPOSE = "kyc.bank_account_hash"
NUMBER_HASH_PURPOSE = "kyc.bank_account_number_hash"


@functools.cache
def _number_key(secret_key_b64: str) -> bytes:
    return derive_key(secret_key_b64, NUMBER_HASH_PURPOSE)


def account_number_hash(secret_key_b64: str, number: str) -> str:
    """The keyed hash of an account number's digits: the same for "123-456-789" as typed
    at registration and "123456789" as a withdrawal address."""
    return keyed_hash(_number_key(secret_key_b64), "".join(c for c in number if c in string.digits))


async def submit_identity(
    conn: asyncpg.Connection,
    box: SecretBox,
    secret_key_b64: str,
    customer_id: uuid.UUID,
    identity: IdentityIn,
    *,
    by: str,
    at: datetime,
) -> int:
    """Store the identity (a new version) and set its verification to pending: new or
    changed identity data must be checked again before it counts. Raises Conflict on a
    duplicate identity, NotFound for an unknown customer. Call inside a transaction."""
    key = derive_key(secret_key_b64, IDENTITY_HASH_PURPOSE)
    id_hash = national_id_hash(key, identity.national_id.validated()) if identity.national_id else None
    version = await store.save_identity(conn, box, customer_id, identity, id_hash, by=by, at=at)
    # Locked: an officer's decision on the previous identity, committed meanwhile on another
    # replica, is read (and recorded as what this resubmission replaces), not overwritten.
    # One still in flight finds the row changed and is refused.
    current = await store.load_verification(conn, customer_id, for_update=True)
    if current is None:
        pending = states.submit(by=by, at=at)
    else:
        pending = states.resubmit(current.verification, by=by, at=at)
    await store.save_verification(conn, customer_id, pending, at, over=current)
    await _recheck_holder_names(conn, box, customer_id, identity)
    return version


async def _recheck_holder_names(
    conn: asyncpg.Connection, box: SecretBox, customer_id: uuid.UUID, identity: IdentityIn
) -> None:
    """A real-name account counts only while its holder is the customer on record: with a
    new identity (perhaps another person's name), every account's holder is compared again."""
    for account_id, holder in await store.bank_account_holders(conn, box, customer_id):
        match = match_holder_name(holder, identity.legal_name, identity.native_name)
        await store.set_holder_name_matches(conn, account_id, match.matches)


async def verify(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    *,
    by: str,
    at: datetime,
    level: str,
    valid_until: date | None = None,
    note: str | None = None,
) -> states.Verification:
    current = await store.load_verification(conn, customer_id)
    if current is None:
        raise IllegalTransition("no identity has been submitted for this customer")
    verified = states.verify(
        current.verification, by=by, at=at, level=level, valid_until=valid_until, note=note
    )
    await store.save_verification(conn, customer_id, verified, at, over=current)
    return verified


async def identity_view(
    conn: asyncpg.Connection, box: SecretBox, customer_id: uuid.UUID, viewer: Viewer, *, today: date
) -> dict[str, Any] | None:
    """The identity on record as `viewer` may see it (None: none submitted). Identity
    documents are the most sensitive data we hold: in clear only for an officer who
    unmasked this customer (a logged access), never by role alone."""
    stored = await store.load_identity(conn, box, customer_id)
    if stored is None:
        return None
    clear = viewer.unmasked_customer == customer_id
    identity = IdentityIn.model_validate(stored.personal, context={"today": today})
    return {
        "customer_id": stored.customer_id,
        "version": stored.version,
        "updated_at": stored.updated_at,
        "masked": not clear,
        "identity": stored.personal if clear else masked(identity),
    }


class VerificationRefused(Exception):
    """A verification decision not recorded: invalid as asked (`conflict` False), or at odds
    with the record as it stands (`conflict` True). `field`/`problem` name what to fix."""

    def __init__(self, message: str, *, conflict: bool, field: str | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class VerificationDecision:
    decision: str  # verify, reject or expire
    level: str | None = None
    valid_until: date | None = None
    note: str | None = None


def verification_levels(book: RuleBook, home: str, on: date) -> set[str]:
    """The verification levels the home jurisdiction's pack defines on that day."""
    found = book.applicable(home=home, residence=None, region=None, on=on)
    return {rule.level for _, rule in book.of_kind(KycLevelRule, found)}


def _decided(
    asked: VerificationDecision, current: states.Verification, actor: str, now: datetime, levels: set[str]
) -> states.Verification:
    if asked.decision == "verify":
        if asked.level not in levels:
            raise VerificationRefused(
                "Unknown verification level.", conflict=False, field="level",
                problem=f"one of {', '.join(sorted(levels))}",
            )  # fmt: skip
        return states.verify(
            current, by=actor, at=now, level=asked.level, valid_until=asked.valid_until, note=asked.note
        )
    if asked.decision == "reject":
        if not asked.note:
            raise VerificationRefused(
                "A rejection needs a note.", conflict=False, field="note", problem="required to reject"
            )
        return states.reject(current, by=actor, at=now, note=asked.note)
    return states.expire(current, by=actor, at=now)


async def record_verification(
    pool: asyncpg.Pool,
    events: EventLog,
    keys: KeyDirectory,
    customer_id: uuid.UUID,
    asked: VerificationDecision,
    *,
    actor: str,
    now: datetime,
    levels: set[str],
    home: str,
) -> states.Verification:
    """An officer's verification decision, saved with its audit entry in one transaction,
    or VerificationRefused saying why not."""
    if asked.decision == "verify" and not levels:
        # "one of" an empty list tells an officer nothing: say why no level can be given.
        raise VerificationRefused(
            f"The home pack ({home}) defines no verification levels: customers cannot be verified under it.",
            conflict=False, field="level", problem=f"no_levels_in_home_pack_{home}",
        )  # fmt: skip
    async with pool.acquire() as conn, events.transaction(conn) as log:
        # Not locked: the decision is saved only if the row is still the one read here, so
        # an officer whose verification changed meanwhile (another officer's decision, or a
        # new identity, on any replica) is told so rather than deciding on what they did not see.
        current = await store.load_verification(conn, customer_id)
        if current is None:
            raise VerificationRefused("No identity has been submitted for this customer.", conflict=True)
        try:
            changed = _decided(asked, current.verification, actor, now, levels)
        except IllegalTransition as exc:
            raise VerificationRefused(str(exc), conflict=True) from exc
        except ValueError as exc:  # e.g. valid_until before today
            raise VerificationRefused(
                str(exc), conflict=False, field="valid_until", problem=str(exc)
            ) from exc
        try:
            await store.save_verification(conn, customer_id, changed, now, over=current)
        except store.StaleVerification as exc:
            raise VerificationRefused(
                "The verification changed while this decision was made: read it again and decide.",
                conflict=True, field="status", problem="changed_concurrently",
            ) from exc  # fmt: skip
        await log.append(
            EventKind.KYC_CHANGED, actor, subject_type="customer", subject_id=str(customer_id),
            details={"change": "verification", "status": changed.status.value, "level": changed.level},
        )  # fmt: skip
    keys.forget()  # what the customer may do changes at once on this replica, not at cache expiry
    return changed
