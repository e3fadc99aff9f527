"""Retro-screening: a new snapshot's additions screened against past deposits and
withdrawals. Each hit opens one STR naming snapshot, address and movement, with an audit
event and a metric; movements older than the lookback are left alone; a scan resumes
after a restart mid-scan and two replicas open each STR once.

Snapshots are the packaged list's valid entries less a few BTC addresses: a movement
from or to one of them is allowed while it is off the list, and hit when a later snapshot
lists it again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from pydantic import SecretStr

from aml.addresses.entries import StoredEntry, check_entry
from aml.sanctions import load_packaged_snapshot
from gateway import appkeys as K
from gateway.app import create_app
from gateway.appkeys import RETRO
from gateway.sanctions.retro.screener import Round
from tests.conftest import Exchange, gateway_settings, runtime_dsn
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    OPERATOR_TOKEN,
    Customer,
    admin,
    new_customer,
    serving,
    signed,
    travel_rule_params,
)

pytestmark = pytest.mark.asyncio
SNAPSHOTS, SCANS = "/admin/v1/sanctions/snapshots", "/admin/v1/sanctions/retro-scans"
# Bounds every wait on the background worker; each round is one short sleep.
ROUNDS = 600


def _valid_entries() -> list[tuple[str, str]]:
    packaged = load_packaged_snapshot()
    entries = [(a, n) for n, addresses in packaged.addresses.items() for a in addresses]
    return [(a, n) for i, (a, n) in enumerate(entries) if isinstance(check_entry(i, a, n), StoredEntry)]


VALID = _valid_entries()
# Listed BTC addresses of the legacy (base58) form: the mock exchange takes them for BTC.
BTC = [a for a, n in VALID if n == "XBT" and a[0] in "13"][:6]


def snapshot(without: Iterable[str] = ()) -> dict[str, Any]:
    left_out = set(without)
    entries = [{"address": a, "network": n} for a, n in VALID if a not in left_out]
    return {"list": "OFAC SDN (retro test)", "as_of": "2025-03-21", "addresses": entries}


@asynccontextmanager
async def gateway_app(
    database_url: str, exchange: Exchange, **overrides: Any
) -> AsyncIterator[tuple[str, web.Application]]:
    """A replica whose replica-lag grace is short (refresh every 0.5 s), so a scan's window
    closes soon after its switch."""
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        sanctions_refresh_seconds=0.5, **overrides,
    )  # fmt: skip
    app = create_app(settings)
    async with serving(app) as url:
        yield url, app


async def load(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await admin(http, url, "POST", SNAPSHOTS, token=OFFICER_TOKEN, json=body)
    assert status in (200, 201), answer
    assert answer["retro_scan"] is not None, answer
    return answer


async def scan(
    http: aiohttp.ClientSession, url: str, scan_id: str, token: str = AUDITOR_TOKEN
) -> dict[str, Any]:
    status, body = await admin(http, url, "GET", f"{SCANS}/{scan_id}", token=token)
    assert status == 200, body
    return body


async def finished(http: aiohttp.ClientSession, url: str, scan_id: str) -> dict[str, Any]:
    """The scan once the background worker has finished it (bounded wait)."""
    for _ in range(ROUNDS):
        body = await scan(http, url, scan_id)
        if body["state"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"retro scan {scan_id} never finished: {body}")


async def drain(app: web.Application) -> None:
    """Run the app's worker by hand until no scan is open (bounded)."""
    for _ in range(ROUNDS):
        await app[RETRO].run_once()
        if not await app[K.POOL].fetchval(
            "SELECT count(*) FROM retro_scans WHERE state IN ('pending', 'running')"
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("retro scans never finished")


async def deposit(http: aiohttp.ClientSession, url: str, customer: Customer, address: str) -> str:
    body = {"customer_id": customer.id, "coin": "BTC", "amount": "0.001", "network": "BTC",
            "from_address": address, "tx_id": f"tx-{uuid.uuid4().hex}"}  # fmt: skip
    status, answer = await admin(http, url, "POST", "/admin/v1/deposits", json=body)
    assert status == 201 and answer["outcome"] in ("allow", "allow_and_report"), answer
    return str(answer["decision_id"])


async def withdraw(http: aiohttp.ClientSession, url: str, customer: Customer, address: str) -> str:
    params = {"coin": "BTC", "address": address, "amount": "0.001", **travel_rule_params()}
    status, body, headers = await signed(
        http, url, "POST", "/sapi/v1/capital/withdraw/apply", customer, params
    )
    assert status == 200, body
    return str(headers["X-Decision-Id"])


async def age(database_url: str, decision_id: str, by: timedelta) -> None:
    """Move a decision and its movement back in time (the owner, triggers off)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            for table, column, key in (
                ("decisions", "decided_at", "id"),
                ("movements", "occurred_at", "decision_id"),
            ):
                changed = await conn.execute(
                    f"UPDATE {table} SET {column} = {column} - $2::interval WHERE {key} = $1::uuid",
                    decision_id,
                    by,
                )
                assert changed == "UPDATE 1", (table, changed)
    finally:
        await conn.close()


async def retro_strs(database_url: str, decision_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT id, customer_id, details FROM report_candidates
                WHERE kind = 'STR' AND $1::uuid = ANY (decision_ids) AND details ? 'retro_screening'""",
            decision_id,
        )
    finally:
        await conn.close()
    return [{**r, "details": json.loads(r["details"])} for r in rows]


