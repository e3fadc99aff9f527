"""The audit trail inside a running gateway: its event chain, the bound on long audit
reads, partitions kept ahead (at start, then every GATEWAY_AUDIT_MAINTENANCE_SECONDS), and
the automatic checkpoints with the periodic verification (gateway/audit/checkpointing.py;
only with a checkpoint key: without one there is nothing to sign or check them with).

Partitions are made months ahead so rows never need the default partition; if they ever
land there (maintenance stopped for months), the gauge says so and nothing fails closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.audit import partitions
from gateway.audit.anchors import Anchors
from gateway.audit.checkpointing import CheckpointKeeper
from gateway.audit.events import EventLog
from gateway.audit.signing import CheckpointKey, CheckpointKeyMissing
from gateway.feeds.periodic import Periodic
from gateway.http.admin.exports import audit_connection
from gateway.metrics import GatewayMetrics
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


async def audit_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    app[K.AUDIT_EVENTS] = EventLog()
    app[K.AUDIT_READ_SLOTS] = asyncio.Semaphore(settings.audit_read_concurrency)
    keeper = PartitionKeeper(
        app[K.POOL],
        app[K.METRICS],
        months_ahead=settings.audit_partition_months_ahead,
        every=settings.audit_maintenance_seconds,
    )
    await keeper.run_once()
    keeper.start()
    checkpoints = _checkpoint_keeper(app)
    if checkpoints is not None:
        checkpoints.start()
    yield
    if checkpoints is not None:
        await checkpoints.stop()
    await keeper.stop()


def _checkpoint_keeper(app: web.Application) -> CheckpointKeeper | None:
    settings, metrics = app[K.SETTINGS], app[K.METRICS]
    try:
        key = CheckpointKey(settings.audit_checkpoint_key.get_secret_value())
    except CheckpointKeyMissing:
        log.warning(
            "GATEWAY_AUDIT_CHECKPOINT_KEY is not set: no automatic checkpoints, anchors or periodic verify"
        )
        return None
    return CheckpointKeeper(
        lambda: audit_connection(app),
        key,
        app[K.AUDIT_EVENTS],
        metrics,
        Anchors.from_settings(settings, metrics),
        every=settings.audit_checkpoint_seconds,
        timeout=settings.audit_checkpoint_timeout_seconds,
    )
