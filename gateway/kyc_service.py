"""KYC use cases shared by the admin API and demo seeding: submitting an identity (which
sends its verification back to pending) and verifying it."""

from __future__ import annotations

import functools
import string
import uuid
from datetime import date, datetime

import asyncpg

from gateway.sealing import SecretBox, derive_key, keyed_hash
from gateway.store import kyc as store
from kyc import verification as states
from kyc.errors import IllegalTransition
from kyc.hashing import national_id_hash
from kyc.identity import IdentityIn
from kyc.names import match_holder_name

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
