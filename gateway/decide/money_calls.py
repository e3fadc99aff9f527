"""Deciding a deposit or withdrawal: under the customer's lock, in one transaction.

Limits over time (24 h and 7 day windows, structuring) only hold if no two movements of
one customer are judged on the same history. So for these calls the gateway:

1. screens the address against the sanctions snapshot in force and takes the prices;
2. opens a transaction and takes the customer's advisory lock (every replica uses the
   same key, so two gateway processes queue here too);
3. reads the customer's window sums and structuring-band movements (O(windows), not
   O(history): gateway/store/movements.py), runs the (pure) pipeline on them;
4. writes, in that same transaction, a deposit's report key (gateway/store/deposits.py,
   whatever the outcome) and the held call (for a hold); then, in one statement, the
   movement (if it will leave or waits for review), the report candidates and the decision
   itself; commits.

Only after the commit is the call forwarded (or parked, or refused). The lock is held
from the read to the commit and no longer: no network call to the exchange happens
inside it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from aml.facts import AmlFacts
from aml.sanctions import screen_address
from aml.structuring import bands
from aml.windows import MovementDirection
from gateway.audit.chain import Companion
from gateway.feeds.prices import PriceFeed
from gateway.feeds.rulestate import RuleState
from gateway.review.keys import key_secret
from gateway.review.store import HeldCall, ReportCandidate, park, report_rows
from gateway.sanctions.service import SanctionsList, SanctionsUnavailable
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.store import deposits, movements, seen_requests
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable, connection
from gateway.store.kyc import load_identity
from gateway.store.records import DecisionRow
from gateway.store.writer import DecisionWriter, Replayed
from policy.action import Action
from policy.decision import CannotDecide, Outcome, Verdict
from policy.facts import Facts
from rules.aml_rules import AmlRuleSet
from rules.aml_stage import VALUATION_RULE, direction_of


class AlreadyRecorded(Exception):
    """The deposit was reported before; its decision stands, whatever it was."""

    def __init__(self, first: deposits.FirstReport) -> None:
        super().__init__(str(first.decision_id))
        self.first = first


class DepositConflict(Exception):
    """The deposit was reported before with other content: never a second decision."""

    def __init__(self, first: deposits.FirstReport) -> None:
        super().__init__(", ".join(first.differences))
        self.first = first


RowMaker = Callable[[Verdict, Facts], DecisionRow]


@dataclass(frozen=True)
class LockedDeps:
    """What the customer-locked transaction reads and writes (given by the Decider)."""

    pool: asyncpg.Pool
    writer: DecisionWriter
    rules: RuleState
    sanctions: SanctionsList
    prices: PriceFeed
    secret_box: SecretBox  # opens the KYC names the travel rule compares
    settings: Settings


@dataclass(frozen=True)
class MoneyCall:
    """The call as received: what a hold must keep to forward it later, unchanged."""

    action: Action  # its customer_id names whose lock is taken
    make_row: RowMaker  # the decision row for a verdict (ids, times, request details)
    raw_query: str
    body: bytes
    content_type: str | None
    deposit: deposits.DepositReport | None = None  # a reported deposit's identity and content
    seen: seen_requests.SeenRequest | None = None  # a signed withdrawal's digest (replays)


def _aml_facts(deps: LockedDeps, action: Action, facts: Facts, direction: MovementDirection) -> AmlFacts:
    try:
        snapshot = deps.sanctions.current
    except SanctionsUnavailable as exc:
        raise CannotDecide("sanctions_unavailable", str(exc)) from exc
    screening = None
    if action.address:
        screening = screen_address(
            snapshot.address_list, action.address, direction=direction.value, asset=action.asset
        )
    prices = deps.prices
    return AmlFacts(
        direction=direction,
        prices=prices.prices,
        fx=prices.fx(facts.now),
        price_max_age_seconds=deps.settings.prices_max_age_seconds,
        history=(),
        sanctions_snapshot=snapshot.snapshot_id,
        screening=screening,
    )


def _values(verdict: Verdict) -> dict[str, Decimal]:
    """The movement's value in each currency the rules compared, from the valuation."""
    for finding in verdict.findings:
        if finding.rule_id == VALUATION_RULE and finding.values.get("conversions"):
            return {c["currency"]: Decimal(c["value"]) for c in finding.values["conversions"]}
    return {}


async def _names(
    conn: asyncpg.Connection, deps: LockedDeps, customer_id: str
) -> tuple[str | None, str | None]:
    """The KYC names the travel-rule originator must match (opened only here, in memory)."""
    identity = await load_identity(conn, deps.secret_box, uuid.UUID(customer_id))
    if identity is None:
        return None, None
    return identity.personal.get("legal_name"), identity.personal.get("native_name")


