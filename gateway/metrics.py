"""Prometheus metrics. Labels are bounded sets (route class, outcome, action kind, reason
code): never customer ids, keys or addresses. Every drop or fail-closed path has a counter.

With several workers (GATEWAY_WORKERS, gateway/ops/workers.py) the supervisor sets
PROMETHEUS_MULTIPROC_DIR before it starts them: each worker's values live in files there
and /metrics on any worker reports the group (prometheus-client's multiprocess mode).
Counters and histograms add up; each gauge says how the workers' values combine
(`multiprocess_mode`): what every worker measures in the shared database is the most
recent measurement, what each worker holds for itself is its worst value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.review.store import REPORT_KINDS

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
FAIL_CLOSED_REASONS = (
    "decision_store_unavailable", "markets_unavailable", "facts_unavailable", "admin_database_unavailable",
    "price_unavailable", "sanctions_unavailable", "aml_facts_missing", "console_database_unavailable",
    "networks_unavailable",
)  # fmt: skip
# Console sign-in attempts (gateway/http/console/signin.py).
CONSOLE_SIGN_IN_RESULTS = ("signed_in", "bad_token", "throttled", "bad_form")
CONSOLE_REFUSAL_REASONS = ("csrf", "bad_input")
UPSTREAM_ERROR_KINDS = ("timeout", "unavailable")
REVIEW_FORWARD_RESULTS = ("forwarded", "forward_failed", "retry")
REVIEW_APPROVAL_STEPS = ("first", "final")  # dual control's first approval; the one that releases
# Automatic checkpoint rounds (gateway/audit/checkpointing.py) and anchor sinks (anchors.py).
CHECKPOINT_ROUND_RESULTS = ("stored", "unchanged", "locked", "broken", "failed")
ANCHOR_SINKS = ("directory", "http")
# What was wrong with a request too malformed to reach a handler (gateway/http/edge_protocol.py).
MALFORMED_KINDS = ("method", "request_line", "header", "framing", "too_large", "http09", "other")
# Set by the supervisor of a group of workers, read by prometheus-client when it is imported.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How a gauge combines over the workers of a group (ignored by a single process):
_SHARED: Final = "mostrecent"  # a measurement of the shared database: the newest one, by any worker
_WORST_HIGH: Final = "livemax"  # what each live worker holds for itself, where high is bad
_WORST_LOW: Final = "livemin"  # the same, where low is bad


def group_directory() -> str | None:
    """The group's metrics directory when this process is one of several workers."""
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


class ComputedGauge(Gauge):
    """A gauge computed at scrape time (`set_function`). In a group a scrape reaches one
    worker and reads the others' files, so every worker also writes its value now and
    then (`GatewayMetrics.update_computed`, called by gateway/ops/workers.py)."""

    _compute: Callable[[], float] | None = None

    def set_function(self, f: Callable[[], float]) -> None:
        self._compute = f
        super().set_function(f)

    def update(self) -> None:
        if self._compute is not None:
            self.set(self._compute())


