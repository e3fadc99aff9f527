"""Recompute every chain and name the first broken link.

For each entry, in chain order, three checks: its sequence number follows the previous
one (a gap is a deleted entry, a repeat an inserted one), its prev_hash equals the
previous entry's hash (the link), and its content hashes to its entry_hash (the entry).
The walk runs in one repeatable-read snapshot, streams rows through a server-side cursor
(constant memory), and stops at the first break.

A gap is not a break when retention dropped the entries before it: the drop recorded,
as an audit event, the hash of each dropped entry whose successor survived ("anchors").
Deleting a chain's newest entries leaves no gap; a signed checkpoint catches that
(gateway/audit/checkpoint.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from gateway.audit.canonical import GENESIS
from gateway.audit.events import EventKind
from gateway.audit.streams import STREAMS, Stream
from gateway.markets import utcnow

_PREFETCH = 500


@dataclass(frozen=True)
class BrokenLink:
    stream: str
    chain_id: str | None
    seq: int | None
    entry_id: str | None
    problem: str  # missing_entry, duplicate_entry, prev_hash_mismatch, entry_hash_mismatch, ...
    expected: str
    found: str

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream, "chain_id": self.chain_id, "seq": self.seq,
            "entry_id": self.entry_id, "problem": self.problem, "expected": self.expected,
            "found": self.found,
        }  # fmt: skip


@dataclass
class ChainHead:
    stream: str
    chain_id: str
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS.hex()


@dataclass
class Verification:
    since: datetime | None
    until: datetime | None
    verified_at: datetime = field(default_factory=utcnow)
    entries: int = 0
    unchained: int = 0
    chains: list[ChainHead] = field(default_factory=list)
    broken: BrokenLink | None = None
    checkpoint_id: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "intact" if self.intact else "broken",
            "entries": self.entries,
            "unchained_entries": self.unchained,
            "since": self.since,
            "until": self.until,
            "verified_at": self.verified_at,
        }
        if self.checkpoint_id is not None:
            body["checkpoint_id"] = self.checkpoint_id
        if self.broken is not None:
            body["broken_link"] = self.broken.as_json()
        else:
            body["chains"] = [vars(c) for c in self.chains]
        return body


@dataclass
class Retired:
    """What retention dropped: anchors (hash of a dropped entry whose successor survived)
    and, per chain, the highest dropped sequence number."""

    anchors: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    through: dict[tuple[str, str], int] = field(default_factory=dict)


class _Walk:
    """One chain, entry by entry."""

    def __init__(self, stream: Stream, chain_id: str, retired: Retired, seq: int, prev: bytes) -> None:
        self.stream = stream
        self.head = ChainHead(stream.name, chain_id, head_seq=seq - 1, head_hash=prev.hex())
        self._retired = retired
        self._next = seq
        self._prev = prev

    def _broken(self, seq: int, entry_id: str | None, problem: str, expected: str, found: str) -> BrokenLink:
        return BrokenLink(self.stream.name, self.head.chain_id, seq, entry_id, problem, expected, found)

    def step(self, row: asyncpg.Record) -> BrokenLink | None:
        n = len(self.stream.columns)
        seq, prev, stored, entry_id = row[n + 1], bytes(row[n + 2]), bytes(row[n + 3]), row[n + 4]
        if seq < self._next:
            return self._broken(seq, entry_id, "duplicate_entry", f"seq {self._next}", f"seq {seq} again")
        if seq > self._next:
            anchor = self._retired.anchors.get((self.stream.name, self.head.chain_id, seq - 1))
            if anchor is None or anchor != prev:
                return self._broken(self._next, None, "missing_entry", f"seq {self._next}", f"seq {seq}")
            self._prev = anchor  # entries before were dropped by retention
        if prev != self._prev:
            return self._broken(seq, entry_id, "prev_hash_mismatch", self._prev.hex(), prev.hex())
        recomputed = self.stream.hash(row[:n], uuid.UUID(self.head.chain_id), seq, prev)
        if recomputed != stored:
            # expected: what the log recorded; found: what the row as it is now hashes to.
            return self._broken(seq, entry_id, "entry_hash_mismatch", stored.hex(), recomputed.hex())
        self._next, self._prev = seq + 1, stored
        self.head.entries += 1
        self.head.head_seq, self.head.head_hash = seq, stored.hex()
        return None


async def load_retired(conn: asyncpg.Connection) -> Retired:
    retired = Retired()
    rows = await conn.fetch(
        "SELECT details::text AS details FROM audit_events WHERE kind = $1",
        EventKind.PARTITIONS_DROPPED.value,
    )
    for row in rows:
        details = orjson.loads(row["details"])
        for a in details.get("anchors", []):
            retired.anchors[(a["stream"], a["chain_id"], a["seq"])] = bytes.fromhex(a["hash"])
        for t in details.get("dropped_through", []):
            key = (t["stream"], t["chain_id"])
            retired.through[key] = max(retired.through.get(key, 0), t["seq"])
    return retired


def _entries_sql(stream: Stream, where: str) -> str:
    return (
        f"SELECT {stream.select_list()}, chain_id::text, seq, prev_hash, entry_hash, {stream.entry_id}::text"
        f" FROM {stream.name} WHERE {where} ORDER BY chain_id, seq"
    )


async def _rows(conn: asyncpg.Connection, sql: str, *args: Any) -> AsyncIterator[asyncpg.Record]:
    async for row in conn.cursor(sql, *args, prefetch=_PREFETCH):
        yield row


async def _walk_all(
    conn: asyncpg.Connection, stream: Stream, registry: dict[str, str], retired: Retired, result: Verification
) -> BrokenLink | None:
    n = len(stream.columns)
    walk: _Walk | None = None
    seen: set[str] = set()
    async for row in _rows(conn, _entries_sql(stream, "chain_id IS NOT NULL")):
        chain_id = row[n]
        if walk is None or walk.head.chain_id != chain_id:
            if registry.get(chain_id) != stream.name:
                return BrokenLink(
                    stream.name, chain_id, row[n + 1], row[n + 4], "unregistered_chain",
                    f"a chain declared in audit_chains for {stream.name}", "no declaration",
                )  # fmt: skip
            walk = _Walk(stream, chain_id, retired, 1, GENESIS)
            result.chains.append(walk.head)
            seen.add(chain_id)
        broken = walk.step(row)
        if broken is not None:
            return broken
        result.entries += 1
    for chain_id in sorted(c for c, s in registry.items() if s == stream.name and c not in seen):
        if (stream.name, chain_id) not in retired.through:
            # Declared with its first entry, so a declared chain without entries lost them all.
            return BrokenLink(stream.name, chain_id, 1, None, "missing_entry", "seq 1", "no entries")
    return None


async def _walk_range(
    conn: asyncpg.Connection, stream: Stream, retired: Retired, result: Verification
) -> BrokenLink | None:
    """Every entry whose sequence number lies between the first and last of the chain's
    entries in the range (an entry's time and its order in the chain may differ slightly),
    linked to the entry before."""
    spans = await conn.fetch(
        f"""SELECT chain_id::text AS chain_id, min(seq) AS lo, max(seq) AS hi FROM {stream.name}
             WHERE {stream.time_column} >= $1 AND {stream.time_column} < $2 AND chain_id IS NOT NULL
             GROUP BY chain_id ORDER BY chain_id""",
        result.since or datetime.min.replace(tzinfo=UTC),
        result.until or datetime.max.replace(tzinfo=UTC),
    )
    for span in spans:
        chain_id, lo, hi = span["chain_id"], span["lo"], span["hi"]
        prev = GENESIS
        if lo > 1:
            before = await conn.fetchval(
                f"SELECT entry_hash FROM {stream.name} WHERE chain_id = $1 AND seq = $2",
                uuid.UUID(chain_id),
                lo - 1,
            )
            anchor = retired.anchors.get((stream.name, chain_id, lo - 1))
            known = bytes(before) if before is not None else anchor
            if known is None:
                return BrokenLink(
                    stream.name, chain_id, lo - 1, None, "missing_entry", f"seq {lo - 1}", f"seq {lo}"
                )
            prev = known
        walk = _Walk(stream, chain_id, retired, lo, prev)
        result.chains.append(walk.head)
        where = "chain_id = $1 AND seq BETWEEN $2 AND $3"
        async for row in _rows(conn, _entries_sql(stream, where), uuid.UUID(chain_id), lo, hi):
            broken = walk.step(row)
            if broken is not None:
                return broken
            result.entries += 1
    return None


ExtraCheck = Callable[[asyncpg.Connection, Retired], Awaitable[BrokenLink | None]]


async def verify(
    conn: asyncpg.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    extra: ExtraCheck | None = None,
) -> Verification:
    """Verify every chain (or the entries of a time range) in one snapshot; `extra` (a
    checkpoint's heads) is checked in the same snapshot once the chains hold."""
    result = Verification(since, until)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        registry = {
            r["chain_id"]: r["stream"]
            for r in await conn.fetch("SELECT chain_id::text AS chain_id, stream FROM audit_chains")
        }
        retired = await load_retired(conn)
        for stream in STREAMS:
            if since is None and until is None:
                result.broken = await _walk_all(conn, stream, registry, retired, result)
            else:
                result.broken = await _walk_range(conn, stream, retired, result)
            if result.broken is not None:
                return result
        if extra is not None:
            result.broken = await extra(conn, retired)
        for stream in STREAMS:
            result.unchained += await conn.fetchval(
                f"SELECT count(*) FROM {stream.name} WHERE chain_id IS NULL"
            )
    return result
