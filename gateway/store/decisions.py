"""Reading the decision log: every filter an auditor needs, sorted by time, cursor-paginated,
and the same query as a stream for exports.

Every filter is a plain predicate on an indexed or partition-pruned column, so a page
costs the same on a month of log as on ten years: the time range prunes partitions, the
(customer_id, decided_at) and (outcome, decided_at) indexes serve the common audits, and
rule ids / reasons have GIN indexes.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg
import orjson

Sort = Literal["desc", "asc"]

# What a decision looks like to the admin API and in exports, in this order (the CSV
# header). Columns not named in _EXPRESSIONS are selected as they are.
EXPORT_FIELDS = (
    "id", "decided_at", "request_id", "customer_id", "api_key_id", "dialect", "operation",
    "action_kind", "http_method", "path", "symbol", "base_asset", "quote_asset", "asset", "side",
    "order_type", "quantity", "price", "notional", "notional_asset", "address", "network",
    "client_order_id", "country", "outcome", "review_status", "reasons", "rule_ids", "findings",
    "rule_pack_version", "decision_micros", "chain_id", "seq", "prev_hash", "entry_hash",
)  # fmt: skip
_EXPRESSIONS = {
    "id": "d.id::text", "customer_id": "d.customer_id::text", "api_key_id": "d.api_key_id::text",
    "chain_id": "d.chain_id::text", "findings": "d.findings::text",
    "prev_hash": "encode(d.prev_hash, 'hex')", "entry_hash": "encode(d.entry_hash, 'hex')",
    # The row is append-only and keeps its own column NULL: a hold's review lives in
    # held_calls (migration 0008), keyed by the decision's id.
    "review_status": "(SELECT r.review_status FROM decision_reviews r WHERE r.decision_id = d.id)",
}  # fmt: skip
_COLUMNS = ", ".join(f"{_EXPRESSIONS.get(f, 'd.' + f)} AS {f}" for f in EXPORT_FIELDS)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class DecisionFilter:
    customer_id: uuid.UUID | None = None
    outcome: str | None = None
    action_kind: str | None = None
    reason: str | None = None
    rule_id: str | None = None
    country: str | None = None
    asset: str | None = None  # the asset moved, or either side of the traded symbol
    notional_min: Decimal | None = None  # in the quote asset of the symbol (notional_asset)
    notional_max: Decimal | None = None
    review_status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: Sort = "desc"


def encode_cursor(sort: Sort, decided_at: datetime, decision_id: str) -> str:
    raw = orjson.dumps({"s": sort, "t": decided_at.isoformat(), "i": decision_id})
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[datetime, uuid.UUID]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        at, ident = datetime.fromisoformat(data["t"]), uuid.UUID(data["i"])
        if at.tzinfo is None:
            raise ValueError("no UTC offset")
        at = at.astimezone(UTC)  # a crafted time can overflow here rather than in asyncpg
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadCursor("cursor is not one this API issued") from exc
    if data.get("s") != sort:
        raise BadCursor("the cursor belongs to the other sort order")
    return at, ident


class Conditions:
    """A WHERE clause from optional filters, with numbered parameters: a filter left
    unset adds nothing. Shared by every cursor-paginated admin listing."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, template: str, value: Any) -> None:
        if value is not None:
            self.parts.append(template.format(self.arg(value)))

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.parts) if self.parts else ""


def _filtered(flt: DecisionFilter, cursor: str | None) -> Conditions:
    q = Conditions()
    q.add("d.customer_id = {}", flt.customer_id)
    q.add("d.outcome = {}", flt.outcome)
    q.add("d.action_kind = {}", flt.action_kind)
    q.add("d.reasons @> ARRAY[{}]::text[]", flt.reason)
    q.add("d.rule_ids @> ARRAY[{}]::text[]", flt.rule_id)
    q.add("d.country = {}", flt.country)
    q.add("{} IN (d.asset, d.base_asset, d.quote_asset)", flt.asset)
    q.add("d.notional >= {}", flt.notional_min)
    q.add("d.notional <= {}", flt.notional_max)
    # The review is linked by decision id (the decision row itself is never updated).
    q.add(
        "EXISTS (SELECT 1 FROM decision_reviews r WHERE r.decision_id = d.id AND r.review_status = {})",
        flt.review_status,
    )
    q.add("d.decided_at >= {}", flt.since)
    q.add("d.decided_at < {}", flt.until)
    if cursor is not None:
        at, ident = decode_cursor(cursor, flt.sort)
        op = "<" if flt.sort == "desc" else ">"
        q.parts.append(f"(d.decided_at, d.id) {op} ({q.arg(at)}, {q.arg(ident)})")
    return q


def _sql(flt: DecisionFilter, q: Conditions) -> str:
    sql = f"SELECT {_COLUMNS} FROM decisions d{q.sql()}"
    direction = "DESC" if flt.sort == "desc" else "ASC"
    return sql + f" ORDER BY d.decided_at {direction}, d.id {direction}"


def decoded(row: asyncpg.Record) -> dict[str, Any]:
    decision = dict(row)
    decision["findings"] = orjson.loads(decision["findings"])
    return decision


async def search(
    conn: asyncpg.Connection, flt: DecisionFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    q = _filtered(flt, cursor)
    sql = _sql(flt, q) + f" LIMIT {q.arg(limit + 1)}"
    if flt.customer_id is not None:
        # One customer's rows are few whatever else is asked: the cached generic plan (the
        # customer index, partitions pruned at run time) is right, and planning is saved.
        records = await conn.fetch(sql, *q.args)
    else:
        async with conn.transaction(readonly=True):
            # A plan for these values: how selective a filter is (a rare rule id, or 80% of
            # the log allowed) decides between walking the time index and the GIN index,
            # which a cached generic plan cannot know (it chose the GIN index and sorted
            # thousands of rows: 170 ms instead of 8 on 5 million rows).
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            records = await conn.fetch(sql, *q.args)
    rows = [decoded(r) for r in records]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(flt.sort, rows[-1]["decided_at"], rows[-1]["id"])
    return rows, next_cursor


def export_query(flt: DecisionFilter) -> tuple[str, list[Any]]:
    """The whole filtered range, for a server-side cursor."""
    q = _filtered(flt, None)
    return _sql(flt, q), q.args


async def get(conn: asyncpg.Connection, decision_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM decisions d WHERE d.id = $1", decision_id)
    if row is None:
        return None
    decision = decoded(row)
    # A result is recorded after its decision: older partitions need not be searched.
    results = await conn.fetch(
        """SELECT recorded_at, http_status, error, upstream_micros FROM upstream_results
            WHERE decision_id = $1 AND recorded_at >= $2 ORDER BY recorded_at""",
        decision_id,
        decision["decided_at"],
    )
    decision["upstream"] = [dict(r) for r in results]
    return decision