class GatewayMetrics:
    def __init__(self) -> None:
        # One registry per app: two apps in one test process must not share counters.
        r = self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._group = group_directory()
        if self._group is None:
            # Per process: not combined over a group (prometheus-client's multiprocess
            # mode has no such collectors), so a group leaves them out rather than show one worker's.
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.requests = Counter(
            "gateway_requests", "Requests answered, by route class and HTTP status.",
            ["route_class", "status"], registry=r,
        )  # fmt: skip
        self.decisions = Counter(
            "gateway_decisions", "Decisions recorded, by outcome, action kind and primary reason.",
            ["outcome", "action_kind", "reason"], registry=r,
        )  # fmt: skip
        self.refusals = Counter(
            "gateway_refusals", "Refused calls by reason code, decided or not.", ["reason"], registry=r
        )
        self.decision_seconds = Histogram(
            "gateway_decision_seconds", "Time from request to committed decision.",
            ["action_kind"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.upstream_seconds = Histogram(
            "gateway_upstream_seconds", "Time the exchange took to answer.",
            ["route_class"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.decision_write_seconds = Histogram(
            "gateway_decision_write_seconds", "Time to commit one batch of decisions.",
            buckets=_FAST, registry=r,
        )  # fmt: skip
        self.decision_write_batch_size = Histogram(
            "gateway_decision_write_batch_size", "Decisions committed per transaction.",
            buckets=_BATCH, registry=r,
        )  # fmt: skip
        self.decision_write_failures = Counter(
            "gateway_decision_write_failures", "Batches that could not be committed.", registry=r
        )
        self.upstream_results_dropped = Counter(
            "gateway_upstream_results_dropped",
            "Upstream answers not recorded because the database failed.", registry=r,
        )  # fmt: skip
        self.fail_closed = Counter(
            "gateway_fail_closed", "Calls refused because the gateway could not decide or record.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "gateway_upstream_errors", "Calls the exchange did not answer.", ["kind"], registry=r
        )
        self.markets_age = ComputedGauge(
            "gateway_markets_age_seconds", "Age of the exchange market list in use.",
            multiprocess_mode=_WORST_HIGH, registry=r,
        )  # fmt: skip
        self.admin_requests = Counter(
            "gateway_admin_requests", "Admin API calls by endpoint and status.",
            ["endpoint", "status"], registry=r,
        )  # fmt: skip
        self.malformed_requests = Counter(
            "gateway_malformed_requests", "Requests refused 400 before routing (unparseable HTTP), by kind.",
            ["kind"], registry=r,
        )  # fmt: skip

        # The audit trail.
        self.audit_verify_intact = Gauge(
            "gateway_audit_verify_intact",
            "1 if the last verification found the log intact, 0 if it found a broken link.",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.audit_verify_timestamp = Gauge(
            "gateway_audit_verify_timestamp_seconds",
            "Unix time of the last verification run by this process (0: none yet).",
            multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.audit_verify_entries = Gauge(
            "gateway_audit_verify_entries", "Entries checked by the last verification.",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.audit_checkpoint_timestamp = Gauge(
            "gateway_audit_checkpoint_timestamp_seconds",
            "Unix time of the newest stored checkpoint at this replica's last checkpoint round (0: none).",
            multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.audit_checkpoint_rounds = Counter(
            "gateway_audit_checkpoint_rounds",
            "Checkpoint rounds by result (locked: another replica's turn).",
            ["result"], registry=r,
        )  # fmt: skip
        self.audit_anchor_failures = Counter(
            "gateway_audit_anchor_failures", "Checkpoints not written to an external anchor, by sink.",
            ["sink"], registry=r,
        )  # fmt: skip
        self.audit_default_partition_rows = Gauge(
            "gateway_audit_default_partition_rows",
            "Log rows outside every monthly partition (should be 0: partitions are made ahead).",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.audit_partitions_created = Counter(
            "gateway_audit_partitions_created", "Monthly log partitions this process created.", registry=r
        )
        self.audit_exports = Counter(
            "gateway_audit_exports", "Decision exports started, by format.", ["format"], registry=r
        )
        self.audit_unmasked = Counter(
            "gateway_audit_unmasked", "Accesses to one customer's unmasked personal data (each logged).",
            registry=r,
        )  # fmt: skip
        self.audit_replica_lag = Gauge(
            "gateway_audit_replica_lag_seconds",
            "How far the audit read replica is behind the primary (0: caught up or none; +Inf: unreachable).",
            multiprocess_mode=_WORST_HIGH, registry=r,
        )  # fmt: skip

        # The hold-and-review queue.
        self.review_queue_depth = Gauge(
            "gateway_review_queue_depth", "Held calls waiting for review, at the last sweep.",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.review_queue_oldest = Gauge(
            "gateway_review_queue_oldest_seconds", "Age of the oldest pending held call, at the last sweep.",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.review_forwarding = Gauge(
            "gateway_review_forwarding", "Approved calls not answered by the exchange yet (last sweep).",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.review_forwards = Counter(
            "gateway_review_forwards", "Forwards of approved held calls, by result.", ["result"], registry=r
        )
        self.review_forward_mismatches = Counter(
            "gateway_review_forward_mismatch",
            "Forwarded held withdrawals whose exchange answer described another withdrawal.",
            registry=r,
        )
        self.review_expired = Counter(
            "gateway_review_expired", "Held calls expired unreviewed by this process.", registry=r
        )
        self.review_approvals = Counter(
            "gateway_review_approvals",
            "Officers' approvals of held calls, by step (first: recorded, a second officer must "
            "approve under dual control; final: released the hold).", ["step"], registry=r,
        )  # fmt: skip
        # Report candidates (CTR/STR) waiting for a compliance officer to file or dismiss.
        self.reports_open = Gauge(
            "gateway_reports_open", "Open report candidates by kind, at the last sweep.", ["kind"],
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.reports_oldest_open = Gauge(
            "gateway_reports_oldest_open_seconds",
            "Age of the oldest open report candidate by kind, at the last sweep (0: none open).",
            ["kind"], multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip

        # Sanctioned-address lists (gateway/sanctions/service.py).
        self.sanctions_refresh_failures = Counter(
            "gateway_sanctions_refresh_failures",
            "Sanctions-list refreshes that failed; the last good list stays in force.", registry=r,
        )  # fmt: skip
        self.sanctions_addresses = Gauge(
            "gateway_sanctions_addresses", "Addresses in the sanctions list in force (0: none loaded).",
            multiprocess_mode=_WORST_LOW, registry=r,
        )  # fmt: skip
        self.sanctions_as_of = Gauge(
            "gateway_sanctions_as_of_timestamp_seconds",
            "Unix time of the as-of date of the sanctions list in force (0: none).",
            multiprocess_mode=_WORST_LOW, registry=r,
        )  # fmt: skip
        self.sanctions_loaded_at = Gauge(
            "gateway_sanctions_loaded_timestamp_seconds",
            "Unix time the sanctions list in force was loaded into the database (0: none).",
            multiprocess_mode=_WORST_LOW, registry=r,
        )  # fmt: skip
        # Retro-screening of past movements against a new snapshot's additions (gateway/sanctions/retro/).
        self.sanctions_retro_scanned = Counter(
            "gateway_sanctions_retro_scanned", "Past movements retro-screened against new listings.",
            registry=r,
        )  # fmt: skip
        self.sanctions_retro_hits = Counter(
            "gateway_sanctions_retro_hits",
            "Past movements found to involve a newly listed address (each opened an STR).", registry=r,
        )  # fmt: skip
        self.sanctions_retro_pending = Gauge(
            "gateway_sanctions_retro_pending", "Retro-screening scans not finished yet.",
            multiprocess_mode=_SHARED, registry=r,
        )  # fmt: skip
        self.sanctions_retro_failures = Counter(
            "gateway_sanctions_retro_failures",
            "Retro-screening rounds that failed (database trouble); the next round resumes.", registry=r,
        )  # fmt: skip

        # The compliance console (gateway/http/console/).
        self.console_sign_ins = Counter(
            "gateway_console_sign_ins", "Console sign-in attempts, by result.", ["result"], registry=r
        )
        self.console_refusals = Counter(
            "gateway_console_refusals",
            "Console requests refused before their page ran, by reason (csrf, bad_input).", ["reason"],
            registry=r,
        )  # fmt: skip

        # Known label values start at 0, so rate() sees the first event of each.
        for reason in FAIL_CLOSED_REASONS:
            self.fail_closed.labels(reason)
        for kind in UPSTREAM_ERROR_KINDS:
            self.upstream_errors.labels(kind)
        for result in REVIEW_FORWARD_RESULTS:
            self.review_forwards.labels(result)
        for step in REVIEW_APPROVAL_STEPS:
            self.review_approvals.labels(step)
        for result in CHECKPOINT_ROUND_RESULTS:
            self.audit_checkpoint_rounds.labels(result)
        for sink in ANCHOR_SINKS:
            self.audit_anchor_failures.labels(sink)
        for kind in MALFORMED_KINDS:
            self.malformed_requests.labels(kind)
        for result in CONSOLE_SIGN_IN_RESULTS:
            self.console_sign_ins.labels(result)
        for reason in CONSOLE_REFUSAL_REASONS:
            self.console_refusals.labels(reason)
        for kind in REPORT_KINDS:
            self.reports_open.labels(kind)
            self.reports_oldest_open.labels(kind)

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """`metric.labels(*values)`, memoised: labels() locks and validates on every call,
        which shows in the per-request profile; the set of label values is bounded."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def update_computed(self) -> None:
        """Write the computed gauges' values now (a group's scrape reads them from files)."""
        self.markets_age.update()

    def exposition(self) -> bytes:
        if self._group is None:
            return _generate_latest(self.registry)
        self.update_computed()
        # The whole group: every worker's files, the dead ones' counters included.
        group = CollectorRegistry()
        MultiProcessCollector(group, path=self._group)  # type: ignore[no-untyped-call]
        return _generate_latest(group)
