"""Sanctions-list snapshots in Postgres (migrations 0005, 0011): insert-only snapshots,
their addresses and the entries they were loaded without, and the one pointer naming the
snapshot in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from aml.addresses.entries import EntryProblem
from aml.sanctions import AddressList, normalise

# Serialises loads across processes (CLI, admin calls on any replica, start-up bootstrap
# of several replicas at once): the "is it the current one?" check and the switch must not
# interleave. Any constant works; it only has to be the same everywhere.
SANCTIONS_LOCK_KEY = 0x7361_6E63_7469_6F6E
# The list key of addresses published without a network (NULL in the table): AddressList
# groups by list, and the content hash covers that key, so both directions must agree.
NO_NETWORK = "*"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: str  # "sha256:<hex>", the content hash (aml.sanctions.AddressList.id)
    list_name: str
    as_of: date
    address_count: int  # distinct addresses as compared
    entry_count: int  # (network, address) rows as published
    rejected_count: int  # entries of the source not stored (accept_partial), see `rejections`
    loaded_at: datetime
    loaded_by: str
    current: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "list": self.list_name,
            "as_of": self.as_of.isoformat(),
            "address_count": self.address_count,
            "entry_count": self.entry_count,
            "rejected_count": self.rejected_count,
            "loaded_at": self.loaded_at.isoformat(),
            "loaded_by": self.loaded_by,
            "current": self.current,
        }


_INFO = """SELECT s.id, s.list_name, s.as_of, s.address_count, s.entry_count,
                  (SELECT count(*) FROM sanctions_rejections r WHERE r.snapshot_id = s.id) AS rejected_count,
                  s.loaded_at, s.loaded_by, c.snapshot_id IS NOT NULL AS current
             FROM sanctions_snapshots s LEFT JOIN sanctions_current c ON c.snapshot_id = s.id"""


def _info(row: asyncpg.Record) -> SnapshotInfo:
    return SnapshotInfo(**dict(row))


async def lock(conn: asyncpg.Connection) -> None:
    """Held until the surrounding transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SANCTIONS_LOCK_KEY)


async def current_id(conn: asyncpg.Connection) -> str | None:
    value = await conn.fetchval("SELECT snapshot_id FROM sanctions_current")
    return str(value) if value is not None else None


async def get_snapshot(conn: asyncpg.Connection, snapshot_id: str) -> SnapshotInfo | None:
    row = await conn.fetchrow(f"{_INFO} WHERE s.id = $1", snapshot_id)
    return _info(row) if row is not None else None


async def list_snapshots(conn: asyncpg.Connection, limit: int) -> list[SnapshotInfo]:
    rows = await conn.fetch(f"{_INFO} ORDER BY s.loaded_at DESC, s.id LIMIT $1", limit)
    return [_info(r) for r in rows]


async def entries(conn: asyncpg.Connection, snapshot_id: str) -> dict[str, list[str]]:
    """The snapshot's addresses as published, by list (NO_NETWORK for none)."""
    rows = await conn.fetch(
        "SELECT network, address FROM sanctions_addresses WHERE snapshot_id = $1", snapshot_id
    )
    lists: dict[str, list[str]] = {}
    for row in rows:
        lists.setdefault(row["network"] or NO_NETWORK, []).append(row["address"])
    return lists


async def rejections(
    conn: asyncpg.Connection, snapshot_id: str, limit: int | None = None
) -> list[EntryProblem]:
    """The entries the snapshot was loaded without, in source order."""
    rows = await conn.fetch(
        """SELECT entry_index, address, network, problem FROM sanctions_rejections
            WHERE snapshot_id = $1 ORDER BY entry_index LIMIT $2""",
        snapshot_id,
        limit,
    )
    return [EntryProblem(r["entry_index"], r["address"], r["network"], r["problem"]) for r in rows]


async def insert_snapshot(
    conn: asyncpg.Connection,
    snapshot: AddressList,
    loaded_at: datetime,
    loaded_by: str,
    rejected: tuple[EntryProblem, ...] = (),
) -> None:
    records = []
    for network, addresses in snapshot.addresses.items():
        for address in addresses:
            normalised = normalise(address)
            column = None if network == NO_NETWORK else network
            records.append((snapshot.id, column, address, normalised.key, normalised.format.value))
    await conn.execute(
        """INSERT INTO sanctions_snapshots
               (id, list_name, as_of, address_count, entry_count, loaded_at, loaded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        snapshot.id, snapshot.source, snapshot.as_of, len(snapshot), len(records), loaded_at, loaded_by,
    )  # fmt: skip
    await conn.copy_records_to_table(
        "sanctions_addresses",
        records=records,
        columns=("snapshot_id", "network", "address", "normalised", "format"),
    )
    if rejected:
        await conn.copy_records_to_table(
            "sanctions_rejections",
            records=[(snapshot.id, p.index, p.address, p.network, p.problem[:500]) for p in rejected],
            columns=("snapshot_id", "entry_index", "address", "network", "problem"),
        )


async def set_current(conn: asyncpg.Connection, snapshot_id: str, at: datetime, by: str) -> None:
    await conn.execute(
        """INSERT INTO sanctions_current (singleton, snapshot_id, switched_at, switched_by)
           VALUES (true, $1, $2, $3)
           ON CONFLICT (singleton) DO UPDATE
              SET snapshot_id = excluded.snapshot_id, switched_at = excluded.switched_at,
                  switched_by = excluded.switched_by""",
        snapshot_id,
        at,
        by,
    )


async def difference(conn: asyncpg.Connection, old_id: str, new_id: str) -> tuple[int, int]:
    """(added, delisted): distinct addresses, as compared, in one snapshot and not the other."""
    row = await conn.fetchrow(
        """WITH old AS (SELECT DISTINCT normalised FROM sanctions_addresses WHERE snapshot_id = $1),
                new AS (SELECT DISTINCT normalised FROM sanctions_addresses WHERE snapshot_id = $2)
           SELECT (SELECT count(*) FROM (SELECT * FROM new EXCEPT SELECT * FROM old) a) AS added,
                  (SELECT count(*) FROM (SELECT * FROM old EXCEPT SELECT * FROM new) d) AS delisted""",
        old_id,
        new_id,
    )
    return int(row["added"]), int(row["delisted"])
