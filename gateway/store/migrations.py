"""Versioned SQL migrations: `NNNN_name.sql` files with `-- migrate:up` / `-- migrate:down`.

Applied by `python -m gateway migrate` and at start. Several replicas may start at once,
so the runner holds an advisory lock while it looks and applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

# Any constant works; it only has to be the same for every replica.
MIGRATION_LOCK_KEY = 0x6761_7465_7761_7901
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_UP, _DOWN = "-- migrate:up", "-- migrate:down"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("gateway.store.migrations_sql").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        text = entry.read_text()
        if _UP not in text or _DOWN not in text:
            raise ValueError(f"{entry.name}: needs '{_UP}' and '{_DOWN}' sections")
        up = text.split(_UP, 1)[1].split(_DOWN, 1)[0]
        down = text.split(_DOWN, 1)[1]
        found.append(Migration(int(match[1]), match[2], up, down))
    found.sort(key=lambda m: m.version)
    return found


async def _applied(conn: asyncpg.Connection) -> set[int]:
    # Only when missing: Postgres checks CREATE on the schema before IF NOT EXISTS, and
    # the runtime role (a replica that migrates at start, with nothing left to apply)
    # has no CREATE there since Postgres 15.
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is not None:
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        return {r["version"] for r in rows}
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {r["version"] for r in rows}


async def migrate_up(conn: asyncpg.Connection, target: int | None = None) -> list[int]:
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        done = await _applied(conn)
        for migration in load_migrations():
            if migration.version in done or (target is not None and migration.version > target):
                continue
            async with conn.transaction():
                await conn.execute(migration.up)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now


async def migrate_down(conn: asyncpg.Connection, target: int = 0) -> list[int]:
    """Undo migrations above `target`, newest first."""
    undone: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        done = await _applied(conn)
        for migration in reversed(load_migrations()):
            if migration.version not in done or migration.version <= target:
                continue
            async with conn.transaction():
                await conn.execute(migration.down)
                await conn.execute("DELETE FROM schema_migrations WHERE version = $1", migration.version)
            undone.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return undone
