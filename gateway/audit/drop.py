"""Dropping old log partitions: an explicit operator command, refused for anything the
retention policy still keeps, and logged in the log itself.

In order: refuse partitions younger than the longest period in force; refuse while a
customer whose period runs from the end of the relationship (Korea) is still a customer
or left too recently; verify every chain and the newest checkpoint (evidence of tampering
is not something to delete); write a signed final checkpoint of the verified heads; then,
in one transaction, append the drop event and drop the partitions. The event's details
are a record signed with the checkpoint key: per chain, the spans of consecutive entries
dropped and the hash of each span's last entry, what the verifier needs to accept exactly
those gaps. Signed, because the runtime role may append events too and must not be able
to excuse a deletion. Needs the schema owner's connection: the runtime role cannot drop
anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from gateway.audit.checkpoint import create_checkpoint, verify_log
from gateway.audit.events import EventKind, EventLog
from gateway.audit.partitions import Partition, list_partitions
from gateway.audit.retention import RetentionPolicy, years_before
from gateway.audit.signing import CheckpointKey
from gateway.audit.streams import STREAMS, Stream
from gateway.audit.verify import DROP_FORMAT, Span


class DropRefused(Exception):
    pass


@dataclass(frozen=True)
class DropPlan:
    before: date
    policy: RetentionPolicy
    partitions: list[Partition]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.partitions]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def plan_drop(conn: asyncpg.Connection, policy: RetentionPolicy, before: date, today: date) -> DropPlan:
    cutoff = policy.cutoff(today)
    if before > cutoff:
        raise DropRefused(
            f"records younger than {policy.years} years must be kept ({', '.join(policy.citations)});"
            f" the latest date allowed is {cutoff.isoformat()}"
        )
    bound = _midnight(before)
    chosen = [p for p in await list_partitions(conn) if p.upper is not None and p.upper <= bound]
    if not chosen:
        raise DropRefused(f"no monthly partition ends on or before {before.isoformat()}")
    plan = DropPlan(before, policy, chosen)
    for jurisdiction, years in policy.relationship_end:
        open_customers = await conn.fetchval(
            """SELECT count(DISTINCT d.customer_id) FROM decisions d JOIN customers c ON c.id = d.customer_id
                WHERE d.tableoid = ANY($1::text[]::regclass[])
                  AND (c.status <> 'closed' OR c.updated_at > $2)""",
            plan.names,
            _midnight(years_before(today, years)),
        )
        if open_customers:
            raise DropRefused(
                f"{open_customers} customers in these partitions are still customers or left less than"
                f" {years} years ago; {jurisdiction} keeps records {years} years after the relationship ends"
            )
    return plan


async def _dropped_spans(conn: asyncpg.Connection, stream: Stream, names: list[str]) -> list[Span]:
    """The runs of consecutive sequence numbers each chain loses with these partitions, the
    hash of each run's last entry, and whether that entry is the chain's newest."""
    rows = await conn.fetch(
        f"""WITH dropped AS (
                SELECT chain_id, seq, entry_hash,
                       seq - row_number() OVER (PARTITION BY chain_id ORDER BY seq) AS run
                  FROM {stream.name}
                 WHERE tableoid = ANY($1::text[]::regclass[]) AND chain_id IS NOT NULL),
            runs AS (
                SELECT chain_id, min(seq) AS first_seq, max(seq) AS last_seq,
                       (array_agg(entry_hash ORDER BY seq DESC))[1] AS last_hash
                  FROM dropped GROUP BY chain_id, run)
            SELECT chain_id::text AS chain_id, first_seq, last_seq, last_hash,
                   NOT EXISTS (SELECT 1 FROM {stream.name} e
                                WHERE e.chain_id = runs.chain_id AND e.seq > runs.last_seq) AS chain_end
              FROM runs ORDER BY chain_id, first_seq""",
        names,
    )
    return [
        Span(stream.name, r["chain_id"], r["first_seq"], r["last_seq"], bytes(r["last_hash"]), r["chain_end"])
        for r in rows
    ]


async def execute_drop(
    conn: asyncpg.Connection, plan: DropPlan, key: CheckpointKey, events: EventLog, actor: str, reason: str
) -> dict[str, Any]:
    verification = await verify_log(conn, key.public)
    if not verification.intact:
        broken = verification.as_json()["broken_link"]
        raise DropRefused(f"the log does not verify, nothing dropped: {broken}")
    checkpoint = await create_checkpoint(
        conn, key, events, actor, verification,
        reason=f"final checkpoint before dropping partitions before {plan.before}",
    )  # fmt: skip
    async with events.transaction(conn) as log:
        # Locked first: no entry may land in them between reading the spans and the drop,
        # or it would go without its span and leave a gap no signed record excuses.
        for name in plan.names:
            await conn.execute(f'LOCK TABLE "{name}" IN ACCESS EXCLUSIVE MODE')
        spans = [s for stream in STREAMS for s in await _dropped_spans(conn, stream, plan.names)]
        record = key.sign(
            {
                "format": DROP_FORMAT, "partitions": plan.names, "before": plan.before.isoformat(),
                "retention_years": plan.policy.years, "governed_by": list(plan.policy.governed_by),
                "checkpoint_id": checkpoint["id"], "retired": [s.as_json() for s in spans],
            }
        )  # fmt: skip
        await log.append(
            EventKind.PARTITIONS_DROPPED, actor, subject_type="retention", reason=reason, details=record
        )
        for name in plan.names:
            await conn.execute(f'DROP TABLE "{name}"')
    # Anchors: spans whose next entry survives and links to the recorded hash.
    anchors = sum(not s.chain_end for s in spans)
    return {"dropped": plan.names, "checkpoint": checkpoint, "anchors": anchors}
