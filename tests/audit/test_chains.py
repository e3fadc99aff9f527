"""The chains under group commit: a failed batch leaves no gap and no fork, a commit whose
acknowledgement was lost is picked up, every process (and restart) has a chain of its
own, and the verifier finds them all."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from gateway.app import create_app
from gateway.audit.chain import Chain, Entries, PendingAppend, append
from gateway.audit.streams import DECISIONS
from gateway.store.db import DatabaseUnavailable
from gateway.store.records import DecisionRow
from gateway.store.writer import GUARD_SWEEP_SECONDS, DecisionWriter
from policy.action import ActionKind
from tests.audit.support import decision, record_all, verify_api
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.support import serving

pytestmark = pytest.mark.asyncio


async def _seqs(gateway: Gateway, chain_id: uuid.UUID) -> list[int]:
    rows = await gateway.pool.fetch("SELECT seq FROM decisions WHERE chain_id = $1 ORDER BY seq", chain_id)
    return [r["seq"] for r in rows]


async def test_a_failed_batch_leaves_no_gap(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    writer = gateway.app[K.WRITER]
    await record_all(gateway, [decision(None) for _ in range(3)])
    first = writer.decision_chain.chain_id
    # Postgres refuses the row (negative latency fails a CHECK): the whole batch is lost.
    bad = replace(decision(None), decision_micros=-1)
    with pytest.raises(DatabaseUnavailable):
        await writer.record(bad)
    await record_all(gateway, [decision(None) for _ in range(2)])
    # Postgres said no while the statement ran, so nothing of it can commit later: the
    # chain goes on from its unmoved head, with no gap (an uncertain failure ends the
    # chain instead: test_a_batch_that_commits_after_its_failure_forks_nothing).
    assert writer.decision_chain.chain_id == first
    assert await _seqs(gateway, first) == [1, 2, 3, 4, 5]
    assert (await verify_api(http, gateway))["status"] == "intact"


class StrandedOnce(DecisionWriter):
    """Once, the batch's statement is stuck behind a lock when its connection is lost:
    the writer reports failure, and the server commits the statement later, after the
    writer has moved on. A head re-read from the table would fork the chain here."""

    strand_next = False
    stranded: tuple[Chain, list[tuple[Any, ...]]] | None = None

    async def _write(self, pending: PendingAppend, batch: Any, results: Any, companions: Any = ()) -> None:
        if self.strand_next:
            self.strand_next = False
            self.stranded = (self.decision_chain, [record for record, *_ in batch])
            raise ConnectionResetError("connection lost while the statement waited")
        await super()._write(pending, batch, results, companions)


async def test_the_writer_keeps_its_connection_until_its_state_is_unknown(gateway: Gateway) -> None:
    """Batches go out on one connection, kept between them. A row Postgres refused leaves
    it ready; a broken connection (here a lost one) goes back terminated, and the next batch
    takes another. Stopping gives it back to the pool."""
    writer = StrandedOnce(gateway.pool, gateway.app[K.METRICS], batch_max=100, timeout=2.0)
    writer.start()
    try:
        await writer.record(decision(None))
        assert writer._conn is not None
        first = writer._conn.get_server_pid()
        await writer.record(decision(None))
        with pytest.raises(DatabaseUnavailable):
            await writer.record(replace(decision(None), decision_micros=-1))  # fails a CHECK
        assert writer._conn is not None and writer._conn.get_server_pid() == first
        writer.strand_next = True
        with pytest.raises(DatabaseUnavailable):
            await writer.record(decision(None))
        assert writer._conn is None
        await writer.record(decision(None))
        assert writer._conn is not None and writer._conn.get_server_pid() != first
        for _ in range(100):  # the terminated connection's backend goes (bounded)
            if not await gateway.pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the connection of unknown state was not closed")
    finally:
        await writer.stop()
    assert writer._conn is None


async def test_a_row_postgres_refuses_fails_alone(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    """One bad row in a batch of good ones: Postgres refuses the statement without saying
    which row, so the writer writes them one by one. Only the bad row's request fails."""
    writer = DecisionWriter(gateway.pool, gateway.app[K.METRICS], batch_max=100, timeout=2.0)
    good = [decision(None) for _ in range(3)]
    bad = replace(decision(None), decision_micros=-1)  # fails a CHECK
    waiting = [asyncio.create_task(writer.record(r)) for r in (good[0], bad, *good[1:])]
    await asyncio.sleep(0)  # all four queued before the writer starts: one batch
    writer.start()
    try:
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    finally:
        await writer.stop()
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "DatabaseUnavailable", "NoneType", "NoneType"]
    stored = await gateway.pool.fetch("SELECT id FROM decisions")
    assert {r["id"] for r in stored} == {r.id for r in good}
    assert (await verify_api(http, gateway))["status"] == "intact"


