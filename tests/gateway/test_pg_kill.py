"""Postgres killed (SIGKILL, the postmaster and its backends, as a crash or the OOM killer
would) while withdrawals are being decided: every answer is a decision or a 503/504, never
a 500, round after round; and a connection broken mid-call is discarded, not lent again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway.app import create_app
from gateway.ops.pgserver import EmbeddedPostgres
from gateway.store.db import connection, create_pool
from tests.conftest import Exchange, gateway_settings
from tests.support import Customer, new_customer, serving, signed

pytestmark = pytest.mark.asyncio

ROUNDS = 10
CONCURRENT = 20  # withdrawals in flight at once
ANSWERS_BEFORE_KILL = 10  # answers seen in a round before the server is killed
ANSWERS_PER_ROUND = 60  # bounds each round: the workers stop after this many answers
RECOVERY_ATTEMPTS = 50
WITHDRAWAL = {"coin": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": "0.0001"}
# A decision (allowed, held, refused) or "could not decide": anything but a 500.
ACCEPTABLE = {200, 400, 403, 409, 422, 429, 503, 504}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def _crash(server: EmbeddedPostgres) -> None:
    """SIGKILL the postmaster of this test's server, then its backends, by id."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    backends = _children(postmaster)
    for pid in (postmaster, *backends):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for _ in range(500):  # bounded: the kernel reaps them at once
        if not any(_alive(pid) for pid in (postmaster, *backends)):
            # A dead postmaster left unreaped (a zombie) still answers kill(pid, 0), so the
            # next start would take its lock files for a live server's: they are stale.
            for stale in ("postmaster.pid", f".s.PGSQL.{server.port}.lock", f".s.PGSQL.{server.port}"):
                (server.data_dir / stale).unlink(missing_ok=True)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the killed server's processes did not go away")


async def _withdrawals(
    http: aiohttp.ClientSession,
    url: str,
    customers: list[Customer],
    seen: Counter[int],
    enough: asyncio.Event,
) -> None:
    async def worker(n: int) -> None:
        while not enough.is_set():
            customer = customers[n % len(customers)]
            status, _, _ = await signed(
                http, url, "POST", "/sapi/v1/capital/withdraw/apply", customer, WITHDRAWAL
            )
            seen[status] += 1
            if seen.total() >= ANSWERS_PER_ROUND:
                enough.set()

    await asyncio.gather(*(worker(n) for n in range(CONCURRENT)))


async def test_postgres_killed_under_concurrent_withdrawals_never_answers_500(
    own_postgres: EmbeddedPostgres, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(own_postgres.dsn, exchange.url, db_timeout_seconds=2.0)
    app = create_app(settings)
    async with serving(app) as url:
        customers = [await new_customer(http, url, f"c{n}") for n in range(4)]
        every: Counter[int] = Counter()
        for _ in range(ROUNDS):
            seen: Counter[int] = Counter()
            enough = asyncio.Event()
            load = asyncio.create_task(_withdrawals(http, url, customers, seen, enough))
            for _ in range(1000):  # bounded wait for the round to be under way
                if seen.total() >= ANSWERS_BEFORE_KILL or load.done():
                    break
                await asyncio.sleep(0.01)
            await _crash(own_postgres)
            await asyncio.sleep(0.2)  # requests meet the dead server
            await asyncio.to_thread(own_postgres.start)
            enough.set()
            await load
            every.update(seen)
            assert set(seen) <= ACCEPTABLE, seen
        assert 503 in every, "the kills were seen as the database being unavailable"
        # Recovered: the pool replaces its dead connections and decisions go on.
        for _ in range(RECOVERY_ATTEMPTS):
            status, body, _ = await signed(
                http, url, "POST", "/sapi/v1/capital/withdraw/apply", customers[0], WITHDRAWAL
            )
            assert status in ACCEPTABLE, body
            if status < 500:
                break
            await asyncio.sleep(0.1)
        assert status < 500, body


async def test_a_connection_broken_mid_call_is_terminated_not_lent_again(database_url: str) -> None:
    pool = await create_pool(database_url, 1, 5)
    try:
        with pytest.raises(asyncpg.exceptions.InternalClientError):
            async with connection(pool) as conn:
                broken = await conn.fetchval("SELECT pg_backend_pid()")
                # What asyncpg raises when the server dies while a call is in flight.
                raise asyncpg.exceptions.InternalClientError(
                    "cannot switch to state 12; another operation (2) is in progress"
                )
        async with connection(pool) as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != broken
    finally:
        await pool.close()
