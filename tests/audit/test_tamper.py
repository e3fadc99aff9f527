"""Tampering is caught: entries altered, deleted, reordered or forged through a superuser
connection, and verification names the exact broken link each time. The runtime role
cannot alter the log at all, and even the owner must switch triggers off to."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from tests.audit.support import busy_log, superuser, verify_api
from tests.conftest import Gateway, runtime_dsn

pytestmark = pytest.mark.asyncio

Tamper = Callable[[asyncpg.Connection, str], Awaitable[None]]


async def _entry(conn: asyncpg.Connection, table: str, chain: str, seq: int) -> asyncpg.Record:
    return await conn.fetchrow(
        f"SELECT *, entry_hash AS h FROM {table} WHERE chain_id = $1 AND seq = $2", uuid.UUID(chain), seq
    )


async def _hex(conn: asyncpg.Connection, table: str, chain: str, seq: int) -> str:
    return bytes((await _entry(conn, table, chain, seq))["h"]).hex()


@dataclass
class Case:
    id: str
    table: str
    tamper: Tamper
    seq: int  # the entry verification must name
    problem: str
    expected: Callable[[dict[str, str]], str]  # from the hashes before tampering
    found: Callable[[dict[str, str]], str]


def where(seq: int) -> str:
    return f"chain_id = $1 AND seq = {seq}"


async def alter_outcome(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(f"UPDATE decisions SET outcome = 'deny' WHERE {where(3)}", uuid.UUID(chain))


async def alter_and_rehash(conn: asyncpg.Connection, chain: str) -> None:
    """A careful forger: changes entry 3 and gives it the hash of its new content."""
    from gateway.audit.streams import DECISIONS

    await alter_outcome(conn, chain)
    row = await conn.fetchrow(
        f"SELECT {DECISIONS.select_list()}, prev_hash FROM decisions WHERE {where(3)}", uuid.UUID(chain)
    )
    rehashed = DECISIONS.hash(tuple(row)[:-1], uuid.UUID(chain), 3, bytes(row["prev_hash"]))
    await conn.execute(f"UPDATE decisions SET entry_hash = $2 WHERE {where(3)}", uuid.UUID(chain), rehashed)


async def delete_middle(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(f"DELETE FROM decisions WHERE {where(3)}", uuid.UUID(chain))


async def delete_first(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(f"DELETE FROM decisions WHERE {where(1)}", uuid.UUID(chain))


async def swap_order(conn: asyncpg.Connection, chain: str) -> None:
    """Reorder entries 2 and 3 by swapping their sequence numbers."""
    c = uuid.UUID(chain)
    await conn.execute("UPDATE decisions SET seq = 1000002 WHERE chain_id = $1 AND seq = 2", c)
    await conn.execute("UPDATE decisions SET seq = 2 WHERE chain_id = $1 AND seq = 3", c)
    await conn.execute("UPDATE decisions SET seq = 3 WHERE chain_id = $1 AND seq = 1000002", c)


async def forge_duplicate(conn: asyncpg.Connection, chain: str) -> None:
    """Insert a second entry 3 (a copy under a new id)."""
    await conn.execute(
        f"""INSERT INTO decisions SELECT gen_random_uuid(), decided_at, request_id, customer_id, api_key_id,
                   dialect, operation, action_kind, http_method, path, symbol, base_asset, quote_asset, asset,
                   side, order_type, quantity, price, notional, notional_asset, address, network,
                   client_order_id, outcome, reasons, rule_ids, findings, rule_pack_version, decision_micros,
                   country, review_status, chain_id, seq, prev_hash, entry_hash
              FROM decisions WHERE {where(3)}""",
        uuid.UUID(chain),
    )


async def relink(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(f"UPDATE decisions SET prev_hash = sha256('x') WHERE {where(4)}", uuid.UUID(chain))


async def alter_upstream(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(f"UPDATE upstream_results SET http_status = 500 WHERE {where(2)}", uuid.UUID(chain))


async def alter_event(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute(
        f'UPDATE audit_events SET details = \'{{"status": "closed"}}\' WHERE {where(1)}', uuid.UUID(chain)
    )


async def undeclare(conn: asyncpg.Connection, chain: str) -> None:
    await conn.execute("DELETE FROM audit_chains WHERE chain_id = $1", uuid.UUID(chain))


SHA256_X = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
CASES = [
    Case("altered-entry", "decisions", alter_outcome, 3, "entry_hash_mismatch", lambda h: h["d3"], lambda h: "*"),
    Case("altered-and-rehashed", "decisions", alter_and_rehash, 4, "prev_hash_mismatch", lambda h: "*", lambda h: h["d3"]),
    Case("deleted-middle", "decisions", delete_middle, 3, "missing_entry", lambda h: "seq 3", lambda h: "seq 4"),
    Case("deleted-first", "decisions", delete_first, 1, "missing_entry", lambda h: "seq 1", lambda h: "seq 2"),
    Case("reordered", "decisions", swap_order, 2, "prev_hash_mismatch", lambda h: h["d1"], lambda h: h["d2"]),
    Case("forged-duplicate", "decisions", forge_duplicate, 3, "duplicate_entry", lambda h: "seq 4", lambda h: "seq 3 again"),
    Case("relinked", "decisions", relink, 4, "prev_hash_mismatch", lambda h: h["d3"], lambda h: SHA256_X),
    Case("altered-upstream-result", "upstream_results", alter_upstream, 2, "entry_hash_mismatch", lambda h: h["u2"], lambda h: "*"),
    Case("altered-event", "audit_events", alter_event, 1, "entry_hash_mismatch", lambda h: h["e1"], lambda h: "*"),
    Case("undeclared-chain", "decisions", undeclare, 1, "unregistered_chain", lambda h: "*", lambda h: "no declaration"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_tampering_is_named(gateway: Gateway, http: aiohttp.ClientSession, case: Case) -> None:
    await busy_log(http, gateway)
    writer, events = gateway.app[K.WRITER], gateway.app[K.AUDIT_EVENTS]
    chains = {
        "decisions": str(writer.decision_chain.chain_id),
        "upstream_results": str(writer.upstream_chain.chain_id),
        "audit_events": str(events.chain.chain_id),
    }
    assert (await verify_api(http, gateway))["status"] == "intact"
    async with superuser(gateway) as conn:
        hashes = {f"d{n}": await _hex(conn, "decisions", chains["decisions"], n) for n in (1, 2, 3)}
        hashes["u2"] = await _hex(conn, "upstream_results", chains["upstream_results"], 2)
        hashes["e1"] = await _hex(conn, "audit_events", chains["audit_events"], 1)
        await case.tamper(conn, chains[case.table])

    body = await verify_api(http, gateway)
    assert body["status"] == "broken"
    link = body["broken_link"]
    assert (link["stream"], link["chain_id"], link["seq"], link["problem"]) == (
        case.table,
        chains[case.table],
        case.seq,
        case.problem,
    )
    for name, want in (("expected", case.expected(hashes)), ("found", case.found(hashes))):
        if want != "*":  # "*": a hash the test does not compute itself
            assert link[name] == want, name
    assert gateway.app[K.METRICS].audit_verify_intact._value.get() == 0


async def test_an_intact_log_answers_count_and_heads(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    await busy_log(http, gateway, calls=4)
    body = await verify_api(http, gateway)
    heads = {(c["stream"], c["chain_id"]): c for c in body["chains"]}
    writer = gateway.app[K.WRITER]
    decisions = heads[("decisions", str(writer.decision_chain.chain_id))]
    assert decisions["entries"] == decisions["head_seq"] == writer.decision_chain.head.seq == 5
    assert decisions["head_hash"] == writer.decision_chain.head.hash.hex()
    assert body["entries"] == sum(c["entries"] for c in body["chains"])
    assert body["status"] == "intact" and body["unchained_entries"] == 0
    metrics = gateway.app[K.METRICS]
    assert metrics.audit_verify_intact._value.get() == 1
    assert metrics.audit_verify_timestamp._value.get() > 0


async def test_a_time_range_verifies_its_entries_and_the_link_before(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    await busy_log(http, gateway, calls=3)
    async with superuser(gateway) as conn:
        middle = await conn.fetchval("SELECT decided_at FROM decisions ORDER BY seq LIMIT 1 OFFSET 2")
        await conn.execute("UPDATE decisions SET outcome = 'hold' WHERE seq = 1")
    since = middle.isoformat().replace("+00:00", "Z")
    body = await verify_api(http, gateway, f"?since={since}")
    assert body["status"] == "intact", "the altered entry lies before the range"
    assert {c["stream"] for c in body["chains"]} >= {"decisions"}
    broken = await verify_api(http, gateway)
    assert (broken["broken_link"]["seq"], broken["broken_link"]["problem"]) == (1, "entry_hash_mismatch")


STATEMENTS = [
    ("update", "UPDATE decisions SET outcome = 'deny'"),
    ("delete", "DELETE FROM decisions"),
    ("truncate", "TRUNCATE decisions"),
    ("update-events", "UPDATE audit_events SET actor = 'someone else'"),
    ("delete-chains", "DELETE FROM audit_chains"),
    ("truncate-partition", "TRUNCATE decisions_default"),
    ("update-upstream", "UPDATE upstream_results SET http_status = 200"),
]


@pytest.mark.parametrize("sql", [s[1] for s in STATEMENTS], ids=[s[0] for s in STATEMENTS])
async def test_the_runtime_role_cannot_alter_the_log(
    gateway: Gateway, http: aiohttp.ClientSession, sql: str
) -> None:
    await busy_log(http, gateway, calls=1)
    conn = await asyncpg.connect(runtime_dsn(gateway.database_url))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
    finally:
        await conn.close()
    assert (await verify_api(http, gateway))["status"] == "intact"


@pytest.mark.parametrize("sql", [s[1] for s in STATEMENTS], ids=[s[0] for s in STATEMENTS])
async def test_even_the_owner_must_switch_triggers_off(
    gateway: Gateway, http: aiohttp.ClientSession, sql: str
) -> None:
    await busy_log(http, gateway, calls=1)
    conn = await asyncpg.connect(gateway.database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(sql)
    finally:
        await conn.close()
