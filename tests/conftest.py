"""A real PostgreSQL for the whole run, a fresh migrated database per test, and the real
mock exchange and gateway served over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from exchange.app import create_exchange_app
from exchange.settings import ExchangeSettings
from gateway import appkeys as K
from gateway.app import create_app
from gateway.cli import main
from gateway.ops.pgserver import EmbeddedPostgres
from gateway.settings import Settings
from gateway.store.migrations import migrate_up
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    OPERATOR_TOKEN,
    SECRET_KEY,
    SERVICE_TOKEN,
    serving,
)

TEMPLATE = "gateway_template"
RUNTIME_ROLE = "gateway_app"  # created by migration 0003; may not alter the log
CHECKPOINT_KEY = "Y2hlY2twb2ludC1rZXktZm9yLXRlc3RzLW9ubHkhISE="  # 32 bytes, tests only
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    asyncio.run(_make_template(server))
    try:
        yield server
    finally:
        server.stop()


async def _make_template(server: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(server.dsn)
    await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    await conn.close()
    conn = await asyncpg.connect(server.dsn_for(TEMPLATE))
    await migrate_up(conn)
    await conn.close()


@pytest_asyncio.fixture
async def database_url(postgres: EmbeddedPostgres) -> str:
    """A fresh database per test, copied from the migrated template (fast, isolated)."""
    return await fresh_database(postgres)


async def fresh_database(postgres: EmbeddedPostgres) -> str:
    """A new database copied from the migrated template; its owner's DSN."""
    name = f"test_{next(_counter)}"
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    return postgres.dsn_for(name)


@dataclass
class Exchange:
    url: str
    app: web.Application


@pytest_asyncio.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A server of this test's own, migrated: one a test may stop or kill without
    disturbing the session's server the other tests share."""
    server = EmbeddedPostgres(tmp_path / "pg")
    await asyncio.to_thread(server.start)
    conn = await asyncpg.connect(server.dsn)
    await migrate_up(conn)
    await conn.close()
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest_asyncio.fixture
async def exchange() -> AsyncIterator[Exchange]:
    app = create_exchange_app(ExchangeSettings(service_token=SERVICE_TOKEN))
    async with serving(app) as url:
        yield Exchange(url, app)


TEST_LICENCES = frozenset({"KR-KOFIU-VASP"})


def gateway_settings(database_url: str, upstream_url: str, **overrides: object) -> Settings:
    return Settings(
        database_url=SecretStr(database_url),
        upstream_url=upstream_url,
        upstream_token=SecretStr(SERVICE_TOKEN),
        secret_key=SecretStr(SECRET_KEY),
        admin_tokens={
            OPERATOR_TOKEN: "operator",
            AUDITOR_TOKEN: "auditor",
            OFFICER_TOKEN: "compliance_officer",
        },
        # The Korean home's customers are Korean residents: serving them needs the
        # operator's KoFIU VASP registration (rules/packs/kr.toml, kr.licence.kofiu_vasp).
        **{"audit_checkpoint_key": SecretStr(CHECKPOINT_KEY), "licences_held": TEST_LICENCES, **overrides},  # type: ignore[arg-type]
    )


def runtime_dsn(owner_dsn: str) -> str:
    """The same database as the application's runtime role (trust auth: no password)."""
    return owner_dsn.replace("://postgres@", f"://{RUNTIME_ROLE}@", 1)


@dataclass
class Gateway:
    url: str
    app: web.Application
    database_url: str  # the owner's (superuser's) DSN: tests use it to look and to tamper

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[K.POOL]


@pytest_asyncio.fixture
async def gateway(database_url: str, exchange: Exchange) -> AsyncIterator[Gateway]:
    # The gateway runs as the runtime role, as in production; migrations as the owner.
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url)
    )
    app = create_app(settings)
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


Cli = Callable[..., Awaitable[tuple[int, Any]]]


def gateway_cli(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> Cli:
    """`python -m gateway <command> ...` against the test database, as an operator runs it
    (the runtime role; migrations as the owner): the exit code and the JSON it printed."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", runtime_dsn(gateway.database_url))
    monkeypatch.setenv("GATEWAY_MIGRATION_DATABASE_URL", gateway.database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GATEWAY_AUDIT_CHECKPOINT_KEY", CHECKPOINT_KEY)
    monkeypatch.setenv("GATEWAY_LICENCES_HELD", ",".join(sorted(TEST_LICENCES)))

    async def run(*argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            await asyncio.to_thread(main, [command, *argv])
        return int(done.value.code or 0), orjson.loads(capsys.readouterr().out)

    return run
