"""The audit trail's upkeep inside a running gateway (started by gateway/http/wiring.py):
partitions kept ahead (at start, then every GATEWAY_AUDIT_MAINTENANCE_SECONDS), and
the automatic checkpoints with the periodic verification (gateway/audit/checkpointing.py;
only with a checkpoint key: without one there is nothing to sign or check them with).

Partitions are made months ahead so rows never need the default partition; if they ever
land there (maintenance stopped for months), the gauge says so and nothing fails closed.
"""

from __future__ import annotations

import logging

import asyncpg

from gateway.audit import partitions
from gateway.audit.anchors import Anchors
from gateway.audit.checkpointing import CheckpointKeeper, Connect
from gateway.audit.events import EventLog
from gateway.audit.signing import CheckpointKey, CheckpointKeyMissing
from gateway.feeds.periodic import Periodic
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.store.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)


class PartitionKeeper:
    def __init__(
        self, pool: asyncpg.Pool, metrics: GatewayMetrics, *, months_ahead: int, every: float
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._months_ahead = months_ahead
        self._periodic = Periodic("audit-partitions", every, self.run_once)

    async def run_once(self) -> None:
        try:
            async with self._pool.acquire() as conn:
                ensured = await partitions.ensure(conn, self._months_ahead)
        except _EXPECTED as exc:
            log.warning("log partitions not checked: %r", exc)
            return
        if ensured.created:
            log.info("created %d log partitions ahead", ensured.created)
            self._metrics.audit_partitions_created.inc(ensured.created)
        if ensured.default_rows:
            log.warning("%d log rows are in default partitions", ensured.default_rows)
        self._metrics.audit_default_partition_rows.set(ensured.default_rows)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


def checkpoint_keeper(
    settings: Settings,
    metrics: GatewayMetrics,
    events: EventLog,
    connect: Connect,
) -> CheckpointKeeper | None:
    """The automatic checkpoints, or None without a checkpoint key (nothing to sign with).
    `connect` gives a dedicated connection for the long verifying read."""
    try:
        key = CheckpointKey(settings.audit_checkpoint_key.get_secret_value())
    except CheckpointKeyMissing:
        log.warning(
            "GATEWAY_AUDIT_CHECKPOINT_KEY is not set: no automatic checkpoints, anchors or periodic verify"
        )
        return None
    return CheckpointKeeper(
        connect,
        key,
        events,
        metrics,
        Anchors.from_settings(settings, metrics),
        every=settings.audit_checkpoint_seconds,
        timeout=settings.audit_checkpoint_timeout_seconds,
    )
