"""Findings, outcomes and the immutable Decision record.

One Finding type for every stage (core, country rules, KYC, AML): the kyc and aml
packages build it directly. A finding that asks for a report carries a typed
`ReportRequest`; one that stands for a decision nobody could make (a price missing, the
AML facts not gathered) is `undecidable`, and the verdict answers it as the one "could not
decide" signal, `CannotDecide`, the same one fact gatherers raise before any stage runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class Outcome(enum.StrEnum):
    ALLOW = "allow"
    ALLOW_AND_REPORT = "allow_and_report"
    HOLD = "hold"
    DENY = "deny"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def forwards(self) -> bool:
        return self in (Outcome.ALLOW, Outcome.ALLOW_AND_REPORT)


# Strictest wins: deny > hold > allow_and_report > allow (DESIGN §2).
_SEVERITY = {Outcome.ALLOW: 0, Outcome.ALLOW_AND_REPORT: 1, Outcome.HOLD: 2, Outcome.DENY: 3}


class ReportKind(enum.StrEnum):
    CTR = "CTR"  # currency (cash) transaction report
    STR = "STR"  # suspicious transaction report


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A report a finding asks for: the gateway opens a candidate of this kind in the
    decision's own transaction (gateway/review/store.py), for an officer to file."""

    kind: ReportKind
    amount: Decimal | None = None  # what crossed the threshold, when an amount did
    currency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class CannotDecide(Exception):
    """No decision can be made: a fact is unavailable (sanctions list, market list,
    prices) or the decision cannot be recorded. Answered 503 and counted as fail-closed;
    never an allow and never a refusal the client could take as final."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Finding:
    """One stage's verdict on one rule, with the values it compared."""

    stage: str
    rule_id: str
    outcome: Outcome
    reason: str  # stable snake_case code, the machine-readable part of a refusal
    message: str
    values: dict[str, Any] = field(default_factory=dict)
    citation: str | None = None
    report: ReportRequest | None = None
    # A deny standing for a decision the stage could not make (see `undecidable`).
    undecidable: bool = False

    @classmethod
    def cannot_decide(cls, stage: str, rule_id: str, reason: str, message: str, **values: Any) -> Finding:
        """The stage's answer when its facts do not allow a decision: recorded as a deny,
        answered as "could not decide" (Verdict.cannot_decide)."""
        return cls(stage, rule_id, Outcome.DENY, reason, message, values, undecidable=True)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "stage": self.stage,
            "rule_id": self.rule_id,
            "outcome": self.outcome.value,
            "reason": str(self.reason),
            "message": self.message,
        }
        values = dict(self.values)  # findings may be shared (memoised rule sets)
        if self.report is not None:
            # The stored shape since the first reports: the kind among the values.
            values["report"] = self.report.kind.value
        if values:
            body["values"] = values
        if self.citation:
            body["citation"] = self.citation
        return body


def strictest(findings: list[Finding]) -> Outcome:
    return max((f.outcome for f in findings), key=lambda o: o.severity, default=Outcome.ALLOW)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the pipeline concluded: the outcome and every finding behind it."""

    outcome: Outcome
    findings: tuple[Finding, ...]
    pack_version: str

    @property
    def reasons(self) -> list[str]:
        """Reason codes of the findings that set the outcome, most relevant first."""
        return [f.reason for f in self.findings if f.outcome is self.outcome and f.reason]

    @property
    def cannot_decide(self) -> CannotDecide | None:
        """Set when a stage could not decide and no other rule refused outright (a
        sanctioned address is refused whether or not a price was found): the edge answers
        503 rather than a refusal the client could take as final."""
        denies = [f for f in self.findings if f.outcome is Outcome.DENY]
        if not denies or not all(f.undecidable for f in denies):
            return None
        return CannotDecide(denies[0].reason, denies[0].message)

    def reports(self) -> dict[ReportKind, list[Finding]]:
        """Findings that ask for a report, by report kind, in finding order."""
        by_kind: dict[ReportKind, list[Finding]] = {}
        for finding in self.findings:
            if finding.report is not None:
                by_kind.setdefault(finding.report.kind, []).append(finding)
        return by_kind

    @property
    def primary(self) -> Finding | None:
        for finding in self.findings:
            if finding.outcome is self.outcome:
                return finding
        return None
