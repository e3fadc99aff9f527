"""GATEWAY_WORKERS: `python -m gateway serve` as a group of workers sharing one port.

The group is started as an operator starts it, a subprocess on the test database. Which
worker answered is never exposed to clients; it shows in the log: each worker's decision
writer appends to a chain of its own, so two chains among the decisions means two workers
decided. The exchange is reached through a gate that can hold account calls, so calls are
in flight inside the workers when the group is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.conftest import CHECKPOINT_KEY, TEST_LICENCES, Exchange, runtime_dsn
from tests.support import (
    OFFICER_TOKEN,
    OPERATOR_TOKEN,
    SECRET_KEY,
    SERVICE_TOKEN,
    Customer,
    new_customer,
    serving,
    signed,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")

WORKERS = 2
CALLS = 20  # each on its own connection, so the kernel spreads them over the workers
MAX_CALLS = 200
IN_FLIGHT = 6
_ATTEMPTS = 300  # bounds on polling loops, not speed expectations
_POLL_SECONDS = 0.1
_EXIT_SECONDS = 60.0
# The held calls wait at the gate for as long as the test takes to see the workers stop
# accepting, which on a loaded machine can pass the default 10 s exchange timeout: that
# would be a 504 of the test's making, not a drain that dropped a call.
_UPSTREAM_TIMEOUT_SECONDS = 60.0
_HELD_PATH = "/api/v3/account"


@dataclass
class Gate:
    """A pass-through to the exchange that holds account calls while `closed`."""

    exchange_url: str
    open: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == _HELD_PATH and not self.open.is_set():
            self.held += 1
            await self.open.wait()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.exchange_url + request.path_qs,
                headers=headers,
                data=await request.read(),
            ) as answer,
        ):
            body = await answer.read()
            return web.Response(body=body, status=answer.status, content_type=answer.content_type)


@dataclass
class Group:
    url: str
    process: asyncio.subprocess.Process
    gate: Gate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _fresh(method: str, url: str, **kwargs: object) -> tuple[int, str]:
    """One call on a new connection, so the kernel chooses a worker for it."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.request(method, url, **kwargs) as response,  # type: ignore[arg-type]
    ):
        return response.status, await response.text()


def _env(database_url: str, upstream_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_WORKERS=str(WORKERS), GATEWAY_DATABASE_URL=runtime_dsn(database_url),
        GATEWAY_MIGRATION_DATABASE_URL=database_url, GATEWAY_UPSTREAM_URL=upstream_url,
        GATEWAY_UPSTREAM_TOKEN=SERVICE_TOKEN, GATEWAY_SECRET_KEY=SECRET_KEY,
        GATEWAY_AUDIT_CHECKPOINT_KEY=CHECKPOINT_KEY, GATEWAY_LICENCES_HELD=",".join(sorted(TEST_LICENCES)),
        GATEWAY_ADMIN_TOKENS=f"operator:{OPERATOR_TOKEN},compliance_officer:{OFFICER_TOKEN}", GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(port), GATEWAY_SHUTDOWN_GRACE_SECONDS="30",
        GATEWAY_UPSTREAM_TIMEOUT_SECONDS=str(_UPSTREAM_TIMEOUT_SECONDS),
    )  # fmt: skip
    return env


@contextlib.asynccontextmanager
async def group(database_url: str, exchange: Exchange, repo_root: Path) -> AsyncIterator[Group]:
    gate = Gate(exchange.url)
    gate.open.set()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", gate.handle)
    async with serving(app) as gate_url:
        port = _free_port()
        env = _env(database_url, gate_url, port)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", cwd=repo_root, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            ready = 0
            for _ in range(_ATTEMPTS):  # both workers ready: several readies in a row on new connections
                with contextlib.suppress(aiohttp.ClientError):
                    ready = ready + 1 if (await _fresh("GET", url + "/readyz"))[0] == 200 else 0
                if ready >= 10:
                    break
                assert process.returncode is None, "the group exited at start"
                await asyncio.sleep(_POLL_SECONDS)
            else:
                pytest.fail("the group did not become ready")
            yield Group(url, process, gate)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def _requests_total(exposition: str) -> float:
    return sum(float(v) for v in re.findall(r"^gateway_requests_total\{[^}]*\} (\S+)$", exposition, re.M))


