"""Reading the review queue and the report candidates: filtered, newest first, cursor-
paginated like the decision log, and the reports as one query for a streaming export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.store.decisions import Conditions, decode_cursor, encode_cursor

# Amounts are selected as text: exact, and without the exponent a Decimal read from
# NUMERIC may carry (12000000 came back as 1.200E+7).
# What a hold looks like to the admin API. The raw call (query string and body, with the
# customer's signature) is never shown: the parsed fields say what it does.
HOLD_FIELDS = (
    "id", "customer_id", "api_key_id", "action_kind", "asset", "amount", "address", "network",
    "http_method", "path", "client_order_id", "idempotency_key", "state", "held_at", "expires_at",
    "reviewed_by", "reviewed_at", "review_note", "forward_attempts", "last_error", "forwarded_at",
    "upstream_status", "upstream_body", "exchange_withdraw_id", "expired_at", "updated_at", "findings",
)  # fmt: skip
_HOLD_EXPRESSIONS = {
    "id": "h.id::text", "customer_id": "h.customer_id::text", "api_key_id": "h.api_key_id::text",
    "findings": "h.findings::text", "amount": "h.amount::text",
}  # fmt: skip
_HOLD_COLUMNS = ", ".join(f"{_HOLD_EXPRESSIONS.get(f, 'h.' + f)} AS {f}" for f in HOLD_FIELDS)

REPORT_FIELDS = (
    "id", "kind", "customer_id", "status", "amount", "currency", "opened_at", "decision_ids",
    "rule_ids", "reviewed_by", "reviewed_at", "note", "updated_at", "details",
)  # fmt: skip
_REPORT_EXPRESSIONS = {
    "id": "r.id::text", "customer_id": "r.customer_id::text", "decision_ids": "r.decision_ids::text[]",
    "details": "r.details::text", "amount": "r.amount::text",
}  # fmt: skip
_REPORT_COLUMNS = ", ".join(f"{_REPORT_EXPRESSIONS.get(f, 'r.' + f)} AS {f}" for f in REPORT_FIELDS)


@dataclass(frozen=True)
class HoldFilter:
    state: str | None = None
    customer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ReportFilter:
    kind: str | None = None
    status: str | None = None
    customer_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def _decoded(row: asyncpg.Record, json_field: str) -> dict[str, Any]:
    out = dict(row)
    out[json_field] = orjson.loads(out[json_field])
    return out


def _page(rows: list[dict[str, Any]], limit: int, time_field: str) -> tuple[list[dict[str, Any]], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor("desc", rows[-1][time_field], rows[-1]["id"])


async def list_holds(
    conn: asyncpg.Connection, flt: HoldFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    w = Conditions()
    w.add("h.state = {}", flt.state)
    w.add("h.customer_id = {}", flt.customer_id)
    if cursor is not None:
        at, ident = decode_cursor(cursor, "desc")
        w.parts.append(f"(h.held_at, h.id) < ({w.arg(at)}, {w.arg(ident)})")
    sql = f"SELECT {_HOLD_COLUMNS} FROM held_calls h{w.sql()} ORDER BY h.held_at DESC, h.id DESC"
    records = await conn.fetch(sql + f" LIMIT {w.arg(limit + 1)}", *w.args)
    return _page([_decoded(r, "findings") for r in records], limit, "held_at")


async def get_hold(conn: asyncpg.Connection, hold_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_HOLD_COLUMNS} FROM held_calls h WHERE h.id = $1", hold_id)
    if row is None:
        return None
    hold = _decoded(row, "findings")
    history = await conn.fetch(
        """SELECT seq, at, actor, action, from_state, to_state, note, details::text AS details
             FROM hold_history WHERE hold_id = $1 ORDER BY seq""",
        hold_id,
    )
    hold["history"] = [_decoded(r, "details") for r in history]
    return hold


def _report_where(flt: ReportFilter) -> Conditions:
    w = Conditions()
    w.add("r.kind = {}", flt.kind)
    w.add("r.status = {}", flt.status)
    w.add("r.customer_id = {}", flt.customer_id)
    w.add("r.opened_at >= {}", flt.since)
    w.add("r.opened_at < {}", flt.until)
    return w


_REPORT_ORDER = " ORDER BY r.opened_at DESC, r.id DESC"


def decoded_report(row: asyncpg.Record) -> dict[str, Any]:
    return _decoded(row, "details")


async def list_reports(
    conn: asyncpg.Connection, flt: ReportFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    w = _report_where(flt)
    if cursor is not None:
        at, ident = decode_cursor(cursor, "desc")
        w.parts.append(f"(r.opened_at, r.id) < ({w.arg(at)}, {w.arg(ident)})")
    sql = f"SELECT {_REPORT_COLUMNS} FROM report_candidates r{w.sql()}{_REPORT_ORDER}"
    records = await conn.fetch(sql + f" LIMIT {w.arg(limit + 1)}", *w.args)
    return _page([decoded_report(r) for r in records], limit, "opened_at")


def report_export_query(flt: ReportFilter) -> tuple[str, list[Any]]:
    w = _report_where(flt)
    return f"SELECT {_REPORT_COLUMNS} FROM report_candidates r{w.sql()}{_REPORT_ORDER}", w.args


async def get_report(conn: asyncpg.Connection, report_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_REPORT_COLUMNS} FROM report_candidates r WHERE r.id = $1", report_id)
    if row is None:
        return None
    report = decoded_report(row)
    history = await conn.fetch(
        """SELECT seq, at, actor, from_status, to_status, note FROM report_history
            WHERE report_id = $1 ORDER BY seq""",
        report_id,
    )
    report["history"] = [dict(r) for r in history]
    return report
