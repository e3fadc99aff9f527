"""Group commit: many requests' decision rows in one transaction, each request waiting
for the commit that carries its own row.

No timer for decisions: a lone decision is written at once. Rows gather into the next
batch only while the previous commit is in flight, so batching adds throughput under load
and no latency when traffic is light. The exchange's answers, which nobody waits for, ride
with the next decisions or go after a short linger (`record_upstream`).

Hash chains: the writer owns one chain per table it appends to (decisions, upstream
results). Rows are hashed here, in batch order, just before the write; the chain's head
moves only after the commit (gateway/audit/chain.py), so a failed batch leaves no gap.

A batch (both tables, and a new chain's registry row) is one INSERT statement outside any
explicit transaction: atomic on its own and one round trip, where BEGIN, COPY, COPY and
COMMIT were five. Every round trip waits for the event loop to come round, which under
load is what a request's commit wait is made of.

Replays: a batch carrying signed state-changing calls writes their digests
(gateway/store/seen_requests.py) in the same statement as their decisions, so a call is
seen exactly when its decision is committed. If a digest is already there the statement is
refused whole; the batch is then written again in a transaction that claims the digests
first, and a copy whose digest was there is not written: its request learns `Replayed` and
records the refusal instead; it is never forwarded, since forwarding waits for this commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from gateway.audit.chain import (
    REFUSED_ROWS,
    Chain,
    ChainTip,
    Companion,
    PendingAppend,
    appending,
    process_label,
)
from gateway.audit.streams import DECISIONS, UPSTREAM
from gateway.metrics import GatewayMetrics
from gateway.store import seen_requests
from gateway.store.db import BROKEN_CONNECTION, UNAVAILABLE_ERRORS, DatabaseUnavailable
from gateway.store.records import DecisionRow, UpstreamResultRow
from gateway.store.seen_requests import SeenRequest, claim

log = logging.getLogger(__name__)
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)
OWN_TRANSACTION_CHAINS = 4
# The longest an exchange's answer waits for a batch of decisions to ride with.
UPSTREAM_LINGER_SECONDS = 0.05
# How often the requests waiting on the writer are checked against their guard.
GUARD_SWEEP_SECONDS = 0.5
# A decision's table row, the future its request waits on for the commit, and the digest
# of its signed call when a replay of it must be refused.
Queued = tuple[tuple[Any, ...], "asyncio.Future[None]", SeenRequest | None]


class Replayed(Exception):
    """The call's digest was already claimed: the same signed bytes were seen before."""


def _ready(conn: asyncpg.Connection) -> bool:
    """Open, outside any transaction, and still lent to us: a pooled connection that closed
    (the server went away) was taken back by the pool, and then says so by refusing calls."""
    try:
        return not conn.is_closed() and not conn.is_in_transaction()
    except asyncpg.InterfaceError:
        return False


