"""The Decider: one path from a call to a committed decision and what to do with it.

Every decided call (an order, a cancel, a read, a withdrawal, a reported deposit) goes
through `Decider.decide`: facts are gathered, the (pure) pipeline runs, and the decision
is committed before the edge may act on it. Two recording strategies, chosen by the call:
- group commit through the DecisionWriter (orders, cancels, reads, refused money calls);
- the customer-locked transaction (gateway/decide/money_calls.py) for a deposit or
  withdrawal that reaches the rules, whose windows only hold if no two movements of one
  customer are judged on the same history.

The edges (gateway/http/proxy.py, gateway/http/admin/deposits.py) only translate a
request into a `Call` and a `Decided` into an answer; nothing here knows HTTP.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

import asyncpg

from gateway import logs
from gateway.decide import money_calls
from gateway.decide.kyc_facts import KycRecord, kyc_facts
from gateway.decide.money_calls import LockedDeps, MoneyCall
from gateway.feeds.capital import UNKNOWN_NETWORK, CoinNetworks
from gateway.feeds.markets import MarketList
from gateway.feeds.prices import PriceFeed
from gateway.feeds.rulestate import RuleState
from gateway.kyc_service import account_number_hash
from gateway.metrics import GatewayMetrics
from gateway.sanctions.service import SanctionsList
from gateway.sealing import SecretBox
from gateway.settings import Settings
from gateway.store.db import DatabaseUnavailable
from gateway.store.deposits import DepositReport
from gateway.store.records import DecisionRow, new_decision_id
from gateway.store.seen_requests import REPLAYED_MESSAGE, REPLAYED_REQUEST, SeenRequest
from gateway.store.writer import DecisionWriter, Replayed
from policy.action import Action, ActionKind, ParseProblem
from policy.decision import CannotDecide, Finding, Outcome, Verdict
from policy.facts import Authentication, AuthStatus, CustomerFacts, Facts
from rules.aml_stage import AML_KINDS

log = logging.getLogger(__name__)

BANK_NETWORK = "BANK"  # the mock exchange's fiat rail, as Korean exchanges name it
BANK_ACCOUNT_PREFIX = "account-hash:"
STORE_UNAVAILABLE = "decision_store_unavailable"
NETWORKS_UNAVAILABLE = "networks_unavailable"


@dataclass(frozen=True)
class Call:
    """A call as the edge translated it: who, what, and what a hold must keep to forward
    it later unchanged."""

    action: Action
    authentication: Authentication
    customer: CustomerFacts
    kyc: KycRecord | None
    api_key_id: str | None
    dialect: str
    http_method: str
    path: str
    now: datetime
    started: float  # time.perf_counter() when the request arrived
    request_id: str | None = None  # None: the decision id's hex
    raw_query: str = ""
    body: bytes = b""
    content_type: str | None = None
    deposit: DepositReport | None = None  # a reported deposit's identity and content
    # The exchange's market list must be known to decide a call naming a symbol or asset
    # (is it real?); a deposit the exchange already credited does not need it.
    needs_markets: bool = True
    # A signed state-changing call's digest (gateway/store/seen_requests.py): claimed when
    # its decision is committed; a copy of a call already seen is refused replayed_request.
    seen: SeenRequest | None = None


class Instruction(Enum):
    FORWARD = "forward"  # send it to the exchange, then answer what it answers
    PARK = "park"  # held for review: answer that it waits
    REFUSE = "refuse"  # answer the refusal


@dataclass(frozen=True)
class Decided:
    instruction: Instruction
    action: Action
    decision_id: uuid.UUID | None  # None: nothing was recorded (could not decide)
    verdict: Verdict | None
    reason: str = ""  # a refusal's reason code (exchange-style errors, metrics)
    message: str = ""
    fail_closed: bool = False  # could not decide: a 503, counted apart from refusals

    @property
    def outcome(self) -> Outcome | None:
        return None if self.verdict is None else self.verdict.outcome


def could_not_decide(action: Action, reason: str, message: str) -> Decided:
    return Decided(Instruction.REFUSE, action, None, None, reason, message, fail_closed=True)


class Decider:
    """Built once per app, with everything a decision depends on."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        writer: DecisionWriter,
        rules: RuleState,
        markets: MarketList,
        networks: CoinNetworks,
        prices: PriceFeed,
        sanctions: SanctionsList,
        secret_box: SecretBox,
        facts_box: SecretBox,
        metrics: GatewayMetrics,
        settings: Settings,
    ) -> None:
        self._writer = writer
        self._rules = rules
        self._markets = markets
        self._networks = networks
        self._facts_box = facts_box
        self._metrics = metrics
        self._settings = settings
        self._locked = LockedDeps(pool, writer, rules, sanctions, prices, secret_box, settings)

    async def decide(self, call: Call) -> Decided:
        """Gather, decide, commit; only then may the edge act on the answer."""
        action = call.action
        facts = self._gather_facts(call)
        if facts is None:
            # Without the exchange's own list we cannot say the symbol is real: refuse to
            # decide rather than forward an unchecked call.
            return could_not_decide(action, "markets_unavailable", "Market list unavailable; try again.")
        checked = self._with_network_problem(call, action)
        if checked is None:
            return could_not_decide(action, NETWORKS_UNAVAILABLE, "Coin networks unavailable; try again.")
        action = checked
        if action.kind in AML_KINDS and call.authentication.status is AuthStatus.OK and not action.problems:
            return await self._decide_locked(call, action, facts)
        verdict = self._rules.pipeline.decide(action, facts)
        return await self._record(call, action, verdict, facts)

    async def refuse_unreadable(self, call: Call, reason: str, message: str) -> Decided:
        """A customer's call that could not even be read: on their record all the same."""
        problem = ParseProblem(reason, "body", message)
        action = replace(call.action, problems=(problem,))
        finding = Finding("well_formed", f"core.request.{reason}", Outcome.DENY, reason, message)
        verdict = Verdict(Outcome.DENY, (finding,), self._rules.pipeline.pack_version)
        return await self._record(call, action, verdict, None)

    async def _record(self, call: Call, action: Action, verdict: Verdict, facts: Facts | None) -> Decided:
        """Group commit; only then may anything be forwarded or answered."""
        row = self._row(call, action, verdict, facts)
        try:
            await self._writer.record(row, call.seen)
        except Replayed:
            return await self._refuse_replay(call, action)
        except DatabaseUnavailable:
            return could_not_decide(action, STORE_UNAVAILABLE, "Unable to record the decision; try again.")
        self._count(action, verdict, call.started)
        return _instructed(action, row.id, verdict)

    async def _refuse_replay(self, call: Call, action: Action) -> Decided:
        """The same signed bytes were decided before: this copy is refused, on the record,
        and never forwarded. No facts: nothing was gathered for it, so re-deciding it under
        another rule pack (replay.py) has nothing to compare."""
        finding = Finding("well_formed", f"core.request.{REPLAYED_REQUEST}", Outcome.DENY, REPLAYED_REQUEST,
                          REPLAYED_MESSAGE)  # fmt: skip
        verdict = Verdict(Outcome.DENY, (finding,), self._rules.pipeline.pack_version)
        return await self._record(replace(call, seen=None), action, verdict, None)

    def _with_network_problem(self, call: Call, action: Action) -> Action | None:
        """A withdrawal's network and address against the exchange's coin networks, before
        deciding: one it refuses is a malformed call (unknown_network, invalid_address).
        None: no list young enough to check against (could not decide, like the markets)."""
        checked = action.kind is ActionKind.WITHDRAWAL and call.authentication.status is AuthStatus.OK
        if not checked or action.problems or action.asset is None or action.address is None:
            return action
        config = self._networks.current(call.now)
        if config is None:
            return None
        problem = config.check(action.asset, action.network, action.address)
        if problem is None:
            return action
        parameter = "network" if problem.reason == UNKNOWN_NETWORK else "address"
        return replace(action, problems=(ParseProblem(problem.reason, parameter, problem.message),))

    async def _decide_locked(self, call: Call, action: Action, facts: Facts) -> Decided:
        """Deposits and withdrawals: decided under the customer's lock (money_calls.py)."""

        def make_row(verdict: Verdict, decided: Facts) -> DecisionRow:
            return self._row(call, action, verdict, decided)

        money_call = MoneyCall(
            action, make_row, call.raw_query, call.body, call.content_type, call.deposit, call.seen
        )
        try:
            row = await money_calls.decide(self._locked, money_call, facts)
        except Replayed:
            return await self._refuse_replay(call, action)
        except CannotDecide as exc:
            return could_not_decide(action, exc.reason, exc.message)
        self._count(action, row.verdict, call.started)
        if row.verdict.outcome is Outcome.HOLD:
            return Decided(Instruction.PARK, action, row.id, row.verdict)
        return _instructed(action, row.id, row.verdict)

    def _gather_facts(self, call: Call) -> Facts | None:
        action, now, settings = call.action, call.now, self._settings
        markets = self._markets.current(now)
        needs_markets = call.needs_markets and (action.symbol is not None or action.asset is not None)
        authenticated = call.authentication.status is AuthStatus.OK
        if needs_markets and markets is None and not action.problems and authenticated:
            return None
        # Ages and expiries are judged on the day the rules are read for (pinned or today).
        today = settings.rules_day(now)
        currency = action.asset if action.kind.decided_as is not ActionKind.ORDER else action.quote_asset
        destination = self._destination_hash(action)
        return Facts(
            now=now,
            authentication=call.authentication,
            customer=call.customer,
            markets=markets,
            kyc=kyc_facts(call.kyc, call.customer, settings.home_country, today, currency, destination),
        )

    def _row(self, call: Call, action: Action, verdict: Verdict, facts: Facts | None) -> DecisionRow:
        decision_id = new_decision_id()
        logs.decision_id.set(decision_id)  # for the records logged from here on
        if self._to_bank_account(action):
            # An account number is personal data, and the decision log is append-only and
            # kept for years: it holds the number's keyed hash, the one bank_accounts keeps.
            action = replace(action, address=BANK_ACCOUNT_PREFIX + (self._destination_hash(action) or ""))
        return DecisionRow(
            id=decision_id,
            decided_at=call.now,
            request_id=call.request_id or decision_id.hex,
            customer_id=call.customer.customer_id,
            api_key_id=call.api_key_id,
            dialect=call.dialect,
            http_method=call.http_method,
            path=call.path,
            action=action,
            verdict=verdict,
            decision_micros=int((time.perf_counter() - call.started) * 1e6),
            country=call.customer.jurisdiction,
            facts=facts,
            personal_box=self._facts_box,
        )

    def _to_bank_account(self, action: Action) -> bool:
        if action.kind is not ActionKind.WITHDRAWAL or not action.address:
            return False
        return action.network == BANK_NETWORK or action.asset in self._rules.book.bank_currencies

    def _destination_hash(self, action: Action) -> str | None:
        """For a withdrawal, the keyed hash its address would have as a bank account number:
        the real-name rule compares it with the customer's own accounts."""
        if action.kind is not ActionKind.WITHDRAWAL or not action.address:
            return None
        return account_number_hash(self._settings.secret_key.get_secret_value(), action.address)

    def _count(self, action: Action, verdict: Verdict, started: float) -> None:
        metrics = self._metrics
        reasons = verdict.reasons
        primary = reasons[0] if reasons else ""
        metrics.child(metrics.decisions, verdict.outcome.value, action.kind.value, primary).inc()
        metrics.child(metrics.decision_seconds, action.kind.value).observe(time.perf_counter() - started)


def _instructed(action: Action, decision_id: uuid.UUID, verdict: Verdict) -> Decided:
    if verdict.outcome.forwards:
        return Decided(Instruction.FORWARD, action, decision_id, verdict)
    primary = verdict.primary
    reason = primary.reason if primary else verdict.outcome.value
    message = primary.message if primary else "Refused."
    return Decided(
        Instruction.REFUSE, action, decision_id, verdict, reason, message, verdict.cannot_decide is not None
    )
