"""The asyncpg pool and the errors that mean "the database could not answer"."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson

log = logging.getLogger(__name__)

# What a lost or refused connection looks like from asyncpg: all of them mean "could not
# decide", which is a 503 and a fail-closed count, never an allow.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # Raised by asyncpg itself, not the server, when the server dies mid-call: e.g. "cannot
    # switch to state …; another operation is in progress" (InternalClientError, which
    # ProtocolError extends). The database did not answer: a 503 like the others.
    asyncpg.exceptions.InternalClientError,
)
# The errors after which a connection's protocol state cannot be trusted: it is
# terminated, never handed back to the pool for the next request.
BROKEN_CONNECTION: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


class DatabaseUnavailable(Exception):
    """The database did not answer in time or at all."""


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool, timeout: float | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for a decision's work. If the work fails because the connection
    broke, the connection is terminated before it goes back, so the pool opens a fresh one
    rather than lending a connection stuck mid-protocol to the next request."""
    async with pool.acquire(timeout=timeout) as conn:
        try:
            yield conn
        except BROKEN_CONNECTION:
            conn.terminate()
            raise


@contextlib.asynccontextmanager
async def dedicated(
    dsn: str, timeout: float, command_timeout: float | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own, outside the pool, for long work that must not take the
    connections deciding needs (exports, verification, a background scan); closed after.
    A server that does not answer is DatabaseUnavailable, as for pooled work."""
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout, command_timeout=command_timeout)
    except UNAVAILABLE_ERRORS as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield conn
    finally:
        await conn.close()


def censored(dsn: str) -> str:
    """The DSN without its password, for logs."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", dsn)


_JSONB_VERSION = b"\x01"  # jsonb's binary wire format: a version byte, then JSON text


def _encode_jsonb(value: Any) -> bytes:
    # Rows arrive pre-serialised (str) from the writer; admin code may pass objects.
    text = value.encode() if isinstance(value, str) else orjson.dumps(value)
    return _JSONB_VERSION + text


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


# Every type asyncpg has no codec for until it asks the catalog, that the hot path sends:
# the hash-chain appends' composite entry types (migration 0010, gateway/audit/streams.py),
# the chain registry's uuid[] and the request digests' bytea[] and timestamptz[] (found in
# a withdrawal load's statement log). Named in one statement: see _init_connection.
ENTRY_TYPES_STATEMENT = (
    "SELECT $1::decision_entry[], $2::upstream_result_entry[], $3::audit_event_entry[],"
    " $4::uuid[], $5::bytea[], $6::timestamptz[]"
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary, so COPY (the group-commit writer's path) can carry jsonb too.
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    # asyncpg learns such a type once per connection, by a recursive catalog query (~20 ms
    # of Postgres CPU here) the first time a statement uses it: three of them per connection
    # on the request path, while the pool grew under load. One statement naming them all
    # teaches the connection with one query, when it opens.
    # Before the first migration the types do not exist yet: the connection learns later.
    with contextlib.suppress(asyncpg.UndefinedObjectError):
        await conn.prepare(ENTRY_TYPES_STATEMENT)


async def _release_as_is(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. asyncpg rolls back a transaction left open before this
    runs; its default reset then also sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN
    *; RESET ALL`: one more round trip on every release, on the request path (the decision
    writer's commit). The gateway keeps no session state to clear: its locks are
    transaction locks (`pg_advisory_xact_lock`), its settings `SET LOCAL`, its cursors
    live inside transactions, and it never LISTENs on a pooled connection."""


async def create_pool(dsn: str, size: int, timeout: float) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        init=_init_connection,
        reset=_release_as_is,
        command_timeout=timeout,
        timeout=timeout,
    )
    await pool.fetchval("SELECT 1")
    log.info("database pool ready: %s", censored(dsn))
    return pool


async def connect(dsn: str) -> Any:
    """One plain connection, for migrations and CLI jobs."""
    return await asyncpg.connect(dsn)
