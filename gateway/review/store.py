"""Parking a held call and opening a report candidate: what the request path calls, inside
the transaction that records the decision (DESIGN §5: one transaction per money-moving
decision, covering the decision and any review item).

Neither writes an audit event: the decision row committed in the same transaction is the
record of why the call was held or reported. Every later step (approve, reject, expire,
forward, file, dismiss) is an audit event written by gateway/review/queue.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import asyncpg
import orjson

from gateway.audit.chain import Companion, write_companions
from gateway.binance.params import MalformedEncoding, MalformedParameter, read_params
from gateway.review.dual import approvals_required
from gateway.review.keys import IDEMPOTENCY_PARAM, derived_key
from gateway.store.records import new_decision_id

POLICY_ACTOR: Final = "system:policy"
REPORT_KINDS: Final = ("CTR", "STR")
_CURRENCY = re.compile(r"^[A-Z0-9]{1,12}$")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})


class InvalidHold(ValueError):
    pass


@dataclass(frozen=True)
class HeldCall:
    decision_id: uuid.UUID  # also the held call's id, and what the client sees as the withdrawal id
    customer_id: uuid.UUID
    api_key_id: uuid.UUID | None
    action_kind: str  # e.g. "withdrawal"
    asset: str | None
    amount: Decimal | None
    address: str | None
    network: str | None
    http_method: str
    path: str
    raw_query: str  # the original query string, bytes-exact as received
    body: bytes  # the original body
    content_type: str | None
    findings: list[dict[str, Any]]  # the verdict's findings as JSON (rule ids, reasons, citations)
    held_at: datetime
    expires_at: datetime  # from the rule pack's hold_expiry (rules/model.py HoldExpiryRule)
    # The call's value in the home pack's currency, from the decision's valuation finding
    # (None: nothing valued it there); what dual control compares (gateway/review/dual.py).
    home_currency: str | None = None
    home_value: Decimal | None = None


@dataclass(frozen=True)
class ReportCandidate:
    kind: str  # "CTR" | "STR" (what the rule pack says)
    customer_id: uuid.UUID
    decision_ids: tuple[uuid.UUID, ...]
    rule_ids: tuple[str, ...]
    amount: Decimal | None
    currency: str | None
    details: dict[str, Any]  # e.g. window sums, threshold, price/rate used


def call_params(raw_query: str, body: bytes) -> Mapping[str, str]:
    """The call's parameters as the exchange reads them (query, then form body)."""
    try:
        return read_params(raw_query, body.decode("utf-8", "replace")).values
    except (MalformedEncoding, MalformedParameter):
        return {}


def idempotency_key(held_id: uuid.UUID, params: Mapping[str, str], secret: bytes) -> tuple[str, bool]:
    """(key, added): the client's withdrawOrderId when it sent one, else one derived from
    the held id, which the forward then adds to the call."""
    given = params.get(IDEMPOTENCY_PARAM)
    if given:
        return given, False
    return derived_key(secret, held_id), True


def _check_hold(held: HeldCall) -> None:
    problems = []
    if held.http_method not in _METHODS:
        problems.append(f"http_method {held.http_method!r}")
    if not held.path.startswith("/"):
        problems.append("path must start with /")
    if held.held_at.tzinfo is None or held.expires_at.tzinfo is None:
        problems.append("held_at and expires_at need a time zone")
    elif held.expires_at <= held.held_at:
        problems.append("expires_at must be after held_at")
    if not held.action_kind:
        problems.append("action_kind is empty")
    if held.amount is not None and held.amount <= 0:
        problems.append("amount must be positive")
    if held.home_currency is not None and not _CURRENCY.match(held.home_currency):
        problems.append("home_currency must be a code such as KRW")
    value = held.home_value
    if value is not None and (held.home_currency is None or not value.is_finite() or value < 0):
        problems.append("home_value must be a non-negative number, with its currency")
    if problems:
        raise InvalidHold("; ".join(problems))


