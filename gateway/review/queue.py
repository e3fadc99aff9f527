"""Moves of a held call and of a report candidate, each a conditional UPDATE plus its
history row and audit event, inside one transaction opened by the caller with
`EventLog.transaction` (so a move never exists without its audit event).

Exactly-once forwarding rests on the conditional UPDATEs: only one transaction can move a
hold out of `pending` (double clicks, two reviewers, two gateway processes), and only the
holder of an unexpired lease forwards a hold in `forwarding`.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg
import orjson

from gateway.audit.events import Appender, EventKind

EXPIRY_ACTOR: Final = "system:expiry"
FORWARD_ACTOR: Final = "system:review"
FORWARDED, FORWARD_FAILED = "forwarded", "forward_failed"


class NotFound(Exception):
    pass


class Conflict(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


async def _history(
    conn: asyncpg.Connection,
    hold_id: uuid.UUID,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO hold_history (hold_id, at, actor, action, from_state, to_state, note, details)
           VALUES ($1, now(), $2, $3, $4, $5, $6, $7::text::jsonb)""",
        hold_id, actor, action, from_state, to_state, note, orjson.dumps(details or {}, default=str).decode(),
    )  # fmt: skip


async def _event(
    log: Appender, kind: EventKind, actor: str, hold_id: uuid.UUID, note: str | None, **details: Any
) -> None:
    # The subject is the original decision (the hold's id is the decision id), so the
    # decision's audit trail lists every review step.
    await log.append(
        kind, actor, subject_type="decision", subject_id=str(hold_id), reason=note,
        details={"hold_id": str(hold_id), **details},
    )  # fmt: skip


async def lock_pending(conn: asyncpg.Connection, hold_id: uuid.UUID) -> asyncpg.Record | None:
    """The hold, row-locked to the end of the transaction, if it is pending and unexpired;
    None otherwise. Two approvals of one hold (two officers, two gateway processes) take
    turns here, so the second sees the first's approval."""
    return await conn.fetchrow(
        """SELECT id, action_kind, approvals_required FROM held_calls
            WHERE id = $1 AND state = 'pending' AND expires_at > now()
              FOR UPDATE""",
        hold_id,
    )


async def approvers(conn: asyncpg.Connection, hold_id: uuid.UUID) -> list[str]:
    """Who approved the hold so far, first first."""
    rows = await conn.fetch("SELECT actor FROM hold_approvals WHERE hold_id = $1 ORDER BY at, actor", hold_id)
    return [r["actor"] for r in rows]


async def _approval(conn: asyncpg.Connection, hold_id: uuid.UUID, actor: str, note: str) -> int:
    """Record one officer's approval; the hold's approvals so far. The key (hold_id, actor)
    refuses the same officer twice, whatever the caller checked."""
    return int(
        await conn.fetchval(
            """WITH added AS (INSERT INTO hold_approvals (hold_id, actor, at, note)
                              VALUES ($1, $2, now(), $3) RETURNING 1)
               SELECT (SELECT count(*) FROM hold_approvals WHERE hold_id = $1)
                      + (SELECT count(*) FROM added)""",
            hold_id,
            actor,
            note,
        )
    )


async def first_approval(
    conn: asyncpg.Connection, log: Appender, hold_id: uuid.UUID, actor: str, note: str, required: int
) -> int:
    """An approval that does not release the hold yet (dual control): recorded, with its
    history row and audit event; the hold stays pending. Call under `lock_pending`."""
    given = await _approval(conn, hold_id, actor, note)
    details = {"approvals": given, "approvals_required": required}
    await _history(conn, hold_id, actor, "first_approval", "pending", "pending", note, details)
    await _event(
        log, EventKind.REVIEW_APPROVED, actor, hold_id, note,
        to_state="pending", step="first_approval", **details,
    )  # fmt: skip
    return given


