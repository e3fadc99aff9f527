"""deploy/postgres/roles.sql, as compose's db-roles service (and a DBA, for Kubernetes)
runs it: two roles with passwords, neither a superuser; the owner can run every migration,
and the runtime role the gateways use cannot alter the audit log or its triggers."""

from __future__ import annotations

import itertools
import os
import subprocess

import asyncpg
import pytest

from gateway.ops.pgserver import POSTGRES_BIN_PATH, EmbeddedPostgres
from gateway.store.migrations import load_migrations, migrate_up
from tests.deploy.support import DEPLOY

ROLES_SQL = DEPLOY / "postgres" / "roles.sql"
PASSWORDS = {"POSTGRES_OWNER_PASSWORD": "owner-pw-for-tests", "POSTGRES_APP_PASSWORD": "app-pw-for-tests"}
_counter = itertools.count()


async def _empty_database(postgres: EmbeddedPostgres) -> str:
    name = f"roles_{next(_counter)}"
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return postgres.dsn_for(name)


def _psql(dsn: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PASSWORDS}
    return subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), dsn, "-X", "-q", "-f", str(ROLES_SQL)],
        env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _as(dsn: str, role: str) -> str:
    return dsn.replace("://postgres@", f"://{role}@", 1)


@pytest.mark.asyncio
async def test_roles_are_made_and_the_owner_migrates_without_superuser(postgres: EmbeddedPostgres) -> None:
    dsn = await _empty_database(postgres)
    for _ in range(2):  # a second run (compose `up` again) changes nothing and does not fail
        ran = _psql(dsn, PASSWORDS)
        assert ran.returncode == 0, ran.stderr
    admin = await asyncpg.connect(dsn)
    try:
        roles = await admin.fetch(
            """SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls,
                      rolpassword IS NOT NULL AS has_password
                 FROM pg_authid WHERE rolname IN ('gateway_owner', 'gateway_app') ORDER BY rolname"""
        )
        assert [tuple(r) for r in roles] == [
            ("gateway_app", False, False, False, True, False, True),
            ("gateway_owner", False, False, False, True, False, True),
        ]
        owner = await admin.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner == "gateway_owner"
    finally:
        await admin.close()

    conn = await asyncpg.connect(_as(dsn, "gateway_owner"))
    try:
        assert await migrate_up(conn) == [m.version for m in load_migrations()]
    finally:
        await conn.close()

    app = await asyncpg.connect(_as(dsn, "gateway_app"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("UPDATE decisions SET outcome = outcome")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("ALTER TABLE decisions DISABLE TRIGGER USER")
    finally:
        await app.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", sorted(PASSWORDS))
async def test_a_missing_password_stops_the_script(postgres: EmbeddedPostgres, missing: str) -> None:
    dsn = await _empty_database(postgres)
    ran = _psql(dsn, {k: v for k, v in PASSWORDS.items() if k != missing})
    assert ran.returncode != 0 and f"{missing} is not set" in ran.stderr
    conn = await asyncpg.connect(dsn)
    try:
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner == "postgres"
    finally:
        await conn.close()
