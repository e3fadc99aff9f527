"""What the admin API's control surfaces answer: the audit trail, rule packs and
sanctions lists (the records themselves are in gateway/http/admin/schemas.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.admin.schemas import MASKED, Answer, OutcomeName, one_of
from gateway.sanctions.retro.store import STATES as RETRO_STATES

# The audit trail ------------------------------------------------------------------------


class ChainHead(Answer):
    stream: str
    chain_id: str
    entries: int
    head_seq: int
    head_hash: str


class BrokenLink(Answer):
    stream: str
    chain_id: str | None
    seq: int | None
    entry_id: str | None
    problem: str
    expected: str
    found: str


class ChainVerification(Answer):
    status: Annotated[str, one_of(("intact", "broken"))]
    entries: int
    unchained_entries: int
    since: datetime | None
    until: datetime | None
    verified_at: datetime
    checkpoint_id: uuid.UUID | None = Field(default=None, description="when checked against one")
    chains: list[ChainHead] | None = Field(default=None, description="when intact")
    broken_link: BrokenLink | None = Field(default=None, description="when broken")


class Checkpoint(Answer):
    id: uuid.UUID
    created_at: datetime
    document: dict[str, Any] = Field(description="the signed checkpoint as `audit checkpoint` prints it")


class CheckpointList(Answer):
    checkpoints: list[Checkpoint]


class AuditEvent(Answer):
    id: uuid.UUID
    occurred_at: datetime
    kind: str
    actor: str
    subject_type: str | None
    subject_id: str | None = Field(description=f"{MASKED}, when the subject is a customer")
    reason: str | None
    details: dict[str, Any]
    chain_id: uuid.UUID
    seq: int
    entry_hash: str


class EventPage(Answer):
    events: list[AuditEvent]
    next_cursor: str | None


# Rule packs -----------------------------------------------------------------------------


class PackVersion(Answer):
    version: str
    loaded_at: datetime


class RulePacks(Answer):
    active: str
    home_country: str
    as_of: date | None
    licences_held: list[str]
    versions: list[PackVersion]


class RulePackVersion(Answer):
    version: str
    active: bool
    packs: dict[str, dict[str, Any]] = Field(description="per jurisdiction, the pack as loaded")
    assets: dict[str, str] = Field(description="asset -> asset class")


class FieldChange(Answer):
    from_: Any = Field(alias="from")
    to: Any


class RulePackDiff(Answer):
    from_: str = Field(alias="from")
    to: str
    added: list[str]
    removed: list[str]
    changed: dict[str, dict[str, FieldChange]] = Field(description="rule id -> field -> change")


class Reload(Answer):
    version: str
    previous: str
    changed: bool


class ReplaySide(Answer):
    outcome: OutcomeName
    reasons: list[str]
    rule_ids: list[str]
    message: str | None


class ReplayChange(Answer):
    decision_id: uuid.UUID
    decided_at: datetime
    action_kind: str
    operation: str
    logged_version: str
    from_: ReplaySide = Field(alias="from")
    to: ReplaySide


class Transition(Answer):
    from_: OutcomeName = Field(alias="from")
    to: OutcomeName
    count: int


class ReplayReport(Answer):
    version: str
    since: datetime
    until: datetime
    customer_id: uuid.UUID | None
    examined: int
    replayed: int
    truncated: bool
    not_replayable: dict[str, int]
    transitions: list[Transition]
    logged_versions: dict[str, int]
    defaulted_fields: dict[str, int]
    changed_total: int
    changed: list[ReplayChange]
    reasons_changed_total: int
    reasons_changed: list[ReplayChange]


# Sanctions ------------------------------------------------------------------------------


class Snapshot(Answer):
    id: str
    list_name: str = Field(alias="list")
    as_of: date
    address_count: int
    entry_count: int
    rejected_count: int = Field(description="entries of the source not stored (accept_partial)")
    loaded_at: datetime
    loaded_by: str
    current: bool


class SnapshotList(Answer):
    current: str | None
    in_force_here: str | None = Field(description="what this replica screens with")
    snapshots: list[Snapshot]


class RetroScanRef(Answer):
    id: uuid.UUID
    state: Annotated[str, one_of(RETRO_STATES)]
    additions: int = Field(description="addresses listed now and not by the snapshot the last scan followed")


class SourceSummary(Answer):
    entries: int
    valid: int
    rejected: int
    valid_by_network: dict[str, int] = Field(description="valid entries per network as published")
    exact_only: int = Field(description="no network, or one not known here: stored for exact matching only")
    case_folded: int = Field(description="entries that look lower-cased from base58 (refused)")
    other_network: int = Field(description="valid addresses of another network than the one published")
    notes: list[str]


class SnapshotLoad(Answer):
    outcome: Annotated[str, one_of(("loaded", "reactivated", "unchanged"))]
    changed: bool
    previous_id: str | None
    added: int
    delisted: int
    rejected: int = Field(description="entries stored as rejected with the snapshot")
    delisting_confirmed: bool = Field(description="the delisting guard was overridden")
    summary: SourceSummary
    snapshot: Snapshot
    retro_scan: RetroScanRef | None = Field(
        description="the retro-screening of this switch; null when not made now (the worker makes it)"
    )


class RejectedEntry(Answer):
    index: int = Field(description="position in the source, from 0")
    address: str = Field(description="as published")
    network: str | None
    problem: str


class SnapshotRejections(Answer):
    snapshot_id: str
    rejected_count: int
    rejected: list[RejectedEntry] = Field(description="in source order, at most `limit`")


class RetroScan(Answer):
    id: uuid.UUID
    snapshot_id: str
    previous_snapshot_id: str | None
    switched_at: datetime
    additions: int
    lookback_from: datetime
    lookback_to: datetime
    state: Annotated[str, one_of(RETRO_STATES)]
    scanned_through: datetime | None = Field(description="the time of the last movement screened")
    scanned: int
    hits: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class RetroScanList(Answer):
    scans: list[RetroScan]


class RetroHit(Answer):
    movement_id: int
    decision_id: uuid.UUID
    customer_id: str = Field(description=MASKED)
    direction: Annotated[str, one_of(("deposit", "withdrawal"))]
    occurred_at: datetime
    address: str = Field(description=MASKED)
    report_id: uuid.UUID = Field(description="the STR candidate it opened")
    found_at: datetime


class RetroScanProgress(RetroScan):
    movements_in_window: int = Field(description="movements in the scan's window: what `scanned` counts to")
    hit_list: list[RetroHit] | None = Field(description="null for a role that does not read reports")


class SanctionsCheck(Answer):
    address: str
    network: str | None
    listed: bool
    snapshot_id: str
    list_name: str = Field(alias="list")
    as_of: date
    listed_as: list[str] | None = Field(default=None, description="when listed")
    listed_for: list[str] | None = Field(default=None, description="when listed")
    format: str | None = Field(default=None, description="when listed")


class OpenApiDocument(BaseModel):
    """This document: OpenAPI 3.1."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