async def decide(deps: LockedDeps, call: MoneyCall, facts: Facts) -> DecisionRow:
    """Decide and commit under the customer's lock; the caller acts only on the result."""
    action, customer_id = call.action, call.action.customer_id
    assert customer_id is not None, "a money call is always a customer's"
    direction = direction_of(action.kind)
    base = _aml_facts(deps, action, facts, direction)
    settings = deps.settings
    try:
        async with connection(deps.pool, settings.db_timeout_seconds) as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                # The digest is written with the lock held, in this transaction: it counts
                # as seen only if this decision commits, and a copy racing it (the same
                # customer's) waits at the lock until that is known, then finds it.
                claim = [seen_requests.companion([call.seen])] if call.seen is not None else []
                try:
                    await movements.lock_customer(conn, customer_id, claim)
                except asyncpg.UniqueViolationError as exc:
                    if seen_requests.is_replay_refusal(exc):
                        raise Replayed() from exc
                    raise
                if call.deposit is not None:
                    await _repeated(conn, call.deposit, customer_id)
                windows = await movements.window_history(
                    conn, customer_id, facts.now, bands(_aml_rules(deps, facts, facts.now).structuring)
                )
                legal, native = (None, None)
                if action.travel_rule:
                    legal, native = await _names(conn, deps, customer_id)
                decided_facts = replace(
                    facts,
                    aml=replace(
                        base,
                        history=windows.history,
                        banded=windows.banded,
                        legal_name=legal,
                        native_name=native,
                    ),
                )
                row = call.make_row(deps.rules.pipeline.decide(action, decided_facts), decided_facts)
                rows = await _write_effects(conn, deps, call, row, facts.now)
                await deps.writer.commit_with(conn, transaction, row, rows)
            except BaseException:
                # Undo what the transaction wrote, unless it was committed (asyncpg then
                # refuses the rollback) or the connection is gone (nothing to undo).
                with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, *UNAVAILABLE_ERRORS):
                    await transaction.rollback()
                raise
    except asyncpg.UniqueViolationError as exc:
        if call.deposit is not None:
            # The same deposit, reported for a customer whose lock this report did not
            # hold, was recorded first: its decision is the answer (or this conflicts).
            await _repeated_after_race(deps, call.deposit, customer_id)
        raise _unrecorded() from exc
    except (DatabaseUnavailable, *UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        raise _unrecorded() from exc
    return row


def _unrecorded() -> CannotDecide:
    return CannotDecide("decision_store_unavailable", "Unable to record the decision; try again.")


async def _repeated(conn: asyncpg.Connection, report: deposits.DepositReport, customer_id: str) -> None:
    first = await deposits.first_report(conn, report, customer_id)
    if first is None:
        return
    if first.differences:
        raise DepositConflict(first)
    raise AlreadyRecorded(first)


async def _repeated_after_race(deps: LockedDeps, report: deposits.DepositReport, customer_id: str) -> None:
    try:
        async with connection(deps.pool, deps.settings.db_timeout_seconds) as conn:
            await _repeated(conn, report, customer_id)
    except (DatabaseUnavailable, *UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        raise _unrecorded() from exc


async def _write_effects(
    conn: asyncpg.Connection, deps: LockedDeps, call: MoneyCall, row: DecisionRow, now: datetime
) -> list[Companion]:
    """Write what must precede the decision's statement; return the rows that ride in it
    (the movement, the report candidates): fewer round trips with the lock held."""
    action, verdict = row.action, row.verdict
    assert row.customer_id is not None
    customer = uuid.UUID(row.customer_id)
    held = verdict.outcome is Outcome.HOLD
    rows: list[Companion] = []
    if call.deposit is not None:
        # First and alone, so a racing report of the same deposit fails here, as a unique
        # violation the caller reads, before anything else is written.
        await deposits.record(
            conn, call.deposit, customer_id=row.customer_id, decision_id=row.id,
            outcome=verdict.outcome.value, reasons=list(verdict.reasons), at=now,
        )  # fmt: skip
    if (verdict.outcome.forwards or held) and action.quantity is not None and action.asset is not None:
        rows.append(
            movements.movement(
                customer_id=row.customer_id,
                decision_id=row.id,
                direction=direction_of(action.kind),
                asset=action.asset,
                amount=action.quantity,
                values=_values(verdict),
                occurred_at=now,
                held=held,
                external_id=call.deposit.external_id if call.deposit is not None else None,
                client_order_id=action.client_order_id,
            )
        )
    if held:
        # A held withdrawal waits to be forwarded; a held deposit has already arrived and
        # waits for an officer to credit it (nothing is sent) or reject it.
        await park(
            conn,
            _held_call(deps, call, row, now),
            key_secret(deps.settings.secret_key.get_secret_value()),
            deps.settings.review_dual_control_above,
        )
    for kind, findings in verdict.reports().items():
        asked = findings[0].report
        assert asked is not None  # grouped by it
        _, report = report_rows(
            ReportCandidate(
                kind=kind.value,
                customer_id=customer,
                decision_ids=(row.id,),
                rule_ids=tuple(dict.fromkeys(f.rule_id for f in findings)),
                amount=asked.amount,
                currency=asked.currency,
                details={"findings": [f.as_json() for f in findings], "outcome": verdict.outcome.value},
            )
        )
        rows.extend(report)
    return rows


def _aml_rules(deps: LockedDeps, facts: Facts, now: datetime) -> AmlRuleSet:
    customer = facts.customer
    return deps.rules.aml_rules.of(
        customer.residence_country if customer else None,
        customer.residence_region if customer else None,
        deps.settings.rules_day(now),
    )


def _held_call(deps: LockedDeps, call: MoneyCall, row: DecisionRow, now: datetime) -> HeldCall:
    action = row.action
    assert row.customer_id is not None and row.facts is not None
    rules = _aml_rules(deps, row.facts, now)
    findings: list[dict[str, Any]] = [f.as_json() for f in row.verdict.findings]
    # Dual control compares the value in the home pack's currency; None when no rule had
    # the movement valued there (then it needs two officers, if dual control is on).
    home_currency = deps.rules.book.pack_for(deps.settings.home_country).currency
    return HeldCall(
        decision_id=row.id,
        customer_id=uuid.UUID(row.customer_id),
        api_key_id=uuid.UUID(row.api_key_id) if row.api_key_id else None,
        action_kind=action.kind.value,
        asset=action.asset,
        amount=action.quantity,
        address=action.address,
        network=action.network,
        http_method=row.http_method,
        path=row.path,
        raw_query=call.raw_query,
        body=call.body,
        content_type=call.content_type,
        findings=findings,
        held_at=now,
        expires_at=now + timedelta(hours=rules.hold_hours),
        home_currency=home_currency,
        home_value=_values(row.verdict).get(home_currency),
    )
