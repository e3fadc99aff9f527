"""What the AML checks conclude: policy Findings (stage "aml") with their reason codes.

A finding that asks for a report carries a typed `ReportRequest` (CTR/STR, the amount and
currency that crossed), which the gateway opens as a report candidate in the decision's
transaction. Keeping the report beside the outcome, not inside `values`, lets a deny
carry a report too (a sanctioned address: refused and reported).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from policy.decision import Finding, Outcome, ReportKind, ReportRequest

AmlOutcome = Literal["deny", "hold", "allow_and_report"]
STAGE = "aml"
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


def aml_finding(
    rule_id: str,
    outcome: AmlOutcome,
    reason: AmlReason,
    message: str,
    values: dict[str, Value] | None = None,
    citation: str | None = None,
    report: ReportRequest | None = None,
) -> Finding:
    """An AML stage finding. `values`: amounts as strings, the conversion used
    (Conversion.as_json), the snapshot id: what was compared, never a name or an
    identity number."""
    return Finding(STAGE, rule_id, Outcome(outcome), reason, message, dict(values or {}), citation, report)


def report_request(
    kind: ReportKind | str, amount: Decimal | None = None, currency: str | None = None
) -> ReportRequest:
    """What a rule's `report` asks for: this kind, for the amount that crossed."""
    return ReportRequest(ReportKind(kind), amount, currency)


@dataclass(frozen=True, slots=True)
class Cited(Generic[R]):
    """A rule with the citation of the pack it came from (rules.book.Applicable gives
    both: `Cited(a.rule, a.citation)`)."""

    rule: R
    citation: str | None = None
    # The pack's country: whose calendar day a per-day rule counts (a Korean CTR's day
    # runs midnight to midnight in Seoul).
    jurisdiction: str | None = None
