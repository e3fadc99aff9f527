"""The listed assets, their networks and the spot symbols: one data table.

To list a new asset, add an `AssetSpec` (with at least one `NetworkSpec`) to `ASSETS` and a
`SymbolSpec` pairing it with a quote asset to `SYMBOLS`. `tags` carries classification the
compliance side may care about (privacy coin, stablecoin, and later security/ICO tokens);
the exchange itself never acts on tags, it only publishes them via `/ops/catalog`.

KRW is fiat on a "BANK" network, as Korean exchanges run it: a deposit "address" is a
virtual account number at the exchange's bank, and a withdrawal goes to a bank account
number. Whose account that is (the real-name rule) is the gateway's business, not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final


class AddressKind(StrEnum):
    """How deposit addresses on a network look (drives generation and validation)."""

    BITCOIN = "bitcoin"
    EVM = "evm"
    TRON = "tron"
    RIPPLE = "ripple"
    MONERO = "monero"
    BANK_ACCOUNT = "bank_account"


# Validation patterns in the spirit of Binance's `addressRegex`; they accept the addresses
# this exchange generates as well as ordinary real-world ones.
ADDRESS_REGEX: Final[dict[AddressKind, str]] = {
    AddressKind.BITCOIN: r"^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,62}$",
    AddressKind.EVM: r"^(0x)[0-9A-Fa-f]{40}$",
    AddressKind.TRON: r"^T[1-9A-HJ-NP-Za-km-z]{33}$",
    AddressKind.RIPPLE: r"^r[1-9A-HJ-NP-Za-km-z]{24,34}$",
    AddressKind.MONERO: r"^[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}$",
    # Korean bank account numbers: 10 to 14 digits, written in hyphenated groups that
    # differ by bank (e.g. 110-123-456789, 123456-78-901234) or without hyphens.
    AddressKind.BANK_ACCOUNT: r"^([0-9]{2,6}(-[0-9]{2,8}){1,3}|[0-9]{10,14})$",
}
MEMO_REGEX: Final[dict[AddressKind, str]] = {AddressKind.RIPPLE: r"^((?!0)[0-9]{1,10})$"}


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    network: str
    name: str
    kind: AddressKind
    withdraw_fee: Decimal
    withdraw_min: Decimal
    withdraw_max: Decimal
    withdraw_multiple: Decimal
    min_confirm: int
    is_default: bool = False
    deposit_enable: bool = True
    withdraw_enable: bool = True
    contract_address: str = ""

    @property
    def tag_required(self) -> bool:
        return self.kind in MEMO_REGEX


@dataclass(frozen=True, slots=True)
class AssetSpec:
    coin: str
    name: str
    networks: tuple[NetworkSpec, ...]
    tags: frozenset[str] = frozenset()
    # Legal tender (Binance's `isLegalMoney`): ccxt then types the currency as fiat.
    fiat: bool = False

    def network(self, network_id: str | None) -> NetworkSpec | None:
        """The named network, or the default one when `network_id` is empty."""
        for spec in self.networks:
            if (network_id and spec.network == network_id) or (not network_id and spec.is_default):
                return spec
        return None


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    seed_price: Decimal
    # Size of each market-maker quote level, in base units.
    maker_level_qty: Decimal
    base_precision: int = 8
    quote_precision: int = 8


def _d(text: str) -> Decimal:
    return Decimal(text)


def _net(
    network: str,
    name: str,
    kind: AddressKind,
    fee: str,
    wmin: str,
    *,
    multiple: str = "0.00000001",
    confirm: int = 12,
    default: bool = False,
    contract: str = "",
) -> NetworkSpec:
    return NetworkSpec(
        network=network,
        name=name,
        kind=kind,
        withdraw_fee=_d(fee),
        withdraw_min=_d(wmin),
        withdraw_max=_d("9999999999"),
        withdraw_multiple=_d(multiple),
        min_confirm=confirm,
        is_default=default,
        contract_address=contract,
    )


_ERC20, _TRC20, _BEP20 = "Ethereum (ERC20)", "Tron (TRC20)", "BNB Smart Chain (BEP20)"

ASSETS: Final[tuple[AssetSpec, ...]] = (
    AssetSpec("BTC", "Bitcoin", (
        _net("BTC", "Bitcoin", AddressKind.BITCOIN, "0.0002", "0.001", confirm=1, default=True),
    )),
    AssetSpec("ETH", "Ethereum", (
        _net("ETH", _ERC20, AddressKind.EVM, "0.0016", "0.01", default=True),
        _net("BSC", _BEP20, AddressKind.EVM, "0.00005", "0.0001", confirm=15),
    )),
    AssetSpec("USDT", "TetherUS", (
        _net("ETH", _ERC20, AddressKind.EVM, "4", "10", multiple="0.000001",
             contract="0xdac17f958d2ee523a2206206994597c13d831ec7"),
        _net("TRX", _TRC20, AddressKind.TRON, "1", "10", multiple="0.000001", confirm=1,
             default=True, contract="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        _net("BSC", _BEP20, AddressKind.EVM, "0.3", "10", confirm=15),
    ), tags=frozenset({"stablecoin"})),
    AssetSpec("USDC", "USD Coin", (
        _net("ETH", _ERC20, AddressKind.EVM, "4", "10", multiple="0.000001", default=True,
             contract="0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"),
        _net("BSC", _BEP20, AddressKind.EVM, "0.3", "10", confirm=15),
    ), tags=frozenset({"stablecoin"})),
    AssetSpec("XRP", "Ripple", (
        _net("XRP", "Ripple", AddressKind.RIPPLE, "0.2", "2", multiple="0.000001", confirm=1,
             default=True),
    )),
    AssetSpec("XMR", "Monero", (
        _net("XMR", "Monero", AddressKind.MONERO, "0.0001", "0.02", multiple="0.000000000001",
             confirm=10, default=True),
    ), tags=frozenset({"privacy"})),
    # A tokenised share (a security token) and a token-sale (ICO) token, both ERC-20, so
    # the country rules on asset classes can be exercised end to end.
    AssetSpec("STKN", "Tokenised Share", (
        _net("ETH", _ERC20, AddressKind.EVM, "1", "1", multiple="0.0001", default=True,
             contract="0x5700000000000000000000000000000000005a01"),
    ), tags=frozenset({"security_token"})),
    AssetSpec("ICOT", "Token Sale Token", (
        _net("ETH", _ERC20, AddressKind.EVM, "10", "10", multiple="0.0001", default=True,
             contract="0x1c0700000000000000000000000000000000c0a1"),
    ), tags=frozenset({"ico_token"})),
    # Whole won only; the fee and minimum are those Korean exchanges typically charge
    # (KRW 1,000 per withdrawal, KRW 5,000 minimum).
    AssetSpec("KRW", "South Korean Won", (
        _net("BANK", "Bank transfer (KRW)", AddressKind.BANK_ACCOUNT, "1000", "5000", multiple="1",
             confirm=1, default=True),
    ), tags=frozenset({"fiat"}), fiat=True),
)


def _sym(symbol: str, base: str, quote: str, tick: str, step: str, notional: str, seed: str,
         level: str, max_price: str = "1000000", max_notional: str = "9000000") -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol, base=base, quote=quote,
        tick_size=_d(tick), min_price=_d(tick), max_price=_d(max_price),
        step_size=_d(step), min_qty=_d(step), max_qty=_d("9000000"),
        min_notional=_d(notional), max_notional=_d(max_notional),
        seed_price=_d(seed), maker_level_qty=_d(level),
    )


SYMBOLS: Final[tuple[SymbolSpec, ...]] = (
    _sym("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "5", "60000", "0.5"),
    _sym("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "5", "3000", "10"),
    _sym("XRPUSDT", "XRP", "USDT", "0.0001", "0.1", "5", "0.5", "50000", max_price="1000"),
    _sym("ETHBTC", "ETH", "BTC", "0.00001", "0.0001", "0.0001", "0.05", "10", max_price="922327"),
    _sym("XMRUSDT", "XMR", "USDT", "0.01", "0.001", "5", "150", "100"),
    _sym("USDCUSDT", "USDC", "USDT", "0.0001", "1", "5", "1.0", "100000", max_price="10"),
    _sym("STKNUSDT", "STKN", "USDT", "0.01", "0.01", "5", "25", "1000"),
    _sym("ICOTUSDT", "ICOT", "USDT", "0.0001", "1", "5", "0.2", "100000", max_price="1000"),
    # Won prices are large: KRW 1,000 ticks above KRW 2m and a KRW 5,000 minimum order,
    # as on Korean exchanges; the seed is BTCUSDT's 60,000 at about KRW 1,400 per USD.
    _sym("BTCKRW", "BTC", "KRW", "1000", "0.00001", "5000", "84000000", "0.5",
         max_price="10000000000", max_notional="10000000000"),
)

ASSETS_BY_COIN: Final[dict[str, AssetSpec]] = {a.coin: a for a in ASSETS}
SYMBOLS_BY_ID: Final[dict[str, SymbolSpec]] = {s.symbol: s for s in SYMBOLS}
