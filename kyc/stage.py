"""The KYC policy stage: may this customer do this kind of action, by the rule pack?

A pure function of (action kind, amount, currency, facts, rules) to findings; every
finding is a deny naming its rule id, the values compared (never a name, number or date
of birth) and the citation. An empty list means KYC has no objection. Findings are
policy's own (stage "kyc"), used by the pipeline as they are.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from decimal import Decimal

from kyc.facts import CustomerType, KycFacts
from kyc.rules import KycRuleSet, Ruled
from kyc.verification import Missing
from policy.decision import Finding, Outcome

# Reading public data, reading one's own account and cancelling one's own order never need
# KYC (the issue: an unverified customer keeps public data and their own account). Every
# other kind, including ones this module does not know, does: unknown means refused.
KYC_FREE_KINDS = frozenset({"public_read", "account_read", "cancel"})
DEPOSIT_KINDS = frozenset({"deposit_credit", "deposit_address"})
REAL_NAME_KINDS = DEPOSIT_KINDS | {"withdrawal"}

STAGE = "kyc"
Value = str | int | bool | None


class KycReason(enum.StrEnum):
    NOT_VERIFIED = "kyc_not_verified"
    VERIFICATION_EXPIRED = "kyc_verification_expired"
    DOCUMENT_EXPIRED = "kyc_document_expired"
    UNDERAGE = "underage"
    FOREIGNER_NOT_ALLOWED = "foreigner_not_allowed"
    NON_RESIDENT_NOT_ALLOWED = "non_resident_not_allowed"
    CORPORATE_NOT_ALLOWED = "corporate_not_allowed"
    REAL_NAME_ACCOUNT_MISSING = "real_name_account_missing"
    REAL_NAME_HOLDER_MISMATCH = "real_name_holder_mismatch"
    REAL_NAME_NOT_PARTNER_BANK = "real_name_not_partner_bank"
    REAL_NAME_NOT_OWN_ACCOUNT = "real_name_not_own_account"
    LEVEL_ACTION_NOT_ALLOWED = "level_action_not_allowed"
    LEVEL_AMOUNT_EXCEEDED = "level_amount_exceeded"
    # Fail closed: a capped level, but no amount in the cap's currency to compare.
    LEVEL_AMOUNT_UNVERIFIABLE = "level_amount_unverifiable"


# Verification is not a rule-pack value: without an effective verification nothing but
# reading is allowed, whatever the pack (the "Rules"; FATF R.10 CDD before service).
VERIFICATION_RULE_ID = "kyc.verification"
VERIFICATION_CITATION = "FATF Recommendation 10 (customer due diligence); regulations.md, kyc_required"
_MISSING_REASONS = {
    Missing.NOT_VERIFIED: (KycReason.NOT_VERIFIED, "identity not verified"),
    Missing.VERIFICATION_EXPIRED: (KycReason.VERIFICATION_EXPIRED, "identity verification has expired"),
    Missing.DOCUMENT_EXPIRED: (KycReason.DOCUMENT_EXPIRED, "identity document has expired"),
}


def kyc_finding(
    rule_id: str, reason: KycReason, message: str, values: dict[str, Value], citation: str | None
) -> Finding:
    """Every KYC finding is a deny: KYC only ever refuses."""
    return Finding(STAGE, rule_id, Outcome.DENY, reason, message, dict(values), citation)


def _finding(rule: Ruled[object], reason: KycReason, message: str, **values: Value) -> Finding:
    return kyc_finding(rule.rule_id, reason, message, values, rule.citation)


def _verification(kind: str, facts: KycFacts | None) -> Iterator[Finding]:
    missing = (Missing.NOT_VERIFIED,) if facts is None else facts.verification.missing
    for item in missing:
        reason, what = _MISSING_REASONS[item]
        yield kyc_finding(
            f"{VERIFICATION_RULE_ID}.{item.value}",
            reason,
            f"{kind} refused: {what}; only public data and your own account can be read",
            {"action": kind, "missing": item.value},
            VERIFICATION_CITATION,
        )


def _binding_minimum_age(facts: KycFacts, rules: KycRuleSet) -> tuple[str, Ruled[int]] | None:
    # The stricter of the exchange's home country and the customer's residence (its
    # region when the pack has one, e.g. US-AL), as the rule pack's applies_as home and
    # residence read; ties go to the home country.
    residence = facts.residence_country
    if facts.residence_region and f"{residence}-{facts.residence_region}" in rules.minimum_ages:
        residence = f"{residence}-{facts.residence_region}"
    keys = dict.fromkeys([rules.home_country, residence])
    found = [(key, rules.minimum_ages[key]) for key in keys if key in rules.minimum_ages]
    return max(found, key=lambda pair: pair[1].value, default=None)


def _eligibility(kind: str, facts: KycFacts, rules: KycRuleSet) -> Iterator[Finding]:
    home = rules.home_country
    if facts.customer_type is CustomerType.CORPORATE:
        if not rules.corporates_allowed.value:
            yield _finding(
                rules.corporates_allowed,
                KycReason.CORPORATE_NOT_ALLOWED,
                f"{kind} refused: corporate accounts are not allowed in {home}",
                customer_type=facts.customer_type.value,
                home_country=home,
            )
    else:
        binding = _binding_minimum_age(facts, rules)
        if binding is not None and (facts.age is None or facts.age < binding[1].value):
            where, rule = binding
            yield _finding(
                rule,
                KycReason.UNDERAGE,
                f"{kind} refused: the minimum age is {rule.value} ({where})",
                age=facts.age,
                minimum_age=rule.value,
                minimum_age_of=where,
            )
    foreigners = rules.foreigners.value  # None: no rule on foreigners, nothing restricts
    admitted = foreigners is None or foreigners.allowed
    if (
        foreigners is not None
        and not admitted
        and facts.nationality != home
        and not (foreigners.residents_allowed and facts.is_resident_of_home)
    ):
        yield _finding(
            rules.foreigners,
            KycReason.FOREIGNER_NOT_ALLOWED,
            f"{kind} refused: "
            + (f"only {home} nationals" if not foreigners.residents_allowed else f"only residents of {home}")
            + " are allowed",
            nationality=facts.nationality,
            home_country=home,
            resident_of_home=facts.is_resident_of_home,
        )
    if not facts.is_resident_of_home and not rules.non_residents_allowed.value:
        yield _finding(
            rules.non_residents_allowed,
            KycReason.NON_RESIDENT_NOT_ALLOWED,
            f"{kind} refused: only residents of {home} are allowed",
            residence_country=facts.residence_country,
            home_country=home,
        )


def _real_name(kind: str, currency: str | None, facts: KycFacts, rules: KycRuleSet) -> Iterator[Finding]:
    rule = rules.real_name_accounts.get(currency) if currency is not None else None
    if rule is None or kind not in REAL_NAME_KINDS:
        return
    account = facts.bank_account
    if account is None or not account.holder_confirmed:
        yield _finding(
            rule,
            KycReason.REAL_NAME_ACCOUNT_MISSING,
            f"{kind} of {currency} refused: no bank-confirmed real-name account on record",
            currency=currency,
            account_present=account is not None,
            holder_confirmed=account is not None and account.holder_confirmed,
        )
        return
    if not account.holder_name_matches:
        yield _finding(
            rule,
            KycReason.REAL_NAME_HOLDER_MISMATCH,
            f"{kind} of {currency} refused: the account holder's name is not the customer's KYC name",
            currency=currency,
            holder_name_matches=False,
        )
    if kind == "withdrawal" and facts.destination_is_own_account is False:
        # Money leaves only to an account in the customer's own name: a confirmed one on
        # record, not any account number the client names.
        yield _finding(
            rule,
            KycReason.REAL_NAME_NOT_OWN_ACCOUNT,
            f"{kind} of {currency} refused: the destination is not the customer's own registered account",
            currency=currency,
        )
    if kind in DEPOSIT_KINDS and rule.value.partner_bank_required_for_deposit and not account.at_partner_bank:
        yield _finding(
            rule,
            KycReason.REAL_NAME_NOT_PARTNER_BANK,
            f"{kind} of {currency} refused: deposits only from an account at the exchange's partner bank",
            currency=currency,
            at_partner_bank=False,
        )


# A verified customer whose level the pack does not list is refused (fail closed).
UNKNOWN_LEVEL_RULE = Ruled(None, "kyc.level.unknown", "rule pack: no kyc_level rule for this level")


def _level(
    kind: str, amount: Decimal | None, currency: str | None, facts: KycFacts, rules: KycRuleSet
) -> Iterator[Finding]:
    rule = rules.level_limits.get(facts.level) if facts.level is not None else None
    if rule is None or kind not in rule.value.actions:
        yield _finding(
            rule or UNKNOWN_LEVEL_RULE,
            KycReason.LEVEL_ACTION_NOT_ALLOWED,
            f"{kind} refused: not allowed at verification level {facts.level}",
            action=kind,
            level=facts.level,
        )
        return
    cap = rule.value.max_amount  # the pack's threshold: amount, currency, comparison
    if cap is None:
        return
    if amount is None or currency != cap.currency:
        yield _finding(
            rule,
            KycReason.LEVEL_AMOUNT_UNVERIFIABLE,
            f"{kind} refused: level {facts.level} is capped at {cap.amount} {cap.currency} "
            "and the amount in that currency is not known",
            action=kind,
            level=facts.level,
            currency=currency,
            limit_currency=cap.currency,
        )
    elif cap.crossed_by(amount):
        yield _finding(
            rule,
            KycReason.LEVEL_AMOUNT_EXCEEDED,
            f"{kind} refused: {amount} {currency} is over the level {facts.level} cap "
            f"({cap.comparison.value.replace('_', ' ')} {cap.amount} {cap.currency} is refused)",
            action=kind,
            level=facts.level,
            amount=str(amount),
            max_amount=str(cap.amount),
            currency=currency,
        )


def evaluate_kyc(
    kind: str,
    amount: Decimal | None,
    currency: str | None,
    facts: KycFacts | None,
    rules: KycRuleSet,
) -> list[Finding]:
    """Every KYC objection to `kind` (an ActionKind value); empty when there is none.

    `amount` is in `currency`, already converted by the gateway where a level cap is in
    another currency. `facts` is None when the customer has no KYC record at all.
    """
    if kind in KYC_FREE_KINDS:
        return []
    findings = list(_verification(kind, facts))
    if facts is None:
        return findings
    findings.extend(_eligibility(kind, facts, rules))
    findings.extend(_real_name(kind, currency, facts, rules))
    if facts.verification.effective:
        # Levels are granted by verification; without one, _verification already refused.
        findings.extend(_level(kind, amount, currency, facts, rules))
    return findings
