"""Order and trade records shared by the book, the accounts and the serialisers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated new-order request (filters already checked, funds not yet)."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None
    time_in_force: TimeInForce | None
    client_order_id: str | None


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    owner: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce | None
    price: Decimal  # ZERO for market orders, as Binance reports them
    orig_qty: Decimal  # ZERO for a market order sized by quoteOrderQty
    orig_quote_qty: Decimal
    created_ms: int
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    updated_ms: int = 0
    # Quantity still resting in the book; the book decrements it as makers fill.
    leaves_qty: Decimal = ZERO
    in_book: bool = False
    # Funds still reserved for this order (quote for buys, base for sells).
    lock_asset: str = ""
    locked: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int


@dataclass(frozen=True, slots=True)
class Trade:
    """One side's view of an execution (Binance's myTrades row)."""

    trade_id: int
    symbol: str
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool


@dataclass(slots=True)
class PlaceResult:
    order: Order
    fills: list[Fill] = field(default_factory=list)
