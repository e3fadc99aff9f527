"""Signed checkpoints of the chain heads.

A checkpoint lists, for every declared chain, its newest entry's sequence number and
hash, signed with Ed25519 (the private key is GATEWAY_AUDIT_CHECKPOINT_KEY). An operator
publishes or stores it elsewhere; later, verification checks that every head it names is
still in the log with the same hash. That catches what the chains alone cannot: a chain's
newest entries deleted, or a whole chain with its declaration. The signing is in
gateway/audit/signing.py.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.events import EventKind, EventLog
from gateway.audit.signing import CheckpointKey, signed_as, signed_bytes
from gateway.audit.streams import BY_NAME, STREAMS
from gateway.audit.verify import BrokenLink, ExtraCheck, Retired
from gateway.markets import utcnow

FORMAT = "gateway-audit-checkpoint/1"


async def chain_heads(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    heads = []
    for stream in STREAMS:
        rows = await conn.fetch(
            f"""SELECT c.chain_id::text AS chain_id, h.seq, h.entry_hash
                  FROM audit_chains c
                  CROSS JOIN LATERAL (SELECT seq, entry_hash FROM {stream.name} e
                                       WHERE e.chain_id = c.chain_id ORDER BY seq DESC LIMIT 1) h
                 WHERE c.stream = $1 ORDER BY c.chain_id""",
            stream.name,
        )
        heads += [
            {
                "stream": stream.name,
                "chain_id": r["chain_id"],
                "seq": r["seq"],
                "head_hash": bytes(r["entry_hash"]).hex(),
            }
            for r in rows
        ]
    return heads


async def create_checkpoint(
    conn: asyncpg.Connection, key: CheckpointKey, events: EventLog, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Sign the heads as they are now, store the checkpoint and log that it was made."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        heads = await chain_heads(conn)
    doc = key.sign(
        {
            "format": FORMAT,
            "id": str(uuid.uuid4()),
            "created_at": utcnow().isoformat(),
            "chains": heads,
            "entries": sum(h["seq"] for h in heads),
        }
    )
    digest = hashlib.sha256(signed_bytes(doc)).hexdigest()
    async with events.transaction(conn) as log:
        await conn.execute(
            "INSERT INTO audit_checkpoints (id, created_at, document) VALUES ($1, $2, $3::text::jsonb)",
            uuid.UUID(doc["id"]),
            utcnow(),
            orjson.dumps(doc).decode(),
        )
        await log.append(
            EventKind.CHECKPOINT_CREATED, actor, subject_type="checkpoint", subject_id=doc["id"],
            reason=reason, details={"chains": len(heads), "sha256": digest},
        )  # fmt: skip
    return doc


async def stored_checkpoint(conn: asyncpg.Connection, checkpoint_id: uuid.UUID) -> dict[str, Any] | None:
    text = await conn.fetchval("SELECT document::text FROM audit_checkpoints WHERE id = $1", checkpoint_id)
    return None if text is None else orjson.loads(text)


def heads_check(doc: dict[str, Any], key: Ed25519PublicKey) -> ExtraCheck:
    """The check verify() runs in its snapshot: signature, then every head still there."""

    async def check(conn: asyncpg.Connection, retired: Retired) -> BrokenLink | None:
        if not signed_as(doc, FORMAT, key):
            return BrokenLink(
                "checkpoint", None, None, str(doc.get("id")), "checkpoint_signature_invalid",
                "a checkpoint signed with the configured key", "a signature that does not verify",
            )  # fmt: skip
        for head in doc["chains"]:
            stream = BY_NAME[head["stream"]]
            chain_id, seq = head["chain_id"], int(head["seq"])
            stored = await conn.fetchval(
                f"SELECT entry_hash FROM {stream.name} WHERE chain_id = $1 AND seq = $2",
                uuid.UUID(chain_id),
                seq,
            )
            if stored is None:
                if retired.first_kept(stream.name, chain_id, seq) > seq:
                    continue  # dropped by retention, recorded in a signed drop record
                last = await conn.fetchval(
                    f"SELECT max(seq) FROM {stream.name} WHERE chain_id = $1", uuid.UUID(chain_id)
                )
                return BrokenLink(
                    stream.name, chain_id, seq, None, "missing_entry",
                    f"seq {seq} with hash {head['head_hash']} (checkpoint {doc['id']})",
                    f"the chain ends at seq {last}" if last else "no entries",
                )  # fmt: skip
            if bytes(stored).hex() != head["head_hash"]:
                return BrokenLink(
                    stream.name,
                    chain_id,
                    seq,
                    None,
                    "checkpoint_mismatch",
                    head["head_hash"],
                    bytes(stored).hex(),
                )
        return None

    return check