async def _chains(database_url: str, customer: Customer) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        found = await conn.fetchval(
            "SELECT count(DISTINCT chain_id) FROM decisions WHERE customer_id = $1", customer.id
        )
        return int(found)
    finally:
        await conn.close()


async def _account(base: str, customer: Customer) -> int:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        return (await signed(session, base, "GET", _HELD_PATH, customer, {}))[0]


async def test_workers_share_the_port_report_the_group_and_drain_on_sigterm(
    database_url: str, exchange: Exchange, repo_root: Path
) -> None:
    async with group(database_url, exchange, repo_root) as served, aiohttp.ClientSession() as http:
        customer = await new_customer(http, served.url, "many-workers")
        # Until both workers have decided (each writer keeps its own chain), bounded.
        calls = 0
        while calls < MAX_CALLS and await _chains(database_url, customer) < WORKERS:
            statuses = [await _account(served.url, customer) for _ in range(CALLS)]
            assert statuses == [200] * CALLS
            calls += CALLS
        assert await _chains(database_url, customer) == WORKERS

        # Any worker's /metrics counts the whole group's calls.
        for _ in range(4):
            status, exposition = await _fresh("GET", served.url + "/metrics")
            assert status == 200
            assert _requests_total(exposition) == calls
        assert "pid=" not in exposition  # gauges combined, not one series per worker

        # Calls held at the exchange, inside the workers, when the group is told to stop.
        served.gate.open.clear()
        holding_since = asyncio.get_running_loop().time()
        in_flight = [asyncio.create_task(_account(served.url, customer)) for _ in range(IN_FLIGHT)]
        for _ in range(_ATTEMPTS):
            if served.gate.held == IN_FLIGHT:
                break
            await asyncio.sleep(_POLL_SECONDS)
        assert served.gate.held == IN_FLIGHT
        served.process.send_signal(signal.SIGTERM)
        for _ in range(_ATTEMPTS):  # the workers stop accepting first
            try:
                await _fresh("GET", served.url + "/healthz")
            except aiohttp.ClientConnectionError:
                break
            await asyncio.sleep(_POLL_SECONDS)
        else:
            pytest.fail("the workers kept accepting after SIGTERM")
        served.gate.open.set()
        held_for = asyncio.get_running_loop().time() - holding_since
        assert held_for < _UPSTREAM_TIMEOUT_SECONDS
        assert await asyncio.gather(*in_flight) == [200] * IN_FLIGHT, f"held for {held_for:.1f} s"
        assert await asyncio.wait_for(served.process.wait(), _EXIT_SECONDS) == 0


async def test_a_dead_worker_stops_the_group_non_zero(
    database_url: str, exchange: Exchange, repo_root: Path
) -> None:
    """Fail fast: a worker that dies takes the group down, so the orchestrator restarts it."""
    async with group(database_url, exchange, repo_root) as served:
        workers = [int(pid) for pid in await _children(served.process.pid)]
        assert len(workers) == WORKERS
        os.kill(workers[0], signal.SIGKILL)
        assert await asyncio.wait_for(served.process.wait(), _EXIT_SECONDS) != 0
        for pid in workers[1:]:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


async def _children(pid: int) -> list[str]:
    """The supervisor's worker processes (Linux /proc), not the spawn helpers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = stat.rsplit(")", 1)[1].split()[1]
            if int(parent) == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(entry.name)
    return found


async def test_a_stop_while_the_workers_start_is_a_clean_stop(
    database_url: str, exchange: Exchange, repo_root: Path
) -> None:
    """SIGTERM before the workers serve (an orchestrator's quick rollback): nothing is in
    flight, so every worker ends cleanly and the group exits 0, not as a failed group."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=repo_root, env=_env(database_url, exchange.url, _free_port()),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(_ATTEMPTS):  # both workers spawned, still importing and starting
            if len(await _children(process.pid)) == WORKERS:
                break
            assert process.returncode is None, "the group exited at start"
            await asyncio.sleep(_POLL_SECONDS / 10)
        else:
            pytest.fail("the workers were not spawned")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), _EXIT_SECONDS) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
