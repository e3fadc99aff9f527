"""What the AML checks conclude: findings with their report candidates.

`AmlFinding` mirrors kyc's `KycFinding`: the AML core does not build policy Findings
itself; the gateway adapts each one (stage "aml") when it wires the stage in, and files
`report` (CTR/STR) as a report candidate in the same transaction as the decision. Keeping
the report beside the outcome, not inside `values`, lets a deny carry a report too
(a sanctioned address: refused and reported) without the adapter parsing values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

AmlOutcome = Literal["deny", "hold", "allow_and_report"]
ReportKind = Literal["CTR", "STR"]
Value = str | int | bool | None | dict[str, Any] | list[Any]
R = TypeVar("R")


class AmlReason(enum.StrEnum):
    CASH_REPORT_THRESHOLD = "cash_report_threshold"
    ROLLING_WINDOW_TOTAL = "rolling_window_total"
    ROLLING_WINDOW_COUNT = "rolling_window_count"
    STRUCTURING_SUSPECTED = "structuring_suspected"
    # Linked movements over a period above what a customer not identified may move.
    LINKED_TRANSACTIONS_LIMIT = "linked_transactions_limit"
    SANCTIONED_ADDRESS = "sanctioned_address"
    # An address that claims a format (0x…, bc1…) but breaks it cannot be screened.
    ADDRESS_MALFORMED = "address_malformed"
    TRAVEL_RULE_MISSING = "travel_rule_missing"
    TRAVEL_RULE_INVALID = "travel_rule_invalid"
    TRAVEL_RULE_ORIGINATOR_MISMATCH = "travel_rule_originator_mismatch"
    # A deposit's data names someone else as the beneficiary: not this customer's transfer.
    TRAVEL_RULE_BENEFICIARY_MISMATCH = "travel_rule_beneficiary_mismatch"
    # Valid IVMS101, but without data the jurisdiction requires (rule's required_data).
    TRAVEL_RULE_DATA_MISSING = "travel_rule_data_missing"
    SELF_HOSTED_PROOF_MISSING = "self_hosted_proof_missing"
    SELF_HOSTED_PROOF_INVALID = "self_hosted_proof_invalid"
    # An address form no supported signature scheme covers (taproot, P2WSH, non-Bitcoin,
    # non-EVM chains): control cannot be shown by a signed message.
    SELF_HOSTED_PROOF_UNVERIFIABLE = "self_hosted_proof_unverifiable"


@dataclass(frozen=True, slots=True)
class AmlFinding:
    rule_id: str
    outcome: AmlOutcome
    reason: AmlReason
    message: str
    # Amounts as strings, the conversion used (Conversion.as_json), the snapshot id:
    # what was compared, never a name or an identity number.
    values: dict[str, Value] = field(default_factory=dict)
    citation: str | None = None
    report: ReportKind | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "reason": self.reason.value,
            "message": self.message,
        }
        if self.values:
            body["values"] = self.values
        if self.citation:
            body["citation"] = self.citation
        if self.report:
            body["report"] = self.report
        return body


@dataclass(frozen=True, slots=True)
class Cited(Generic[R]):
    """A rule with the citation of the pack it came from (rules.book.Applicable gives
    both: `Cited(a.rule, a.citation)`)."""

    rule: R
    citation: str | None = None
    # The pack's country: whose calendar day a per-day rule counts (a Korean CTR's day
    # runs midnight to midnight in Seoul).
    jurisdiction: str | None = None