async def claim(
    conn: asyncpg.Connection, log: Appender, hold_id: uuid.UUID, actor: str, note: str, lease_seconds: float
) -> asyncpg.Record | None:
    """pending → forwarding, recording the reviewer's approval and taking the forwarding
    lease; None when the hold is not pending (or has expired): nothing changed. Released
    only if the approvals cover the hold's requirement (checked by the database at commit)."""
    row = await conn.fetchrow(
        """UPDATE held_calls
              SET state = 'forwarding', reviewed_by = $2, reviewed_at = now(), review_note = $3,
                  lease_until = now() + make_interval(secs => $4), updated_at = now()
            WHERE id = $1 AND state = 'pending' AND expires_at > now() AND action_kind <> 'deposit_credit'
        RETURNING *""",
        hold_id, actor, note, lease_seconds,
    )  # fmt: skip
    if row is None:
        return None
    given = await _approval(conn, hold_id, actor, note)
    details = {"approvals": given, "approvals_required": row["approvals_required"]}
    await _history(conn, hold_id, actor, "approved", "pending", "forwarding", note, details)
    await _event(log, EventKind.REVIEW_APPROVED, actor, hold_id, note, to_state="forwarding", **details)
    return row


async def credit(conn: asyncpg.Connection, log: Appender, hold_id: uuid.UUID, actor: str, note: str) -> bool:
    """A held deposit, approved: pending → credited. It has arrived already, so nothing is
    forwarded; the officer's approval releases it to the customer. False when the hold is
    not a pending deposit (or has expired)."""
    required = await conn.fetchval(
        """UPDATE held_calls
              SET state = 'credited', reviewed_by = $2, reviewed_at = now(), review_note = $3,
                  updated_at = now()
            WHERE id = $1 AND state = 'pending' AND action_kind = 'deposit_credit' AND expires_at > now()
        RETURNING approvals_required""",
        hold_id, actor, note,
    )  # fmt: skip
    if required is None:
        return False
    details = {"approvals": await _approval(conn, hold_id, actor, note), "approvals_required": required}
    await _history(conn, hold_id, actor, "approved", "pending", "credited", note, details)
    await _event(log, EventKind.REVIEW_APPROVED, actor, hold_id, note, to_state="credited", **details)
    return True


async def reject(conn: asyncpg.Connection, log: Appender, hold_id: uuid.UUID, actor: str, note: str) -> bool:
    """pending → rejected, for good; False when the hold is not pending (or has expired)."""
    done = await conn.fetchval(
        """UPDATE held_calls
              SET state = 'rejected', reviewed_by = $2, reviewed_at = now(), review_note = $3,
                  updated_at = now()
            WHERE id = $1 AND state = 'pending' AND expires_at > now()
        RETURNING true""",
        hold_id, actor, note,
    )  # fmt: skip
    if not done:
        return False
    await _history(conn, hold_id, actor, "rejected", "pending", "rejected", note)
    await _event(log, EventKind.REVIEW_REJECTED, actor, hold_id, note, to_state="rejected")
    return True


