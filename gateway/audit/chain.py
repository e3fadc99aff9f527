"""One hash chain, owned by one appender.

Each appender (a process's decision writer, its admin event log, a CLI run) starts a new
chain: a fresh id, sequence numbers from 1, the first entry's prev_hash all zeros. A
restarted process does not resume its old chain: two processes could otherwise believe
they own the same head after a crash and fork it. The registry row in audit_chains is
written in the transaction of the chain's first entry, so the verifier knows every chain.

The head in memory advances only after a commit. After a failed batch the head is marked
stale and re-read from the table in the next batch's transaction: if the failed commit
did reach the database (connection lost while COMMIT was in flight), the chain continues
after it; if not, after the last committed entry. Either way no gap and no fork.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

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
        self._head = Head(0, GENESIS)
        self._registered = False
        self._stale = False

    @property
    def head(self) -> Head:
        return self._head

    async def prepare(self, conn: asyncpg.Connection) -> None:
        """Inside the transaction that will append: declare the chain, and after a failure
        find where it really ends."""
        if not self._registered:
            await conn.execute(
                """INSERT INTO audit_chains (chain_id, stream, writer) VALUES ($1, $2, $3)
                   ON CONFLICT (chain_id) DO NOTHING""",
                self.chain_id,
                self.stream.name,
                self.writer,
            )
        if self._stale:
            row = await conn.fetchrow(
                f"""SELECT seq, entry_hash FROM {self.stream.name}
                     WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1""",
                self.chain_id,
            )
            self._head = Head(row["seq"], bytes(row["entry_hash"])) if row else Head(0, GENESIS)
            self._stale = False

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
            digest = self.stream.hash(values, self.chain_id, seq, head)
            sealed.append((*values, self.chain_id, seq, head, digest))
            head = digest
        return sealed, Head(seq, head)

    def committed(self, head: Head) -> None:
        self._head = head
        self._registered = True

    def failed(self) -> None:
        self._stale = True
