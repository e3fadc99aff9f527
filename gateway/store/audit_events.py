"""Reading the audit events: filtered, newest first, cursor-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.store.decisions import decode_cursor, encode_cursor

_COLUMNS = """id::text AS id, occurred_at, kind, actor, subject_type, subject_id, reason,
    details::text AS details, chain_id::text AS chain_id, seq, encode(entry_hash, 'hex') AS entry_hash"""


@dataclass(frozen=True)
class EventFilter:
    kind: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def search(
    conn: asyncpg.Connection, flt: EventFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    where: list[str] = []
    args: list[Any] = []
    for template, value in (
        ("kind = {}", flt.kind), ("subject_type = {}", flt.subject_type), ("subject_id = {}", flt.subject_id),
        ("occurred_at >= {}", flt.since), ("occurred_at < {}", flt.until),
    ):  # fmt: skip
        if value is not None:
            args.append(value)
            where.append(template.format(f"${len(args)}"))
    if cursor is not None:
        at, ident = decode_cursor(cursor, "desc")
        args += [at, ident]
        where.append(f"(occurred_at, id) < (${len(args) - 1}, ${len(args)})")
    sql = f"SELECT {_COLUMNS} FROM audit_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(limit + 1)
    rows = [
        dict(r)
        for r in await conn.fetch(sql + f" ORDER BY occurred_at DESC, id DESC LIMIT ${len(args)}", *args)
    ]
    for row in rows:
        row["details"] = orjson.loads(row["details"])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor("desc", rows[-1]["occurred_at"], rows[-1]["id"])
    return rows, next_cursor


async def checkpoints(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id::text AS id, created_at, document::text AS document FROM audit_checkpoints
            ORDER BY created_at DESC LIMIT $1""",
        limit,
    )
    return [
        {"id": r["id"], "created_at": r["created_at"], "document": orjson.loads(r["document"])} for r in rows
    ]
