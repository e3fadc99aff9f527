"""The stages every request passes before any compliance rule: who, well formed, known."""

from __future__ import annotations

from dataclasses import dataclass

from policy.action import Action
from policy.decision import Finding, Outcome
from policy.facts import AuthStatus, CustomerStatus, Facts
from policy.pipeline import Stage

_AUTH_MESSAGES = {
    AuthStatus.MISSING_SIGNATURE: "Mandatory parameter 'signature' was not sent.",
    AuthStatus.BAD_SIGNATURE: "Signature for this request is not valid.",
    AuthStatus.MISSING_TIMESTAMP: "Mandatory parameter 'timestamp' was not sent.",
    AuthStatus.BAD_TIMESTAMP: "Parameter 'timestamp' must be an integer of milliseconds.",
    AuthStatus.STALE_TIMESTAMP: "Timestamp for this request is outside of the recvWindow.",
    AuthStatus.FUTURE_TIMESTAMP: "Timestamp for this request was ahead of the server's time.",
    AuthStatus.BAD_RECV_WINDOW: "recvWindow must be a positive integer up to the maximum.",
}


@dataclass(frozen=True)
class AuthenticationStage:
    name: str = "authentication"
    gate: bool = True

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        auth = facts.authentication
        if auth.status is AuthStatus.OK:
            return []
        return [
            Finding(
                stage=self.name,
                rule_id=f"core.auth.{auth.status.value}",
                outcome=Outcome.DENY,
                reason=auth.status.value,
                message=auth.detail or _AUTH_MESSAGES[auth.status],
                values=dict(auth.values),
            )
        ]


@dataclass(frozen=True)
class CustomerActiveStage:
    name: str = "customer"
    gate: bool = True

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        customer = facts.customer
        if customer is None:
            return [self._deny("unknown_customer", "No customer is linked to this API key.", {})]
        if customer.status is not CustomerStatus.ACTIVE:
            return [
                self._deny(
                    "customer_inactive",
                    f"Customer account is {customer.status.value}.",
                    {"status": customer.status.value},
                )
            ]
        return []

    def _deny(self, reason: str, message: str, values: dict[str, str]) -> Finding:
        return Finding(self.name, f"core.customer.{reason}", Outcome.DENY, reason, message, values)


@dataclass(frozen=True)
class WellFormedStage:
    name: str = "well_formed"
    gate: bool = True

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        return [
            Finding(
                stage=self.name,
                rule_id=f"core.request.{problem.reason}",
                outcome=Outcome.DENY,
                reason=problem.reason,
                message=problem.detail,
                values={"parameter": problem.parameter},
            )
            for problem in action.problems
        ]


@dataclass(frozen=True)
class KnownInstrumentStage:
    """The symbol or asset named by the call is one the exchange lists."""

    name: str = "instrument"
    gate: bool = True

    def evaluate(self, action: Action, facts: Facts) -> list[Finding]:
        catalog = facts.markets
        if action.symbol is None and action.asset is None:
            return []
        if catalog is None:
            # The gateway refuses to decide (503) before calling the pipeline without a
            # catalog; reaching here means a caller skipped that, so refuse rather than allow.
            return [self._deny("unknown_symbol", "Market list unavailable.", {})]
        if action.symbol is not None:
            market = catalog.market(action.symbol)
            if market is None:
                return [self._deny("unknown_symbol", "Invalid symbol.", {"symbol": action.symbol})]
            if not market.trading:
                return [self._deny("symbol_not_trading", "Market is closed.", {"symbol": action.symbol})]
        if action.asset is not None and action.asset not in catalog.assets:
            return [self._deny("unknown_asset", "Invalid asset.", {"asset": action.asset})]
        return []

    def _deny(self, reason: str, message: str, values: dict[str, str]) -> Finding:
        return Finding(self.name, f"core.instrument.{reason}", Outcome.DENY, reason, message, values)


def core_stages() -> list[Stage]:
    """Who is asking, is the call well formed, is the instrument listed: in that order."""
    return [AuthenticationStage(), CustomerActiveStage(), WellFormedStage(), KnownInstrumentStage()]
