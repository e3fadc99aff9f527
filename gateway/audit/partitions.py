"""Monthly partitions of the log tables: kept ahead of time, listed, and (for retention)
detached and dropped.

Creation runs through audit_ensure_partitions() (migration 0003), a SECURITY DEFINER
function, so the runtime role can keep partitions ahead without owning the tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.audit.streams import STREAMS

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    parent: str
    lower: datetime | None  # None: the default partition
    upper: datetime | None

    @property
    def is_default(self) -> bool:
        return self.lower is None


@dataclass(frozen=True)
class Ensured:
    created: int
    default_rows: int  # rows that fell outside every monthly partition; should be 0


async def ensure(conn: asyncpg.Connection, months_ahead: int) -> Ensured:
    row = await conn.fetchrow("SELECT created, default_rows FROM audit_ensure_partitions($1)", months_ahead)
    return Ensured(row["created"], row["default_rows"])


async def list_partitions(conn: asyncpg.Connection) -> list[Partition]:
    rows = await conn.fetch(
        """SELECT c.relname AS name, p.relname AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = ANY($1::text[])
            ORDER BY p.relname, c.relname""",
        [s.name for s in STREAMS],
    )
    found = []
    for row in rows:
        match = _BOUNDS.search(row["bound"])
        lower, upper = (
            (datetime.fromisoformat(match[1]), datetime.fromisoformat(match[2])) if match else (None, None)
        )
        found.append(Partition(row["name"], row["parent"], lower, upper))
    return found
