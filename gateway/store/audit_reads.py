"""Where audit reads go: a streaming read replica (GATEWAY_AUDIT_DATABASE_URL) or, without
one, the primary.

Audit reads (decision search and detail, exports, verification, replay, audit events) are
the scale-out path's first step: they can be long and they only read, so a replica takes
them off the primary that decides. They may lag the primary (gateway_audit_replica_lag_
seconds). Nothing here writes: every write, and every read that must see the write just
made, uses the primary's pool.

A replica that is down must not stop the gateway from deciding: its pool is opened at
start if it answers, else on the first audit read, which until then fails closed (503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from gateway.store import db
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)


class AuditReads:
    def __init__(self, primary: asyncpg.Pool, replica_dsn: str | None, *, size: int, timeout: float) -> None:
        self._primary = primary
        self._replica_dsn = replica_dsn
        self._size = size
        self._timeout = timeout
        self._replica: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    @property
    def on_replica(self) -> bool:
        return self._replica_dsn is not None

    async def open(self) -> None:
        if self._replica_dsn is None:
            return
        try:
            await self._replica_pool()
        except DatabaseUnavailable as exc:
            log.warning("audit read replica not reachable at start (audit reads fail until it is): %s", exc)

    async def close(self) -> None:
        if self._replica is not None:
            pool, self._replica = self._replica, None
            try:
                await asyncio.wait_for(pool.close(), self._timeout)
            except TimeoutError:
                pool.terminate()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection (jsonb codec as on the primary's pool) for a short audit read."""
        pool = self._primary if self._replica_dsn is None else await self._replica_pool()
        async with db.connection(pool, timeout=self._timeout) as conn:
            yield conn

    async def _replica_pool(self) -> asyncpg.Pool:
        async with self._opening:
            if self._replica is None and self._replica_dsn is not None:
                try:
                    self._replica = await db.create_pool(self._replica_dsn, self._size, self._timeout)
                except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                    raise DatabaseUnavailable(str(exc)) from exc
            if self._replica is None:
                raise DatabaseUnavailable("no audit read replica is configured")
            return self._replica
