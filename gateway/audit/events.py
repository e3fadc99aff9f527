"""Audit events: what happened besides decisions, on a chain of their own per appender.

An event is written in the same transaction as the change it records (a customer's
status, a key revoked), so the change never exists without its entry. Admin changes are
rare, so one lock per process serialises them over the whole transaction: two concurrent
changes cannot both take the same head and fork the chain.
"""

from __future__ import annotations

import asyncio
import enum
import getpass
import hashlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from gateway.audit.chain import Chain, ChainTip, PendingAppend, appending, process_label
from gateway.audit.streams import EVENTS
from gateway.feeds.markets import utcnow
from gateway.store.records import EventRow

_TOKEN_DIGEST_CHARS = 12


class EventKind(enum.StrEnum):
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_CHANGED = "customer.changed"
    API_KEY_ISSUED = "api_key.issued"
    API_KEY_REVOKED = "api_key.revoked"
    PERSONAL_DATA_UNMASKED = "personal_data.unmasked"
    CHECKPOINT_CREATED = "audit.checkpoint_created"
    PARTITIONS_DROPPED = "audit.partitions_dropped"
    # Appended by the issues that bring them: review actions, report changes, rule-pack
    # switches, sanctions-list snapshot loads, KYC record changes.
    REVIEW_ACTION = "review.action"
    REPORT_CHANGED = "report.changed"
    RULE_PACK_SWITCHED = "rule_pack.switched"
    LIST_SNAPSHOT_LOADED = "list_snapshot.loaded"
    KYC_CHANGED = "kyc.changed"
    # The hold-and-review queue and report candidates (subject: the original decision, or
    # the report).
    REVIEW_APPROVED = "review.approved"
    REVIEW_REJECTED = "review.rejected"
    REVIEW_EXPIRED = "review.expired"
    REVIEW_FORWARDED = "review.forwarded"
    REVIEW_FORWARD_FAILED = "review.forward_failed"
    REPORT_FILED = "report.filed"
    REPORT_DISMISSED = "report.dismissed"
    # A past movement involving an address a new sanctions snapshot lists (subject: the
    # STR it opened; gateway/sanctions/retro/).
    SANCTIONS_RETRO_HIT = "sanctions.retro_hit"
    # The compliance console (gateway/http/console/): a person exchanged their admin token
    # for a browser session, or ended it (actor: the token's admin_actor label).
    CONSOLE_SIGNED_IN = "console.signed_in"
    CONSOLE_SIGNED_OUT = "console.signed_out"


def admin_actor(role: str, token: str) -> str:
    """Tokens are not named users yet: the role plus a short digest tells them apart
    without putting the token in the log."""
    return f"admin:{role}:{hashlib.sha256(token.encode()).hexdigest()[:_TOKEN_DIGEST_CHARS]}"


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


class Appender:
    """Appends events inside one open transaction. `pending`: that transaction's append,
    for entries of other chains committed with the events (a held call's answer)."""

    def __init__(self, pending: PendingAppend, tip: ChainTip) -> None:
        self.pending = pending
        self._tip = tip

    async def append(
        self,
        kind: EventKind,
        actor: str,
        *,
        subject_type: str | None = None,
        subject_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> EventRow:
        event = EventRow(kind.value, actor, utcnow(), subject_type, subject_id, reason, details or {})
        await self.pending.append((self._tip, [event.record()]))
        return event


class EventLog:
    def __init__(self, writer: str | None = None) -> None:
        self._tip = ChainTip(EVENTS, writer or process_label())
        self._lock = asyncio.Lock()

    @property
    def chain(self) -> Chain:
        return self._tip.chain

    @asynccontextmanager
    async def transaction(self, conn: asyncpg.Connection) -> AsyncIterator[Appender]:
        """A transaction whose events are committed with it, or not at all. Not inside
        another transaction: the head may move only when the events are really committed."""
        if conn.is_in_transaction():
            raise RuntimeError("an audit event transaction cannot be nested")
        async with self._lock, appending(conn) as pending:
            yield Appender(pending, self._tip)
