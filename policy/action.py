"""The Action: what a client's call does, independent of the exchange dialect."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class ActionKind(enum.StrEnum):
    PUBLIC_READ = "public_read"
    ACCOUNT_READ = "account_read"
    ORDER = "order"
    # A signed order the exchange validates and drops (Binance's order/test): recorded under
    # its own kind so that counting orders never counts rehearsals, decided as an order.
    ORDER_TEST = "order_test"
    CANCEL = "cancel"
    WITHDRAWAL = "withdrawal"
    DEPOSIT_CREDIT = "deposit_credit"
    DEPOSIT_ADDRESS = "deposit_address"

    @property
    def moves_money(self) -> bool:
        return self in MONEY_MOVING

    @property
    def decided_as(self) -> ActionKind:
        """The kind whose rules decide this one: a test order is judged exactly as the order
        it rehearses, by every stage, so a client cannot learn from a test what a real
        order would not be told."""
        return DECIDED_AS.get(self, self)


MONEY_MOVING = frozenset({ActionKind.ORDER, ActionKind.WITHDRAWAL, ActionKind.DEPOSIT_CREDIT})
DECIDED_AS = {ActionKind.ORDER_TEST: ActionKind.ORDER}


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A parameter the dialect adapter could not accept; becomes a deny finding."""

    reason: str  # stable snake_case code, e.g. "missing_parameter"
    parameter: str
    detail: str


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    operation: str  # the dialect's name for the call, e.g. "binance.order.create"
    customer_id: str | None = None
    symbol: str | None = None
    base_asset: str | None = None
    quote_asset: str | None = None
    asset: str | None = None  # the asset moved by a withdrawal/deposit, or asked about
    side: Side | None = None
    order_type: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    quote_quantity: Decimal | None = None
    address: str | None = None
    address_tag: str | None = None
    network: str | None = None
    client_order_id: str | None = None
    problems: tuple[ParseProblem, ...] = field(default_factory=tuple)
    # Travel rule: the originator/beneficiary data (IVMS101 JSON) as the client sent it,
    # and for a self-hosted destination, whether it is one and the ownership proof given.
    travel_rule: str | None = None
    self_hosted: bool = False
    ownership_proof: str | None = None

    @property
    def notional(self) -> Decimal | None:
        """Value in the quote asset, where the call itself says it."""
        if self.quote_quantity is not None:
            return self.quote_quantity
        if self.quantity is not None and self.price is not None:
            return self.quantity * self.price
        return None

    @property
    def notional_asset(self) -> str | None:
        return self.quote_asset if self.notional is not None else None
