"""Audit queries on a big log: do they stay fast as the decision log grows?

    python bench/audit_queries.py                     # 5 million decisions over 12 months
    python bench/audit_queries.py --rows 500000       # quicker
    python bench/audit_queries.py --keep /tmp/auditdb # keep the database for a second look

Starts an embedded Postgres in a temporary directory, migrates it, creates 10,000
customers and generates the decision rows in SQL (generate_series straight into the
partitioned table; indexes dropped during the load and rebuilt after, foreign-key checks
off, as a bulk load would), then times, through the same code the admin API runs:

- customer + time range: one customer's decisions in a 30-day window, newest first, 100;
- filtered page: deny + order + BTC + notional range over 90 days, newest first, 100;
- rule-id page and second page (cursor) of a time-sorted listing;

once by calling gateway.store.decisions.search on a connection, and once through the real
admin API (GET /admin/v1/decisions as an auditor: HTTP, masking and JSON included). Each
query runs with fresh random parameters; p50/p99/max in milliseconds. Loops are bounded in
count and time. Writes bench/results/audit_queries.json.

The generated rows carry chain fields of the right shape but are not a valid chain: this
measures queries, not verification.

Figures on the 2-core development machine (5,000,000 rows): see the table printed, and
the final note of the issue-6 work in the project history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp import web  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from gateway.app import create_app  # noqa: E402
from gateway.ops.pgserver import EmbeddedPostgres  # noqa: E402
from gateway.sealing import new_key_b64  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store import decisions as store  # noqa: E402
from gateway.store.migrations import migrate_up  # noqa: E402

CUSTOMERS = 10_000
MONTHS = 12
BATCH = 500_000
TOKEN = "bench-auditor-token"

# One INSERT per batch: rows spread evenly over MONTHS months back from now.
_LOAD = """
WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM customers),
     s AS (SELECT ARRAY['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ETHBTC', 'BNBUSDT', 'ADAUSDT',
                        'DOGEUSDT'] AS sym)
INSERT INTO decisions (
    id, decided_at, request_id, customer_id, api_key_id, dialect, operation, action_kind, http_method, path,
    symbol, base_asset, quote_asset, asset, side, order_type, quantity, price, notional, notional_asset,
    address, network, client_order_id, outcome, reasons, rule_ids, findings, rule_pack_version,
    decision_micros, country, review_status, chain_id, seq, prev_hash, entry_hash)
SELECT gen_random_uuid(),
       now() - ((g::float8 / $3) * interval '1 day' * 30.4 * $4) - (random() * interval '1 second'),
       md5(g::text), c.ids[1 + (g * 7919) % $5], NULL, 'binance', 'binance.order.create',
       CASE WHEN g % 10 < 7 THEN 'order' WHEN g % 10 < 9 THEN 'account_read'
            WHEN g % 20 = 9 THEN 'withdrawal' ELSE 'cancel' END,
       'POST', '/api/v3/order', s.sym[1 + g % 8],
       CASE WHEN g % 8 = 4 THEN 'ETH' ELSE split_part(s.sym[1 + g % 8], 'USDT', 1) END,
       CASE WHEN g % 8 = 4 THEN 'BTC' ELSE 'USDT' END,
       NULL, CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, 'LIMIT',
       round((random() * 10)::numeric, 6), round((random() * 50000)::numeric, 2),
       round((random() * 100000)::numeric, 2), 'USDT', NULL, NULL, 'cid-' || g,
       CASE WHEN g % 20 = 0 THEN 'deny' WHEN g % 50 = 1 THEN 'hold'
            WHEN g % 10 = 2 THEN 'allow_and_report' ELSE 'allow' END,
       CASE WHEN g % 20 = 0 THEN ARRAY['unknown_symbol'] ELSE '{}' END,
       CASE WHEN g % 20 = 0 THEN ARRAY['core.instrument.unknown_symbol']
            WHEN g % 50 = 1 THEN ARRAY['kr.travel_rule.current'] ELSE '{}' END,
       CASE WHEN g % 20 = 0 THEN '[{"rule_id": "core.instrument.unknown_symbol", "outcome": "deny"}]'::jsonb
            ELSE '[]'::jsonb END,
       'bench-pack', 100 + g % 900,
       (ARRAY['KR', 'JP', 'US-NY', 'CH', NULL])[1 + g % 5], NULL,
       ('00000000-0000-4000-8000-00000000000' || (g % 4)::text)::uuid, g / 4 + 1,
       sha256(int8send(g - 1)), sha256(int8send(g))
  FROM generate_series($1::bigint, $2::bigint) g, c, s
