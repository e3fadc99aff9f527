"""The one-statement append (gateway/audit/chain.py): the entry types match their tables,
a statement carrying several chains is all or nothing, and a chain is registered with its
first committed entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio

from gateway.audit.chain import Chain, ChainTip, Entries, append, appending
from gateway.audit.streams import DECISIONS, STREAMS, UPSTREAM
from gateway.feeds.markets import utcnow
from gateway.store.db import ENTRY_TYPES_STATEMENT, create_pool
from gateway.store.records import UpstreamResultRow
from gateway.store.seen_requests import companion, is_replay_refusal, seen_request
from tests.audit.support import decision
from tests.conftest import runtime_dsn

pytestmark = pytest.mark.asyncio

_ATTRIBUTES = """SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
                  WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"""


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    # The runtime role, as the gateway connects: it may insert, never update or delete.
    pool = await create_pool(runtime_dsn(database_url), 2, 10)
    yield pool
    await pool.close()


async def test_each_entry_type_has_its_tables_columns_in_the_appenders_order(pool: asyncpg.Pool) -> None:
    for stream in STREAMS:
        entry = [(r["attname"], r["type"]) for r in await pool.fetch(_ATTRIBUTES, stream.entry_type)]
        table = {r["attname"]: r["type"] for r in await pool.fetch(_ATTRIBUTES, stream.name)}
        assert [name for name, _ in entry] == list(stream.entry_columns), stream.name
        assert entry == [(name, table[name]) for name in stream.entry_columns], stream.name


async def test_chains_are_written_and_registered_together(pool: asyncpg.Pool) -> None:
    decisions, answers = Chain(DECISIONS, "test"), Chain(UPSTREAM, "test")
    rows = [decision(None) for _ in range(3)]
    result = UpstreamResultRow(rows[0].id, utcnow(), 200, None, 1500)
    async with pool.acquire() as conn:
        heads = await append(
            conn, Entries(decisions, [r.record() for r in rows]), Entries(answers, [result.record()])
        )
    assert [h.seq for h in heads] == [3, 1]
    decisions.committed(heads[0])
    answers.committed(heads[1])
    stored = await pool.fetch("SELECT id, seq, entry_hash FROM decisions ORDER BY seq")
    assert [(r["id"], r["seq"]) for r in stored] == [(r.id, n) for n, r in enumerate(rows, 1)]
    assert bytes(stored[-1]["entry_hash"]) == heads[0].hash
    registered = await pool.fetch("SELECT chain_id, stream FROM audit_chains ORDER BY stream")
    assert [(r["chain_id"], r["stream"]) for r in registered] == [
        (decisions.chain_id, "decisions"),
        (answers.chain_id, "upstream_results"),
    ]
    # Registered once: the next append carries no registry row and the chain goes on.
    async with pool.acquire() as conn:
        (head,) = await append(conn, Entries(decisions, [decision(None).record()]))
    assert head.seq == 4
    assert await pool.fetchval("SELECT count(*) FROM audit_chains") == 2


async def test_one_bad_entry_writes_nothing_of_any_chain(pool: asyncpg.Pool) -> None:
    decisions, answers = Chain(DECISIONS, "test"), Chain(UPSTREAM, "test")
    good = decision(None)
    # Negative latency breaks a CHECK on upstream_results: the decisions in the same
    # statement and the registry rows must not stay either.
    bad = UpstreamResultRow(good.id, utcnow(), 200, None, -1)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await append(conn, Entries(decisions, [good.record()]), Entries(answers, [bad.record()]))
    assert await pool.fetchval("SELECT count(*) FROM decisions") == 0
    assert await pool.fetchval("SELECT count(*) FROM upstream_results") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_chains") == 0


async def test_an_append_inside_a_transaction_is_undone_with_it(pool: asyncpg.Pool) -> None:
    chain = Chain(DECISIONS, "test")
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await append(conn, Entries(chain, [decision(None).record()]))
        await transaction.rollback()
    assert await pool.fetchval("SELECT count(*) FROM decisions") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_chains") == 0
    # Its owner goes on with a successor: a new chain, registered with its first entry.
    successor = chain.successor()
    later = replace(decision(None), decided_at=utcnow() + timedelta(seconds=1))
    async with pool.acquire() as conn:
        (head,) = await append(conn, Entries(successor, [later.record()]))
    successor.committed(head)
    assert head.seq == 1 and successor.chain_id != chain.chain_id
    assert await pool.fetchval("SELECT chain_id FROM audit_chains") == successor.chain_id


async def test_appending_moves_the_head_after_the_commit_and_ends_the_chain_otherwise(
    pool: asyncpg.Pool,
) -> None:
    """The one helper every appender uses (gateway/audit/chain.py, appending): in its own
    transaction or the caller's, the head moves only once the commit is done, and a block
    that fails ends the chain, whatever it had appended."""
    tip = ChainTip(DECISIONS, "test")
    async with pool.acquire() as conn:
        async with appending(conn) as pending:
            await pending.append((tip, [decision(None).record()]))
            await pending.append((tip, [decision(None).record()]))  # goes on from the first
            assert tip.chain.head.seq == 0, "not committed yet"
        assert tip.chain.head.seq == 2
        first = tip.chain
        with pytest.raises(RuntimeError):
            async with appending(conn) as pending:
                await pending.append((tip, [decision(None).record()]))
                raise RuntimeError("the change the entry records failed")
        assert tip.chain is not first and tip.chain.head.seq == 0
        transaction = conn.transaction()
        await transaction.start()
        async with appending(conn, transaction=transaction) as pending:
            await pending.append((tip, [decision(None).record()]))
        assert not conn.is_in_transaction() and tip.chain.head.seq == 1
    rows = await pool.fetch("SELECT chain_id, seq FROM decisions ORDER BY chain_id, seq")
    assert sorted((r["chain_id"], r["seq"]) for r in rows) == sorted(
        [(first.chain_id, 1), (first.chain_id, 2), (tip.chain.chain_id, 1)]
    )


async def test_a_refused_companion_writes_nothing_and_keeps_the_chain(pool: asyncpg.Pool) -> None:
    """A batch's request digests ride in the entries' statement (seen_requests.companion):
    a digest already claimed refuses the whole statement, and since Postgres said so while
    it ran, nothing is uncertain: the chain goes on from its unmoved head, not a new one."""
    tip = ChainTip(DECISIONS, "test")
    digest = seen_request("key", "POST", "/api/v3/order", "a=1", b"", timestamp_ms=1, recv_window_ms=5000)
    async with pool.acquire() as conn:
        async with appending(conn, tip, autocommit=True) as pending:
            await pending.append((tip, [decision(None).record()]), companions=[companion([digest])])
        chain = tip.chain
        with pytest.raises(asyncpg.UniqueViolationError) as refused:
            async with appending(conn, tip, autocommit=True) as pending:
                await pending.append((tip, [decision(None).record()]), companions=[companion([digest])])
        assert is_replay_refusal(refused.value)
        assert tip.chain is chain and chain.head.seq == 1
        # Two copies in one statement are refused the same way.
        other = replace(digest, digest=bytes(32))
        with pytest.raises(asyncpg.UniqueViolationError) as doubled:
            async with appending(conn, tip, autocommit=True) as pending:
                await pending.append((tip, [decision(None).record()]), companions=[companion([other, other])])
        assert is_replay_refusal(doubled.value) and tip.chain is chain
        async with appending(conn, tip, autocommit=True) as pending:
            await pending.append((tip, [decision(None).record()]), companions=[companion([other])])
    assert chain.head.seq == 2
    assert await pool.fetchval("SELECT count(*) FROM decisions") == 2
    assert await pool.fetchval("SELECT count(*) FROM seen_requests") == 2
    assert await pool.fetchval("SELECT count(*) FROM audit_chains") == 1


async def test_pooled_connections_learn_every_entry_type_when_they_open(pool: asyncpg.Pool) -> None:
    """The pool's connection set-up names every stream's entry type in one statement, so
    no append pays asyncpg's type introspection on the request path: the statement names
    them all, and each exists (a typo would make the set-up skip them silently)."""
    for stream in STREAMS:
        assert f"::{stream.entry_type}[]" in ENTRY_TYPES_STATEMENT
    async with pool.acquire() as conn:
        prepared = await conn.prepare(ENTRY_TYPES_STATEMENT)
        named = [t.name for t in prepared.get_parameters()]
    assert named[: len(STREAMS)] == [f"{s.entry_type}[]" for s in STREAMS]
