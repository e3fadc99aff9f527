"""Automatic checkpoints: the running gateway verifies the log, signs a checkpoint of the
heads it verified, writes it to a folder and an HTTP sink, one replica at a time; plain
`audit verify` checks the newest checkpoint, so a cut tail is caught without naming one.
Rounds are short (settings); conditions are awaited with bounded polling, never timed."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from gateway.audit.anchors import Anchors
from gateway.audit.checkpointing import CHECKPOINT_ACTOR, CHECKPOINT_LOCK_KEY, CheckpointKeeper, Round
from gateway.audit.events import EventLog
from gateway.audit.signing import CheckpointKey
from gateway.metrics import GatewayMetrics
from gateway.sealing import new_key_b64
from tests.audit.support import busy_log, settle, superuser, verify_api
from tests.conftest import CHECKPOINT_KEY, Cli, Exchange, Gateway, gateway_settings, runtime_dsn
from tests.support import serving

pytestmark = pytest.mark.asyncio

PERIOD = 0.05  # seconds between rounds: short, so the conditions below come soon


async def until(check: Callable[[], Awaitable[bool]], what: str, attempts: int = 600) -> None:
    """Poll `check` until it holds (bounded: ~30 s on a busy machine), else fail naming it."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@dataclass
class Sink:
    """An HTTP anchor on 127.0.0.1: records what is POSTed; `mode` makes it refuse or hang."""

    url: str = ""
    mode: str = "ok"  # ok, refuse (503), hang (never answers)
    received: list[dict[str, Any]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        if self.mode == "hang":
            await self.released.wait()
        if self.mode != "ok":
            return web.Response(status=503)
        assert request.content_type == "application/json"
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    found = Sink()
    app = web.Application()
    app.router.add_post("/anchors", found.handle)
    async with serving(app) as url:
        found.url = url + "/anchors"
        yield found
        found.released.set()


@asynccontextmanager
async def running_gateway(
    database_url: str, exchange: Exchange, **overrides: object
) -> AsyncIterator[Gateway]:
    settings = gateway_settings(
        runtime_dsn(database_url),
        exchange.url,
        migration_database_url=SecretStr(database_url),
        audit_checkpoint_seconds=PERIOD,
        **overrides,
    )
    app = create_app(settings)
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


def sample(metrics: GatewayMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def stored(gateway: Gateway) -> list[dict[str, Any]]:
    """Every stored checkpoint, oldest first."""
    rows = await gateway.pool.fetch("SELECT document::text AS d FROM audit_checkpoints ORDER BY created_at")
    return [orjson.loads(r["d"]) for r in rows]


async def rounds_after(metrics: GatewayMetrics, result: Round, more: int) -> None:
    """Wait until `more` further rounds ended with `result`."""
    name = "gateway_audit_checkpoint_rounds_total"
    target = sample(metrics, name, result=result.value) + more
    await until(
        lambda: _at_least(sample(metrics, name, result=result.value), target), f"{more} {result} rounds"
    )


async def _at_least(value: float, target: float) -> bool:
    return value >= target


def decision_chain(gateway: Gateway) -> str:
    return str(gateway.app[K.WRITER].decision_chain.chain_id)


async def test_the_loop_checkpoints_verified_heads_and_writes_both_anchors(
    database_url: str,
    exchange: Exchange,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    sink: Sink,
    audit_cli: Cli,
) -> None:
    folder = tmp_path / "anchors"
    async with running_gateway(
        database_url, exchange, audit_anchor_dir=str(folder), audit_anchor_url=sink.url
    ) as gateway:
        metrics = gateway.app[K.METRICS]
        await busy_log(http, gateway, calls=2)
        await rounds_after(metrics, Round.UNCHANGED, 2)  # the second began after the log went quiet
        docs = await stored(gateway)
        newest = docs[-1]
        head = next(h for h in newest["chains"] if h["chain_id"] == decision_chain(gateway))
        assert head["head_hash"] == gateway.app[K.WRITER].decision_chain.head.hash.hex()

        # Its own checkpoint_created event does not call for another checkpoint.
        await rounds_after(metrics, Round.UNCHANGED, 2)
        assert len(await stored(gateway)) == len(docs)
        events = await gateway.pool.fetch(
            "SELECT actor, subject_id FROM audit_events WHERE kind = 'audit.checkpoint_created'"
        )
        assert {(e["actor"], e["subject_id"]) for e in events} == {(CHECKPOINT_ACTOR, d["id"]) for d in docs}

        assert sink.received[-1] == newest
        files = sorted(folder.glob("checkpoint-*.json"))
        assert (
            files[-1].name.endswith(f"-{newest['id']}.json") and json.loads(files[-1].read_text()) == newest
        )
        assert stat.S_IMODE(files[-1].stat().st_mode) == 0o640
        assert not list(folder.glob(".*.tmp"))

        assert sample(metrics, "gateway_audit_verify_intact") == 1
        assert sample(metrics, "gateway_audit_verify_timestamp_seconds") > 0
        assert sample(metrics, "gateway_audit_checkpoint_timestamp_seconds") == pytest.approx(
            datetime.fromisoformat(newest["created_at"]).timestamp()
        )
    code, body = await audit_cli("verify", "--checkpoint", str(files[-1]))
    assert (code, body["status"], body["checkpoint_id"]) == (0, "intact", newest["id"])


async def test_a_cut_tail_is_caught_by_plain_verify_and_never_signed_over(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, audit_cli: Cli
) -> None:
    async with running_gateway(database_url, exchange) as gateway:
        metrics = gateway.app[K.METRICS]
        await busy_log(http, gateway, calls=3)
        await rounds_after(metrics, Round.UNCHANGED, 2)
        newest = (await stored(gateway))[-1]
        chain = decision_chain(gateway)
        head = next(h for h in newest["chains"] if h["chain_id"] == chain)

        async with superuser(gateway) as conn:
            await conn.execute(
                "DELETE FROM decisions WHERE chain_id = $1 AND seq = $2", uuid.UUID(chain), head["seq"]
            )

        await rounds_after(metrics, Round.BROKEN, 2)
        assert sample(metrics, "gateway_audit_verify_intact") == 0
        assert (await stored(gateway))[-1] == newest, "no checkpoint of the shortened chain"

        code, body = await audit_cli("verify")
        api = await verify_api(http, gateway)
        refused, by_hand = await audit_cli("checkpoint")  # an operator's checkpoint is refused too
        assert (refused, by_hand["status"]) == (1, "broken")
        assert (await stored(gateway))[-1] == newest
    for answer in (body, api, by_hand):
        link = answer["broken_link"]
        assert (answer["status"], answer["checkpoint_id"]) == ("broken", newest["id"])
        assert (link["stream"], link["chain_id"], link["seq"], link["problem"]) == (
            "decisions", chain, head["seq"], "missing_entry"
        )  # fmt: skip
        assert f"(checkpoint {newest['id']})" in link["expected"]
    assert code == 1


def replica(gateway: Gateway) -> CheckpointKeeper:
    """A checkpoint loop as another replica on the same database would run it."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(runtime_dsn(gateway.database_url))
        try:
            yield conn
        finally:
            await conn.close()

    metrics = GatewayMetrics()
    return CheckpointKeeper(
        connect,
        CheckpointKey(CHECKPOINT_KEY),
        EventLog(),
        metrics,
        Anchors([], metrics),
        every=PERIOD,
        timeout=60,
    )


async def test_two_replicas_make_one_checkpoint_per_round(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    first, second = replica(gateway), replica(gateway)
    await busy_log(http, gateway, calls=1)
    for _ in range(3):
        await settle(gateway)  # one more decision: every round has something to sign
        before = len(await stored(gateway))
        outcomes = sorted(await asyncio.gather(first.run_once(), second.run_once()))
        assert outcomes in ([Round.LOCKED, Round.STORED], [Round.STORED, Round.UNCHANGED])
        assert len(await stored(gateway)) == before + 1


async def test_a_replica_skips_the_round_while_another_holds_the_lock(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    await busy_log(http, gateway, calls=1)
    keeper = replica(gateway)
    holder = await asyncpg.connect(gateway.database_url)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", CHECKPOINT_LOCK_KEY)
        assert await keeper.run_once() == Round.LOCKED
        assert await stored(gateway) == []
        await holder.execute("SELECT pg_advisory_unlock($1)", CHECKPOINT_LOCK_KEY)
        assert await keeper.run_once() == Round.STORED
        assert await keeper.run_once() == Round.UNCHANGED
    finally:
        await holder.close()


async def test_failing_anchors_are_counted_retried_and_do_not_stop_the_loop(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession, tmp_path: Path, sink: Sink
) -> None:
    blocked = tmp_path / "anchors"
    blocked.write_text("a file where the folder should be")
    sink.mode = "hang"
    async with running_gateway(
        database_url, exchange, audit_anchor_dir=str(blocked), audit_anchor_url=sink.url,
        audit_anchor_timeout_seconds=0.2,
    ) as gateway:  # fmt: skip
        metrics = gateway.app[K.METRICS]
        await busy_log(http, gateway, calls=1)

        async def both_failed_twice() -> bool:
            return all(
                sample(metrics, "gateway_audit_anchor_failures_total", sink=kind) >= 2
                for kind in ("directory", "http")
            )

        await until(both_failed_twice, "two failures of each anchor")
        await rounds_after(metrics, Round.UNCHANGED, 1)  # the loop goes on

        blocked.unlink()
        sink.mode = "ok"
        sink.released.set()
        newest = (await stored(gateway))[-1]

        async def delivered() -> bool:
            return bool(sink.received) and sink.received[-1]["id"] == newest["id"] and blocked.is_dir()

        await until(delivered, "the newest checkpoint delivered once the anchors work")
        assert json.loads(next(blocked.glob(f"checkpoint-*-{newest['id']}.json")).read_text()) == newest


FORGED_NEWEST = [
    "signed-with-another-key",
    "older-checkpoint-stored-again-as-new",
    "not-an-object",
]


@pytest.mark.parametrize("forgery", FORGED_NEWEST)
async def test_a_forged_newest_checkpoint_breaks_plain_verify(
    gateway: Gateway, http: aiohttp.ClientSession, audit_cli: Cli, forgery: str
) -> None:
    await busy_log(http, gateway, calls=1)
    _, older = await audit_cli("checkpoint")
    _, newer = await audit_cli("checkpoint")
    if forgery == "signed-with-another-key":
        doc: Any = CheckpointKey(new_key_b64()).sign({k: v for k, v in newer.items() if k != "signature"})
        doc["id"] = row_id = str(uuid.uuid4())
    elif forgery == "older-checkpoint-stored-again-as-new":
        doc, row_id = older, str(uuid.uuid4())
    else:
        doc, row_id = ["not", "a", "checkpoint"], str(uuid.uuid4())
    # The runtime role may INSERT checkpoints: what the gateway itself could be made to write.
    conn = await asyncpg.connect(runtime_dsn(gateway.database_url))
    try:
        await conn.execute(
            "INSERT INTO audit_checkpoints (id, created_at, document) VALUES ($1, now(), $2::text::jsonb)",
            uuid.UUID(row_id),
            json.dumps(doc),
        )
    finally:
        await conn.close()
    code, body = await audit_cli("verify")
    api = await verify_api(http, gateway)
    for answer in (body, api):
        assert answer["status"] == "broken" and answer["checkpoint_id"] == row_id
        assert answer["broken_link"]["problem"] == "checkpoint_signature_invalid"
    assert code == 1


async def test_without_a_checkpoint_key_the_loop_says_so_and_does_not_run(
    database_url: str, exchange: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.audit.maintenance"):
        async with running_gateway(database_url, exchange, audit_checkpoint_key=SecretStr("")):
            assert not [t for t in asyncio.all_tasks() if t.get_name() == "audit-checkpoints"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.audit.maintenance"]
    assert len([w for w in warnings if "GATEWAY_AUDIT_CHECKPOINT_KEY is not set" in w]) == 1
