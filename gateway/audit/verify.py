"""Recompute every chain and name the first broken link.

For each entry, in chain order, three checks: its sequence number follows the previous
one (a gap is a deleted entry, a repeat an inserted one), its prev_hash equals the
previous entry's hash (the link), and its content hashes to its entry_hash (the entry).
The walk runs in one repeatable-read snapshot, streams rows through a server-side cursor
(constant memory), and stops at the first break.

A gap is not a break when retention dropped exactly the missing entries. Each drop is
logged as an audit event whose record is signed with the checkpoint key
(gateway/audit/drop.py): per chain, the spans of consecutive entries it removed and the
hash of each span's last entry, which the entry after the span links to. Only signed
records count: anyone who may append to the log can write a drop event, so one whose
signature does not verify (or that cannot be checked, no key given) is itself a broken
link. A gap is excused only if signed spans cover every missing entry, wherever the gap
is (an entry's time and its order in its chain may differ slightly, so a month's
partition can hold entries on both sides of a surviving one).

Deleting a chain's newest entries leaves no gap; a signed checkpoint catches that
(gateway/audit/checkpoint.py: every verification checks the newest stored one).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.canonical import GENESIS
from gateway.audit.events import EventKind
from gateway.audit.signing import signed_as
from gateway.audit.streams import EVENTS, STREAMS, Stream
from gateway.feeds.markets import utcnow
from gateway.ops import progress

_PREFETCH = 500
DROP_FORMAT = "gateway-audit-drop/1"


@dataclass(frozen=True)
class BrokenLink:
    stream: str
    chain_id: str | None
    seq: int | None
    entry_id: str | None
    problem: str  # missing_entry, prev_hash_mismatch, entry_hash_mismatch, drop_signature_invalid, ...
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
    # The checkpoint whose heads were checked (the one given, else the newest stored).
    checkpoint: dict[str, Any] | None = field(default=None, repr=False)

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


@dataclass(frozen=True)
class Span:
    """Consecutive entries first..last of one chain that a drop removed. `last_hash` is
    the hash of entry `last`, the prev_hash of the entry after it; `chain_end`: entry
    `last` was the chain's newest when it was dropped."""

    stream: str
    chain_id: str
    first: int
    last: int
    last_hash: bytes
    chain_end: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream, "chain_id": self.chain_id, "first": self.first, "last": self.last,
            "last_hash": self.last_hash.hex(), "chain_end": self.chain_end,
        }  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Span:
        return cls(
            doc["stream"], doc["chain_id"], int(doc["first"]), int(doc["last"]),
            bytes.fromhex(doc["last_hash"]), bool(doc["chain_end"]),
        )  # fmt: skip


@dataclass
class Retired:
    """What signed drops removed, per (stream, chain_id)."""

    spans: dict[tuple[str, str], list[Span]] = field(default_factory=dict)

    def add(self, span: Span) -> None:
        spans = self.spans.setdefault((span.stream, span.chain_id), [])
        spans.append(span)
        spans.sort(key=lambda s: s.first)

    def first_kept(self, stream: str, chain_id: str, seq: int) -> int:
        """The first sequence number from `seq` on that no signed drop removed."""
        for span in self.spans.get((stream, chain_id), []):  # sorted by first
            if span.first <= seq <= span.last:
                seq = span.last + 1
        return seq

    def hash_of(self, stream: str, chain_id: str, seq: int) -> bytes | None:
        """The recorded hash of dropped entry `seq`, if a span ends with it."""
        spans = self.spans.get((stream, chain_id), [])
        return next((s.last_hash for s in spans if s.last == seq), None)

    def emptied(self, stream: str, chain_id: str) -> bool:
        """Signed drops removed every entry of the chain, up to its newest at the time."""
        end = self.first_kept(stream, chain_id, 1) - 1
        return any(s.chain_end and s.last == end for s in self.spans.get((stream, chain_id), []))