"""


async def load(conn: asyncpg.Connection, rows: int) -> float:
    started = time.perf_counter()
    await conn.execute(
        f"INSERT INTO customers (id, reference) SELECT gen_random_uuid(), 'bench-' || g"
        f" FROM generate_series(1, {CUSTOMERS}) g"
    )
    first = (datetime.now(UTC) - timedelta(days=31 * MONTHS)).date().replace(day=1)
    await conn.execute("SELECT audit_ensure_partitions(1, $1)", first)
    # A bulk load: indexes rebuilt once at the end, foreign keys not checked row by row.
    indexes = await conn.fetch(
        """SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename = 'decisions' AND indexname <> 'decisions_pkey'"""
    )
    for index in indexes:
        await conn.execute(f"DROP INDEX {index['indexname']}")
    await conn.execute("SET session_replication_role = replica")
    for start in range(1, rows + 1, BATCH):
        end = min(start + BATCH - 1, rows)
        await conn.execute(_LOAD, start, end, rows, MONTHS, CUSTOMERS)
        print(f"  loaded {end:>10,} rows  {time.perf_counter() - started:7.1f} s", flush=True)
    await conn.execute("RESET session_replication_role")
    await conn.execute("SET maintenance_work_mem = '512MB'")
    for index in indexes:
        # pg_indexes shows a partitioned index as ON ONLY (parent alone); rebuild it everywhere.
        await conn.execute(index["indexdef"].replace(" ON ONLY ", " ON "))
    await conn.execute("ANALYZE")
    return time.perf_counter() - started


Query = Callable[[random.Random], Awaitable[int]]


Make = Callable[[random.Random], dict[str, Any]]


def _filters(customers: list[uuid.UUID], now: datetime) -> dict[str, Make]:
    def window(rng: random.Random, days: int) -> tuple[datetime, datetime]:
        end = now - timedelta(days=rng.uniform(0, 30.4 * MONTHS - days))
        return end - timedelta(days=days), end

    def customer_range(rng: random.Random) -> dict[str, Any]:
        since, until = window(rng, 30)
        return {"customer_id": rng.choice(customers), "since": since, "until": until}

    def filtered_page(rng: random.Random) -> dict[str, Any]:
        since, until = window(rng, 90)
        low = Decimal(rng.randrange(0, 50_000))
        return {
            "outcome": "deny", "action_kind": "order", "asset": "BTC", "notional_min": low,
            "notional_max": low + 50_000, "since": since, "until": until,
        }  # fmt: skip

    def rule_page(rng: random.Random) -> dict[str, Any]:
        since, until = window(rng, 60)
        return {"rule_id": "kr.travel_rule.current", "country": "JP", "since": since, "until": until}

    return {"customer+time range": customer_range, "filtered page": filtered_page, "rule id page": rule_page}


async def measure(name: str, run: Query, samples: int, seconds: float, rng: random.Random) -> dict[str, Any]:
    for _ in range(10):  # warm-up
        await run(rng)
    timings, found = [], []
    deadline = time.monotonic() + seconds
    while len(timings) < samples and time.monotonic() < deadline:
        started = time.perf_counter()
        found.append(await run(rng))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "query": name,
        "samples": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
        "max_ms": round(timings[-1], 2),
        "mean_rows": round(statistics.mean(found), 1),
    }


def _query_string(flt: dict[str, Any], cursor: str | None) -> dict[str, str]:
    params = {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in flt.items()}
    params["limit"] = "100"
    if cursor:
        params["cursor"] = cursor
    return params


async def run_queries(dsn: str, samples: int, seconds: float) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    customers = [r["id"] for r in await conn.fetch("SELECT id FROM customers")]
    now = datetime.now(UTC)
    filters = _filters(customers, now)
    rng = random.Random(6)
    results = []

    for name, make in filters.items():

        async def direct(rng: random.Random, make: Any = make) -> int:
            rows, _ = await store.search(conn, store.DecisionFilter(**make(rng)), 100, None)
            return len(rows)

        results.append({"via": "sql", **await measure(name, direct, samples, seconds, rng)})

    async def two_pages(rng: random.Random) -> int:
        flt = store.DecisionFilter(**filters["filtered page"](rng))
        first, cursor = await store.search(conn, flt, 100, None)
        second, _ = await store.search(conn, flt, 100, cursor)
        return len(first) + len(second)

    results.append({"via": "sql", **await measure("filtered pages 1+2", two_pages, samples, seconds, rng)})
    await conn.close()

    settings = Settings(
        database_url=SecretStr(dsn), upstream_url="http://127.0.0.1:9", secret_key=SecretStr(new_key_b64()),
        admin_tokens={TOKEN: "auditor"}, upstream_timeout_seconds=0.5,
    )  # fmt: skip
    app = create_app(settings, migrate=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/admin/v1/decisions"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for name, make in filters.items():

                async def api(rng: random.Random, make: Any = make) -> int:
                    async with http.get(base, params=_query_string(make(rng), None)) as response:
                        body = await response.json()
                        assert response.status == 200, body
                        return len(body["decisions"])

                results.append({"via": "admin API", **await measure(name, api, samples, seconds, rng)})
    finally:
        await runner.cleanup()
    return results


async def main_async(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate_up(conn)
        if await conn.fetchval("SELECT count(*) FROM decisions") == 0:
            print(f"generating {args.rows:,} decisions ...", flush=True)
            load_seconds = await load(conn, args.rows)
        else:
            load_seconds = 0.0
        size = await conn.fetchval(
            """SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits
                WHERE inhparent = 'decisions'::regclass"""
        )
        count = await conn.fetchval("SELECT count(*) FROM decisions")
    finally:
        await conn.close()
    results = await run_queries(dsn, args.samples, args.seconds)
    return {"rows": count, "load_seconds": round(load_seconds, 1), "decisions_size": size, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=300, help="timed runs per query (at most)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per query")
    parser.add_argument("--keep", type=Path, help="database directory to keep (and reuse if it exists)")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    server = EmbeddedPostgres(workdir / "pg")
    server.start()
    try:
        report = asyncio.run(main_async(args, server.dsn))
    finally:
        server.stop()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    rows, size, took = report["rows"], report["decisions_size"], report["load_seconds"]
    print(f"\n{rows:,} decisions ({size}), loaded in {took} s\n")
    print(f"{'query':<22} {'via':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'rows':>6} {'runs':>5}")
    for r in report["results"]:
        print(
            f"{r['query']:<22} {r['via']:<10} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}"
            f" {r['mean_rows']:>6} {r['samples']:>5}"
        )
    out = BENCH / "results" / "audit_queries.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), **report}, indent=2) + "\n")


if __name__ == "__main__":
    main()