async def expire_due(
    conn: asyncpg.Connection, log: Appender, limit: int, hold_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """pending holds past their expiry → expired (one, or up to `limit` of them)."""
    rows = await conn.fetch(
        """UPDATE held_calls SET state = 'expired', expired_at = now(), updated_at = now()
            WHERE id IN (SELECT id FROM held_calls
                          WHERE state = 'pending' AND expires_at <= now()
                            AND ($2::uuid IS NULL OR id = $2)
                          ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, expires_at""",
        limit, hold_id,
    )  # fmt: skip
    for row in rows:
        await _history(conn, row["id"], EXPIRY_ACTOR, "expired", "pending", "expired")
        await _event(
            log, EventKind.REVIEW_EXPIRED, EXPIRY_ACTOR, row["id"], None,
            to_state="expired", expires_at=row["expires_at"],
        )  # fmt: skip
    return [r["id"] for r in rows]


async def explain(conn: asyncpg.Connection, hold_id: uuid.UUID) -> tuple[str, bool]:
    """(state, past expiry) of a hold a move did not apply to; NotFound if there is none."""
    row = await conn.fetchrow(
        "SELECT state, expires_at <= now() AS due FROM held_calls WHERE id = $1", hold_id
    )
    if row is None:
        raise NotFound(str(hold_id))
    return row["state"], row["due"]


async def take_over(conn: asyncpg.Connection, lease_seconds: float, limit: int) -> list[asyncpg.Record]:
    """Holds left in `forwarding` whose lease ran out (their forwarder crashed or lost its
    answer): take the lease, so exactly one sweeper retries each."""
    return list(
        await conn.fetch(
            """UPDATE held_calls SET lease_until = now() + make_interval(secs => $1), updated_at = now()
                WHERE id IN (SELECT id FROM held_calls
                              WHERE state = 'forwarding' AND lease_until <= now()
                              ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING *""",
            lease_seconds,
            limit,
        )
    )


async def record_answer(
    conn: asyncpg.Connection,
    log: Appender,
    hold_id: uuid.UUID,
    outcome: str,
    http_status: int,
    body: str,
    exchange_id: str | None,
) -> bool:
    """forwarding → forwarded | forward_failed with what the exchange answered. False when
    another forwarder recorded it first (the same withdrawal: same idempotency key)."""
    row = await conn.fetchrow(
        """UPDATE held_calls
              SET state = $2, forward_attempts = forward_attempts + 1, upstream_status = $3,
                  upstream_body = $4, exchange_withdraw_id = $5, last_error = NULL,
                  lease_until = NULL, forwarded_at = CASE WHEN $2 = 'forwarded' THEN now() END,
                  updated_at = now()
            WHERE id = $1 AND state = 'forwarding'
        RETURNING reviewed_by, forward_attempts""",
        hold_id, outcome, http_status, body, exchange_id,
    )  # fmt: skip
    if row is None:
        return False
    details = {
        "http_status": http_status,
        "attempts": row["forward_attempts"],
        "approved_by": row["reviewed_by"],
    }
    await _history(conn, hold_id, FORWARD_ACTOR, outcome, "forwarding", outcome, details=details)
    kind = EventKind.REVIEW_FORWARDED if outcome == FORWARDED else EventKind.REVIEW_FORWARD_FAILED
    await _event(log, kind, FORWARD_ACTOR, hold_id, None, to_state=outcome, **details)
    return True


async def record_retry(conn: asyncpg.Connection, hold_id: uuid.UUID, error: str) -> None:
    """The exchange did not answer usefully: stay in forwarding; the sweep retries once the
    lease runs out, with the same idempotency key."""
    updated = await conn.fetchval(
        """UPDATE held_calls SET forward_attempts = forward_attempts + 1, last_error = $2, updated_at = now()
            WHERE id = $1 AND state = 'forwarding' RETURNING true""",
        hold_id,
        error,
    )
    if updated:
        await _history(conn, hold_id, FORWARD_ACTOR, "forward_retry", "forwarding", "forwarding", error)


async def change_report(
    conn: asyncpg.Connection, log: Appender, report_id: uuid.UUID, status: str, actor: str, note: str
) -> bool:
    """open → filed | dismissed; False when the report is not open."""
    done = await conn.fetchval(
        """UPDATE report_candidates
              SET status = $2, reviewed_by = $3, reviewed_at = now(), note = $4, updated_at = now()
            WHERE id = $1 AND status = 'open'
        RETURNING true""",
        report_id, status, actor, note,
    )  # fmt: skip
    if not done:
        return False
    await conn.execute(
        """INSERT INTO report_history (report_id, at, actor, from_status, to_status, note)
           VALUES ($1, now(), $2, 'open', $3, $4)""",
        report_id,
        actor,
        status,
        note,
    )
    kind = EventKind.REPORT_FILED if status == "filed" else EventKind.REPORT_DISMISSED
    await log.append(
        kind,
        actor,
        subject_type="report",
        subject_id=str(report_id),
        reason=note,
        details={"to_status": status},
    )
    return True
