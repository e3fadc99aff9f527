"""How far the audit read replica is behind the primary: gateway_audit_replica_lag_seconds.

`now() - pg_last_xact_replay_timestamp()` on the replica alone grows without bound while
the primary is idle (nothing to replay is not lag), so the primary's WAL position is read
first: a replica that has replayed at least that far is caught up (0). Otherwise the lag
is the time since the last transaction it replayed, an upper bound of how stale its
answers are. A replica that cannot be asked reports +Inf: audit reads there fail anyway,
and an alert on the lag fires rather than going quiet.
"""

from __future__ import annotations

import logging
import math

import asyncpg

from gateway.feeds.periodic import Periodic
from gateway.metrics import GatewayMetrics
from gateway.store.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)
# pg_wal_lsn_diff: bytes the replica still has to replay of what the primary had written
# when asked (NULL when the server is not a standby).
_REPLICA_LAG = """
SELECT pg_is_in_recovery() AS standby,
       pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn()) AS behind_bytes,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay
"""


class ReplicaLag:
    """Measures the lag at start and then every `every` seconds, on connections of its own
    (one to each server, closed after each measurement: nothing held between rounds)."""

    def __init__(
        self, primary_dsn: str, replica_dsn: str, metrics: GatewayMetrics, *, every: float, timeout: float
    ) -> None:
        self._primary_dsn = primary_dsn
        self._replica_dsn = replica_dsn
        self._metrics = metrics
        self._timeout = timeout
        self._loop = Periodic("audit-replica-lag", every, self.measure)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def measure(self) -> float:
        """Measure once, set the gauge and return the lag in seconds."""
        lag = await self._lag()
        self._metrics.audit_replica_lag.set(lag)
        return lag

    async def _lag(self) -> float:
        primary_lsn = await self._primary_lsn()
        try:
            conn = await asyncpg.connect(self._replica_dsn, timeout=self._timeout)
            try:
                row = await conn.fetchrow(_REPLICA_LAG, primary_lsn, timeout=self._timeout)
            finally:
                await conn.close(timeout=self._timeout)
        except _EXPECTED as exc:
            log.warning("audit replica lag: the replica did not answer: %s", exc)
            return math.inf
        if row is None or not row["standby"]:
            return 0.0  # not a standby (e.g. the primary itself): it cannot lag
        behind = row["behind_bytes"]
        if behind is not None and behind <= 0:
            return 0.0
        since = row["since_replay"]
        if since is None:
            return math.inf  # behind, and nothing replayed yet since it started
        return max(0.0, float(since))

    async def _primary_lsn(self) -> str | None:
        """The primary's current WAL position; None when it cannot be asked (the lag is
        then the time since the replica's last replayed transaction, an upper bound)."""
        try:
            conn = await asyncpg.connect(self._primary_dsn, timeout=self._timeout)
            try:
                value = await conn.fetchval("SELECT pg_current_wal_lsn()::text", timeout=self._timeout)
            finally:
                await conn.close(timeout=self._timeout)
        except _EXPECTED as exc:
            log.warning("audit replica lag: the primary did not answer: %s", exc)
            return None
        return str(value) if value is not None else None
