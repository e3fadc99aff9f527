"""KYC records in Postgres: identities (sealed), verification, real-name bank accounts.

Personal fields are sealed with the installation's key before they reach SQL; what stays
in clear is what the rules need (types, flags, expiry dates) and keyed hashes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from gateway.sealing import SecretBox
from gateway.store.customers import Conflict, NotFound
from kyc.identity import IdentityIn
from kyc.verification import HistoryEntry, Verification, VerificationStatus


class StaleVerification(Exception):
    """The verification changed after it was read: a change worked out from the old state
    is not saved (another request, perhaps on another replica, got there first)."""


@dataclass(frozen=True)
class StoredVerification:
    verification: Verification
    # The row's version: save_verification writes a change only over the row it was made from.
    updated_at: datetime


@dataclass(frozen=True)
class StoredIdentity:
    customer_id: str
    version: int
    personal: dict[str, Any]  # the unsealed document: handle as personal data
    pep: bool
    risk_rating: str
    document_expiry: date | None
    updated_at: datetime
    updated_by: str


def _identity_document(identity: IdentityIn) -> bytes:
    """Everything in the identity, secrets revealed, as JSON: this is what gets sealed."""
    data = identity.model_dump(mode="json")
    if identity.national_id is not None:
        data["national_id"]["number"] = identity.national_id.number.get_secret_value()
    if identity.identity_document is not None:
        data["identity_document"]["number"] = identity.identity_document.number.get_secret_value()
    return orjson.dumps(data)


async def save_identity(
    conn: asyncpg.Connection,
    box: SecretBox,
    customer_id: uuid.UUID,
    identity: IdentityIn,
    national_id_hash: str | None,
    *,
    by: str,
    at: datetime,
) -> int:
    """Insert or replace the identity, keep the old one in history; returns the version."""
    sealed = box.seal(_identity_document(identity).decode(), bound_to=f"identity:{customer_id}")
    document = identity.identity_document
    try:
        version = await conn.fetchval(
            """INSERT INTO kyc_identities AS k (customer_id, version, sealed, national_id_hash,
                   national_id_type, document_expiry, pep, risk_rating, updated_at, updated_by)
               VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (customer_id) DO UPDATE SET version = k.version + 1,
                   sealed = EXCLUDED.sealed, national_id_hash = EXCLUDED.national_id_hash,
                   national_id_type = EXCLUDED.national_id_type,
                   document_expiry = EXCLUDED.document_expiry, pep = EXCLUDED.pep,
                   risk_rating = EXCLUDED.risk_rating, updated_at = EXCLUDED.updated_at,
                   updated_by = EXCLUDED.updated_by
               RETURNING version""",
            customer_id,
            sealed,
            national_id_hash,
            identity.national_id.type if identity.national_id else None,
            document.expiry_date if document else None,
            identity.pep,
            identity.risk_rating.value,
            at,
            by,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("this national id is already registered to another customer") from exc
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound("no such customer") from exc
    await conn.execute(
        """INSERT INTO kyc_identity_history
               (customer_id, version, sealed, national_id_hash, changed_at, changed_by)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        customer_id, version, sealed, national_id_hash, at, by,
    )  # fmt: skip
    await conn.execute(
        """UPDATE customers SET customer_type = $2, nationality = $3, residence_country = $4,
               residence_region = $5, updated_at = $6 WHERE id = $1""",
        customer_id, identity.customer_type.value, identity.nationality, identity.residence_country,
        identity.residence_region, at,
    )  # fmt: skip
    return int(version)


async def load_identity(
    conn: asyncpg.Connection, box: SecretBox, customer_id: uuid.UUID
) -> StoredIdentity | None:
    row = await conn.fetchrow("SELECT * FROM kyc_identities WHERE customer_id = $1", customer_id)
    if row is None:
        return None
    personal = orjson.loads(box.open(row["sealed"], bound_to=f"identity:{customer_id}"))
    return StoredIdentity(
        str(customer_id), row["version"], personal, row["pep"], row["risk_rating"],
        row["document_expiry"], row["updated_at"], row["updated_by"],
    )  # fmt: skip