class DecisionWriter:
    def __init__(
        self, pool: asyncpg.Pool, metrics: GatewayMetrics, *, batch_max: int, timeout: float
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._batch_max = batch_max
        self._timeout = timeout
        # Each decision as its table row, built when queued: while one commit is in
        # flight the next batch's rows are ready, not built on the commit's path.
        self._decisions: list[Queued] = []
        self._results: list[UpstreamResultRow] = []
        self._wake = asyncio.Event()
        self._linger: asyncio.TimerHandle | None = None  # when queued answers go on their own
        # Each waiting request's guard (see record) and the sweep that enforces them.
        self._guarded: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._guard_sweep: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        # The batches' connection, kept from one to the next (see _held).
        self._conn: asyncpg.Connection | None = None
        writer = process_label()
        self.decision_tip = ChainTip(DECISIONS, writer)
        self.upstream_tip = ChainTip(UPSTREAM, writer)
        # Chains for decisions committed in a caller's own transaction (money-moving
        # calls, under the customer's lock). A chain serves one transaction at a time, so
        # its head cannot fork; several let customers' transactions commit side by side.
        self._own_tips: asyncio.Queue[ChainTip] = asyncio.Queue()
        for n in range(OWN_TRANSACTION_CHAINS):
            self._own_tips.put_nowait(ChainTip(DECISIONS, f"{writer}/locked-{n}"))

    @property
    def decision_chain(self) -> Chain:
        return self.decision_tip.chain

    @property
    def upstream_chain(self) -> Chain:
        return self.upstream_tip.chain

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        if self._linger is not None:
            self._linger.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._decisions or self._results:
            with contextlib.suppress(DatabaseUnavailable):
                await self._flush_once()
        await self._let_go(broken=False)

    async def record(self, row: DecisionRow, seen: SeenRequest | None = None) -> None:
        """Return once `row` is committed; raise DatabaseUnavailable if it was not, and
        Replayed (nothing written) if `seen` was claimed before. A row that cannot be
        turned into its table row fails here, alone, not its whole batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._decisions.append((row.record(), future, seen))
        self._wake.set()
        # The writer answers within its own timeout; this bound only guards against the
        # writer itself being gone, so a request can never hang undecided. One sweep for
        # every waiting request: a timer per request cost 0.9% of a read's worker samples.
        self._guarded.append((loop.time() + self._timeout * 2 + 1, future))
        if self._guard_sweep is None:
            self._guard_sweep = loop.call_later(GUARD_SWEEP_SECONDS, self._sweep_guards)
        await future

    async def commit_with(
        self,
        conn: asyncpg.Connection,
        transaction: Transaction,
        row: DecisionRow,
        companions: Sequence[Companion] = (),
    ) -> None:
        """Append `row` to the caller's open transaction (which holds its locks and has
        written what goes with the decision), with `companions` in the same statement, then
        commit it. Raise DatabaseUnavailable if the commit is not certain: the caller must
        not act on the decision."""
        tip = await self._own_tips.get()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):  # no extra task: see _flush_once
                async with appending(conn, transaction=transaction) as pending:
                    await pending.append((tip, [row.record()]), companions=companions)
        except BaseException as exc:
            self._metrics.decision_write_failures.inc()
            if not isinstance(exc, Exception):
                raise
            log.warning("decision %s not committed: %r", row.id, exc)
            raise DatabaseUnavailable(str(exc) or type(exc).__name__) from exc
        finally:
            self._own_tips.put_nowait(tip)
        self._metrics.decision_write_seconds.observe(time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[asyncpg.Connection]:
        """The batches' connection, kept from one batch to the next. One commit is in
        flight at a time, so a pool acquire and release per batch bought nothing: they cost
        ~60 us of CPU a batch, and the release came before the waiting requests were told.
        A statement Postgres refused leaves it ready. After any other failure it goes back
        to the pool and the next batch takes another: terminated if broken; else (timed out
        or cancelled mid-statement) released, which waits until Postgres has cancelled the
        statement, so it cannot commit later."""
        conn = self._conn
        if conn is None or not _ready(conn):
            await self._let_go(broken=conn is not None)
            conn = self._conn = await self._pool.acquire()
        try:
            yield conn
        except BaseException as exc:
            broken = isinstance(exc, BROKEN_CONNECTION)
            if broken or not isinstance(exc, asyncpg.PostgresError):
                await self._let_go(broken=broken)
            raise

    async def _let_go(self, *, broken: bool) -> None:
        """Give the batches' connection back to the pool (terminated if `broken`)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(asyncpg.InterfaceError):  # the pool took it back as it closed
            if broken:
                conn.terminate()
            await self._pool.release(conn)

    def _sweep_guards(self) -> None:
        """Fail the requests whose guard has run out; forget those already answered. The
        guards are in deadline order (the same bound from each one's arrival)."""
        guarded, now = self._guarded, asyncio.get_running_loop().time()
        while guarded and (guarded[0][1].done() or guarded[0][0] <= now):
            _, future = guarded.popleft()
            if not future.done():
                future.set_exception(DatabaseUnavailable("decision writer did not answer"))
        self._guard_sweep = None
        if guarded:
            self._guard_sweep = asyncio.get_running_loop().call_later(GUARD_SWEEP_SECONDS, self._sweep_guards)

    def record_upstream(self, row: UpstreamResultRow) -> None:
        """Queue what the exchange answered: it rides along with the next batch of
        decisions, or goes on its own once it has waited UPSTREAM_LINGER_SECONDS. Nobody
        waits for it, and a commit of its own per answer would double the commits of light
        traffic, with the next decision waiting behind each one."""
        self._results.append(row)
        if self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(UPSTREAM_LINGER_SECONDS, self._linger_over)

    def _linger_over(self) -> None:
        self._linger = None
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
        await self._commit(batch, results)

    async def _commit(self, batch: list[Queued], results: list[UpstreamResultRow]) -> None:
        started = time.perf_counter()
        try:
            # A deadline on this task, not wait_for: that would run the write as a task of
            # its own, and each task start and finish waits for a turn of a busy loop.
            # Committed or not, if it fails we cannot tell yet: the chains that took part
            # end there (gateway/audit/chain.py, appending).
            parts = ((self.decision_tip, batch), (self.upstream_tip, results))
            taking_part = [tip for tip, rows in parts if rows]
            replays: list[asyncio.Future[None]] = []
            async with asyncio.timeout(self._timeout), self._held() as conn:
                seen = [s for _, _, s in batch if s is not None]
                claims = [seen_requests.companion(seen)] if seen else []
                try:
                    async with appending(conn, *taking_part, autocommit=True) as pending:
                        await self._write(pending, batch, results, claims)
                except asyncpg.UniqueViolationError as exc:
                    if not seen_requests.is_replay_refusal(exc):
                        raise
                    # Nothing was written (the statement is atomic) and the chains stay
                    # where they were: claim the digests one by one to tell the replay.
                    replays = await self._claim_and_write(conn, taking_part, batch, results)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise
            # A data error or a broken constraint: that row's fault, not the database's,
            # so the batch's other rows can still be written.
            if isinstance(exc, REFUSED_ROWS) and len(batch) + len(results) > 1:
                # Postgres answered that a row breaks a rule (nothing was committed). Which
                # row is not said: write them one by one, so the others' requests go on
                # and only the refused one fails.
                log.warning("decision batch of %d refused (%r): writing its rows one by one", len(batch), exc)
                for item in batch:
                    with contextlib.suppress(DatabaseUnavailable):
                        await self._commit([item], [])
                for result in results:
                    with contextlib.suppress(DatabaseUnavailable):
                        await self._commit([], [result])
                return
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
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(failure)
            raise failure from exc
        self._metrics.decision_write_seconds.observe(time.perf_counter() - started)
        if batch:
            self._metrics.decision_write_batch_size.observe(len(batch))
        for future in replays:
            if not future.done():
                future.set_exception(Replayed())
        for _, future, _ in batch:
            if not future.done():
                future.set_result(None)

    async def _write(
        self,
        pending: PendingAppend,
        batch: list[Queued],
        results: list[UpstreamResultRow],
        companions: Sequence[Companion] = (),
    ) -> None:
        await pending.append(
            *(
                (tip, records)
                for tip, records in (
                    (self.decision_tip, [record for record, _, _ in batch]),
                    (self.upstream_tip, [r.record() for r in results]),
                )
                if records
            ),
            companions=companions,
        )

    async def _claim_and_write(
        self,
        conn: asyncpg.Connection,
        taking_part: list[ChainTip],
        batch: list[Queued],
        results: list[UpstreamResultRow],
    ) -> list[asyncio.Future[None]]:
        """One transaction: claim the batch's digests, then write the decisions of the
        calls seen for the first time (and the upstream results). Returns the replays'
        futures, told only once this commits: a copy of a call in this same batch is a
        replay only if that call's decision is committed (else both get a 503)."""
        transaction = conn.transaction()
        await transaction.start()
        async with appending(conn, *taking_part, transaction=transaction) as pending:
            checked = [item for item in batch if item[2] is not None]
            first = await claim(conn, [seen for _, _, seen in checked if seen is not None])
            replays = {id(item) for item, new in zip(checked, first, strict=True) if not new}
            written = [item for item in batch if id(item) not in replays]
            if written or results:
                await self._write(pending, written, results)
        return [item[1] for item in batch if id(item) in replays]
