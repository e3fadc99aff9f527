"""Retention: the longest period in force wins; nothing younger can be dropped; dropping
older partitions writes a final checkpoint, is logged, and leaves a log that verifies."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from gateway.audit.drop import DropRefused, execute_drop, plan_drop
from gateway.audit.events import EventLog
from gateway.audit.retention import policy_for, years_before
from gateway.audit.signing import CheckpointKey
from gateway.feeds.markets import utcnow
from rules.book import RuleBook
from rules.loader import load_rule_book
from rules.model import RetentionRule
from tests.audit.support import OLD, decision, old_partitions, record_all, superuser, verify_api
from tests.conftest import CHECKPOINT_KEY, Cli, Gateway
from tests.support import new_customer

POLICIES = [
    ("every-known-jurisdiction", [], 10, ("CH", "CN", "EE")),
    ("korea", ["KR"], 5, ("KR",)),
    ("korea-and-japan", ["KR", "JP"], 7, ("JP",)),
    ("new-york-over-federal", ["US", "US-NY"], 7, ("US-NY",)),
    ("hong-kong", ["HK"], 5, ("HK",)),
    ("estonia-unverified-gets-the-longest", ["EE"], 10, ("EE",)),
    ("china-unverified-gets-the-longest", ["CN"], 10, ("CN",)),
    ("unknown-gets-the-longest", ["XX"], 10, ("XX",)),
]
TODAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rule_book()


@pytest.mark.parametrize(
    ("served", "years", "governed_by"), [p[1:] for p in POLICIES], ids=[p[0] for p in POLICIES]
)
def test_the_longest_period_in_force_wins(
    book: RuleBook, served: list[str], years: int, governed_by: tuple[str, ...]
) -> None:
    policy = policy_for(book, served, TODAY)
    assert (policy.years, policy.governed_by) == (years, governed_by)
    assert bool(policy.relationship_end) == ("KR" in served or not served)
    assert policy.cutoff(date(2030, 6, 1)) == date(2030 - years, 6, 1)
    assert policy.rule_pack == book.version


def test_the_periods_cite_the_rules_they_come_from(book: RuleBook) -> None:
    policy = policy_for(book, ["US", "US-NY", "HK"], TODAY)
    [citation] = policy.citations
    assert citation.startswith("US-NY: 7 years (us.record_retention.ny;") and "US8" in citation


def test_a_rule_not_yet_in_force_does_not_count(book: RuleBook) -> None:
    # The BitLicense rule starts in June 2015: before it, New York is federal (5 years).
    assert policy_for(book, ["US-NY"], date(2015, 1, 1)).years == 5
    assert policy_for(book, ["US-NY"], date(2015, 6, 1)).years == 7


def test_a_leap_day_cutoff() -> None:
    assert years_before(date(2028, 2, 29), 5) == date(2023, 2, 28)


def test_a_book_without_a_verified_period_is_refused(book: RuleBook) -> None:
    packs = {
        country: pack.model_copy(
            update={"rules": tuple(r for r in pack.rules if not isinstance(r, RetentionRule))}
        )
        for country, pack in book.packs.items()
    }
    with pytest.raises(ValueError, match="no verified record_retention"):
        policy_for(replace(book, packs=packs), ["JP"], TODAY)


@pytest.mark.asyncio
async def test_dropping_old_partitions_is_checkpointed_logged_and_verifies(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    audit_cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await old_partitions(gateway)
    await record_all(gateway, [decision(None, at=OLD) for _ in range(3)])
    await record_all(gateway, [decision(None) for _ in range(2)])
    monkeypatch.setenv("GATEWAY_RETENTION_JURISDICTIONS", "JP")  # 7 years

    code, refused = await audit_cli(
        "drop-partitions", "--before", years_before(utcnow().date(), 6).isoformat(),
        "--reason", "too soon",
    )  # fmt: skip
    assert code == 2 and "7 years" in refused["refused"]

    final = tmp_path / "final.json"
    code, done = await audit_cli(
        "drop-partitions", "--before", "2014-02-01", "--reason", "JP: 7 years passed",
        "--out", str(final),
    )  # fmt: skip
    assert code == 0, done
    assert sorted(done["dropped"]) == [
        "audit_events_p201401",
        "decisions_p201401",
        "upstream_results_p201401",
    ]
    assert done["anchors"] == 1, "the first surviving decision links to a dropped one"

    body = await verify_api(http, gateway)
    assert body["status"] == "intact", body
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    assert [c["entries"] for c in body["chains"] if c["chain_id"] == chain] == [2]
    code, checked = await audit_cli("verify", "--checkpoint", str(final))
    assert (code, checked["status"]) == (0, "intact")

    conn = await asyncpg.connect(gateway.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM decisions WHERE decided_at < '2015-01-01'") == 0
        event = await conn.fetchrow(
            "SELECT actor, reason, details FROM audit_events WHERE kind = 'audit.partitions_dropped'"
        )
    finally:
        await conn.close()
    assert event["reason"] == "JP: 7 years passed" and event["actor"].startswith("cli:")


REFUSALS = [
    ("younger-than-retention", ["JP"], "young", "must be kept"),
    ("nothing-that-old", ["JP"], "2000-01-01", "no monthly partition"),
    ("korean-customer-relationship-open", ["KR"], "2014-02-01", "after the relationship ends"),
    ("tampered-log", ["JP"], "2014-02-01", "does not verify"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("served", "before", "why"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
async def test_drops_that_are_refused_drop_nothing(
    gateway: Gateway, http: aiohttp.ClientSession, served: list[str], before: str, why: str
) -> None:
    await old_partitions(gateway)
    customer = await new_customer(http, gateway.url, "still-a-customer")
    await record_all(gateway, [decision(customer.id, at=OLD), decision(None, at=OLD), decision(None)])
    if why == "does not verify":
        async with superuser(gateway) as tamper:
            await tamper.execute("UPDATE decisions SET outcome = 'deny' WHERE seq = 2")
    today = utcnow().date()
    day = years_before(today, 6) if before == "young" else date.fromisoformat(before)
    conn = await asyncpg.connect(gateway.database_url)
    try:
        with pytest.raises(DropRefused, match=why):
            plan = await plan_drop(conn, policy_for(load_rule_book(), served, today), day, today)
            await execute_drop(conn, plan, CheckpointKey(CHECKPOINT_KEY), EventLog("test"), "test", "test")
        assert await conn.fetchval("SELECT count(*) FROM decisions") == 3
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_partitions_are_kept_ahead_and_stray_rows_are_counted(gateway: Gateway) -> None:
    from gateway.audit.maintenance import PartitionKeeper
    from gateway.audit.partitions import ensure, list_partitions

    async with gateway.pool.acquire() as conn:
        names = {p.name for p in await list_partitions(conn)}
        ensured = await ensure(conn, 5)
    month = utcnow().date().replace(day=1)
    for ahead in range(4):
        label = date(month.year + (month.month + ahead - 1) // 12, (month.month + ahead - 1) % 12 + 1, 1)
        assert f"decisions_p{label:%Y%m}" in names
    assert {"decisions_default", "upstream_results_default", "audit_events_default"} <= names
    assert ensured.created == 6, "the runtime role extends them (two more months, three tables)"

    await record_all(gateway, [decision(None, at=datetime(2040, 1, 1, tzinfo=UTC))])
    keeper = PartitionKeeper(gateway.pool, gateway.app[K.METRICS], months_ahead=3, every=3600)
    await keeper.run_once()
    assert gateway.app[K.METRICS].audit_default_partition_rows._value.get() == 1

    async with gateway.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DROP TABLE decisions_p{month:%Y%m}")


@pytest.mark.asyncio
async def test_rows_from_before_the_audit_trail_are_carried_over(postgres: Any) -> None:
    from gateway.store.migrations import migrate_up

    name = f"carry_{uuid.uuid4().hex[:8]}"
    admin_conn = await asyncpg.connect(postgres.dsn)
    await admin_conn.execute(f"CREATE DATABASE {name}")
    await admin_conn.close()
    conn = await asyncpg.connect(postgres.dsn_for(name))
    try:
        await migrate_up(conn, 2)
        customer = await conn.fetchval(
            "INSERT INTO customers (id, reference) VALUES (gen_random_uuid(), 'old') RETURNING id"
        )
        decision_id = await conn.fetchval(
            """INSERT INTO decisions (id, decided_at, request_id, customer_id, dialect, operation, action_kind,
                   http_method, path, outcome, findings, rule_pack_version, decision_micros)
               VALUES (gen_random_uuid(), '2025-06-01Z', 'r', $1, 'binance', 'binance.order', 'order', 'POST',
                   '/api/v3/order', 'deny', '[{"rule_id": "core.x"}]', 'v0', 7) RETURNING id""",
            customer,
        )
        await conn.execute(
            "INSERT INTO upstream_results VALUES ($1, '2025-06-01Z', 200, NULL, 5)", decision_id
        )
        await migrate_up(conn)
        row = await conn.fetchrow(
            "SELECT tableoid::regclass::text AS part, rule_ids, chain_id FROM decisions"
        )
        assert (row["part"], row["rule_ids"], row["chain_id"]) == ("decisions_p202506", ["core.x"], None)
        from gateway.audit.verify import verify

        result = await verify(conn)
        assert result.intact and result.unchained == 2
        with pytest.raises(asyncpg.CheckViolationError, match="decisions_chained"):
            await conn.execute(
                """INSERT INTO decisions (id, decided_at, request_id, dialect, operation, action_kind, http_method,
                       path, outcome, rule_pack_version, decision_micros)
                   VALUES (gen_random_uuid(), now(), 'r', 'b', 'o', 'order', 'POST', '/', 'allow', 'v', 1)"""
            )
    finally:
        await conn.close()
