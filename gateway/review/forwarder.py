"""Approving and rejecting held calls, forwarding an approved call exactly once, and the
background sweep (expiry, resuming forwards a crash left behind).

Exactly once, in three layers:
1. The claim (pending → forwarding, with the reviewer) is a conditional UPDATE committed
   before anything is sent: of two approvals, from two reviewers or two processes, one
   claims and the other gets a conflict.
2. The claimer holds a lease (GATEWAY_REVIEW_FORWARD_LEASE_SECONDS, longer than the
   upstream timeout). Only when it runs out (the process died, or lost the answer) does a
   sweep take the call over, again by a conditional UPDATE, so one sweeper at a time.
3. Every forward carries the same idempotency key (Binance's withdrawOrderId, the
   client's or one derived from the held id): a forward repeated after a crash between
   sending and recording is the same withdrawal at the exchange, which answers the
   existing one and moves no money.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from gateway.audit.chain import ChainTip, process_label
from gateway.audit.events import Appender, EventLog
from gateway.audit.streams import UPSTREAM
from gateway.feeds.markets import utcnow
from gateway.feeds.periodic import Periodic
from gateway.feeds.upstream import Upstream, UpstreamAnswer, UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import GatewayMetrics
from gateway.review import queue
from gateway.review.answer_check import AnswerUnverified, exchange_id, withdrawal_mismatch
from gateway.review.keys import IDEMPOTENCY_PARAM
from gateway.review.store import REPORT_KINDS
from gateway.store import overview
from gateway.store.db import UNAVAILABLE_ERRORS
from gateway.store.records import UpstreamResultRow

log = logging.getLogger(__name__)

FORM: Final = "application/x-www-form-urlencoded"
SWEEP_BATCH: Final = 100  # holds expired or resumed per sweep step; the rest wait for the next
UPSTREAM_BODY_MAX: Final = 4096  # characters of the exchange's answer kept with the hold
# Answers that say nothing final about the withdrawal: retried with the same key.
_RETRYABLE: Final = frozenset({408, 418, 429})
_EXPECTED: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)
WITHDRAWAL_KIND: Final = "withdrawal"
SECOND_OFFICER: Final = "a second, different officer must approve."


class _SameOfficer(enum.Enum):
    """What _approval answers when the officer approved the hold already."""

    TOKEN = enum.auto()


_SAME_OFFICER: Final = _SameOfficer.TOKEN


class HoldExpired(queue.Conflict):
    pass


@dataclass(frozen=True)
class _Claimed:
    hold: asyncpg.Record  # claimed (pending -> forwarding): forward it, after the commit


class SameOfficer(queue.Conflict):
    """Under dual control, the officer who gave the first approval approved again."""


class ApprovalStep(enum.StrEnum):
    """What one approval did, so a caller (admin API, console) shows it as it is."""

    FIRST_APPROVAL_RECORDED = "first_approval_recorded"  # still pending: a second officer must approve
    FORWARDED = "forwarded"  # the exchange accepted the call
    FORWARD_FAILED = "forward_failed"  # the exchange refused it, for good
    FORWARDING = "forwarding"  # no final answer yet: the sweep asks again, with the same key
    CREDITED = "credited"  # a held deposit, released to the customer (nothing sent)


@dataclass(frozen=True)
class ApprovalOutcome:
    step: ApprovalStep
    approvals: int  # given so far, this one included
    approvals_required: int

    @property
    def state(self) -> str:
        """The hold's state after the approval."""
        return "pending" if self.step is ApprovalStep.FIRST_APPROVAL_RECORDED else self.step.value


@dataclass(frozen=True)
class ForwardCall:
    method: str
    path_qs: str
    body: bytes
    content_type: str | None


def forward_call(hold: asyncpg.Record | dict[str, Any]) -> ForwardCall:
    """The original call, bytes-exact, plus the idempotency key when the client sent none.
    The exchange trusts the gateway's service credential, not the customer's signature,
    so the key may follow the signature."""
    query, body, content_type = hold["raw_query"], bytes(hold["body"]), hold["content_type"]
    if hold["key_added"]:
        pair = f"{IDEMPOTENCY_PARAM}={hold['idempotency_key']}"
        if body or hold["http_method"] in ("POST", "PUT"):
            body = body + (b"&" if body else b"") + pair.encode()
            content_type = content_type or FORM
        else:
            query = query + ("&" if query else "") + pair
    path_qs = hold["path"] + ("?" + query if query else "")
    return ForwardCall(hold["http_method"], path_qs, body, content_type)


