"""Signed checkpoints: made by the CLI, stored and logged, and later they catch what the
chains alone cannot (the newest entries deleted), through the CLI and the admin API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway import appkeys as K
from gateway.audit.signing import CheckpointKey
from gateway.sealing import new_key_b64
from tests.audit.support import busy_log, superuser, verify_api
from tests.conftest import Cli, Gateway
from tests.support import AUDITOR_TOKEN, admin

pytestmark = pytest.mark.asyncio


async def test_a_checkpoint_catches_the_newest_entries_deleted(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    audit_cli: Cli,
) -> None:
    await busy_log(http, gateway, calls=3)
    file = tmp_path / "checkpoint.json"
    code, doc = await audit_cli("checkpoint", "--out", str(file))
    assert code == 0 and json.loads(file.read_text()) == doc
    chain = str(gateway.app[K.WRITER].decision_chain.chain_id)
    head = next(c for c in doc["chains"] if c["chain_id"] == chain)
    assert head["seq"] == 4 and head["head_hash"] == gateway.app[K.WRITER].decision_chain.head.hash.hex()

    code, body = await audit_cli("verify", "--checkpoint", str(file))
    assert (code, body["status"]) == (0, "intact")

    async with superuser(gateway) as conn:
        await conn.execute("DELETE FROM decisions WHERE chain_id = $1 AND seq = 4", uuid.UUID(chain))
    code, body = await audit_cli("verify", "--checkpoint", str(file))
    link = body["broken_link"]
    assert code == 1 and body["checkpoint_id"] == doc["id"]
    assert (link["stream"], link["chain_id"], link["seq"], link["problem"]) == (
        "decisions",
        chain,
        4,
        "missing_entry",
    )
    assert link["expected"].startswith(f"seq 4 with hash {head['head_hash']}")
    assert link["found"] == "the chain ends at seq 3"

    body = await verify_api(http, gateway, f"?checkpoint_id={doc['id']}")
    assert body["checkpoint_id"] == doc["id"] and body["broken_link"]["seq"] == 4


async def test_a_checkpoint_is_stored_and_its_making_logged(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    audit_cli: Cli,
) -> None:
    await busy_log(http, gateway, calls=1)
    _, doc = await audit_cli("checkpoint")
    status, listed = await admin(http, gateway.url, "GET", "/admin/v1/audit/checkpoints", token=AUDITOR_TOKEN)
    assert status == 200 and listed["checkpoints"][0]["document"] == doc
    status, events = await admin(
        http, gateway.url, "GET", "/admin/v1/audit/events?kind=audit.checkpoint_created", token=AUDITOR_TOKEN
    )
    assert [e["subject_id"] for e in events["events"]] == [doc["id"]]
    assert events["events"][0]["actor"].startswith("cli:")
    assert (await verify_api(http, gateway, f"?checkpoint_id={doc['id']}"))["status"] == "intact"


FORGERIES = [
    ("head-moved-back", lambda d: d["chains"][0].update(seq=1)),
    ("hash-replaced", lambda d: d["chains"][0].update(head_hash="00" * 32)),
    ("chain-removed", lambda d: d["chains"].pop()),
    ("signature-of-another-key", None),
]


@pytest.mark.parametrize("forge", [f[1] for f in FORGERIES], ids=[f[0] for f in FORGERIES])
async def test_a_forged_checkpoint_is_refused(
    gateway: Gateway,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    audit_cli: Cli,
    forge: Any,
) -> None:
    await busy_log(http, gateway, calls=1)
    _, doc = await audit_cli("checkpoint")
    if forge is None:
        doc = CheckpointKey(new_key_b64()).sign({k: v for k, v in doc.items() if k != "signature"})
    else:
        forge(doc)
    file = tmp_path / "forged.json"
    file.write_text(json.dumps(doc))
    code, body = await audit_cli("verify", "--checkpoint", str(file))
    assert code == 1 and body["broken_link"]["problem"] == "checkpoint_signature_invalid"
