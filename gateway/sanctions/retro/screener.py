"""The retro-screening worker: every replica runs it, one replica at a time does the work.

Every GATEWAY_SANCTIONS_RETRO_SECONDS each replica tries a session advisory lock on a
connection of its own (released when it closes, so a replica that dies mid-round frees it);
the holder makes the scan of the switch in force if there is none yet, then screens
batches of GATEWAY_SANCTIONS_RETRO_BATCH movements of the oldest open scan. A batch is one
transaction: its STR candidates, their hit rows, their audit events and the scan's cursor
commit together or not at all, so a restart resumes at the last committed cursor and a
batch redone opens nothing twice.

A movement is a hit when the new snapshot lists its address and the one before did not,
by the live screening's own matching (aml.sanctions.screen_address), so a retro hit and a
live refusal can never disagree on what "listed" means.

A scan covers the movements from GATEWAY_SANCTIONS_LOOKBACK_DAYS before the switch to a
grace after it (a replica may screen with the old list until its next refresh), and only
those old enough that no decision of that time can still be committing; it is done once
the cursor has passed the end of that window.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Final, Literal

import asyncpg

from aml.findings import AmlReason
from aml.sanctions import SANCTIONS_RULE_ID, normalise, screen_address
from aml.windows import MovementDirection
from gateway.audit.events import Appender, EventKind, EventLog
from gateway.feeds.markets import utcnow
from gateway.feeds.periodic import Periodic
from gateway.metrics import GatewayMetrics
from gateway.review.store import ReportCandidate, open_report
from gateway.sanctions.retro import store
from gateway.sanctions.retro.store import Movement, RetroScan
from gateway.sanctions.service import SanctionsSnapshot, SnapshotIntegrityError, read_snapshot
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)

RETRO_ACTOR: Final = "system:retro_screening"
# Session advisory lock of the retro-screening round; apart from the other keys
# (migrations, sanctions loads, audit checkpoints).
RETRO_LOCK_KEY: Final = 0x7265_7472_6F73_636E  # "retroscn"
# Batches one round takes at most before it gives the lock up until the next round.
ROUND_BATCHES: Final = 20
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, DatabaseUnavailable, asyncpg.PostgresError)

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class Round(enum.StrEnum):
    WORKED = "worked"  # at least one batch committed
    IDLE = "idle"  # nothing to scan now
    LOCKED = "locked"  # another replica holds the round
    FAILED = "failed"  # the database failed; the next round resumes


class RetroScreener:
    def __init__(
        self,
        connect: Connect,
        events: EventLog,
        metrics: GatewayMetrics,
        *,
        lookback: timedelta,
        grace: timedelta,
        settle: timedelta,
        batch: int,
        every: float,
    ) -> None:
        self._connect = connect  # a dedicated connection: the lock lives as long as it
        self._events = events
        self._metrics = metrics
        self._lookback = lookback
        self._grace = grace
        self._settle = settle  # how long a decision may still be committing after its time
        self._batch = batch
        self._lists: dict[str, SanctionsSnapshot] = {}  # immutable once stored: safe to keep
        self._periodic = Periodic("sanctions-retro", every, self.run_once)

    async def ensure_scan(self, conn: asyncpg.Connection) -> RetroScan | None:
        """The scan of the switch in force (made now if there is none yet)."""
        return await store.ensure_scan(conn, self._lookback, self._grace)

    async def run_once(self, max_batches: int = ROUND_BATCHES) -> Round:
        try:
            return await self._round(max_batches)
        except _EXPECTED as exc:
            log.warning("sanctions retro-screening round failed: %r", exc)
            self._metrics.sanctions_retro_failures.inc()
            return Round.FAILED

    async def _round(self, max_batches: int) -> Round:
        async with self._connect() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RETRO_LOCK_KEY):
                return Round.LOCKED
            await self.ensure_scan(conn)
            outcome = Round.IDLE
            for _ in range(max_batches):
                scan = await store.next_open(conn)
                if scan is None or not await self._step(conn, scan):
                    break
                outcome = Round.WORKED
            self._metrics.sanctions_retro_pending.set(await store.open_count(conn))
        return outcome

    async def _step(self, conn: asyncpg.Connection, scan: RetroScan) -> bool:
        """One batch of `scan`; False when it could do nothing yet (waiting for its window)."""
        try:
            listed = await self._list(conn, scan.snapshot_id)
            before = await self._list(conn, scan.previous_snapshot_id) if scan.previous_snapshot_id else None
        except SnapshotIntegrityError as exc:
            log.error("sanctions retro-screening %s cannot run: %s", scan.id, exc)
            await store.fail(conn, scan, str(exc), utcnow())
            return True
        now = utcnow()
        upper = min(scan.lookback_to, now - self._settle)
        async with self._events.transaction(conn) as appender:
            movements = await store.movements_after(conn, scan, upper, self._batch)
            hits = 0
            for movement in movements:
                hits += await self._screen(conn, appender, scan, listed, before, movement)
            finished = len(movements) < self._batch and upper >= scan.lookback_to
            last = movements[-1] if movements else None
            await store.advance(conn, scan, last, len(movements), hits, now=now, finished=finished)
        self._metrics.sanctions_retro_scanned.inc(len(movements))
        self._metrics.sanctions_retro_hits.inc(hits)
        if finished:
            log.info(
                "sanctions retro-screening %s of %s done: %d movements, %d hits",
                scan.id, scan.snapshot_id, scan.scanned + len(movements), scan.hits + hits,
            )  # fmt: skip
        return bool(movements) or finished

    async def _list(self, conn: asyncpg.Connection, snapshot_id: str) -> SanctionsSnapshot:
        held = self._lists.get(snapshot_id)
        if held is None:
            if len(self._lists) >= 4:  # a scan needs two; older scans' lists are not kept
                self._lists.clear()
            held = self._lists[snapshot_id] = await read_snapshot(conn, snapshot_id)
        return held

    async def _screen(
        self,
        conn: asyncpg.Connection,
        appender: Appender,
        scan: RetroScan,
        listed: SanctionsSnapshot,
        before: SanctionsSnapshot | None,
        movement: Movement,
    ) -> int:
        """1 when `movement` is a new hit (its STR opened), else 0."""
        address = movement.address
        if not address:
            return 0
        direction: Literal["withdrawal", "deposit"] = (
            "deposit" if MovementDirection(movement.direction) is MovementDirection.DEPOSIT else "withdrawal"
        )
        finding = screen_address(listed.address_list, address, direction=direction, asset=movement.asset)
        # A malformed address was refused when it was decided: no movement has one to hit.
        if finding is None or finding.reason is not AmlReason.SANCTIONED_ADDRESS:
            return 0
        if before is not None and before.match(address, movement.asset) is not None:
            return 0  # listed before this switch: screened (or retro-screened) then
        key = normalise(address, movement.asset).key
        if await store.hit_exists(conn, movement.id, key):
            return 0  # an earlier scan reported it (a relisting after a delisting)
        report_id = await open_report(conn, _report(scan, movement, finding.as_json()))
        await store.record_hit(conn, scan, movement, key, report_id)
        await appender.append(
            EventKind.SANCTIONS_RETRO_HIT, RETRO_ACTOR,
            subject_type="report", subject_id=str(report_id),
            details={
                "scan_id": str(scan.id), "snapshot_id": scan.snapshot_id,
                "previous_snapshot_id": scan.previous_snapshot_id, "address": address,
                "movement_id": movement.id, "decision_id": str(movement.decision_id),
                "direction": movement.direction, "asset": movement.asset,
                "occurred_at": movement.occurred_at.isoformat(),
            },
        )  # fmt: skip
        return 1

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


def _report(scan: RetroScan, movement: Movement, finding: dict[str, object]) -> ReportCandidate:
    """An STR candidate shaped as the live screening's (its finding under `findings`), with
    what the retro-screening adds: which scan, which switch, which movement."""
    return ReportCandidate(
        kind="STR",
        customer_id=movement.customer_id,
        decision_ids=(movement.decision_id,),
        rule_ids=(SANCTIONS_RULE_ID,),
        amount=movement.amount,
        currency=movement.asset,
        details={
            "findings": [finding],
            "retro_screening": {
                "scan_id": str(scan.id),
                "snapshot_id": scan.snapshot_id,
                "previous_snapshot_id": scan.previous_snapshot_id,
                "movement_id": movement.id,
                "direction": movement.direction,
                "occurred_at": movement.occurred_at.isoformat(),
            },
        },
    )
