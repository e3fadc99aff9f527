"""Contracts: migrations go up, down and up again; every setting and metric is documented."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest

from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.store.migrations import load_migrations, migrate_down, migrate_up
from tests.conftest import runtime_dsn


@pytest.mark.asyncio
async def test_migrations_up_down_up(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        versions = [m.version for m in load_migrations()]
        assert await migrate_up(conn) == [], "the template database is already migrated"
        assert await migrate_down(conn, 0) == list(reversed(versions))
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [t["tablename"] for t in tables] == ["schema_migrations"]
        assert await migrate_up(conn) == versions
        assert await conn.fetchval("SELECT count(*) FROM decisions") == 0
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_a_migrated_database_is_checked_by_the_runtime_role(database_url: str) -> None:
    """A replica started as the runtime role (deploy/k8s: no migration URL) finds nothing
    to apply, and must not need the CREATE privilege it lacks to find that out."""
    conn = await asyncpg.connect(runtime_dsn(database_url))
    try:
        assert await migrate_up(conn) == []
    finally:
        await conn.close()


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_setting_is_documented(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    missing = [
        f"GATEWAY_{name.upper()}" for name in Settings.model_fields if f"GATEWAY_{name.upper()}" not in readme
    ]
    assert missing == []


def test_env_example_lists_every_setting_and_only_settings(repo_root: Path) -> None:
    """`.env.example` is what operators copy: a setting missing there is one nobody finds,
    and a GATEWAY_ key there that is no setting is silently ignored (extra="ignore")."""
    text = (repo_root / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*(GATEWAY_[A-Z0-9_]+)=", text, re.MULTILINE))
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert (sorted(fields - listed), sorted(listed - fields)) == ([], [])
    mentioned = set(re.findall(r"\bGATEWAY_[A-Z0-9_]+\b", text))
    assert sorted(mentioned - fields) == []


def test_every_metric_is_documented(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    names = {
        metric.name for metric in GatewayMetrics().registry.collect() if metric.name.startswith("gateway_")
    }
    missing = sorted(n for n in names if not re.search(rf"\b{n}(_total)?\b", readme))
    assert missing == []


def test_bad_settings_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("GATEWAY_ADMIN_TOKENS", "wizard:abc")
    with pytest.raises(ValidationError, match="admin_tokens"):
        Settings()
    monkeypatch.setenv("GATEWAY_ADMIN_TOKENS", "auditor:abc,operator:abc")
    with pytest.raises(ValidationError, match="listed twice"):
        Settings()
    monkeypatch.setenv("GATEWAY_ADMIN_TOKENS", "auditor:abc")
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "c2hvcnQ=")
    with pytest.raises(ValidationError, match="secret_key"):
        Settings()
