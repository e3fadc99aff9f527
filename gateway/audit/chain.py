"""One hash chain, owned by one appender.

Each appender (a process's decision writer, its admin event log, a CLI run) starts a new
chain: a fresh id, sequence numbers from 1, the first entry's prev_hash all zeros. A
restarted process does not resume its old chain: two processes could otherwise believe
they own the same head after a crash and fork it. The registry row in audit_chains is
written in the transaction of the chain's first entry, so the verifier knows every chain.

The head in memory advances only after a commit. After a failed append the appender
abandons the chain and goes on with a new one (`successor`). Whether the failed append
is in the table may not be knowable yet: a statement whose connection was lost can still
be waiting for a lock and commit later, after any re-read of the head. So the old chain
simply ends with its last entry that did commit, whichever that turns out to be, and
nothing is ever appended after an uncertain one: no gap and no fork.

`append` writes the sealed entries of one or more chains, and the registry rows of chains
new to the database, in one INSERT statement: one round trip, atomic even without an
explicit transaction (the group-commit writer's batches), or part of the caller's
transaction (a money call's decision, an admin change's events).

Every appender goes through `appending`: it settles the heads when the transaction (or the
one statement) has committed, and ends the chains that took part when that is not certain.
That rule lives here once, not in each appender. A statement Postgres refused for a row's
content (a data error or a broken constraint) is certain not to have committed: its chains
go on from their unmoved heads, so a refused row costs no new chain.

Rows of other tables that must commit exactly when the entries do ride in the same
statement as `Companion`s: the digests of the signed calls a batch of decisions answers
(gateway/store/seen_requests.py), and a money call's movement and report candidates
(gateway/decide/money_calls.py). Still one round trip, and a conflict in any refuses it all.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from gateway.audit.canonical import GENESIS
from gateway.audit.streams import Stream


def process_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: bytes


class Chain:
    def __init__(self, stream: Stream, writer: str) -> None:
        self.stream = stream
        self.writer = writer
        self.chain_id = uuid.uuid4()
        self._id_text = str(self.chain_id)  # hashed into every entry: written out once
        self._head = Head(0, GENESIS)
        self._registered = False

    @property
    def head(self) -> Head:
        return self._head

    @property
    def registered(self) -> bool:
        """Known to be in audit_chains: an entry of it has been committed."""
        return self._registered

    def successor(self) -> Chain:
        """The chain to go on with after an append whose fate is not certain."""
        return Chain(self.stream, self.writer)

    def seal(
        self, records: Sequence[tuple[Any, ...]], after: Head | None = None
    ) -> tuple[list[tuple[Any, ...]], Head]:
        """The records with their chain fields, in order, and the head they lead to.
        `after`: an uncommitted head of the same transaction to continue from."""
        start = after or self._head
        seq, head = start.seq, start.hash
        sealed = []
        for values in records:
            seq += 1
            digest = self.stream.hash(values, self._id_text, seq, head)
            sealed.append((*values, self.chain_id, seq, head, digest))
            head = digest
        return sealed, Head(seq, head)

    def committed(self, head: Head) -> None:
        self._head = head
        self._registered = True


# Refusals of a statement for what it holds (class 22, class 23): raised while it ran, so
# it did not commit, and nothing about the connection is in doubt.
REFUSED_ROWS: tuple[type[asyncpg.PostgresError], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
)


@dataclass(frozen=True, slots=True)
class Companion:
    """Rows of another table written by the append's one statement. `insert`: an INSERT
    whose parameters are written `{0}`, `{1}` ... (numbered in the statement when it is
    built); `args`: their values."""

    insert: str
    args: tuple[Any, ...]


# What a statement's text depends on: each companion's INSERT and how many values it takes.
CompanionShape = tuple[tuple[str, int], ...]


def shape_of(companions: Sequence[Companion]) -> CompanionShape:
    return tuple((c.insert, len(c.args)) for c in companions)


def arguments_of(companions: Sequence[Companion]) -> list[Any]:
    return [arg for c in companions for arg in c.args]


def companion_ctes(shape: CompanionShape, first: int) -> list[str]:
    """The companions as CTEs of one statement, their parameters numbered on from `$first`
    in order. Data-modifying CTEs all run to completion, referenced or not, and their
    constraints (foreign keys between them included) are checked when the statement ends."""
    ctes, n = [], first
    for i, (insert, count) in enumerate(shape):
        ctes.append(f"companion{i} AS ({insert.format(*(f'${n + k}' for k in range(count)))})")
        n += count
    return ctes


async def write_companions(conn: asyncpg.Connection, companions: Sequence[Companion]) -> None:
    """The companions alone, in one statement (for rows written without a chain entry)."""
    await conn.execute(_companions_statement(shape_of(companions)), *arguments_of(companions))


@functools.cache
def _companions_statement(shape: CompanionShape) -> str:
    return f"WITH {', '.join(companion_ctes(shape, 1))} SELECT 1"


@dataclass(frozen=True, slots=True)
class Entries:
    """Records to append to one chain. `after`: an uncommitted head of the same
    transaction to continue from (a second event in one admin change)."""

    chain: Chain
    records: Sequence[tuple[Any, ...]]
    after: Head | None = None


async def append(
    conn: asyncpg.Connection, *batches: Entries, companions: Sequence[Companion] = ()
) -> list[Head]:
    """Seal each batch onto its chain and insert them all, with the registry rows of chains
    not yet registered (and the companions' rows), in one statement. Returns the head each
    chain reaches; the caller moves it with `chain.committed(head)` once the statement (or
    its transaction) has committed, or goes on with `chain.successor()` if that is not
    certain."""
    new = [b.chain for b in batches if not b.chain.registered]
    sealed = [b.chain.seal(b.records, b.after) for b in batches]
    streams = tuple(b.chain.stream for b in batches)
    await conn.execute(
        _append_statement(streams, shape_of(companions)),
        [c.chain_id for c in new],
        [c.stream.name for c in new],
        [c.writer for c in new],
        *(rows for rows, _ in sealed),
        *arguments_of(companions),
    )
    return [head for _, head in sealed]


class ChainTip:
    """Where one appender writes next: its current chain, replaced by the chain's successor
    when an append's commit is not certain. Appenders keep a tip, never a bare Chain."""

    def __init__(self, stream: Stream, writer: str) -> None:
        self.chain = Chain(stream, writer)

    def _end(self) -> None:
        self.chain = self.chain.successor()


# The records of one append to one tip.
Batch = tuple[ChainTip, Sequence[tuple[Any, ...]]]


class PendingAppend:
    """The entries appended inside one `appending` block, not yet known to be committed."""

    def __init__(self, conn: asyncpg.Connection, taking_part: Sequence[ChainTip]) -> None:
        self.conn = conn
        self._heads: dict[ChainTip, Head | None] = dict.fromkeys(taking_part)

    async def append(self, *batches: Batch, companions: Sequence[Companion] = ()) -> list[Head]:
        """Append to each tip in one statement; a tip appended to earlier in this block
        goes on from that uncommitted entry."""
        for tip, _ in batches:
            # Before the statement is sent: from here its fate may become uncertain.
            self._heads.setdefault(tip, None)
        heads = await append(
            self.conn,
            *(Entries(tip.chain, records, self._heads[tip]) for tip, records in batches),
            companions=companions,
        )
        for (tip, _), head in zip(batches, heads, strict=True):
            self._heads[tip] = head
        return heads

    def _settle(self, committed: bool, *, certain: bool = False) -> None:
        """`certain`: not committed, and known not to be (heads stay where they were)."""
        for tip, head in self._heads.items():
            if not committed:
                if not certain:
                    tip._end()
            elif head is not None:
                tip.chain.committed(head)


@contextlib.asynccontextmanager
async def appending(
    conn: asyncpg.Connection,
    *taking_part: ChainTip,
    transaction: Transaction | None = None,
    autocommit: bool = False,
) -> AsyncIterator[PendingAppend]:
    """Append to chains, and move their heads only once the entries are committed.

    The block runs in a transaction of its own, committed when the block ends; or in the
    caller's `transaction` (started, holding the caller's locks and writes), which this
    commits when the block ends; or, `autocommit`, outside any transaction, each append
    one statement that commits by itself (the group-commit writer's batches). If the block
    or the commit fails, the transaction is rolled back and every chain that took part
    ends there: the tips go on with successors. `taking_part`: tips that end on failure
    even if their statement never went out (it may have, unseen, on a lost connection)."""
    pending = PendingAppend(conn, taking_part)
    try:
        if autocommit:
            yield pending
        elif transaction is not None:
            try:
                yield pending
                await transaction.commit()
            except BaseException:
                # Undo what the block wrote, unless the commit went through (asyncpg then
                # refuses the rollback) or the connection is gone (nothing to undo).
                with contextlib.suppress(Exception):
                    await transaction.rollback()
                raise
        else:
            async with conn.transaction():
                yield pending
    except BaseException as exc:
        pending._settle(committed=False, certain=isinstance(exc, REFUSED_ROWS))
        raise
    pending._settle(committed=True)


@functools.cache
def _append_statement(streams: tuple[Stream, ...], companions: CompanionShape) -> str:
    # Data-modifying CTEs all run, referenced or not, in the one statement's transaction.
    inserts = []
    for n, stream in enumerate(streams):
        columns = ", ".join(stream.entry_columns)
        inserts.append(
            f"""e{n} AS (INSERT INTO {stream.name} ({columns})
                 SELECT {columns} FROM unnest(${n + 4}::{stream.entry_type}[]))"""
        )
    inserts.extend(companion_ctes(companions, len(streams) + 4))
    return f"""WITH registry AS (
                   INSERT INTO audit_chains (chain_id, stream, writer)
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
                   ON CONFLICT (chain_id) DO NOTHING),
               {", ".join(inserts)}
               SELECT 1"""
