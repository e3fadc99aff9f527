"""Configuration of the mock exchange: one immutable object, built by the caller.

Nothing in the package reads the environment except `exchange.__main__`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from exchange.catalog import SYMBOLS_BY_ID
from exchange.market_maker import DEFAULT_LEVELS, DEFAULT_SPACING_BPS

DEFAULT_STARTING_BALANCES: Final[Mapping[str, Decimal]] = {
    "USDT": Decimal("100000"),
    "BTC": Decimal("2"),
    "ETH": Decimal("20"),
    "XRP": Decimal("10000"),
    "XMR": Decimal("50"),
    "STKN": Decimal("100"),
    "ICOT": Decimal("10000"),
    "USDC": Decimal("10000"),
    "KRW": Decimal("10000000"),
}
DEFAULT_REQUEST_LOG_SIZE: Final = 10_000
DEFAULT_HISTORY_LIMIT: Final = 10_000


def _default_balances() -> dict[str, Decimal]:
    return dict(DEFAULT_STARTING_BALANCES)


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    """`service_token` is the shared secret the gateway sends as `X-Gateway-Token`."""

    service_token: str
    # What every customer account holds when it is first used.
    starting_balances: Mapping[str, Decimal] = field(default_factory=_default_balances)
    # Per-symbol override of the catalogue's seed (market-maker reference) price.
    seed_prices: Mapping[str, Decimal] = field(default_factory=dict)
    # How many accepted requests `/ops/requests` keeps (the count stays monotonic).
    request_log_size: int = DEFAULT_REQUEST_LOG_SIZE
    # Closed orders, trades, deposits and withdrawals kept per account.
    history_limit: int = DEFAULT_HISTORY_LIMIT
    market_maker_levels: int = DEFAULT_LEVELS
    market_maker_spacing_bps: Decimal = DEFAULT_SPACING_BPS

    def __post_init__(self) -> None:
        if not self.service_token:
            raise ValueError("service_token: must not be empty")
        for asset, amount in self.starting_balances.items():
            if not isinstance(amount, Decimal) or amount < 0:
                raise ValueError(f"starting_balances[{asset}]: must be a non-negative Decimal")
        for symbol, price in self.seed_prices.items():
            if symbol not in SYMBOLS_BY_ID:
                raise ValueError(f"seed_prices[{symbol}]: unknown symbol")
            if not isinstance(price, Decimal) or price <= 0:
                raise ValueError(f"seed_prices[{symbol}]: must be a positive Decimal")
        if self.request_log_size < 1:
            raise ValueError("request_log_size: must be at least 1")
        if self.history_limit < 1:
            raise ValueError("history_limit: must be at least 1")
        if self.market_maker_levels < 1:
            raise ValueError("market_maker_levels: must be at least 1")
        if self.market_maker_spacing_bps <= 0:
            raise ValueError("market_maker_spacing_bps: must be positive")
