"""Retention drops excuse gaps only when signed: a drop event anyone with INSERT rights
could append (the runtime role, with the public hashing code) excuses nothing and is
itself a broken link; a signed drop excuses exactly the entries it removed, wherever they
sat in the chain, and no entry it kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from gateway import appkeys as K
from gateway.audit.drop import execute_drop, plan_drop
from gateway.audit.events import EventKind, EventLog
from gateway.audit.retention import policy_for
from gateway.audit.signing import CheckpointKey
from gateway.audit.verify import DROP_FORMAT, verify
from gateway.feeds.markets import utcnow
from gateway.sealing import new_key_b64
from rules.loader import load_rule_book
from tests.audit.support import OLD, busy_log, decision, old_partitions, record_all, superuser, verify_api
from tests.conftest import CHECKPOINT_KEY, Cli, Gateway, runtime_dsn

pytestmark = pytest.mark.asyncio


async def _forge_drop(gateway: Gateway, details: dict[str, Any]) -> str:
    """A drop event appended as the runtime role may: on a new chain it declares itself,
    which no checkpoint lists. Returns that chain's id."""
    events = EventLog("cli:dba@host")
    conn = await asyncpg.connect(runtime_dsn(gateway.database_url))
    try:
        async with events.transaction(conn) as log:
            await log.append(
                EventKind.PARTITIONS_DROPPED, "cli:dba@host", subject_type="retention",
                reason="routine retention", details=details,
            )  # fmt: skip
    finally:
        await conn.close()
    return str(events.chain.chain_id)


def _names_the_forgery(body: dict[str, Any], forged_chain: str) -> None:
    assert body["status"] == "broken", body
    link = body["broken_link"]
    assert (link["stream"], link["chain_id"], link["seq"], link["problem"]) == (
        "audit_events",
        forged_chain,
        1,
        "drop_signature_invalid",
    )


async def test_a_forged_drop_does_not_excuse_the_newest_entries_deleted(
    gateway: Gateway, http: aiohttp.ClientSession, audit_cli: Cli
) -> None:
    await busy_log(http, gateway, calls=3)
    _, doc = await audit_cli("checkpoint")
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    async with superuser(gateway) as conn:
        await conn.execute("DELETE FROM decisions WHERE chain_id = $1 AND seq = 4", uuid.UUID(chain))
    assert (await verify_api(http, gateway, f"?checkpoint_id={doc['id']}"))["status"] == "broken"

    forged = await _forge_drop(
        gateway, {"anchors": [], "dropped_through": [{"stream": "decisions", "chain_id": chain, "seq": 4}]}
    )
    _names_the_forgery(await verify_api(http, gateway, f"?checkpoint_id={doc['id']}"), forged)


