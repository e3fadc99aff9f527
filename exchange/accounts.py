"""Per-customer balances, orders, trades and wallet history, in memory.

Amounts are `Decimal` throughout. History is bounded per account (`history_limit`) so a
long benchmark cannot grow memory without bound: the oldest closed orders and trades are
forgotten first; open orders are never forgotten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from exchange.orders import ZERO, Order, Trade


@dataclass(frozen=True, slots=True)
class Deposit:
    deposit_id: str
    coin: str
    network: str
    amount: Decimal
    address: str
    address_tag: str
    source_address: str
    tx_id: str
    insert_ms: int
    status: int


@dataclass(frozen=True, slots=True)
class Withdrawal:
    withdraw_id: str
    coin: str
    network: str
    amount: Decimal
    fee: Decimal
    address: str
    address_tag: str
    tx_id: str
    apply_ms: int
    status: int
    withdraw_order_id: str
    name: str


class Account:
    def __init__(self, customer_id: str, balances: Mapping[str, Decimal], history_limit: int,
                 *, keep_history: bool = True) -> None:
        self.customer_id = customer_id
        self.free: dict[str, Decimal] = dict(balances)
        self.locked: dict[str, Decimal] = {}
        self.keep_history = keep_history
        self.orders: dict[int, Order] = {}
        self.open_orders: dict[int, Order] = {}
        self.open_by_client_id: dict[str, Order] = {}
        self._closed_ids: deque[int] = deque()
        self._history_limit = history_limit
        self.trades: deque[Trade] = deque(maxlen=history_limit)
        self.deposits: deque[Deposit] = deque(maxlen=history_limit)
        self.withdrawals: deque[Withdrawal] = deque(maxlen=history_limit)

    def free_of(self, asset: str) -> Decimal:
        return self.free.get(asset, ZERO)

    def locked_of(self, asset: str) -> Decimal:
        return self.locked.get(asset, ZERO)

    def assets(self) -> Iterator[str]:
        yield from self.free
        yield from (a for a in self.locked if a not in self.free)

    def credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def debit(self, asset: str, amount: Decimal) -> bool:
        """Take `amount` from free balance; False (and no change) if there is not enough."""
        have = self.free.get(asset, ZERO)
        if have < amount:
            return False
        self.free[asset] = have - amount
        return True

    def lock(self, order: Order, asset: str, amount: Decimal) -> bool:
        if not self.debit(asset, amount):
            return False
        self.locked[asset] = self.locked.get(asset, ZERO) + amount
        order.lock_asset = asset
        order.locked = amount
        return True

    def consume_locked(self, order: Order, amount: Decimal) -> None:
        """Spend reserved funds of `order` (they leave the account)."""
        order.locked -= amount
        self.locked[order.lock_asset] -= amount

    def release(self, order: Order, amount: Decimal) -> None:
        """Return reserved funds of `order` to free balance."""
        if amount <= ZERO:
            return
        order.locked -= amount
        self.locked[order.lock_asset] -= amount
        self.credit(order.lock_asset, amount)

    def open(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.open_orders[order.order_id] = order
        self.open_by_client_id[order.client_order_id] = order

    def close(self, order: Order) -> None:
        """Forget `order` as open; release anything it still reserves."""
        self.release(order, order.locked)
        self.open_orders.pop(order.order_id, None)
        if self.open_by_client_id.get(order.client_order_id) is order:
            del self.open_by_client_id[order.client_order_id]
        if not self.keep_history:
            self.orders.pop(order.order_id, None)
            return
        self._closed_ids.append(order.order_id)
        while len(self._closed_ids) > self._history_limit:
            self.orders.pop(self._closed_ids.popleft(), None)

    def record_trade(self, trade: Trade) -> None:
        if self.keep_history:
            self.trades.append(trade)

    def find_order(self, order_id: int | None, client_order_id: str | None) -> Order | None:
        if order_id is not None:
            return self.orders.get(order_id)
        if client_order_id is None:
            return None
        found = self.open_by_client_id.get(client_order_id)
        if found is not None:
            return found
        for order in reversed(self.orders.values()):
            if order.client_order_id == client_order_id:
                return order
        return None


class Accounts:
    def __init__(self, starting_balances: Mapping[str, Decimal], history_limit: int) -> None:
        self._starting = dict(starting_balances)
        self._history_limit = history_limit
        self._by_id: dict[str, Account] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, customer_id: str) -> Account | None:
        return self._by_id.get(customer_id)

    def get_or_create(self, customer_id: str) -> Account:
        account = self._by_id.get(customer_id)
        if account is None:
            account = Account(customer_id, self._starting, self._history_limit)
            self._by_id[customer_id] = account
        return account

    def add(self, account: Account) -> None:
        self._by_id[account.customer_id] = account
