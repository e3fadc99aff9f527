"""Reading the decision log: filtered, newest first, cursor-paginated."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = """d.id::text AS id, d.decided_at, d.request_id, d.customer_id::text AS customer_id,
    d.api_key_id::text AS api_key_id, d.dialect, d.operation, d.action_kind, d.http_method, d.path,
    d.symbol, d.asset, d.side, d.order_type, d.quantity, d.price, d.notional, d.notional_asset,
    d.address, d.network, d.client_order_id, d.outcome, d.reasons, d.findings,
    d.rule_pack_version, d.decision_micros"""


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class DecisionFilter:
    customer_id: uuid.UUID | None = None
    outcome: str | None = None
    action_kind: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(decided_at: datetime, decision_id: str) -> str:
    return base64.urlsafe_b64encode(f"{decided_at.isoformat()}|{decision_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API issued") from exc


async def search(
    conn: asyncpg.Connection, flt: DecisionFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if flt.customer_id is not None:
        where.append(f"d.customer_id = {arg(flt.customer_id)}")
    if flt.outcome is not None:
        where.append(f"d.outcome = {arg(flt.outcome)}")
    if flt.action_kind is not None:
        where.append(f"d.action_kind = {arg(flt.action_kind)}")
    if flt.reason is not None:
        where.append(f"d.reasons @> ARRAY[{arg(flt.reason)}]::text[]")
    if flt.since is not None:
        where.append(f"d.decided_at >= {arg(flt.since)}")
    if flt.until is not None:
        where.append(f"d.decided_at < {arg(flt.until)}")
    if cursor is not None:
        at, ident = decode_cursor(cursor)
        where.append(f"(d.decided_at, d.id) < ({arg(at)}, {arg(ident)})")
    sql = f"SELECT {_COLUMNS} FROM decisions d"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY d.decided_at DESC, d.id DESC LIMIT {arg(limit + 1)}"
    rows = [dict(r) for r in await conn.fetch(sql, *args)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["decided_at"], rows[-1]["id"])
    return rows, next_cursor


async def get(conn: asyncpg.Connection, decision_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM decisions d WHERE d.id = $1", decision_id)
    if row is None:
        return None
    decision = dict(row)
    results = await conn.fetch(
        """SELECT recorded_at, http_status, error, upstream_micros FROM upstream_results
            WHERE decision_id = $1 ORDER BY recorded_at""",
        decision_id,
    )
    decision["upstream"] = [dict(r) for r in results]
    return decision
