"""The log tables ("streams") that carry hash chains, described once for the appenders,
the verifier and retention."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.audit.canonical import canonical_bytes
from gateway.store.records import DECISION_COLUMNS, EVENT_COLUMNS, UPSTREAM_COLUMNS

CHAIN_COLUMNS = ("chain_id", "seq", "prev_hash", "entry_hash")


@dataclass(frozen=True)
class Stream:
    name: str  # also the table's name
    entry_type: str  # the composite type an appender sends rows as (migration 0010)
    time_column: str  # the partition key
    entry_id: str  # the column that names an entry to a person reading a broken link
    columns: tuple[str, ...]  # hashed content, in the order the appender's records hold it
    json_columns: frozenset[str]
    # Columns added after entries were chained: hashed only when not NULL, so the older
    # entries, hashed without them, still verify (gateway/audit/canonical.py).
    late_columns: frozenset[str] = frozenset()

    @property
    def entry_columns(self) -> tuple[str, ...]:
        """The attributes of `entry_type`, in order: what an appended row carries."""
        return (*self.columns, *CHAIN_COLUMNS)

    def hash(self, values: Sequence[Any], chain_id: uuid.UUID | str, seq: int, prev_hash: bytes) -> bytes:
        entry = canonical_bytes(
            self.name, self.columns, self.json_columns, values, chain_id, seq, prev_hash, self.late_columns
        )
        return hashlib.sha256(entry).digest()

    def select_list(self) -> str:
        """Content columns as the verifier reads them: jsonb as text, as the appender had it."""
        return ", ".join(f"{c}::text" if c in self.json_columns else c for c in self.columns)


# facts: migration 0006 (replay).
DECISIONS = Stream(
    "decisions",
    "decision_entry",
    "decided_at",
    "id",
    DECISION_COLUMNS,
    frozenset({"findings", "facts"}),
    frozenset({"facts"}),
)
UPSTREAM = Stream(
    "upstream_results", "upstream_result_entry", "recorded_at", "decision_id", UPSTREAM_COLUMNS, frozenset()
)
EVENTS = Stream(
    "audit_events", "audit_event_entry", "occurred_at", "id", EVENT_COLUMNS, frozenset({"details"})
)
STREAMS = (DECISIONS, UPSTREAM, EVENTS)
BY_NAME = {s.name: s for s in STREAMS}
