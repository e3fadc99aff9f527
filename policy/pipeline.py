"""The policy pipeline: an ordered list of pure stages, one outcome, strictest wins."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from policy.action import Action
from policy.decision import Finding, Outcome, Verdict, strictest
from policy.facts import Facts


class Stage(Protocol):
    @property
    def name(self) -> str: ...

    # Gate stages (authentication, well-formedness) stop the pipeline on a deny: later
    # stages would only compare facts about a request nobody should trust.
    @property
    def gate(self) -> bool: ...

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]: ...


@dataclass(frozen=True)
class Pipeline:
    stages: Sequence[Stage]
    pack_version: str

    def decide(self, action: Action, facts: Facts) -> Verdict:
        # Stages see the kind that decides (an order for an order test), so no stage can
        # treat a variant more leniently; the caller records the action as it came.
        kind = action.kind.decided_as
        judged = action if kind is action.kind else replace(action, kind=kind)
        findings: list[Finding] = []
        for stage in self.stages:
            found = stage.evaluate(judged, facts)
            findings.extend(found)
            if stage.gate and any(f.outcome is Outcome.DENY for f in found):
                break
        return Verdict(strictest(findings), tuple(findings), self.pack_version)


def content_version(*parts: str) -> str:
    """A short content hash naming a version of the rules that decided."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"sha256:{digest[:16]}"
