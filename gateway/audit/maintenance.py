"""The audit trail inside a running gateway: its event chain, the bound on long audit
reads, and partitions kept ahead (at start, then every GATEWAY_AUDIT_MAINTENANCE_SECONDS).

Partitions are made months ahead so rows never need the default partition; if they ever
land there (maintenance stopped for months), the gauge says so and nothing fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.audit import partitions
from gateway.audit.events import EventLog
from gateway.db import UNAVAILABLE_ERRORS
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)


class PartitionKeeper:
    def __init__(
        self, pool: asyncpg.Pool, metrics: GatewayMetrics, *, months_ahead: int, every: float
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._months_ahead = months_ahead
        self._every = every
        self._task: asyncio.Task[None] | None = None

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

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self.run_once()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="audit-partitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


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
    yield
    await keeper.stop()