async def load_verification(
    conn: asyncpg.Connection, customer_id: uuid.UUID, *, for_update: bool = False
) -> StoredVerification | None:
    """`for_update` locks the row until the transaction ends: a change made from it then
    cannot be overtaken (waiting instead for whoever holds it, and reading what they wrote)."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM kyc_verifications WHERE customer_id = $1{lock}", customer_id)
    if row is None:
        return None
    verification = Verification(
        VerificationStatus(row["status"]), row["level"], row["verified_by"], row["verified_at"],
        row["valid_until"], row["note"],
    )  # fmt: skip
    return StoredVerification(verification, row["updated_at"])


async def save_verification(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    verification: Verification,
    at: datetime,
    *,
    over: StoredVerification | None,
) -> None:
    """Write the new state and append its newest history entry (the one this change made).

    Only over the row the change was made from (`over`, as loaded; None for a first
    submission): if another transaction changed or created it since, nothing is written and
    StaleVerification is raised, so two officers deciding the same pending verification on
    two replicas cannot both succeed. Call inside a transaction and let it roll back."""
    values = (
        customer_id, verification.status.value, verification.level, verification.verified_by,
        verification.verified_at, verification.valid_until, verification.note, at,
    )  # fmt: skip
    if over is None:
        done = await conn.execute(
            """INSERT INTO kyc_verifications (customer_id, status, level, verified_by, verified_at,
                   valid_until, note, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (customer_id) DO NOTHING""",
            *values,
        )
    else:
        # The row lock this takes is waited for; once the other transaction commits, the
        # condition is checked again against what it wrote.
        done = await conn.execute(
            """UPDATE kyc_verifications SET status = $2, level = $3, verified_by = $4,
                   verified_at = $5, valid_until = $6, note = $7, updated_at = $8
                WHERE customer_id = $1 AND updated_at = $9""",
            *values, over.updated_at,
        )  # fmt: skip
    if done.rsplit(" ", 1)[-1] == "0":
        raise StaleVerification("the verification changed after it was read")
    entry: HistoryEntry = verification.history[-1]
    await conn.execute(
        """INSERT INTO kyc_verification_history
               (customer_id, at, by_whom, from_status, to_status, level, note)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        customer_id, entry.at, entry.by, entry.from_status.value if entry.from_status else None,
        entry.to_status.value, entry.level, entry.note,
    )  # fmt: skip


async def verification_history(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT at, by_whom AS by, from_status, to_status, level, note
             FROM kyc_verification_history WHERE customer_id = $1 ORDER BY seq""",
        customer_id,
    )
    return [dict(r) for r in rows]


async def add_bank_account(
    conn: asyncpg.Connection,
    box: SecretBox,
    customer_id: uuid.UUID,
    fields: dict[str, Any],
    account_hash: str,
    *,
    by: str,
    at: datetime,
) -> dict[str, Any]:
    account_id = uuid.uuid4()
    sealed = box.seal(
        orjson.dumps(
            {"account_number": fields["account_number"], "holder_name": fields["holder_name"]}
        ).decode(),
        bound_to=f"bank_account:{account_id}",
    )
    try:
        row = await conn.fetchrow(
            """INSERT INTO bank_accounts (id, customer_id, currency, bank_code, partner_bank, sealed,
                   account_hash, holder_confirmed, holder_name_matches, created_at, created_by,
                   number_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               RETURNING id::text AS id, currency, bank_code, partner_bank, holder_confirmed,
                         holder_name_matches, status, created_at""",
            account_id, customer_id, fields["currency"], fields["bank_code"], fields["partner_bank"],
            sealed, account_hash, fields["holder_confirmed"], fields["holder_name_matches"], at, by,
            fields.get("number_hash"),
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("this account is already on the customer's record") from exc
    return dict(row)


async def bank_account_holders(
    conn: asyncpg.Connection, box: SecretBox, customer_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """Each of the customer's accounts with its holder name, opened."""
    rows = await conn.fetch("SELECT id, sealed FROM bank_accounts WHERE customer_id = $1", customer_id)
    return [
        (r["id"], orjson.loads(box.open(r["sealed"], bound_to=f"bank_account:{r['id']}"))["holder_name"])
        for r in rows
    ]


async def set_holder_name_matches(conn: asyncpg.Connection, account_id: uuid.UUID, matches: bool) -> None:
    await conn.execute("UPDATE bank_accounts SET holder_name_matches = $2 WHERE id = $1", account_id, matches)


async def bank_accounts(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id::text AS id, currency, bank_code, partner_bank, holder_confirmed,
                  holder_name_matches, status, created_at
             FROM bank_accounts WHERE customer_id = $1 ORDER BY created_at""",
        customer_id,
    )
    return [dict(r) for r in rows]
