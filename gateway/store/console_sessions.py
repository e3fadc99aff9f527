"""Console sessions in Postgres (migration 0016): created at sign-in, looked up and touched
on every console request, deleted at sign-out, pruned in bounded batches.

Rows are keyed by the SHA-256 of the session id the browser holds: the id itself is never
stored. Whether a session is still valid (absolute expiry, idle limit) is decided in the
same statement that touches it, so a session cannot be revived by a racing request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import asyncpg

PRUNE_BATCH: Final = 500  # rows per DELETE: one short statement at sign-in
PRUNE_BATCHES_MAX: Final = 4  # per sign-in; the next sign-in goes on where this one stopped


def digest_of(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


@dataclass(frozen=True, slots=True)
class SessionRow:
    role: str
    actor: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


_CREATE = """
INSERT INTO console_sessions (digest, role, actor, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $5, $6)
"""


async def create(
    conn: asyncpg.Connection, digest: bytes, role: str, actor: str, csrf_token: str, now: datetime,
    expires_at: datetime,
) -> None:  # fmt: skip
    await conn.execute(_CREATE, digest, role, actor, csrf_token, now, expires_at)


# Valid only while neither limit has passed; touching moves the idle limit on.
_TOUCH = """
UPDATE console_sessions SET last_seen_at = $2
 WHERE digest = $1 AND expires_at > $2 AND last_seen_at > $2 - $3::interval
RETURNING role, actor, csrf_token, created_at, expires_at
"""


async def touch(conn: asyncpg.Connection, digest: bytes, now: datetime, idle: timedelta) -> SessionRow | None:
    """The session if it is still valid (and now seen at `now`), else None."""
    row = await conn.fetchrow(_TOUCH, digest, now, idle)
    if row is None:
        return None
    return SessionRow(row["role"], row["actor"], row["csrf_token"], row["created_at"], row["expires_at"])


_DELETE = """
DELETE FROM console_sessions WHERE digest = $1
RETURNING role, actor, csrf_token, created_at, expires_at
"""


async def delete(conn: asyncpg.Connection, digest: bytes) -> SessionRow | None:
    """End a session; what it was, or None if there was none."""
    row = await conn.fetchrow(_DELETE, digest)
    if row is None:
        return None
    return SessionRow(row["role"], row["actor"], row["csrf_token"], row["created_at"], row["expires_at"])


_PRUNE = """
DELETE FROM console_sessions
 WHERE digest IN (SELECT digest FROM console_sessions
                   WHERE expires_at <= $1 OR last_seen_at <= $1 - $2::interval LIMIT $3)
"""


async def prune(conn: asyncpg.Connection, now: datetime, idle: timedelta) -> int:
    """Delete ended sessions, PRUNE_BATCH at a time, at most PRUNE_BATCHES_MAX batches."""
    deleted = 0
    for _ in range(PRUNE_BATCHES_MAX):
        status = await conn.execute(_PRUNE, now, idle, PRUNE_BATCH)
        count = int(status.rsplit(" ", 1)[-1])
        deleted += count
        if count < PRUNE_BATCH:
            break
    return deleted
