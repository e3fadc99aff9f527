"""Automatic checkpoints and the periodic verification, in the running gateway.

Every GATEWAY_AUDIT_CHECKPOINT_SECONDS one replica at a time (a session advisory lock
tried on a connection of its own, released when it closes; a replica that finds it held
skips the round) verifies every chain and the newest stored checkpoint's heads, sets the
verification gauges, and then, if the log is intact and something was logged since that
checkpoint, signs and stores a checkpoint of the heads it has just verified, never of
heads nobody checked: a tail cut before a round is reported, not signed over. The newest
checkpoint then goes to the external anchors (gateway/audit/anchors.py).

The verification is a full one each round: checking only what came after the last good
checkpoint would miss an older entry altered since. A round is bounded by
GATEWAY_AUDIT_CHECKPOINT_TIMEOUT_SECONDS; one that fails or times out is counted and the
gauges keep their last values (so their timestamp goes stale, which is what to alert on).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Final

import asyncpg

from gateway.audit.anchors import Anchors
from gateway.audit.checkpoint import create_checkpoint, moved_since, verify_log
from gateway.audit.events import EventLog
from gateway.audit.signing import CheckpointKey
from gateway.audit.verify import Verification
from gateway.feeds.periodic import Periodic
from gateway.metrics import GatewayMetrics
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)

CHECKPOINT_ACTOR: Final = "system:checkpoint"
# Session advisory lock of the checkpoint round; apart from the other keys
# (migrations.MIGRATION_LOCK_KEY, store.sanctions.SANCTIONS_LOCK_KEY).
CHECKPOINT_LOCK_KEY: Final = 0x6175_6469_7463_6B70  # "auditckp"
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, DatabaseUnavailable, asyncpg.PostgresError)

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class Round(enum.StrEnum):
    STORED = "stored"  # a new checkpoint signed and stored
    UNCHANGED = "unchanged"  # verified; nothing logged since the newest checkpoint
    LOCKED = "locked"  # another replica holds the round
    BROKEN = "broken"  # verification found a broken link: nothing signed
    FAILED = "failed"  # the database failed or the round ran out of time


def observe(metrics: GatewayMetrics, result: Verification) -> None:
    """The verification gauges, from any verification this replica ran."""
    metrics.audit_verify_intact.set(1 if result.intact else 0)
    metrics.audit_verify_timestamp.set(time.time())
    metrics.audit_verify_entries.set(result.entries)


class CheckpointKeeper:
    def __init__(
        self,
        connect: Connect,
        key: CheckpointKey,
        events: EventLog,
        metrics: GatewayMetrics,
        anchors: Anchors,
        *,
        every: float,
        timeout: float,
    ) -> None:
        self._connect = connect  # a dedicated connection: the lock lives as long as it
        self._key = key
        self._events = events
        self._metrics = metrics
        self._anchors = anchors
        self._timeout = timeout
        self._reported: str | None = None  # the broken link last logged, to log each once
        self._periodic = Periodic("audit-checkpoints", every, self.run_once)

    async def run_once(self) -> Round:
        try:
            async with asyncio.timeout(self._timeout):
                outcome = await self._round()
        except _EXPECTED as exc:  # TimeoutError among them
            log.warning("audit checkpoint round failed: %r", exc)
            outcome = Round.FAILED
        self._metrics.audit_checkpoint_rounds.labels(outcome.value).inc()
        return outcome

    async def _round(self) -> Round:
        async with self._connect() as conn:
            # Released when the connection closes, however the round ends.
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", CHECKPOINT_LOCK_KEY):
                return Round.LOCKED
            result = await verify_log(conn, self._key.public)
            observe(self._metrics, result)
            if not result.intact:
                self._report(result)
                return Round.BROKEN
            self._reported = None
            latest, outcome = result.checkpoint, Round.UNCHANGED
            if await moved_since(conn, result):
                latest = await create_checkpoint(conn, self._key, self._events, CHECKPOINT_ACTOR, result)
                outcome = Round.STORED
        if latest is not None:
            self._metrics.audit_checkpoint_timestamp.set(
                datetime.fromisoformat(latest["created_at"]).timestamp()
            )
            await self._anchors.write(latest)
        return outcome

    def _report(self, result: Verification) -> None:
        broken = result.as_json()["broken_link"]
        if str(broken) != self._reported:
            self._reported = str(broken)
            log.error("the audit log does not verify: %s (checkpoint %s)", broken, result.checkpoint_id)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        await self._anchors.close()
