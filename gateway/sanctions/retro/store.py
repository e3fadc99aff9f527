"""Retro-screening scans and hits in Postgres (migration 0012).

A scan is found, not announced: `ensure_scan` looks at the pointer to the snapshot in force
and makes the scan of that switch if there is none yet, so a snapshot loaded by the CLI,
the admin API or the start-up bootstrap is covered the same way. It runs under the
sanctions-load lock, so the pointer cannot move while it compares.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import asyncpg

from gateway.feeds.markets import utcnow
from gateway.store import sanctions as sanctions_store
from gateway.store.records import new_decision_id

OPEN_STATES: Final = ("pending", "running")
STATES: Final = (*OPEN_STATES, "done", "failed")


@dataclass(frozen=True, slots=True)
class RetroScan:
    id: uuid.UUID
    snapshot_id: str
    previous_snapshot_id: str | None  # the snapshot the scan before followed; None: the first
    switched_at: datetime
    additions: int  # addresses (as compared) listed now and not in previous_snapshot_id
    lookback_from: datetime
    lookback_to: datetime
    state: str
    cursor_at: datetime | None  # the last movement scanned, by (occurred_at, id)
    cursor_id: int | None
    scanned: int
    hits: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "snapshot_id": self.snapshot_id,
            "previous_snapshot_id": self.previous_snapshot_id,
            "switched_at": self.switched_at.isoformat(),
            "additions": self.additions,
            "lookback_from": self.lookback_from.isoformat(),
            "lookback_to": self.lookback_to.isoformat(),
            "state": self.state,
            "scanned_through": self.cursor_at.isoformat() if self.cursor_at else None,
            "scanned": self.scanned,
            "hits": self.hits,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Movement:
    """A deposit or withdrawal with the address its decision named."""

    id: int
    occurred_at: datetime
    customer_id: uuid.UUID
    decision_id: uuid.UUID
    direction: str
    asset: str
    amount: Decimal
    address: str | None  # None when no decision row names one


_SCAN: Final = "SELECT * FROM retro_scans"


def _scan(row: asyncpg.Record) -> RetroScan:
    return RetroScan(**dict(row))


async def ensure_scan(conn: asyncpg.Connection, lookback: timedelta, grace: timedelta) -> RetroScan | None:
    """The scan of the switch in force, made now if there is none; None without a snapshot.

    `grace` extends the scan past the switch by as long as another replica may still
    screen with the list before it (its refresh period and a decision's time to commit)."""
    async with conn.transaction():
        await sanctions_store.lock(conn)
        current = await conn.fetchrow("SELECT snapshot_id, switched_at FROM sanctions_current")
        if current is None:
            return None
        snapshot_id, switched_at = str(current["snapshot_id"]), current["switched_at"]
        row = await conn.fetchrow(
            f"{_SCAN} WHERE snapshot_id = $1 AND switched_at = $2", snapshot_id, switched_at
        )
        if row is not None:
            return _scan(row)
        previous: str | None = await conn.fetchval(
            "SELECT snapshot_id FROM retro_scans ORDER BY switched_at DESC, created_at DESC LIMIT 1"
        )
        additions = await _additions(conn, previous, snapshot_id)
        # What is decided from this switch on is this scan's to look back on: an earlier
        # scan still open stops here, or it would report against a list no longer in force.
        await conn.execute(
            """UPDATE retro_scans SET lookback_to = greatest(lookback_from, least(lookback_to, $1))
                WHERE state IN ('pending', 'running') AND switched_at < $1""",
            switched_at,
        )
        now = utcnow()
        row = await conn.fetchrow(
            """INSERT INTO retro_scans (id, snapshot_id, previous_snapshot_id, switched_at, additions,
                                        lookback_from, lookback_to, state, created_at, finished_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               RETURNING *""",
            new_decision_id(), snapshot_id, previous, switched_at, additions,
            switched_at - lookback, switched_at + grace,
            "pending" if additions else "done", now, None if additions else now,
        )  # fmt: skip
        return _scan(row)


async def _additions(conn: asyncpg.Connection, previous: str | None, snapshot_id: str) -> int:
    if previous == snapshot_id:
        return 0
    if previous is None:
        info = await sanctions_store.get_snapshot(conn, snapshot_id)
        return info.address_count if info is not None else 0
    added, _ = await sanctions_store.difference(conn, previous, snapshot_id)
    return added


async def next_open(conn: asyncpg.Connection) -> RetroScan | None:
    """The oldest scan not finished: switches are scanned in the order they happened."""
    row = await conn.fetchrow(
        f"{_SCAN} WHERE state IN ('pending', 'running') ORDER BY switched_at, id LIMIT 1"
    )
    return _scan(row) if row is not None else None


async def open_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM retro_scans WHERE state IN ('pending', 'running')"))


async def movements_after(
    conn: asyncpg.Connection, scan: RetroScan, upper: datetime, limit: int
) -> list[Movement]:
    """The next movements of the scan's window after its cursor, up to `upper`, by time
    and id. The decision row (the address) is found by customer, time and id: its index."""
    rows = await conn.fetch(
        """SELECT m.id, m.occurred_at, m.customer_id, m.decision_id, m.direction, m.asset, m.amount,
                  d.address
             FROM movements m
             LEFT JOIN decisions d
               ON d.customer_id = m.customer_id AND d.decided_at = m.occurred_at AND d.id = m.decision_id
            WHERE m.occurred_at >= $1 AND m.occurred_at <= $2
              AND (m.occurred_at, m.id) > (coalesce($3, '-infinity'::timestamptz), coalesce($4, 0))
            ORDER BY m.occurred_at, m.id
            LIMIT $5""",
        scan.lookback_from, upper, scan.cursor_at, scan.cursor_id, limit,
    )  # fmt: skip
    return [Movement(**dict(r)) for r in rows]


async def hit_exists(conn: asyncpg.Connection, movement_id: int, address_key: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM retro_hits WHERE movement_id = $1 AND address_key = $2)",
            movement_id,
            address_key,
        )
    )