def _across_gap(
    retired: Retired, stream: Stream, chain_id: str, first: int, seq: int, entry_id: str | None = None
) -> bytes | BrokenLink:
    """Entries first..seq-1 of a chain are missing and entry `seq` is there. If signed drops
    removed every one of them, the hash entry `seq` must link to; if not, the broken link."""
    kept = retired.first_kept(stream.name, chain_id, first)
    if kept < seq:
        return BrokenLink(stream.name, chain_id, kept, None, "missing_entry", f"seq {kept}", f"seq {seq}")
    anchor = retired.hash_of(stream.name, chain_id, seq - 1)
    if anchor is None:  # a span runs past seq - 1: retention removed entry `seq` too, yet here it is
        return BrokenLink(
            stream.name, chain_id, seq, entry_id, "duplicate_entry", f"no seq {seq} (dropped by retention)",
            f"seq {seq}",
        )  # fmt: skip
    return anchor


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
            bridged = _across_gap(self._retired, self.stream, self.head.chain_id, self._next, seq, entry_id)
            if isinstance(bridged, BrokenLink):
                return bridged
            self._prev = bridged  # the entries between were dropped by retention
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


async def load_retired(conn: asyncpg.Connection, key: Ed25519PublicKey | None) -> Retired | BrokenLink:
    """The spans of every drop whose record is signed with the checkpoint key, or the
    first drop event whose record is not (or cannot be checked: no key)."""
    retired = Retired()
    rows = await conn.fetch(
        """SELECT details::text AS details, chain_id::text AS chain_id, seq, id::text AS id
             FROM audit_events WHERE kind = $1 ORDER BY chain_id, seq""",
        EventKind.PARTITIONS_DROPPED.value,
    )
    for row in rows:
        record = orjson.loads(row["details"])
        if key is None or not signed_as(record, DROP_FORMAT, key):
            return BrokenLink(
                EVENTS.name, row["chain_id"], row["seq"], row["id"], "drop_signature_invalid",
                "a drop record signed with the checkpoint key",
                "no public key to check it with" if key is None else "a signature that does not verify",
            )  # fmt: skip
        for span in record["retired"]:
            retired.add(Span.from_json(span))
    return retired


def _entries_sql(stream: Stream, where: str) -> str:
    return (
        f"SELECT {stream.select_list()}, chain_id::text, seq, prev_hash, entry_hash, {stream.entry_id}::text"
        f" FROM {stream.name} WHERE {where} ORDER BY chain_id, seq"
    )


async def _rows(conn: asyncpg.Connection, sql: str, *args: Any) -> AsyncIterator[asyncpg.Record]:
    async for row in conn.cursor(sql, *args, prefetch=_PREFETCH):
        progress.advance()  # shown by a CLI command on a terminal; nothing in the server
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
        # Declared with its first entry, so a declared chain without entries lost them all:
        # fine only if signed drops removed them all, its newest entry at the time included.
        if not retired.emptied(stream.name, chain_id):
            kept = retired.first_kept(stream.name, chain_id, 1)
            return BrokenLink(stream.name, chain_id, kept, None, "missing_entry", f"seq {kept}", "no entries")
    return None


async def _link_before(
    conn: asyncpg.Connection, stream: Stream, retired: Retired, chain_id: str, seq: int
) -> bytes | BrokenLink:
    """The hash entry `seq` must link to: that of the nearest entry before it, or, if
    retention dropped the entries between, the one its signed record holds."""
    before = await conn.fetchrow(
        f"""SELECT seq, entry_hash FROM {stream.name} WHERE chain_id = $1 AND seq < $2
             ORDER BY seq DESC LIMIT 1""",
        uuid.UUID(chain_id),
        seq,
    )
    below = 0 if before is None else before["seq"]
    if below == seq - 1:
        return GENESIS if before is None else bytes(before["entry_hash"])
    return _across_gap(retired, stream, chain_id, below + 1, seq)


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
        prev = await _link_before(conn, stream, retired, chain_id, lo)
        if isinstance(prev, BrokenLink):
            return prev
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
    key: Ed25519PublicKey | None = None,
) -> Verification:
    """Verify every chain (or the entries of a time range) in one snapshot; `extra` (a
    checkpoint's heads) is checked in the same snapshot once the chains hold. `key`, the
    checkpoint key's public half, checks the records of retention drops: without it a log
    that has had a drop does not verify."""
    result = Verification(since, until)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        registry = {
            r["chain_id"]: r["stream"]
            for r in await conn.fetch("SELECT chain_id::text AS chain_id, stream FROM audit_chains")
        }
        retired = await load_retired(conn, key)
        if isinstance(retired, BrokenLink):
            result.broken = retired
            return result
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
