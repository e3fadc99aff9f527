"""Single-movement rules: cash reports (CTR), the travel rule, self-hosted ownership.

Each takes the rules in force for the customer (home and residence, as rules.book gives
them, with their citations) and a `Valuer` for the movement, which converts the amount
into each rule's currency once and remembers every conversion for the decision. A price
or rate that is missing or stale raises `PriceUnavailable`: the caller fails closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from aml.findings import AmlFinding, AmlReason, Cited, Value
from aml.ivms101 import Ivms101Invalid, matches_customer, parse_payload
from aml.money import Conversion, Valuer
from aml.ownership import Ownership
from rules.model import CashReportRule, Comparison, SelfHostedRule, Threshold, TravelRule


def crossed(threshold: Threshold, valuer: Valuer) -> tuple[bool, Conversion | None]:
    """Does the movement cross `threshold`? A zero threshold needs no price (every
    movement is at or above 0; every positive one is more than 0): a missing CHF rate
    must not block a withdrawal that the rule catches whatever its value."""
    if threshold.amount == 0:
        positive = valuer.amount > 0
        return (threshold.comparison is Comparison.AT_OR_ABOVE or positive), None
    conversion = valuer.in_currency(threshold.currency)
    return threshold.crossed_by(conversion.value), conversion


def _compared(threshold: Threshold, conversion: Conversion | None) -> dict[str, Value]:
    values: dict[str, Value] = {
        "threshold": str(threshold.amount),
        "currency": threshold.currency,
        "comparison": threshold.comparison.value,
    }
    if conversion is not None:
        values |= {"value": str(conversion.value), "conversion": conversion.as_json()}
    return values


def cash_report(rules: Sequence[Cited[CashReportRule]], valuer: Valuer) -> list[AmlFinding]:
    """A single movement at (or above) a reporting threshold: allow, and a CTR candidate."""
    findings = []
    for cited in rules:
        rule = cited.rule
        hit, conversion = crossed(rule.threshold, valuer)
        if hit:
            findings.append(
                AmlFinding(
                    rule_id=rule.id,
                    outcome="allow_and_report",
                    reason=AmlReason.CASH_REPORT_THRESHOLD,
                    message=f"a single movement crosses the {rule.report} threshold of "
                    f"{rule.threshold.amount} {rule.threshold.currency}",
                    values=_compared(rule.threshold, conversion),
                    citation=cited.citation,
                    report=rule.report,
                )
            )
    return findings


def _strictness(crossing: tuple[Cited[TravelRule], Conversion | None]) -> Decimal:
    # The threshold as a share of the movement's value: "lowest" across currencies.
    cited, conversion = crossing
    if conversion is None:
        return Decimal(0)
    return cited.rule.threshold.amount / conversion.value


def travel_rule(
    rules: Sequence[Cited[TravelRule]],
    valuer: Valuer,
    *,
    payload: str | None,
    legal_name: str | None,
    native_name: str | None,
    today: date,
) -> list[AmlFinding]:
    """A withdrawal at or above any travel-rule threshold in force (home or residence:
    the stricter wins, so the lowest threshold crossed binds) must carry a valid IVMS101
    payload whose originator is the customer. At most one finding: the payload is one."""
    binding: list[tuple[Cited[TravelRule], Conversion | None]] = []
    for candidate in rules:
        hit, converted = crossed(candidate.rule.threshold, valuer)
        if hit:
            binding.append((candidate, converted))
    if not binding:
        return []
    cited, conversion = min(binding, key=_strictness)
    values = _compared(cited.rule.threshold, conversion)
    values["required_by"] = [c.rule.id for c, _ in binding]

    def deny(reason: AmlReason, message: str, **extra: Value) -> list[AmlFinding]:
        return [AmlFinding(cited.rule.id, "deny", reason, message, values | extra, cited.citation)]

    if not payload:
        message = "the withdrawal needs originator and beneficiary data (IVMS101)"
        return deny(AmlReason.TRAVEL_RULE_MISSING, message)
    try:
        parsed = parse_payload(payload, today=today)
    except Ivms101Invalid as exc:
        return deny(
            AmlReason.TRAVEL_RULE_INVALID,
            f"travel-rule data invalid at {exc.field}: {exc.errors[0].message}",
            field=exc.field,
            errors=[{"field": e.field, "message": e.message} for e in exc.errors],
        )
    match = matches_customer(parsed, legal_name, native_name) if legal_name else None
    if match is None or not match.matches:
        return deny(
            AmlReason.TRAVEL_RULE_ORIGINATOR_MISMATCH,
            "the originator named in the travel-rule data is not the customer"
            if legal_name
            else "no KYC name on record to compare the originator with",
            field="originator.originatorPersons",
        )
    return []


def self_hosted(
    rules: Sequence[Cited[SelfHostedRule]],
    valuer: Valuer,
    *,
    destination_self_hosted: bool,
    ownership: Ownership,
) -> list[AmlFinding]:
    """A transfer to a self-hosted address above the threshold needs proof that the
    customer controls the address (EU TFR, Regulation (EU) 2023/1113 Art. 14(5)): a
    message signed with the address's key (aml/ownership.py)."""
    if not destination_self_hosted or ownership is Ownership.VERIFIED:
        return []
    reason, message = _OWNERSHIP_REFUSALS[ownership]
    findings = []
    for cited in rules:
        hit, conversion = crossed(cited.rule.threshold, valuer)
        if hit:
            findings.append(
                AmlFinding(
                    cited.rule.id,
                    "deny",
                    reason,
                    message,
                    {**_compared(cited.rule.threshold, conversion), "ownership": ownership.value},
                    cited.citation,
                )
            )
    return findings


_OWNERSHIP_REFUSALS = {
    Ownership.MISSING: (
        AmlReason.SELF_HOSTED_PROOF_MISSING,
        "a transfer of this value to a self-hosted address needs proof of control",
    ),
    Ownership.INVALID: (
        AmlReason.SELF_HOSTED_PROOF_INVALID,
        "the ownership proof is not a signature of the expected message by this address's key",
    ),
    Ownership.UNVERIFIABLE: (
        AmlReason.SELF_HOSTED_PROOF_UNVERIFIABLE,
        "control of this kind of address cannot be proven by a signed message",
    ),
}
