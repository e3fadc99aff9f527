"""Snapshots in Postgres and the list in force on every replica: the packaged list at
start, identical reloads changing nothing, a newer list delisting an address on every
replica, the last good list kept when a refresh fails, nothing allowed when no list
could ever be loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from gateway.app import create_app
from gateway.audit.events import EventLog
from gateway.sanctions.service import (
    BOOTSTRAP_ACTOR,
    LoadOptions,
    LoadOutcome,
    SanctionsUnavailable,
    bootstrap,
    load_snapshot,
    packaged_snapshot,
)
from gateway.sanctions.sources import snapshot_from_json
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.sanctions.conftest import (
    TORNADO,
    UNLISTED_EVM,
    Replica,
    body_of,
    packaged_without_tornado,
)
from tests.support import OFFICER_TOKEN, admin, serving

pytestmark = pytest.mark.asyncio
PACKAGED_DIR = Path(__file__).resolve().parents[2] / "aml" / "data" / "sanctions"
# Bounds the wait for a background refresh; each round is one short sleep.
CONVERGE_ROUNDS = 200


async def _events(gateway: Gateway) -> list[asyncpg.Record]:
    return await gateway.pool.fetch(
        "SELECT actor, subject_id, details FROM audit_events WHERE kind = 'list_snapshot.loaded'"
        " ORDER BY occurred_at"
    )


async def test_start_up_loads_the_packaged_snapshot(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    packaged = packaged_snapshot()
    current = gateway.app[K.SANCTIONS].current
    # 654 entries published, 641 distinct; the one XMR entry that is not an address is
    # declared in snapshot.toml and recorded as rejected: 653 stored, 640 distinct.
    assert (current.snapshot_id, current.as_of.isoformat(), current.address_count) == (
        packaged.id,
        "2024-09-27",
        640,
    )
    assert current.loaded_by == BOOTSTRAP_ACTOR
    assert current.address_list.id == packaged.id, "rebuilt from the rows, it hashes the same"
    row = await gateway.pool.fetchrow("SELECT * FROM sanctions_snapshots")
    assert (row["id"], row["address_count"], row["entry_count"]) == (packaged.id, 640, 653)
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_addresses") == 653
    rejected = await gateway.pool.fetch(
        "SELECT snapshot_id, entry_index, network, address FROM sanctions_rejections"
    )
    assert [(r["snapshot_id"], r["network"], r["address"][:8]) for r in rejected] == [
        (packaged.id, "XMR", "5be5543f")
    ]
    assert await gateway.pool.fetchval("SELECT snapshot_id FROM sanctions_current") == packaged.id
    [event] = await _events(gateway)
    assert (event["actor"], event["subject_id"]) == (BOOTSTRAP_ACTOR, packaged.id)
    assert event["details"]["outcome"] == "loaded" and event["details"]["added"] == 640
    assert event["details"]["rejected"] == 1
    async with http.get(gateway.url + "/metrics") as response:
        metrics = await response.text()
    assert "gateway_sanctions_addresses 640.0" in metrics
    assert "gateway_sanctions_as_of_timestamp_seconds 1.7273952e+09" in metrics  # 2024-09-27 UTC


async def test_a_restart_does_not_load_the_packaged_snapshot_again(
    gateway: Gateway, exchange: Exchange
) -> None:
    async with gateway.pool.acquire() as conn:
        await load_snapshot(conn, snapshot_from_json(packaged_without_tornado()), "cli:tester")
    app = create_app(gateway_settings(runtime_dsn(gateway.database_url), exchange.url), migrate=False)
    async with serving(app):
        assert app[K.SANCTIONS].current.loaded_by == "cli:tester"
    assert [e["actor"] for e in await _events(gateway)] == [BOOTSTRAP_ACTOR, "cli:tester"]


async def test_an_identical_reload_changes_nothing_and_says_so(gateway: Gateway) -> None:
    async with gateway.pool.acquire() as conn:
        result = await load_snapshot(conn, PACKAGED_DIR, "cli:tester")
    assert (result.outcome, result.changed) == (LoadOutcome.UNCHANGED, False)
    assert result.previous_id == result.snapshot.id == packaged_snapshot().id
    assert (result.added, result.delisted) == (0, 0)
    assert result.snapshot.loaded_by == BOOTSTRAP_ACTOR, "the stored snapshot is the first load's"
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_snapshots") == 1
    assert await gateway.pool.fetchval("SELECT switched_by FROM sanctions_current") == BOOTSTRAP_ACTOR
    # The attempt itself is on record: who checked the list against which snapshot.
    events = await _events(gateway)
    assert [(e["actor"], e["details"]["outcome"]) for e in events] == [
        (BOOTSTRAP_ACTOR, "loaded"),
        ("cli:tester", "unchanged"),
    ]


async def test_a_newer_snapshot_delists_on_every_replica(
    gateway: Gateway, second_replica: Replica, http: aiohttp.ClientSession
) -> None:
    one, two = gateway.app[K.SANCTIONS], second_replica.app[K.SANCTIONS]
    assert one.is_listed(TORNADO) and two.is_listed(TORNADO)
    status, body = await admin(
        http, gateway.url, "POST", "/admin/v1/sanctions/snapshots", token=OFFICER_TOKEN,
        json=packaged_without_tornado(),
    )  # fmt: skip
    assert status == 201, body
    assert (body["outcome"], body["added"], body["delisted"]) == ("loaded", 0, 1)
    assert body["previous_id"] == packaged_snapshot().id
    assert not one.is_listed(TORNADO), "in force on the replica that loaded it before it answered"
    assert two.is_listed(TORNADO), "the other replica screens with its list until it refreshes"
    assert await two.refresh()
    assert not two.is_listed(TORNADO)
    assert two.current.snapshot_id == one.current.snapshot_id == body["snapshot"]["id"]
    assert two.is_listed(packaged_snapshot().addresses.addresses["XBT"][0]), "the rest stays listed"


async def test_the_background_refresh_converges_without_a_restart(
    gateway: Gateway, exchange: Exchange
) -> None:
    settings = gateway_settings(
        runtime_dsn(gateway.database_url), exchange.url, sanctions_refresh_seconds=0.01
    )
    app = create_app(settings, migrate=False)
    async with serving(app):
        replica = app[K.SANCTIONS]
        assert replica.is_listed(TORNADO)
        async with gateway.pool.acquire() as conn:
            result = await load_snapshot(conn, snapshot_from_json(packaged_without_tornado()), "cli:tester")
        for _ in range(CONVERGE_ROUNDS):
            if replica.current.snapshot_id == result.snapshot.id:
                break
            await asyncio.sleep(0.01)
        assert replica.current.snapshot_id == result.snapshot.id
        assert not replica.is_listed(TORNADO)


async def test_loading_an_older_snapshot_again_reactivates_it(gateway: Gateway) -> None:
    sanctions = gateway.app[K.SANCTIONS]
    async with gateway.pool.acquire() as conn:
        newer = await load_snapshot(conn, snapshot_from_json(packaged_without_tornado()), "cli:tester")
        again = await load_snapshot(conn, PACKAGED_DIR, "cli:tester")
    assert (newer.outcome, again.outcome) == (LoadOutcome.LOADED, LoadOutcome.REACTIVATED)
    assert (again.added, again.delisted, again.previous_id) == (1, 0, newer.snapshot.id)
    assert await gateway.pool.fetchval("SELECT count(*) FROM sanctions_snapshots") == 2
    assert await sanctions.refresh()
    assert sanctions.current.snapshot_id == packaged_snapshot().id and sanctions.is_listed(TORNADO)


async def test_evm_addresses_match_in_any_case(gateway: Gateway) -> None:
    sanctions = gateway.app[K.SANCTIONS]
    for spelling in (TORNADO, TORNADO.lower(), "0x" + TORNADO[2:].upper()):
        match = sanctions.match(spelling, "ETH")
        assert match is not None and match.listed_as == (TORNADO,), spelling
    assert not sanctions.is_listed(UNLISTED_EVM)


async def test_a_failed_refresh_keeps_the_last_good_list(gateway: Gateway, second_replica: Replica) -> None:
    two = second_replica.app[K.SANCTIONS]
    held = two.current
    async with gateway.pool.acquire() as conn:
        await load_snapshot(conn, snapshot_from_json(packaged_without_tornado()), "cli:tester")
    owner = await asyncpg.connect(gateway.database_url)
    try:
        # As when the database cannot answer: the replica's query fails.
        await owner.execute("REVOKE SELECT ON sanctions_current FROM gateway_app")
        assert not await two.refresh()
        assert two.current is held and two.is_listed(TORNADO)
        metrics = second_replica.app[K.METRICS]
        assert metrics.sanctions_refresh_failures._value.get() == 1
        await owner.execute("GRANT SELECT ON sanctions_current TO gateway_app")
    finally:
        await owner.close()
    assert await two.refresh()
    assert not two.is_listed(TORNADO)


async def test_a_snapshot_altered_in_the_database_is_refused(
    gateway: Gateway, second_replica: Replica
) -> None:
    two = second_replica.app[K.SANCTIONS]
    small = snapshot_from_json(body_of(packaged_snapshot(), without=None, addresses=[{"address": TORNADO}]))
    async with gateway.pool.acquire() as conn:
        await load_snapshot(conn, small, "cli:tester", options=LoadOptions(confirm_delisting=True))
    owner = await asyncpg.connect(gateway.database_url)
    try:
        await owner.execute(
            "UPDATE sanctions_addresses SET address = $1 WHERE snapshot_id = $2", UNLISTED_EVM, small.id
        )
    finally:
        await owner.close()
    assert not await two.refresh(), "its rows no longer hash to its id"
    assert two.current.snapshot_id == packaged_snapshot().id


async def test_without_any_list_screening_fails_closed(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    owner = await asyncpg.connect(database_url)
    try:
        # The bootstrap cannot store the packaged list: nothing can be loaded at all.
        await owner.execute("REVOKE INSERT ON sanctions_snapshots FROM gateway_app")
        settings = gateway_settings(runtime_dsn(database_url), exchange.url, sanctions_refresh_seconds=3600.0)
        app = create_app(settings, migrate=False)
        async with serving(app) as url:
            sanctions = app[K.SANCTIONS]
            with pytest.raises(SanctionsUnavailable):
                sanctions.current  # noqa: B018
            with pytest.raises(SanctionsUnavailable):
                sanctions.is_listed(UNLISTED_EVM)
            status, body = await admin(
                http, url, "GET", f"/admin/v1/sanctions/check?address={UNLISTED_EVM}", token=OFFICER_TOKEN
            )
            assert (status, body["error"]["code"]) == (503, "sanctions_unavailable")
            async with http.get(url + "/metrics") as response:
                metrics = await response.text()
            assert "gateway_sanctions_addresses 0.0" in metrics
            assert "gateway_sanctions_refresh_failures_total 1.0" in metrics
            assert await owner.fetchval("SELECT count(*) FROM sanctions_snapshots") == 0

            await owner.execute("GRANT INSERT ON sanctions_snapshots TO gateway_app")
            assert await sanctions.refresh(), "the next refresh loads it: no restart needed"
            assert sanctions.current.snapshot_id == packaged_snapshot().id
    finally:
        await owner.close()


async def test_replicas_starting_together_bootstrap_once(database_url: str) -> None:
    dsn = runtime_dsn(database_url)
    conns = [await asyncpg.connect(dsn) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(bootstrap(conn, packaged_snapshot(), EventLog(f"replica-{i}")) for i, conn in enumerate(conns))
        )
        assert sorted(r is None for r in results) == [False, True], "one loads it, the other finds it"
        assert await conns[0].fetchval("SELECT count(*) FROM sanctions_snapshots") == 1
        assert await conns[0].fetchval("SELECT count(*) FROM audit_events") == 1
    finally:
        for conn in conns:
            await conn.close()
