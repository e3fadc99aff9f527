"""Dropping old log partitions: an explicit operator command, refused for anything the
retention policy still keeps, and logged in the log itself.

In order: refuse partitions younger than the longest period in force; refuse while a
customer whose period runs from the end of the relationship (Korea) is still a customer
or left too recently; verify every chain (evidence of tampering is not something to
delete); write a signed final checkpoint; then, in one transaction, append the drop
event (with the anchors the verifier needs to accept the gap) and drop the partitions.
Needs the schema owner's connection: the runtime role cannot drop anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from gateway.audit.checkpoint import create_checkpoint
from gateway.audit.events import EventKind, EventLog
from gateway.audit.partitions import Partition, list_partitions
from gateway.audit.retention import RetentionPolicy, years_before
from gateway.audit.signing import CheckpointKey
from gateway.audit.streams import STREAMS
from gateway.audit.verify import verify


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


async def _retired(conn: asyncpg.Connection, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per chain: each dropped entry whose successor survives (its hash anchors the gap),
    and the highest dropped sequence number."""
    anchors: list[dict[str, Any]] = []
    through: list[dict[str, Any]] = []
    for stream in STREAMS:
        rows = await conn.fetch(
            f"""SELECT p.chain_id::text AS chain_id, p.seq, p.entry_hash
                  FROM {stream.name} p JOIN {stream.name} s ON s.chain_id = p.chain_id AND s.seq = p.seq + 1
                 WHERE p.tableoid = ANY($1::text[]::regclass[])
                   AND NOT s.tableoid = ANY($1::text[]::regclass[])""",
            names,
        )
        anchors += [
            {"stream": stream.name, "chain_id": r["chain_id"], "seq": r["seq"], "hash": r["entry_hash"].hex()}
            for r in rows
        ]
        rows = await conn.fetch(
            f"""SELECT chain_id::text AS chain_id, max(seq) AS seq FROM {stream.name}
                 WHERE tableoid = ANY($1::text[]::regclass[]) AND chain_id IS NOT NULL GROUP BY chain_id""",
            names,
        )
        through += [{"stream": stream.name, "chain_id": r["chain_id"], "seq": r["seq"]} for r in rows]
    return {"anchors": anchors, "dropped_through": through}


async def execute_drop(
    conn: asyncpg.Connection, plan: DropPlan, key: CheckpointKey, events: EventLog, actor: str, reason: str
) -> dict[str, Any]:
    verification = await verify(conn)
    if not verification.intact:
        broken = verification.as_json()["broken_link"]
        raise DropRefused(f"the log does not verify, nothing dropped: {broken}")
    checkpoint = await create_checkpoint(
        conn, key, events, actor, reason=f"final checkpoint before dropping partitions before {plan.before}"
    )
    async with events.transaction(conn) as log:
        retired = await _retired(conn, plan.names)
        await log.append(
            EventKind.PARTITIONS_DROPPED, actor, subject_type="retention", reason=reason,
            details={
                "partitions": plan.names, "before": plan.before.isoformat(),
                "retention_years": plan.policy.years, "governed_by": list(plan.policy.governed_by),
                "checkpoint_id": checkpoint["id"], **retired,
            },
        )  # fmt: skip
        for name in plan.names:
            await conn.execute(f'DROP TABLE "{name}"')
    return {"dropped": plan.names, "checkpoint": checkpoint, "anchors": len(retired["anchors"])}
