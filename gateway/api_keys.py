"""Customers' API keys as operators manage them, shared by the admin API and the console:
one way to revoke a key, with its audit entry and the replica's key cache."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from gateway.audit.events import EventKind, EventLog
from gateway.binance.auth import KeyDirectory
from gateway.store import customers as store


async def revoke_api_key(
    pool: asyncpg.Pool, events: EventLog, keys: KeyDirectory, key_id: uuid.UUID, *, actor: str
) -> dict[str, Any]:
    """Revoke the key (again is no error) and log who did, in one transaction. Raises
    store.NotFound for a key that does not exist."""
    async with pool.acquire() as conn, events.transaction(conn) as log:
        key = await store.revoke_key(conn, key_id)
        await log.append(
            EventKind.API_KEY_REVOKED, actor, subject_type="customer",
            subject_id=key["customer_id"], details={"api_key_id": key["id"]},
        )  # fmt: skip
    # The cache would otherwise accept the key on this replica until it expires.
    keys.forget(key["api_key"])
    return key