async def metrics_text(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/metrics") as response:
        return await response.text()


async def test_past_movements_with_newly_listed_addresses_open_one_str_each(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    x, y, old = BTC[:3]
    async with gateway_app(
        database_url, exchange, sanctions_retro_seconds=0.05, sanctions_lookback_days=30
    ) as (
        url,
        _app,
    ):
        customer = await new_customer(http, url, "retro-depositor")
        await load(http, url, snapshot(without=(x, y, old)))
        from_x = await deposit(http, url, customer, x)
        to_y = await withdraw(http, url, customer, y)
        # A deposit of 31 days ago, outside the 30-day lookback: the gateway decides only in
        # the present, so the test ages one as a database with history holds it.
        from_old = await deposit(http, url, customer, old)
        await age(database_url, from_old, timedelta(days=31))

        listed = await load(http, url, snapshot())
        snapshot_id, scan_id = listed["snapshot"]["id"], listed["retro_scan"]["id"]
        assert listed["retro_scan"]["additions"] == 3
        done = await finished(http, url, scan_id)
        assert (done["state"], done["hits"], done["previous_snapshot_id"]) == (
            "done",
            2,
            listed["previous_id"],
        )
        assert done["scanned"] == done["movements_in_window"] == 2  # the old deposit is outside

        # One STR each, naming snapshot, address and movement; the old deposit none.
        for decision_id, address, direction in ((from_x, x, "deposit"), (to_y, y, "withdrawal")):
            [report] = await retro_strs(database_url, decision_id)
            assert str(report["customer_id"]) == customer.id
            retro, [finding] = report["details"]["retro_screening"], report["details"]["findings"]
            assert (retro["snapshot_id"], retro["scan_id"], retro["direction"]) == (
                snapshot_id,
                scan_id,
                direction,
            )
            assert (finding["rule_id"], finding["values"]["address"]) == ("aml.sanctions.ofac_sdn", address)
            assert finding["values"]["snapshot_id"] == snapshot_id
        assert await retro_strs(database_url, from_old) == []

        conn = await asyncpg.connect(database_url)
        try:
            events = [
                json.loads(row["details"])
                for row in await conn.fetch(
                    "SELECT details FROM audit_events WHERE kind = 'sanctions.retro_hit' ORDER BY seq"
                )
            ]
        finally:
            await conn.close()
        assert {(e["decision_id"], e["address"]) for e in events} == {
            (from_x, x),
            (to_y, y),
        }
        assert {e["snapshot_id"] for e in events} == {snapshot_id}
        metrics = await metrics_text(http, url)
        assert "gateway_sanctions_retro_hits_total 2.0" in metrics
        assert "gateway_sanctions_retro_pending 0.0" in metrics

        # The hits name customers: masked for the auditor, not listed to the operator.
        hits = {h["decision_id"]: h for h in done["hit_list"]}
        assert set(hits) == {from_x, to_y}
        assert hits[from_x]["address"] != x and hits[from_x]["customer_id"] != customer.id
        assert (await scan(http, url, scan_id, token=OPERATOR_TOKEN))["hit_list"] is None
        status, listing = await admin(http, url, "GET", SCANS, token=OPERATOR_TOKEN)
        assert status == 200 and listing["scans"][0]["id"] == scan_id

        # Delisted, then listed again: the movement already has its STR, nothing opens twice;
        # y stayed listed throughout, so it is no addition and is not screened again.
        delisted = await load(http, url, snapshot(without=(x,)))
        assert delisted["retro_scan"]["additions"] == 0 and delisted["retro_scan"]["state"] == "done"
        relisted = await load(http, url, snapshot())
        assert relisted["retro_scan"]["additions"] == 1
        again = await finished(http, url, relisted["retro_scan"]["id"])
        assert (again["state"], again["hits"]) == ("done", 0)
        assert len(await retro_strs(database_url, from_x)) == 1
        assert len(await retro_strs(database_url, to_y)) == 1


async def test_a_scan_resumes_after_a_restart_and_opens_nothing_twice(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    addresses = BTC[:3]
    # The first replica's worker only runs when the test says, one movement a batch.
    async with gateway_app(
        database_url, exchange, sanctions_retro_seconds=3600.0, sanctions_retro_batch=1
    ) as (
        url,
        app,
    ):
        customer = await new_customer(http, url, "retro-restart")
        await load(http, url, snapshot(without=addresses))
        await drain(app)  # the first scan (of the list before) is out of the way
        decisions = [await deposit(http, url, customer, a) for a in addresses]
        scan_id = (await load(http, url, snapshot()))["retro_scan"]["id"]
        for _ in range(ROUNDS):  # the movements become old enough to scan
            if await app[RETRO].run_once(max_batches=1) is Round.WORKED:
                break
            await asyncio.sleep(0.05)
        midway = await scan(http, url, scan_id)
        assert (midway["state"], midway["scanned"], midway["hits"]) == ("running", 1, 1)
        assert sum([len(await retro_strs(database_url, d)) for d in decisions]) == 1

    # A new process picks the scan up at its cursor.
    async with gateway_app(database_url, exchange, sanctions_retro_seconds=0.05, sanctions_retro_batch=1) as (
        url,
        app,
    ):
        done = await finished(http, url, scan_id)
    assert (done["state"], done["scanned"], done["hits"]) == ("done", 3, 3)
    for decision_id in decisions:
        assert len(await retro_strs(database_url, decision_id)) == 1
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM retro_hits") == 3
        assert (
            await conn.fetchval("SELECT count(*) FROM audit_events WHERE kind = 'sanctions.retro_hit'") == 3
        )
    finally:
        await conn.close()


async def test_two_replicas_open_each_str_once(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    addresses = BTC[:4]
    fast = {"sanctions_retro_seconds": 0.01, "sanctions_retro_batch": 1}
    async with (
        gateway_app(database_url, exchange, **fast) as (url, first),
        gateway_app(database_url, exchange, **fast) as (_, second),
    ):
        customer = await new_customer(http, url, "retro-two")
        await load(http, url, snapshot(without=addresses))
        decisions = [await deposit(http, url, customer, a) for a in addresses]
        scan_id = (await load(http, url, snapshot()))["retro_scan"]["id"]
        for _ in range(ROUNDS):  # both replicas' workers, and two more rounds racing them
            await asyncio.gather(first[RETRO].run_once(), second[RETRO].run_once())
            if (await scan(http, url, scan_id))["state"] == "done":
                break
            await asyncio.sleep(0.02)
        done = await finished(http, url, scan_id)
    assert (done["state"], done["hits"]) == ("done", 4), done
    for decision_id in decisions:
        assert len(await retro_strs(database_url, decision_id)) == 1


async def test_a_scan_past_its_window_done_without_movements(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """A switch with nothing to look back on still finishes, and unknown ids are a 404."""
    async with gateway_app(database_url, exchange, sanctions_retro_seconds=0.05) as (url, _app):
        scan_id = (await load(http, url, snapshot(without=BTC[:1])))["retro_scan"]["id"]
        done = await finished(http, url, scan_id)
        assert (done["state"], done["scanned"], done["hits"], done["hit_list"]) == ("done", 0, 0, [])
        status, body = await admin(http, url, "GET", f"{SCANS}/{uuid.uuid4()}", token=AUDITOR_TOKEN)
        assert (status, body["error"]["code"]) == (404, "not_found")
