"""Findings, outcomes and the immutable Decision record."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
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

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "stage": self.stage,
            "rule_id": self.rule_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "message": self.message,
        }
        if self.values:
            body["values"] = dict(self.values)  # findings may be shared (memoised rule sets)
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
    def primary(self) -> Finding | None:
        for finding in self.findings:
            if finding.outcome is self.outcome:
                return finding
        return None
