"""Movement rules: cash reports (CTR), the travel rule, self-hosted ownership.

The travel rule and self-hosted proof take the rules in force for the customer (home and
residence, as rules.book gives them, with their citations) and a `Valuer` for the
movement, which converts the amount into each rule's currency once and remembers every
conversion for the decision. A price or rate that is missing or stale raises
`PriceUnavailable`: the caller fails closed.

A cash report counts cash: movements on the rails it covers (fiat through the bank, not a
virtual-asset transfer), each on its own or added up over the jurisdiction's calendar day,
as the rule says. It takes movements already valued in its currency, as the windows do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

from aml.findings import AmlOutcome, AmlReason, Cited, Value, aml_finding, report_request
from aml.ivms101 import Ivms101Invalid, matches_beneficiary, matches_customer, missing_data, parse_payload
from aml.money import Conversion, Valuer
from aml.ownership import Ownership
from aml.windows import CurrencyMismatch, Movement
from policy.decision import Finding
from rules.model import CashReportRule, Comparison, Counterparty, SelfHostedRule, Threshold, TravelRule

_WORDS = {Comparison.AT_OR_ABOVE: "at or above", Comparison.MORE_THAN: "more than"}


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


def cash_report(
    cited: Cited[CashReportRule],
    history: Sequence[Movement],
    new: Movement,
    day_of: Callable[[datetime], date],
) -> list[Finding]:
    """Cash at (or above) a reporting threshold: allow, and a CTR candidate. Only a
    movement on a rail the rule covers counts, and only one such arrives here to be
    judged; a per-day rule adds the earlier ones of the same day (`day_of`: the
    jurisdiction's calendar day of a time)."""
    rule = cited.rule
    currency = rule.threshold.currency
    if new.rail not in rule.rails:
        return []  # not cash: a virtual-asset transfer is not reported as one
    counted = [new]
    if rule.period == "day":
        day = day_of(new.at)
        counted += [m for m in history if m.rail in rule.rails and day_of(m.at) == day]
    wrong = sorted({m.amount.currency for m in counted} - {currency})
    if wrong:
        raise CurrencyMismatch(f"movements in {', '.join(wrong)}, threshold in {currency}")
    total = sum((m.amount.amount for m in counted), Decimal(0))
    if not rule.threshold.crossed_by(total):
        return []
    before = total - new.amount.amount
    values: dict[str, Value] = {
        "threshold": str(rule.threshold.amount),
        "currency": currency,
        "comparison": rule.threshold.comparison.value,
        "period": rule.period,
        "rails": [r.value for r in rule.rails],
        "total": str(total),
        "movement_value": str(new.amount.amount),
        "count": sum(m.count for m in counted),
    }
    if rule.period == "day":
        values |= {"day": day_of(new.at).isoformat(), "total_before": str(before)}
        # Crossed before this movement too: the day's report may take it in.
        values["already_crossed"] = rule.threshold.crossed_by(before)
        measure = f"cash movements on {values['day']} come to {total} {currency}"
    else:
        measure = f"a cash movement of {total} {currency}"
    return [
        aml_finding(
            rule_id=rule.id,
            outcome="allow_and_report",
            reason=AmlReason.CASH_REPORT_THRESHOLD,
            message=f"{measure}: {_WORDS[rule.threshold.comparison]} the {rule.report} threshold "
            f"of {rule.threshold.amount} {currency}",
            values=values,
            citation=cited.citation,
            report=report_request(rule.report, total, currency),
        )
    ]


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
    counterparty: Counterparty,
    payload: str | None,
    legal_name: str | None,
    native_name: str | None,
    today: date,
    inbound: bool = False,
) -> list[Finding]:
    """A transfer with a `counterparty` (another VASP, or a self-hosted wallet) at or
    above any travel-rule threshold in force that covers such transfers (home or
    residence: the stricter wins, so the lowest threshold crossed binds) must carry a
    valid IVMS101 payload whose originator is the customer, with the data every one of
    those rules requires. At most one finding: the payload is one.

    `inbound`: a deposit, which has already arrived. The customer is then the
    beneficiary (the originator is the other side), and a failure (data missing,
    invalid, incomplete or for someone else) is held or refused as the binding rules'
    `inbound_missing` says; a rule that refuses wins over one that holds."""
    binding: list[tuple[Cited[TravelRule], Conversion | None]] = []
    for candidate in rules:
        if not candidate.rule.covers(counterparty):
            continue
        hit, converted = crossed(candidate.rule.threshold, valuer)
        if hit:
            binding.append((candidate, converted))
    if not binding:
        return []
    cited, conversion = min(binding, key=_strictness)
    failing: AmlOutcome = "deny"
    if inbound:
        refusing = [b for b in binding if b[0].rule.inbound_missing == "deny"]
        if refusing:
            cited, conversion = min(refusing, key=_strictness)
        else:
            failing = "hold"
    values = _compared(cited.rule.threshold, conversion)
    values["required_by"] = [c.rule.id for c, _ in binding]

    def deny(reason: AmlReason, message: str, **extra: Value) -> list[Finding]:
        return [aml_finding(cited.rule.id, failing, reason, message, values | extra, cited.citation)]

    if not payload:
        if inbound:
            return deny(AmlReason.TRAVEL_RULE_MISSING, "the deposit came without originator data (IVMS101)")
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
    # The customer's own party: the originator of a withdrawal, the beneficiary of a deposit.
    party, matches, mismatch = (
        ("beneficiary", matches_beneficiary, AmlReason.TRAVEL_RULE_BENEFICIARY_MISMATCH)
        if inbound
        else ("originator", matches_customer, AmlReason.TRAVEL_RULE_ORIGINATOR_MISMATCH)
    )
    match = matches(parsed, legal_name, native_name) if legal_name else None
    if match is None or not match.matches:
        return deny(
            mismatch,
            f"the {party} named in the travel-rule data is not the customer"
            if legal_name
            else f"no KYC name on record to compare the {party} with",
            field=f"{party}.{party}Persons",
        )
    for requiring, converted in binding:
        missing = missing_data(parsed, requiring.rule.required_data)
        if missing:
            # The rule that asks for the data is the one cited, not the binding one.
            return [
                aml_finding(
                    requiring.rule.id,
                    failing,
                    AmlReason.TRAVEL_RULE_DATA_MISSING,
                    f"travel-rule data incomplete at {missing[0].field}: {missing[0].message}",
                    _compared(requiring.rule.threshold, converted)
                    | {
                        "required_by": values["required_by"],
                        "field": missing[0].field,
                        "errors": [{"field": e.field, "message": e.message} for e in missing],
                    },
                    requiring.citation,
                )
            ]
    return []


def self_hosted(
    rules: Sequence[Cited[SelfHostedRule]],
    valuer: Valuer,
    *,
    destination_self_hosted: bool,
    ownership: Ownership,
) -> list[Finding]:
    """A transfer to (or, for a deposit, from) a self-hosted address above the threshold
    needs proof that the customer controls the address (EU TFR, Regulation (EU) 2023/1113
    Art. 14(5) and 16(2)): a message signed with the address's key (aml/ownership.py)."""
    if not destination_self_hosted or ownership is Ownership.VERIFIED:
        return []
    reason, message = _OWNERSHIP_REFUSALS[ownership]
    findings = []
    for cited in rules:
        hit, conversion = crossed(cited.rule.threshold, valuer)
        if hit:
            findings.append(
                aml_finding(
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
        "a transfer of this value to or from a self-hosted address needs proof of control",
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