async def record_hit(
    conn: asyncpg.Connection, scan: RetroScan, movement: Movement, address_key: str, report_id: uuid.UUID
) -> None:
    """The unique (movement, address key) refuses a second hit, whatever the scan."""
    assert movement.address is not None
    await conn.execute(
        """INSERT INTO retro_hits (scan_id, movement_id, decision_id, customer_id, direction, occurred_at,
                                   address, address_key, report_id, found_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        scan.id, movement.id, movement.decision_id, movement.customer_id, movement.direction,
        movement.occurred_at, movement.address, address_key, report_id, utcnow(),
    )  # fmt: skip


async def advance(
    conn: asyncpg.Connection,
    scan: RetroScan,
    last: Movement | None,
    scanned: int,
    hits: int,
    *,
    now: datetime,
    finished: bool,
) -> None:
    """Commit a batch's progress: the cursor moves to `last`, the counters add up."""
    await conn.execute(
        """UPDATE retro_scans
              SET cursor_at = coalesce($2, cursor_at), cursor_id = coalesce($3, cursor_id),
                  scanned = scanned + $4, hits = hits + $5,
                  started_at = coalesce(started_at, $6),
                  state = CASE WHEN $7 THEN 'done' ELSE 'running' END,
                  finished_at = CASE WHEN $7 THEN $6 END
            WHERE id = $1""",
        scan.id, last.occurred_at if last else None, last.id if last else None, scanned, hits, now, finished,
    )  # fmt: skip


async def fail(conn: asyncpg.Connection, scan: RetroScan, error: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE retro_scans SET state = 'failed', error = $2, finished_at = $3 WHERE id = $1",
        scan.id,
        error[:1000],
        now,
    )


async def list_scans(conn: asyncpg.Connection, limit: int) -> list[RetroScan]:
    rows = await conn.fetch(f"{_SCAN} ORDER BY created_at DESC, id DESC LIMIT $1", limit)
    return [_scan(r) for r in rows]


async def get_scan(conn: asyncpg.Connection, scan_id: uuid.UUID) -> RetroScan | None:
    row = await conn.fetchrow(f"{_SCAN} WHERE id = $1", scan_id)
    return _scan(row) if row is not None else None


async def window_size(conn: asyncpg.Connection, scan: RetroScan) -> int:
    """Movements in the scan's window now: what `scanned` counts towards."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM movements WHERE occurred_at >= $1 AND occurred_at <= $2",
            scan.lookback_from,
            scan.lookback_to,
        )
    )


async def hits_of(conn: asyncpg.Connection, scan_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT movement_id, decision_id, customer_id, direction, occurred_at, address, report_id, found_at
             FROM retro_hits WHERE scan_id = $1
            ORDER BY occurred_at, movement_id
            LIMIT $2""",
        scan_id,
        limit,
    )
    return [
        {
            "movement_id": r["movement_id"],
            "decision_id": str(r["decision_id"]),
            "customer_id": str(r["customer_id"]),
            "direction": r["direction"],
            "occurred_at": r["occurred_at"].isoformat(),
            "address": r["address"],
            "report_id": str(r["report_id"]),
            "found_at": r["found_at"].isoformat(),
        }
        for r in rows
    ]
