"""Fixtures of the audit-trail tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from gateway.cli import main
from tests.conftest import CHECKPOINT_KEY, Gateway, runtime_dsn
from tests.support import SECRET_KEY

Cli = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def audit_cli(gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`python -m gateway audit ...` against the test database, as an operator runs it:
    the exit code and the JSON it printed."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", runtime_dsn(gateway.database_url))
    monkeypatch.setenv("GATEWAY_MIGRATION_DATABASE_URL", gateway.database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GATEWAY_AUDIT_CHECKPOINT_KEY", CHECKPOINT_KEY)

    async def run(*argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            await asyncio.to_thread(main, ["audit", *argv])
        return int(done.value.code or 0), orjson.loads(capsys.readouterr().out)

    return run