class ReviewService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        upstream: Upstream,
        events: EventLog,
        metrics: GatewayMetrics,
        *,
        lease_seconds: float,
        sweep_seconds: float,
    ) -> None:
        self._pool = pool
        self._upstream = upstream
        self._events = events
        self._metrics = metrics
        self._lease = lease_seconds
        # This process's chain of exchange answers to released holds (the decision writer
        # owns another); one recording at a time, so the chain never forks.
        self._answers = ChainTip(UPSTREAM, process_label() + ":review")
        self._record_lock = asyncio.Lock()
        self._periodic = Periodic("review-sweep", sweep_seconds, self.sweep_safely)

    # -- review steps ------------------------------------------------------------------

    async def approve(self, hold_id: uuid.UUID, actor: str, note: str) -> ApprovalOutcome:
        """Record the approval; if it is the last the hold needs (one, or two different
        officers under dual control), claim, commit, then forward once. A held deposit has
        arrived already, so releasing it credits it and sends nothing. Raises NotFound,
        HoldExpired, SameOfficer or Conflict (nothing changed)."""
        async with self._pool.acquire() as conn:
            async with self._events.transaction(conn) as events:
                settled = await self._approval(conn, events, hold_id, actor, note)
            if settled is None:
                await self._refused(conn, hold_id)  # raises
            if settled is _SAME_OFFICER:
                # Refused after the transaction, which wrote nothing: an exception inside it
                # would end this process's audit chain tip for nothing.
                raise SameOfficer("pending", "This officer approved already: " + SECOND_OFFICER)
        if isinstance(settled, ApprovalOutcome):
            step = "first" if settled.step is ApprovalStep.FIRST_APPROVAL_RECORDED else "final"
            self._metrics.child(self._metrics.review_approvals, step).inc()
            return settled
        assert isinstance(settled, _Claimed)
        self._metrics.child(self._metrics.review_approvals, "final").inc()
        await self.forward(settled.hold)
        async with self._pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM held_calls WHERE id = $1", hold_id)
        required = int(settled.hold["approvals_required"])
        return ApprovalOutcome(ApprovalStep(state), required, required)

    async def _approval(
        self, conn: asyncpg.Connection, events: Appender, hold_id: uuid.UUID, actor: str, note: str
    ) -> ApprovalOutcome | _Claimed | _SameOfficer | None:
        """Inside the approval's transaction, under the hold's row lock: the outcome of a
        first approval or of a credit, the claimed hold to forward, _SAME_OFFICER, or None
        when the hold is not pending."""
        locked = await queue.lock_pending(conn, hold_id)
        if locked is None:
            return None
        required = locked["approvals_required"]
        given = await queue.approvers(conn, hold_id)
        if actor in given:
            return _SAME_OFFICER
        if len(given) + 1 < required:
            count = await queue.first_approval(conn, events, hold_id, actor, note, required)
            return ApprovalOutcome(ApprovalStep.FIRST_APPROVAL_RECORDED, count, required)
        if await queue.credit(conn, events, hold_id, actor, note):
            return ApprovalOutcome(ApprovalStep.CREDITED, len(given) + 1, required)
        claimed = await queue.claim(conn, events, hold_id, actor, note, self._lease)
        return None if claimed is None else _Claimed(claimed)

    async def reject(self, hold_id: uuid.UUID, actor: str, note: str) -> None:
        async with self._pool.acquire() as conn:
            async with self._events.transaction(conn) as events:
                done = await queue.reject(conn, events, hold_id, actor, note)
            if not done:
                await self._refused(conn, hold_id)

    async def _refused(self, conn: asyncpg.Connection, hold_id: uuid.UUID) -> None:
        state, due = await queue.explain(conn, hold_id)
        if state == "pending" and due:
            # Past its expiry but not swept yet: expire it now, so the answer and the
            # record agree.
            async with self._events.transaction(conn) as events:
                expired = await queue.expire_due(conn, events, 1, hold_id)
            self._metrics.review_expired.inc(len(expired))
            state = "expired"
        if state == "expired":
            raise HoldExpired(state, "The hold expired before it was reviewed.")
        raise queue.Conflict(state, f"The hold is {state}, not pending.")

    # -- forwarding --------------------------------------------------------------------

    async def forward(self, hold: asyncpg.Record) -> None:
        """One attempt; its result is recorded, or left for the sweep when there is none."""
        call = forward_call(hold)
        started = time.perf_counter()
        try:
            answer = await self._upstream.forward(
                call.method, call.path_qs, call.body, call.content_type, str(hold["customer_id"])
            )
        except (UpstreamTimeout, UpstreamUnavailable) as exc:
            error = "timeout" if isinstance(exc, UpstreamTimeout) else "unavailable"
            await self._record(hold["id"], None, error, started)
            return
        mismatch = None
        if answer.status < 300 and hold["action_kind"] == WITHDRAWAL_KIND:
            try:
                mismatch = await withdrawal_mismatch(self._upstream, hold, answer)
            except (UpstreamTimeout, UpstreamUnavailable, AnswerUnverified) as exc:
                # Sent, but not shown to be this withdrawal yet: asked again later with
                # the same key, which cannot move money twice.
                await self._record(hold["id"], None, f"answer unverified: {exc!r}"[:200], started)
                return
        await self._record(hold["id"], answer, None, started, mismatch)

    async def _record(
        self,
        hold_id: uuid.UUID,
        answer: UpstreamAnswer | None,
        error: str | None,
        started: float,
        mismatch: str | None = None,
    ) -> None:
        """`mismatch`: how the exchange's withdrawal under the key differs from the held
        one; the hold is then forward_failed, never forwarded."""
        retry = answer is None or answer.status >= 500 or answer.status in _RETRYABLE
        forwarded = answer is not None and answer.status < 300 and mismatch is None
        outcome = "retry" if retry else queue.FORWARDED if forwarded else queue.FORWARD_FAILED
        self._metrics.child(self._metrics.review_forwards, outcome).inc()
        if mismatch is not None:
            self._metrics.review_forward_mismatches.inc()
            log.error("held call %s: the exchange answered another withdrawal: %s", hold_id, mismatch)
        result = UpstreamResultRow(
            hold_id,
            utcnow(),
            answer.status if answer else None,
            error,
            int((time.perf_counter() - started) * 1e6),
        )
        try:
            # The answer's entry commits with the hold's new state, or neither does.
            async with (
                self._record_lock,
                self._pool.acquire() as conn,
                self._events.transaction(conn) as events,
            ):
                await events.pending.append((self._answers, [result.record()]))
                if answer is None or retry:
                    retry_reason = error or f"http {answer.status if answer else ''}"
                    await queue.record_retry(conn, hold_id, retry_reason)
                else:
                    text = answer.body.decode("utf-8", "replace")
                    if mismatch is not None:
                        text = f"answer_mismatch: {mismatch}; the exchange answered: {text}"
                    text = text[:UPSTREAM_BODY_MAX]
                    await queue.record_answer(
                        conn, events, hold_id, outcome, answer.status, text, exchange_id(answer)
                    )
        except _EXPECTED as exc:
            # Forwarded but not recorded: the hold stays in forwarding and the sweep asks
            # again once the lease runs out; the key makes that the same withdrawal.
            log.warning("answer to held call %s not recorded: %r", hold_id, exc)

    # -- the sweep ---------------------------------------------------------------------

    async def sweep(self) -> None:
        """Expire what is due, resume stalled forwards, refresh the queue and report gauges."""
        async with self._pool.acquire() as conn:
            async with self._events.transaction(conn) as events:
                expired = await queue.expire_due(conn, events, SWEEP_BATCH)
            self._metrics.review_expired.inc(len(expired))
            stalled = await queue.take_over(conn, self._lease, SWEEP_BATCH)
            holds = await overview.review_queue(conn)
            reports = await conn.fetch(
                """SELECT kind, count(*) AS open, extract(epoch FROM now() - min(opened_at)) AS oldest
                     FROM report_candidates WHERE status = 'open' GROUP BY kind"""
            )
        self._metrics.review_queue_depth.set(holds.pending)
        self._metrics.review_forwarding.set(holds.forwarding)
        oldest = 0.0 if holds.oldest_pending is None else (utcnow() - holds.oldest_pending).total_seconds()
        self._metrics.review_queue_oldest.set(max(oldest, 0.0))
        # Every kind is set, so one whose last open candidate was filed drops back to 0.
        by_kind = {row["kind"]: row for row in reports}
        for kind in REPORT_KINDS:
            row = by_kind.get(kind)
            self._metrics.reports_open.labels(kind).set(row["open"] if row else 0)
            self._metrics.reports_oldest_open.labels(kind).set(float(row["oldest"]) if row else 0.0)
        for hold in stalled:
            log.info("resuming the forward of held call %s", hold["id"])
            await self.forward(hold)

    async def sweep_safely(self) -> None:
        try:
            await self.sweep()
        except _EXPECTED as exc:
            log.warning("review sweep skipped: %r", exc)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
