"""CLI conventions: `--version` without settings; long commands show progress on a
terminal and nothing extra when not, with stdout kept to their JSON or CSV; the CLI
export is the admin API's export, byte for byte."""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest

from gateway.cli import main
from gateway.ops import progress
from tests.conftest import CHECKPOINT_KEY, Gateway, runtime_dsn
from tests.support import AUDITOR_TOKEN, SECRET_KEY, new_customer, signed

PACKAGED_SANCTIONS = Path(__file__).resolve().parents[2] / "aml" / "data" / "sanctions"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "100"}  # fmt: skip


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_version_needs_no_settings(repo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--version"], cwd=repo_root, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"python -m gateway {importlib.metadata.version('compliance-gateway')}"


def test_progress_is_drawn_on_a_terminal_only() -> None:
    clock = [0.0]
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        clock[0] = 0.0
        with progress.Progress("walking", "rows", stream=stream, clock=lambda: clock[0]) as shown:
            for _ in range(1000):
                clock[0] += 0.01
                progress.advance()
            shown.phase("second step")
    assert pipe.getvalue() == ""
    drawn = terminal.getvalue()
    counts = [int(n.replace(",", "")) for n in re.findall(r"walking: ([\d,]+) rows", drawn)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] > 900
    # Redrawn at most every REDRAW_SECONDS, not per row.
    assert drawn.count("\r") < 1000 * 0.01 / progress.REDRAW_SECONDS + 5
    assert drawn.endswith("second step: 0 rows done in 10.0s\n")


def test_progress_outside_a_command_counts_into_nothing() -> None:
    progress.advance(5)  # the server's verification, say: no error, no output
    with progress.Progress("outer", stream=io.StringIO()) as outer:
        progress.advance(2)
    progress.advance(3)
    assert outer.count == 2


@pytest.fixture
def cli_env(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", runtime_dsn(gateway.database_url))
    monkeypatch.setenv("GATEWAY_MIGRATION_DATABASE_URL", gateway.database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GATEWAY_AUDIT_CHECKPOINT_KEY", CHECKPOINT_KEY)


async def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    argv: list[str],
    terminal: bool,
) -> tuple[int, bytes, str]:
    """`python -m gateway ARGV`: exit code, stdout bytes, and what stderr received."""
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    capsysbinary.readouterr()
    with pytest.raises(SystemExit) as done:
        await asyncio.to_thread(main, argv)
    return int(done.value.code or 0), capsysbinary.readouterr().out, stderr.getvalue()


async def some_decisions(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    trader = await new_customer(http, gateway.url, "cli-trader")
    for _ in range(3):
        status, _, _ = await signed(http, gateway.url, "POST", "/api/v3/order", trader, ORDER)
        assert status in (200, 400)


async def active_version(gateway: Gateway) -> str:
    conn = await asyncpg.connect(gateway.database_url)
    try:
        return str(await conn.fetchval("SELECT version FROM rule_pack_versions LIMIT 1"))
    finally:
        await conn.close()


LONG_COMMANDS = {
    "audit verify": (["audit", "verify"], "verifying the audit log"),
    "audit export": (["audit", "export", "--format", "jsonl"], "exporting decisions"),
    "rules replay": (
        ["rules", "replay", "--since", "2000-01-01T00:00:00+00:00", "--until", "2100-01-01T00:00:00+00:00"],
        "replaying decisions",
    ),
    "sanctions load": (["sanctions", "load", str(PACKAGED_SANCTIONS)], "storing the snapshot"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
@pytest.mark.parametrize("command", sorted(LONG_COMMANDS))
async def test_long_commands_show_progress_on_a_terminal_and_keep_stdout_machine_readable(
    gateway: Gateway, http: aiohttp.ClientSession, cli_env: None, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes], command: str, terminal: bool,
) -> None:  # fmt: skip
    await some_decisions(gateway, http)
    argv, label = LONG_COMMANDS[command]
    if command == "rules replay":
        argv = [*argv, "--version", await active_version(gateway)]
    code, out, err = await run_cli(monkeypatch, capsysbinary, argv, terminal)
    assert code == 0, err
    # stdout: JSON, or JSON Lines, and nothing else.
    lines = out.decode().splitlines() if command == "audit export" else [out.decode()]
    assert lines and all(isinstance(orjson.loads(line), dict) for line in lines)
    if terminal:
        assert label in err and "\r" in err and " done in " in err
    else:
        assert label not in err and "\r" not in err


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_the_cli_export_is_the_admin_export(
    gateway: Gateway, http: aiohttp.ClientSession, cli_env: None, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, fmt: str,
) -> None:  # fmt: skip
    await some_decisions(gateway, http)
    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    url = f"{gateway.url}/admin/v1/decisions/export?format={fmt}&sort=asc&action_kind=order"
    async with http.get(url, headers=headers) as response:
        assert response.status == 200
        over_http = await response.read()
    argv = ["audit", "export", "--format", fmt, "--action-kind", "order"]
    code, out, _ = await run_cli(monkeypatch, capsysbinary, argv, terminal=False)
    assert code == 0
    assert out == over_http
    assert b"cli-trader" not in out  # masked, as for an auditor
    target = tmp_path / f"decisions.{fmt}"
    code, out, _ = await run_cli(monkeypatch, capsysbinary, [*argv, "--out", str(target)], terminal=False)
    assert code == 0 and target.read_bytes() == over_http
    summary = orjson.loads(out)
    rows = len(over_http.splitlines()) - (1 if fmt == "csv" else 0)
    assert summary == {"out": str(target), "format": fmt, "rows": rows} and rows > 0
