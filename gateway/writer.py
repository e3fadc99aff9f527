"""Group commit: many requests' decision rows in one transaction, each request waiting
for the commit that carries its own row.

No timer: a lone row is written at once. Rows gather into the next batch only while the
previous commit is in flight, so batching adds throughput under load and no latency when
traffic is light.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

from gateway.db import UNAVAILABLE_ERRORS, DatabaseUnavailable
from gateway.metrics import GatewayMetrics
from gateway.records import DECISION_COLUMNS, UPSTREAM_COLUMNS, DecisionRow, UpstreamResultRow

log = logging.getLogger(__name__)
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)


class DecisionWriter:
    def __init__(
        self, pool: asyncpg.Pool, metrics: GatewayMetrics, *, batch_max: int, timeout: float
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._batch_max = batch_max
        self._timeout = timeout
        self._decisions: list[tuple[DecisionRow, asyncio.Future[None]]] = []
        self._results: list[UpstreamResultRow] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._decisions or self._results:
            with contextlib.suppress(DatabaseUnavailable):
                await self._flush_once()

    async def record(self, row: DecisionRow) -> None:
        """Return once `row` is committed; raise DatabaseUnavailable if it was not."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._decisions.append((row, future))
        self._wake.set()
        try:
            # The writer answers within its own timeout; this bound only guards against
            # the writer itself being gone, so a request can never hang undecided.
            await asyncio.wait_for(future, self._timeout * 2 + 1)
        except TimeoutError as exc:
            raise DatabaseUnavailable("decision writer did not answer") from exc

    def record_upstream(self, row: UpstreamResultRow) -> None:
        """Queue what the exchange answered; rides along with the next batch."""
        self._results.append(row)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._decisions or self._results:
                with contextlib.suppress(DatabaseUnavailable):
                    await self._flush_once()

    async def _flush_once(self) -> None:
        batch = self._decisions[: self._batch_max]
        del self._decisions[: len(batch)]
        results = self._results[: self._batch_max]
        del self._results[: len(results)]
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._write(batch, results), self._timeout)
        except Exception as exc:
            # Whatever the cause (connection lost, timeout, a row Postgres refused), the
            # batch is not committed: its requests must not be forwarded.
            if isinstance(exc, _EXPECTED):
                log.warning("decision batch of %d not committed: %r", len(batch), exc)
            else:
                log.exception("decision batch of %d not committed", len(batch))
            self._metrics.decision_write_failures.inc()
            if results:
                self._metrics.upstream_results_dropped.inc(len(results))
            failure = DatabaseUnavailable(str(exc) or type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            raise failure from exc
        self._metrics.decision_write_seconds.observe(time.perf_counter() - started)
        if batch:
            self._metrics.decision_write_batch_size.observe(len(batch))
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def _write(
        self,
        batch: list[tuple[DecisionRow, asyncio.Future[None]]],
        results: list[UpstreamResultRow],
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if batch:
                await conn.copy_records_to_table(
                    "decisions", records=[row.record() for row, _ in batch], columns=DECISION_COLUMNS
                )
            if results:
                await conn.copy_records_to_table(
                    "upstream_results", records=[r.record() for r in results], columns=UPSTREAM_COLUMNS
                )
