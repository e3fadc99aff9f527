"""Customers and their API keys."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.sealing import SecretBox


class Conflict(Exception):
    pass


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class IssuedKey:
    id: str
    customer_id: str
    api_key: str
    secret: str  # shown once, at issue; only its ciphertext is stored
    label: str
    created_at: datetime


_CUSTOMER_FIELDS = (
    "id::text AS id, reference, status, customer_type, residence_country, residence_region,"
    " nationality, created_at, updated_at"
)
# Fields an operator may set when creating or changing a customer.
CUSTOMER_COLUMNS = ("status", "customer_type", "residence_country", "residence_region", "nationality")
_KEY_FIELDS = (
    "id::text AS id, customer_id::text AS customer_id, api_key, label, status, created_at, revoked_at"
)


async def create_customer(conn: asyncpg.Connection, reference: str, fields: dict[str, Any]) -> dict[str, Any]:
    columns = [c for c in CUSTOMER_COLUMNS if c in fields]
    placeholders = ", ".join(f"${i}" for i in range(3, len(columns) + 3))
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO customers (id, reference{"".join(", " + c for c in columns)})
                VALUES ($1, $2{", " + placeholders if columns else ""}) RETURNING {_CUSTOMER_FIELDS}""",
            uuid.uuid4(),
            reference,
            *(fields[c] for c in columns),
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a customer with reference {reference!r} exists") from exc
    return dict(row)


async def get_customer(
    conn: asyncpg.Connection, customer_id: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any]:
    """`for_update` locks the row until the transaction ends (call it inside one)."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_CUSTOMER_FIELDS} FROM customers WHERE id = $1{lock}", customer_id)
    if row is None:
        raise NotFound("no such customer")
    return dict(row)


async def find_customer(conn: asyncpg.Connection, reference: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_CUSTOMER_FIELDS} FROM customers WHERE reference = $1", reference)
    return dict(row) if row else None


async def list_customers(conn: asyncpg.Connection, limit: int, after: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_CUSTOMER_FIELDS} FROM customers
             WHERE ($1::text IS NULL OR reference > $1) ORDER BY reference LIMIT $2""",
        after,
        limit,
    )
    return [dict(r) for r in rows]


async def update_customer(
    conn: asyncpg.Connection, customer_id: uuid.UUID, fields: dict[str, Any]
) -> dict[str, Any]:
    columns = [c for c in CUSTOMER_COLUMNS if c in fields]
    assignments = "".join(f", {c} = ${i}" for i, c in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"UPDATE customers SET updated_at = now(){assignments} WHERE id = $1 RETURNING {_CUSTOMER_FIELDS}",
        customer_id,
        *(fields[c] for c in columns),
    )
    if row is None:
        raise NotFound("no such customer")
    return dict(row)


async def issue_key(
    conn: asyncpg.Connection,
    box: SecretBox,
    customer_id: uuid.UUID,
    label: str,
    *,
    api_key: str | None = None,
    secret: str | None = None,
) -> IssuedKey:
    """Issue a key pair. Demo seeding passes fixed values; everything else gets random ones."""
    await get_customer(conn, customer_id)
    key_id = uuid.uuid4()
    api_key = api_key or secrets.token_urlsafe(36)
    secret = secret or secrets.token_urlsafe(48)
    try:
        row = await conn.fetchrow(
            """INSERT INTO api_keys (id, customer_id, api_key, secret_ciphertext, label)
               VALUES ($1, $2, $3, $4, $5) RETURNING created_at""",
            key_id,
            customer_id,
            api_key,
            box.seal(secret, bound_to=str(key_id)),
            label,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("that API key exists") from exc
    return IssuedKey(str(key_id), str(customer_id), api_key, secret, label, row["created_at"])


async def list_keys(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[dict[str, Any]]:
    await get_customer(conn, customer_id)
    rows = await conn.fetch(
        f"SELECT {_KEY_FIELDS} FROM api_keys WHERE customer_id = $1 ORDER BY created_at", customer_id
    )
    return [dict(r) for r in rows]


async def revoke_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""UPDATE api_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
             WHERE id = $1 RETURNING {_KEY_FIELDS}""",
        key_id,
    )
    if row is None:
        raise NotFound("no such API key")
    return dict(row)