async def park(
    conn: asyncpg.Connection, held: HeldCall, secret: bytes, dual_control_above: Decimal | None = None
) -> None:
    """Park a held call for review, in the caller's transaction (the decision's).
    `secret`: from `key_secret`, for the idempotency key the gateway adds.
    `dual_control_above`: GATEWAY_REVIEW_DUAL_CONTROL_ABOVE; the approvals the hold needs
    are fixed here, from its home value (gateway/review/dual.py)."""
    _check_hold(held)
    params = call_params(held.raw_query, held.body)
    key, added = idempotency_key(held.decision_id, params, secret)
    required = approvals_required(held.home_value, dual_control_above)
    await conn.execute(
        """INSERT INTO held_calls (
               id, customer_id, api_key_id, action_kind, asset, amount, address, network,
               http_method, path, raw_query, body, content_type, findings, idempotency_key,
               key_added, client_order_id, state, held_at, expires_at, updated_at,
               home_currency, home_value, approvals_required)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb, $15,
                   $16, $17, 'pending', $18, $19, $18, $20, $21, $22)""",
        held.decision_id, held.customer_id, held.api_key_id, held.action_kind, held.asset,
        held.amount, held.address, held.network, held.http_method, held.path, held.raw_query,
        held.body, held.content_type, orjson.dumps(held.findings, default=str).decode(), key,
        added, params.get(IDEMPOTENCY_PARAM), held.held_at, held.expires_at,
        held.home_currency, held.home_value, required,
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO hold_history (hold_id, at, actor, action, from_state, to_state, details)
           VALUES ($1, $2, $3, 'held', NULL, 'pending', $4::text::jsonb)""",
        held.decision_id,
        held.held_at,
        POLICY_ACTOR,
        orjson.dumps({"expires_at": held.expires_at, "approvals_required": required}).decode(),
    )


def _check_report(candidate: ReportCandidate) -> None:
    problems = []
    if candidate.kind not in REPORT_KINDS:
        problems.append(f"kind must be one of {', '.join(REPORT_KINDS)}")
    if not candidate.decision_ids:
        problems.append("at least one decision id")
    if candidate.amount is not None and (not candidate.amount.is_finite() or candidate.amount < 0):
        problems.append("amount must be a non-negative number")
    if candidate.currency is not None and not _CURRENCY.match(candidate.currency):
        problems.append("currency must be a code such as KRW or BTC")
    if problems:
        raise InvalidHold("; ".join(problems))


async def open_report(conn: asyncpg.Connection, candidate: ReportCandidate) -> uuid.UUID:
    """Open a CTR/STR candidate, in the caller's transaction; returns its id."""
    report_id, rows = report_rows(candidate)
    await write_companions(conn, rows)
    return report_id


def report_rows(candidate: ReportCandidate) -> tuple[uuid.UUID, tuple[Companion, Companion]]:
    """A new candidate's id and its rows, the candidate and the first line of its history,
    for one statement (alone, or the one that commits the decision that opened it). Both
    take the transaction's now(), so the history line says when the candidate opened."""
    _check_report(candidate)
    report_id = new_decision_id()
    details = orjson.dumps(candidate.details, default=str).decode()
    return report_id, (
        Companion(_OPEN_CANDIDATE, (
            report_id, candidate.kind, candidate.customer_id, list(candidate.decision_ids),
            list(dict.fromkeys(candidate.rule_ids)), candidate.amount, candidate.currency, details,
        )),
        Companion(_OPEN_HISTORY, (report_id, POLICY_ACTOR)),
    )  # fmt: skip


_OPEN_CANDIDATE = """INSERT INTO report_candidates (
                         id, kind, customer_id, decision_ids, rule_ids, amount, currency, details,
                         status, opened_at, updated_at)
                     VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}::text::jsonb, 'open', now(), now())"""
_OPEN_HISTORY = """INSERT INTO report_history (report_id, at, actor, from_status, to_status)
                   VALUES ({0}, now(), {1}, NULL, 'open')"""
