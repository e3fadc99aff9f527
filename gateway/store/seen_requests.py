"""Replayed requests: a signed state-changing call is accepted once, on every replica.

A call's digest (its API key id and the request exactly as sent, signature and timestamp
included) is claimed in the transaction that records its decision: the group-commit batch
(gateway/store/writer.py) or a money call's customer-locked transaction
(gateway/decide/money_calls.py). No round trip of its own: a batch's digests ride in the
chain's one INSERT statement (`companion`), where a digest already there refuses the whole
statement; only then does the writer claim them one by one (`claim`) to learn which call
is the replay. A digest already there is the
same bytes seen before: the call is a replay, refused `replayed_request` and never
forwarded. The table's primary key settles two racing copies, on one replica or two.

A digest is kept until the call's timestamp plus its recvWindow: from then on the same
bytes are refused as stale (gateway/binance/auth.py) whatever this table holds. Expired
digests are deleted in bounded batches by a periodic task (`SeenRequestPruner`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg

from gateway.audit.chain import Companion
from gateway.feeds.periodic import Periodic
from gateway.store.db import UNAVAILABLE_ERRORS, connection
from policy.action import ActionKind

log = logging.getLogger(__name__)

REPLAYED_REQUEST: Final = "replayed_request"
REPLAYED_MESSAGE: Final = "This signed request was already received; sign the call again to retry."
# What changes state at the exchange. Reads are not checked: repeating one changes nothing.
# An order test is dropped by the exchange, so repeating one changes nothing either.
CHECKED_KINDS: Final = frozenset({ActionKind.ORDER, ActionKind.CANCEL, ActionKind.WITHDRAWAL})
# Kept a little past the recvWindow: replicas' clocks differ by up to the skew the edge
# tolerates, and a replica whose clock lags must still find the digest.
EXPIRY_GRACE: Final = timedelta(minutes=1)
PRUNE_EVERY_SECONDS: Final = 30.0
PRUNE_BATCH: Final = 5_000  # rows per DELETE: short locks, short statements
PRUNE_BATCHES_MAX: Final = 20  # per run; the next run goes on where this one stopped


@dataclass(frozen=True, slots=True)
class SeenRequest:
    digest: bytes  # SHA-256: 32 bytes
    expires_at: datetime


def seen_request(
    api_key_id: str,
    method: str,
    path: str,
    raw_query: str,
    body: bytes,
    *,
    timestamp_ms: int,
    recv_window_ms: int,
) -> SeenRequest:
    """The digest of a call exactly as sent. Each part is length-prefixed, so no two
    different calls can be read as the same sequence of bytes."""
    digest = hashlib.sha256()
    for part in (api_key_id.encode(), method.encode(), path.encode(), raw_query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    expires = datetime.fromtimestamp((timestamp_ms + recv_window_ms) / 1000, UTC)
    return SeenRequest(digest.digest(), expires + EXPIRY_GRACE)


SEEN_REQUESTS_KEY: Final = "seen_requests_pkey"  # the constraint a replay breaks
_INSERT = (
    "INSERT INTO seen_requests (digest, expires_at) SELECT * FROM unnest({0}::bytea[], {1}::timestamptz[])"
)


def companion(seen: Sequence[SeenRequest]) -> Companion:
    """The digests as rows of the decisions' own statement: committed exactly with them, and
    a replay among them (or two copies in one batch) refuses the statement, on
    SEEN_REQUESTS_KEY."""
    return Companion(_INSERT, ([s.digest for s in seen], [s.expires_at for s in seen]))


def is_replay_refusal(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.UniqueViolationError) and exc.constraint_name == SEEN_REQUESTS_KEY


_CLAIM = """
INSERT INTO seen_requests (digest, expires_at)
SELECT * FROM unnest($1::bytea[], $2::timestamptz[])
ON CONFLICT (digest) DO NOTHING
RETURNING digest
"""


async def claim(conn: asyncpg.Connection, seen: Sequence[SeenRequest]) -> list[bool]:
    """Claim each digest in the caller's transaction; per request, whether it is the first
    (False: a replay). Of several copies in one call the first in order is the one."""
    if not seen:
        return []
    rows = await conn.fetch(_CLAIM, [s.digest for s in seen], [s.expires_at for s in seen])
    new = {row["digest"] for row in rows}
    first = []
    for s in seen:
        first.append(s.digest in new)
        new.discard(s.digest)
    return first


_PRUNE = """
DELETE FROM seen_requests
 WHERE digest IN (SELECT digest FROM seen_requests WHERE expires_at < $1 LIMIT $2)
"""


async def prune(pool: asyncpg.Pool, now: datetime, *, timeout: float) -> int:
    """Delete expired digests, PRUNE_BATCH at a time, at most PRUNE_BATCHES_MAX batches."""
    deleted = 0
    async with connection(pool, timeout) as conn:
        for _ in range(PRUNE_BATCHES_MAX):
            status = await conn.execute(_PRUNE, now, PRUNE_BATCH, timeout=timeout)
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < PRUNE_BATCH:
                break
    return deleted


class SeenRequestPruner:
    """Every PRUNE_EVERY_SECONDS, the expired digests go. A failed run is logged and the
    next one tries again: an expired digest left behind costs space, never correctness."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float, every: float = PRUNE_EVERY_SECONDS) -> None:
        self._pool = pool
        self._timeout = timeout
        self._loop = Periodic("seen-requests-pruner", every, self.run_once)

    async def run_once(self) -> int:
        try:
            return await prune(self._pool, datetime.now(UTC), timeout=self._timeout)
        except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
            log.warning("expired request digests not pruned: %r", exc)
            return 0

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