async def test_a_forged_anchor_does_not_excuse_a_middle_entry_deleted(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    await busy_log(http, gateway, calls=3)
    chain = gateway.app[K.WRITER].decision_chain.chain_id
    async with superuser(gateway) as conn:
        gone = await conn.fetchval("SELECT entry_hash FROM decisions WHERE chain_id = $1 AND seq = 2", chain)
        await conn.execute("DELETE FROM decisions WHERE chain_id = $1 AND seq = 2", chain)
    assert (await verify_api(http, gateway))["status"] == "broken"

    anchor = {"stream": "decisions", "chain_id": str(chain), "seq": 2, "hash": bytes(gone).hex()}
    forged = await _forge_drop(gateway, {"anchors": [anchor], "dropped_through": []})
    _names_the_forgery(await verify_api(http, gateway), forged)


async def _drop_january_2014(gateway: Gateway, layout: str) -> dict[str, Any]:
    """Decisions on one chain in the order of `layout` (O: January 2014, N: now), then
    January 2014 dropped as the operator command does. Returns the drop's record."""
    await old_partitions(gateway)
    await record_all(gateway, [decision(None, at=OLD if c == "O" else None) for c in layout])
    today = utcnow().date()
    conn = await asyncpg.connect(gateway.database_url)
    try:
        plan = await plan_drop(conn, policy_for(load_rule_book(), ["JP"], today), date(2014, 2, 1), today)
        await execute_drop(conn, plan, CheckpointKey(CHECKPOINT_KEY), EventLog("test"), "test", "JP: 7 years")
        record = await conn.fetchval(
            "SELECT details::text FROM audit_events WHERE kind = $1", EventKind.PARTITIONS_DROPPED.value
        )
    finally:
        await conn.close()
    return orjson.loads(record)  # type: ignore[no-any-return]


async def test_a_drop_of_entries_out_of_time_order_verifies(
    gateway: Gateway, http: aiohttp.ClientSession, audit_cli: Cli
) -> None:
    # January holds entries 1, 2, 4 and the newest, 6; entries 3 and 5 survive between.
    record = await _drop_january_2014(gateway, "OONONO")
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    assert [(s["first"], s["last"], s["chain_end"]) for s in record["retired"]] == [
        (1, 2, False),
        (4, 4, False),
        (6, 6, True),
    ]
    assert record["format"] == DROP_FORMAT and record["signature"]

    body = await verify_api(http, gateway)
    assert body["status"] == "intact", body
    assert [c["entries"] for c in body["chains"] if c["chain_id"] == chain] == [2]
    assert (await verify_api(http, gateway, "?since=2015-01-01T00:00:00Z"))["status"] == "intact"
    # The final checkpoint names entry 6 as the head; the signed drop says where it went.
    checked = await verify_api(http, gateway, f"?checkpoint_id={record['checkpoint_id']}")
    assert checked["status"] == "intact", checked
    code, body = await audit_cli("verify")
    assert (code, body["status"]) == (0, "intact")


TAMPERED = [
    # id, layout, entries deleted after the drop, the entry verification names, what it found
    ("first-survivor", "OOONN", [4], 4, "seq 5"),
    ("every-survivor", "OOONN", [4, 5], 4, "no entries"),
    ("survivor-between-dropped-entries", "OONON", [3], 3, "seq 5"),
]


@pytest.mark.parametrize(
    ("layout", "deleted", "seq", "found"), [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED]
)
async def test_a_signed_drop_excuses_no_entry_it_kept(
    gateway: Gateway, http: aiohttp.ClientSession, layout: str, deleted: list[int], seq: int, found: str
) -> None:
    await _drop_january_2014(gateway, layout)
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    async with superuser(gateway) as conn:
        await conn.execute(
            "DELETE FROM decisions WHERE chain_id = $1 AND seq = ANY($2)", uuid.UUID(chain), deleted
        )

    body = await verify_api(http, gateway)
    link = body["broken_link"]
    assert (link["chain_id"], link["seq"], link["problem"], link["found"]) == (
        chain,
        seq,
        "missing_entry",
        found,
    )
    if found != "no entries":  # a time range sees only the entries it holds
        link = (await verify_api(http, gateway, "?since=2015-01-01T00:00:00Z"))["broken_link"]
        assert (link["seq"], link["problem"]) == (seq, "missing_entry")


def _unsigned(real: dict[str, Any], widened: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {"format": DROP_FORMAT, "retired": [widened]}


def _another_key(real: dict[str, Any], widened: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
    return CheckpointKey(new_key_b64()).sign({"format": DROP_FORMAT, "retired": [widened]})


def _real_widened(
    real: dict[str, Any], widened: dict[str, Any], checkpoint: dict[str, Any]
) -> dict[str, Any]:
    return {**real, "retired": [widened]}  # the real signature, over other spans


def _a_checkpoint(
    real: dict[str, Any], widened: dict[str, Any], checkpoint: dict[str, Any]
) -> dict[str, Any]:
    return checkpoint  # signed with the real key, but as a checkpoint


Forgery = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], dict[str, Any]]
FORGERIES: list[tuple[str, Forgery]] = [
    ("unsigned", _unsigned),
    ("signed-with-another-key", _another_key),
    ("real-record-widened", _real_widened),
    ("real-checkpoint-as-a-drop-record", _a_checkpoint),
]


@pytest.mark.parametrize("forge", [f[1] for f in FORGERIES], ids=[f[0] for f in FORGERIES])
async def test_a_drop_record_not_signed_by_the_checkpoint_key_is_refused(
    gateway: Gateway, http: aiohttp.ClientSession, forge: Forgery
) -> None:
    real = await _drop_january_2014(gateway, "OOONN")
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    async with superuser(gateway) as conn:
        gone = await conn.fetchval(
            "SELECT entry_hash FROM decisions WHERE chain_id = $1 AND seq = 4", uuid.UUID(chain)
        )
        await conn.execute("DELETE FROM decisions WHERE chain_id = $1 AND seq = 4", uuid.UUID(chain))
        checkpoint = orjson.loads(await conn.fetchval("SELECT document::text FROM audit_checkpoints"))
    # What would excuse the deletion: entries 1 to 4 dropped, 4 with the hash 5 links to.
    widened = {
        "stream": "decisions", "chain_id": chain, "first": 1, "last": 4,
        "last_hash": bytes(gone).hex(), "chain_end": False,
    }  # fmt: skip
    forged = await _forge_drop(gateway, forge(real, widened, checkpoint))
    _names_the_forgery(await verify_api(http, gateway), forged)


async def test_a_drop_record_is_checked_with_the_checkpoint_key_or_not_at_all(
    gateway: Gateway, audit_cli: Cli
) -> None:
    await _drop_january_2014(gateway, "OOONN")
    conn = await asyncpg.connect(gateway.database_url)
    try:
        assert (await verify(conn, key=CheckpointKey(CHECKPOINT_KEY).public)).intact
        unchecked = (await verify(conn)).broken
    finally:
        await conn.close()
    assert unchecked is not None
    assert (unchecked.problem, unchecked.found) == (
        "drop_signature_invalid",
        "no public key to check it with",
    )

    other = CheckpointKey(new_key_b64()).public_b64  # a well-formed key, only not the one that signed
    code, body = await audit_cli("verify", "--public-key", other)
    assert (code, body["broken_link"]["problem"]) == (1, "drop_signature_invalid")
