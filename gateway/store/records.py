"""Rows the gateway appends to Postgres: decisions, what the exchange answered, and audit
events. Each `record()` gives the content columns in order; the chain fields (chain id,
sequence number, previous and own hash) are added by the appender (gateway/audit/chain.py).
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from gateway.audit.canonical import canonical_json
from gateway.decide import facts_codec
from gateway.decide.facts_codec import PersonalSeal
from gateway.randomness import RandomChunks
from gateway.sealing import SecretBox
from policy.action import Action
from policy.decision import Verdict
from policy.facts import Facts

DECISION_COLUMNS = (
    "id", "decided_at", "request_id", "customer_id", "api_key_id", "dialect", "operation",
    "action_kind", "http_method", "path", "symbol", "base_asset", "quote_asset", "asset", "side",
    "order_type", "quantity", "price", "notional", "notional_asset", "address", "network",
    "client_order_id", "outcome", "reasons", "rule_ids", "findings", "rule_pack_version",
    "decision_micros", "country", "review_status", "facts",
)  # fmt: skip

UPSTREAM_COLUMNS = ("decision_id", "recorded_at", "http_status", "error", "upstream_micros")

EVENT_COLUMNS = (
    "id", "occurred_at", "kind", "actor", "subject_type", "subject_id", "reason", "details",
)  # fmt: skip


# An id's random part: 10 bytes from batches of 512 (gateway/randomness.py).
_RANDOM_PER_ID = 10
_RANDOM_BATCH = 512
_random = RandomChunks(_RANDOM_PER_ID, _RANDOM_BATCH)
# The low 80 bits of a UUIDv7: version 7 in bits 76-79, variant 0b10 in bits 62-63,
# the remaining 74 random.
_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_BITS = ((1 << 80) - 1) ^ (0xF << 76) ^ (0b11 << 62)


def new_decision_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so new rows land at the right edge of the index."""
    millis = time.time_ns() // 1_000_000
    low = (int.from_bytes(_random.take()) & _RANDOM_BITS) | _VERSION_7 | _VARIANT
    return uuid.UUID(int=(millis << 80) | low)


# Customer and API key ids arrive as text and are written as uuid: parsed once per id
# while it stays in use, not once per decision.
_uuid = functools.lru_cache(maxsize=4096)(uuid.UUID)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: uuid.UUID
    decided_at: datetime
    request_id: str
    customer_id: str | None
    api_key_id: str | None
    dialect: str
    http_method: str
    path: str
    action: Action
    verdict: Verdict
    decision_micros: int
    # The jurisdiction whose rules decided (e.g. "KR", "US-NY"), once the country rules
    # fill it; an audit filter.
    country: str | None = None
    # What the pipeline read, kept so the decision can be replayed under another rule-pack
    # version (gateway/decide/facts_codec.py, gateway/decide/replay.py); None when no facts were gathered.
    facts: Facts | None = None
    # Seals the personal values in the facts (travel-rule payload, KYC names) so replay
    # can open them; without it they are stored masked only (gateway/decide/facts_codec.py).
    personal_box: SecretBox | None = field(default=None, repr=False, compare=False)

    def record(self) -> tuple[Any, ...]:
        a, v = self.action, self.verdict
        notional: Decimal | None = a.notional
        # Distinct, in finding order: the rule filter's index column.
        rule_ids = list(dict.fromkeys(f.rule_id for f in v.findings))
        return (
            self.id, self.decided_at, self.request_id,
            _uuid(self.customer_id) if self.customer_id else None,
            _uuid(self.api_key_id) if self.api_key_id else None,
            self.dialect, a.operation, a.kind.value, self.http_method, self.path,
            a.symbol, a.base_asset, a.quote_asset, a.asset, a.side.value if a.side else None,
            a.order_type, a.quantity, a.price, notional, a.notional_asset, a.address, a.network,
            a.client_order_id, v.outcome.value, v.reasons, rule_ids,
            canonical_json([f.as_json() for f in v.findings], default=str),
            v.pack_version, self.decision_micros, self.country, None,
            self._facts_document(),
        )  # fmt: skip

    def _facts_document(self) -> str | None:
        if self.facts is None:
            return None
        personal = PersonalSeal(self.personal_box, self.id) if self.personal_box is not None else None
        return facts_codec.encode_column(self.facts, self.action, personal)


@dataclass(frozen=True, slots=True)
class UpstreamResultRow:
    decision_id: uuid.UUID
    recorded_at: datetime
    http_status: int | None
    error: str | None
    upstream_micros: int

    def record(self) -> tuple[Any, ...]:
        return (self.decision_id, self.recorded_at, self.http_status, self.error, self.upstream_micros)


@dataclass(frozen=True, slots=True)
class EventRow:
    """Something that happened besides a decision. `details` never holds personal data:
    name people by id (`subject_id`), never by name or reference."""

    kind: str  # dotted, e.g. "customer.status_changed"
    actor: str  # who did it: "admin:<role>:<token digest>" or "cli:<user>@<host>"
    occurred_at: datetime
    subject_type: str | None = None
    subject_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=new_decision_id)

    def record(self) -> tuple[Any, ...]:
        return (
            self.id, self.occurred_at, self.kind, self.actor, self.subject_type, self.subject_id,
            self.reason, orjson.dumps(self.details, default=str).decode(),
        )  # fmt: skip