async def test_a_batch_that_commits_after_its_failure_forks_nothing(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    writer = StrandedOnce(gateway.pool, gateway.app[K.METRICS], batch_max=100, timeout=2.0)
    writer.start()
    try:
        await writer.record(decision(None))
        writer.strand_next = True
        with pytest.raises(DatabaseUnavailable):
            await writer.record(decision(None))
        for _ in range(2):  # the writer goes on...
            await writer.record(decision(None))
    finally:
        await writer.stop()
    assert writer.stranded is not None
    lost, records = writer.stranded
    async with gateway.pool.acquire() as conn:  # ... then the stranded statement lands
        (head,) = await append(conn, Entries(lost, records))
    assert await _seqs(gateway, lost.chain_id) == [1, 2] and head.seq == 2
    assert await _seqs(gateway, writer.decision_chain.chain_id) == [1, 2]
    assert (await verify_api(http, gateway))["status"] == "intact"


class LostAcknowledgement(DecisionWriter):
    """Commits, then reports a lost connection, as when COMMIT's answer never arrives."""

    lose_next = False

    async def _write(self, pending: PendingAppend, batch: Any, results: Any, companions: Any = ()) -> None:
        await super()._write(pending, batch, results, companions)
        if self.lose_next:
            self.lose_next = False
            raise ConnectionResetError("connection lost after COMMIT")


async def test_a_commit_whose_answer_was_lost_ends_its_chain_unforked(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    writer = LostAcknowledgement(gateway.pool, gateway.app[K.METRICS], batch_max=100, timeout=2.0)
    writer.start()
    try:
        await writer.record(decision(None))
        first = writer.decision_chain
        writer.lose_next = True
        with pytest.raises(DatabaseUnavailable):
            await writer.record(decision(None))
        assert first.head.seq == 1, "the head did not move: the commit was not confirmed"
        await writer.record(decision(None))
    finally:
        await writer.stop()
    # The unconfirmed entry did commit: it ends the first chain; the next one starts anew.
    assert await _seqs(gateway, first.chain_id) == [1, 2]
    assert await _seqs(gateway, writer.decision_chain.chain_id) == [1]
    assert (await verify_api(http, gateway))["status"] == "intact"


async def test_every_process_and_restart_has_its_own_chain(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(runtime_dsn(gateway.database_url), exchange.url)
    first = gateway.app[K.WRITER].decision_chain.chain_id
    others = []
    for _ in range(2):  # a second replica, then that replica restarted
        app = create_app(settings, migrate=False)
        async with serving(app):
            rows: list[DecisionRow] = [decision(None, kind=ActionKind.CANCEL) for _ in range(3)]
            await asyncio.gather(
                *(app[K.WRITER].record(r) for r in rows), record_all(gateway, [decision(None)])
            )
            others.append(app[K.WRITER].decision_chain.chain_id)
    body = await verify_api(http, gateway)
    found = {c["chain_id"]: c["entries"] for c in body["chains"] if c["stream"] == "decisions"}
    assert found == {str(first): 2, str(others[0]): 3, str(others[1]): 3}
    conn = await asyncpg.connect(gateway.database_url)
    try:
        declared = await conn.fetch(
            "SELECT chain_id, stream, writer FROM audit_chains WHERE stream = 'decisions'"
        )
    finally:
        await conn.close()
    assert {r["chain_id"] for r in declared} == {first, *others}


CANONICAL_CASES = [
    ("decimal-scale-kept", {"quantity": "0.5000"}, {"quantity": "0.50"}),
    ("time-to-the-microsecond", {"decided_at": 1}, {"decided_at": 2}),
    ("finding-values", {"rule_id": "a.b"}, {"rule_id": "a.c"}),
]


@pytest.mark.parametrize(
    ("left", "right"), [c[1:] for c in CANONICAL_CASES], ids=[c[0] for c in CANONICAL_CASES]
)
async def test_hashes_see_every_difference_and_survive_the_round_trip(
    gateway: Gateway, http: aiohttp.ClientSession, left: dict[str, Any], right: dict[str, Any]
) -> None:
    from datetime import timedelta

    from gateway.feeds.markets import utcnow

    now = utcnow()

    def row(spec: dict[str, Any]) -> DecisionRow:
        at = now + timedelta(microseconds=spec.get("decided_at", 0))
        return decision(None, at=at, quantity=spec.get("quantity", "1"), rule_id=spec.get("rule_id"))

    one, two = row(left), row(right)
    chain_id = uuid.uuid4()
    values_one, values_two = one.record(), two.record()
    assert DECISIONS.hash(values_one, chain_id, 1, bytes(32)) != DECISIONS.hash(
        values_two, chain_id, 1, bytes(32)
    )
    await record_all(gateway, [one, two])
    assert (await verify_api(http, gateway))["status"] == "intact", "what Postgres gives back hashes the same"


async def test_a_request_never_hangs_when_the_writer_is_gone(gateway: Gateway) -> None:
    """The writer task is not running (crashed, or stopped under it): the request is
    answered 'not recorded' within twice the writer's timeout plus a second, not never."""
    writer = DecisionWriter(
        gateway.app[K.POOL], gateway.app[K.METRICS], batch_max=10, timeout=0.05
    )  # never started
    with pytest.raises(DatabaseUnavailable, match="did not answer"):
        await asyncio.wait_for(writer.record(decision(None)), 5)


async def test_answered_requests_leave_no_guard_behind(gateway: Gateway) -> None:
    """The guards of committed decisions are dropped by the next sweep, which then stops:
    nothing accumulates while the writer answers."""
    writer = gateway.app[K.WRITER]
    await asyncio.gather(*(writer.record(decision(None)) for _ in range(20)))
    for _ in range(100):
        if not writer._guarded and writer._guard_sweep is None:
            break
        await asyncio.sleep(GUARD_SWEEP_SECONDS / 5)
    assert not writer._guarded and writer._guard_sweep is None


async def test_a_batch_past_its_deadline_is_not_committed_and_ends_its_chain(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """The write waits on a lock past the writer's deadline: the request is answered 'not
    recorded', the statement is cancelled in Postgres, and the writer goes on with a new
    chain once the lock is gone."""
    writer = DecisionWriter(gateway.pool, gateway.app[K.METRICS], batch_max=100, timeout=0.5)
    writer.start()
    blocker = await asyncpg.connect(gateway.database_url)
    try:
        await writer.record(decision(None))
        first = writer.decision_chain
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(DatabaseUnavailable):
            await writer.record(decision(None))
        await transaction.rollback()
        await writer.record(decision(None))
    finally:
        await blocker.close()
        await writer.stop()
    assert await _seqs(gateway, first.chain_id) == [1]
    assert writer.decision_chain.chain_id != first.chain_id
    assert await _seqs(gateway, writer.decision_chain.chain_id) == [1]
    assert (await verify_api(http, gateway))["status"] == "intact"
