"""Reading the review queue and the report candidates: filtered, newest first, cursor-
paginated like the decision log, and the reports as one query for a streaming export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from aml.money import Money
from aml.windows import Movement, counts_toward, in_window, window_total
from gateway.store import movements
from gateway.store.decisions import Conditions, Sort, decode_cursor, encode_cursor
from rules.model import Direction, Window

# Amounts are selected as text: exact, and without the exponent a Decimal read from
# NUMERIC may carry (12000000 came back as 1.200E+7).
# What a hold looks like to the admin API. The raw call (query string and body, with the
# customer's signature) is never shown: the parsed fields say what it does.
HOLD_FIELDS = (
    "id", "customer_id", "api_key_id", "action_kind", "asset", "amount", "address", "network",
    "http_method", "path", "client_order_id", "idempotency_key", "state", "held_at", "expires_at",
    "reviewed_by", "reviewed_at", "review_note", "forward_attempts", "last_error", "forwarded_at",
    "upstream_status", "upstream_body", "exchange_withdraw_id", "expired_at", "updated_at", "findings",
    "home_currency", "home_value", "approvals_required",
)  # fmt: skip
_HOLD_EXPRESSIONS = {
    "id": "h.id::text", "customer_id": "h.customer_id::text", "api_key_id": "h.api_key_id::text",
    "findings": "h.findings::text", "amount": "h.amount::text", "home_value": "h.home_value::text",
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
    sort: Sort = "desc"  # the console's queue reads oldest first ("asc")


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


def _page(
    rows: list[dict[str, Any]], limit: int, time_field: str, sort: Sort = "desc"
) -> tuple[list[dict[str, Any]], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(sort, rows[-1][time_field], rows[-1]["id"])


async def list_holds(
    conn: asyncpg.Connection, flt: HoldFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    w = Conditions()
    w.add("h.state = {}", flt.state)
    w.add("h.customer_id = {}", flt.customer_id)
    if cursor is not None:
        at, ident = decode_cursor(cursor, flt.sort)
        op = "<" if flt.sort == "desc" else ">"
        w.parts.append(f"(h.held_at, h.id) {op} ({w.arg(at)}, {w.arg(ident)})")
    order = "DESC" if flt.sort == "desc" else "ASC"
    sql = f"SELECT {_HOLD_COLUMNS} FROM held_calls h{w.sql()} ORDER BY h.held_at {order}, h.id {order}"
    records = await conn.fetch(sql + f" LIMIT {w.arg(limit + 1)}", *w.args)
    holds = await _with_approvals(conn, [_decoded(r, "findings") for r in records])
    return _page(holds, limit, "held_at", flt.sort)


async def _with_approvals(conn: asyncpg.Connection, holds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each hold with its officers' approvals so far ({actor, at, note}, first first): one
    query for a page of holds."""
    rows = await conn.fetch(
        """SELECT hold_id::text AS hold_id, actor, at, note FROM hold_approvals
            WHERE hold_id = ANY($1::uuid[]) ORDER BY at, actor""",
        [h["id"] for h in holds],
    )
    by_hold: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_hold.setdefault(r["hold_id"], []).append({"actor": r["actor"], "at": r["at"], "note": r["note"]})
    for hold in holds:
        hold["approvals"] = by_hold.get(hold["id"], [])
    return holds


async def get_hold(conn: asyncpg.Connection, hold_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_HOLD_COLUMNS} FROM held_calls h WHERE h.id = $1", hold_id)
    if row is None:
        return None
    (hold,) = await _with_approvals(conn, [_decoded(row, "findings")])
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


# -- the customer behind a hold: what a reviewer weighs ------------------------------------


async def recent_movements(
    conn: asyncpg.Connection, customer_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    """The customer's latest deposits and withdrawals, newest first. `refused`: the window
    sums leave it out (a held call rejected, expired or failed, or one the exchange refused),
    by the rule the windows themselves use (movement_refused, migration 0014)."""
    rows = await conn.fetch(
        """SELECT m.decision_id::text AS decision_id, m.occurred_at, m.direction, m.asset,
                  m.amount::text AS amount, m."values"::text AS "values", m.held,
                  movement_refused(m) AS refused
             FROM movements m WHERE m.customer_id = $1
            ORDER BY m.occurred_at DESC, m.id DESC LIMIT $2""",
        customer_id,
        limit,
    )
    return [_decoded(r, "values") for r in rows]


@dataclass(frozen=True)
class WindowSum:
    """One rolling window as the AML stage counts it, in one currency at the values
    recorded with each movement; `unvalued` is what was never valued in that currency,
    per asset (the stage prices it at today's rates when it decides; a page does not)."""

    window: Window
    direction: Direction
    count: int
    total: Money
    unvalued: tuple[tuple[str, Decimal], ...]


async def window_sums(
    conn: asyncpg.Connection, customer_id: str, now: datetime, currencies: tuple[str, ...]
) -> list[WindowSum]:
    """The customer's 24 h / 7 d / 30 d sums as of `now`: the read a decision makes
    (movements.window_history) summed by the rules' own window arithmetic (aml.windows)."""
    read = await movements.window_history(conn, customer_id, now, ())
    sums = []
    for currency in currencies:
        valued = [
            Movement(p.at, p.direction, Money(p.value_in(currency) or Decimal(0), currency), count=p.count)
            for p in read.history
        ]
        for window in Window:
            for direction in Direction:
                total = window_total(valued, window, direction, now, currency)
                assert total.total is not None  # a currency was asked for
                unvalued: dict[str, Decimal] = {}
                for p, m in zip(read.history, valued, strict=True):
                    left_out = p.amount if p.value_in(currency) is None else p.unvalued_in(currency)
                    if left_out and in_window(m, window, now) and counts_toward(direction, m):
                        unvalued[p.asset] = unvalued.get(p.asset, Decimal(0)) + left_out
                sums.append(
                    WindowSum(window, direction, total.count, total.total, tuple(sorted(unvalued.items())))
                )
    return sums
