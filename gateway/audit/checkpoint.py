"""Signed checkpoints of the chain heads.

A checkpoint lists, for every declared chain, its newest entry's sequence number and
hash, signed with Ed25519 (the private key is GATEWAY_AUDIT_CHECKPOINT_KEY). An operator
publishes or stores it elsewhere; later, verification checks that every head it names is
still in the log with the same hash. That catches what the chains alone cannot: a chain's
newest entries deleted, or a whole chain with its declaration. The signing is in
gateway/audit/signing.py.

Every verification that is not given a checkpoint checks the newest one stored, read in
its own snapshot, so a cut tail is caught by the routine check. The newest is the latest
row by its stored time whose document carries the row's own id: the runtime role may
INSERT checkpoints, and a genuine older document stored again under a new id, to make an
older set of heads the newest, is caught by that id. A document that does not verify
with the public key (or cannot be checked: no key) is itself a broken result.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.events import EventKind, EventLog
from gateway.audit.signing import CheckpointKey, signed_as, signed_bytes
from gateway.audit.streams import BY_NAME, EVENTS, STREAMS
from gateway.audit.verify import BrokenLink, ExtraCheck, Retired, Verification, verify
from gateway.feeds.markets import utcnow

FORMAT = "gateway-audit-checkpoint/1"


def verified_heads(result: Verification) -> list[dict[str, Any]]:
    """The heads a full verification found intact, by stream and chain: what a checkpoint
    signs, so it never vouches for entries nobody checked (a tail cut before it was made
    would otherwise pass every later verification)."""
    if result.since is not None or result.until is not None or not result.intact:
        raise ValueError("heads come from an intact verification of every chain")
    order = {stream.name: n for n, stream in enumerate(STREAMS)}
    return [
        {"stream": c.stream, "chain_id": c.chain_id, "seq": c.head_seq, "head_hash": c.head_hash}
        for c in sorted(result.chains, key=lambda c: (order[c.stream], c.chain_id))
        if c.entries
    ]


async def create_checkpoint(
    conn: asyncpg.Connection,
    key: CheckpointKey,
    events: EventLog,
    actor: str,
    verified: Verification,
    reason: str | None = None,
) -> dict[str, Any]:
    """Sign the heads of `verified` (an intact full verification), store the checkpoint
    and log that it was made."""
    heads = verified_heads(verified)
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


def _unsigned(checkpoint_id: object, found: str) -> BrokenLink:
    return BrokenLink(
        "checkpoint", None, None, str(checkpoint_id), "checkpoint_signature_invalid",
        "a checkpoint signed with the configured key", found,
    )  # fmt: skip


def heads_check(doc: dict[str, Any], key: Ed25519PublicKey) -> ExtraCheck:
    """The check verify() runs in its snapshot: signature, then every head still there."""

    async def check(conn: asyncpg.Connection, retired: Retired) -> BrokenLink | None:
        if not signed_as(doc, FORMAT, key):
            return _unsigned(
                doc.get("id") if isinstance(doc, dict) else None, "a signature that does not verify"
            )
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


class LatestCheckpoint:
    """The check of the newest stored checkpoint's heads, run in verify()'s snapshot (a
    checkpoint stored after the snapshot began may name entries the snapshot cannot see).
    `doc` is that checkpoint once checked; None when none is stored."""

    def __init__(self, key: Ed25519PublicKey | None) -> None:
        self._key = key
        self.checkpoint_id: str | None = None
        self.doc: dict[str, Any] | None = None

    async def __call__(self, conn: asyncpg.Connection, retired: Retired) -> BrokenLink | None:
        row = await conn.fetchrow(
            """SELECT id::text AS id, document::text AS document FROM audit_checkpoints
                ORDER BY created_at DESC, id DESC LIMIT 1"""
        )
        if row is None:
            return None
        self.checkpoint_id = row["id"]
        doc = orjson.loads(row["document"])
        if self._key is None:
            return _unsigned(row["id"], "no public key to check it with")
        if not isinstance(doc, dict) or doc.get("id") != row["id"]:
            return _unsigned(row["id"], "a document stored under another checkpoint's id")
        self.doc = doc
        return await heads_check(doc, self._key)(conn, retired)


async def verify_log(
    conn: asyncpg.Connection,
    key: Ed25519PublicKey | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> Verification:
    """verify() with the heads of `checkpoint` (it needs `key`), else of the newest stored
    checkpoint: what the CLI, the admin API and the periodic verification all run."""
    if checkpoint is not None:
        if key is None:
            raise ValueError("a checkpoint is checked with the checkpoint key's public half")
        result = await verify(conn, since=since, until=until, extra=heads_check(checkpoint, key), key=key)
        result.checkpoint = checkpoint
        result.checkpoint_id = str(checkpoint.get("id")) if isinstance(checkpoint, dict) else None
        return result
    latest = LatestCheckpoint(key)
    result = await verify(conn, since=since, until=until, extra=latest, key=key)
    result.checkpoint, result.checkpoint_id = latest.doc, latest.checkpoint_id
    return result


async def moved_since(conn: asyncpg.Connection, verified: Verification) -> bool:
    """Whether the heads of `verified` (an intact full verification, so they contain those
    of the checkpoint it checked) hold anything logged after that checkpoint other than
    the event that logged its own making, which would otherwise call for another."""
    checkpoint = verified.checkpoint
    if checkpoint is None:
        return True
    before = {(h["stream"], h["chain_id"]): int(h["seq"]) for h in checkpoint["chains"]}
    now = {(h["stream"], h["chain_id"]): int(h["seq"]) for h in verified_heads(verified)}
    if before.keys() - now.keys():
        return True  # a chain emptied by retention since
    for (stream, chain_id), seq in now.items():
        was = before.get((stream, chain_id), 0)
        if seq == was:
            continue
        if stream != EVENTS.name or seq < was:
            return True
        others = await conn.fetchval(
            """SELECT count(*) FROM audit_events WHERE chain_id = $1 AND seq > $2 AND seq <= $3
                  AND NOT (kind = $4 AND subject_id = $5)""",
            uuid.UUID(chain_id), was, seq, EventKind.CHECKPOINT_CREATED.value, checkpoint["id"],
        )  # fmt: skip
        if others:
            return True
    return False
