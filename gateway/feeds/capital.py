"""The exchange's coin networks (`GET /sapi/v1/capital/config/getall`), refreshed in the
background like the market list, and the check a withdrawal's network and address must
pass before it is decided.

The list is the exchange's: which networks each coin can be withdrawn on, which is the
default, and each network's `addressRegex`. A withdrawal on a network the coin does not
have is `unknown_network`; an address the network's pattern refuses is `invalid_address`.
Without a list young enough to trust (`markets_max_age_seconds`, as for the markets) a
withdrawal cannot be checked: the caller fails closed, as for the markets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from gateway.feeds.markets import Refreshing, utcnow
from gateway.feeds.upstream import Upstream, UpstreamUnavailable
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

CONFIG_PATH: Final = "/sapi/v1/capital/config/getall"
# The exchange scopes the config to an account (it carries balances): the gateway asks as
# its own service account, never as a customer.
SERVICE_ACCOUNT: Final = "gateway-service"
UNKNOWN_NETWORK: Final = "unknown_network"
INVALID_ADDRESS: Final = "invalid_address"


@dataclass(frozen=True, slots=True)
class CoinNetwork:
    network: str
    is_default: bool
    withdraw_enable: bool
    address_pattern: re.Pattern[str] | None  # None: the exchange states no pattern


@dataclass(frozen=True, slots=True)
class NetworkProblem:
    reason: str  # UNKNOWN_NETWORK | INVALID_ADDRESS
    message: str


@dataclass(frozen=True)
class CapitalConfig:
    coins: Mapping[str, tuple[CoinNetwork, ...]]
    fetched_at: datetime

    def check(self, coin: str, network: str | None, address: str) -> NetworkProblem | None:
        """Whether `address` on `network` (the coin's default when None) can receive `coin`."""
        networks = self.coins.get(coin, ())
        chosen = _chosen(networks, network)
        if chosen is None or not chosen.withdraw_enable:
            named = network or "its default network"
            known = ", ".join(n.network for n in networks if n.withdraw_enable) or "none"
            return NetworkProblem(
                UNKNOWN_NETWORK, f"{coin} cannot be withdrawn on {named[:20]}; its networks: {known}."
            )
        if chosen.address_pattern is not None and not chosen.address_pattern.fullmatch(address):
            return NetworkProblem(INVALID_ADDRESS, f"The address is not a {chosen.network} address.")
        return None


def _chosen(networks: tuple[CoinNetwork, ...], network: str | None) -> CoinNetwork | None:
    if network is not None:
        return next((n for n in networks if n.network == network), None)
    default = [n for n in networks if n.is_default] or (list(networks) if len(networks) == 1 else [])
    return default[0] if default else None


def parse_config(body: bytes, fetched_at: datetime) -> CapitalConfig:
    """The answer as a CapitalConfig; an answer not of the documented shape is refused
    whole, as UpstreamUnavailable, like a failed call."""
    try:
        coins: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(f"capital config is not JSON: {exc}") from exc
    if not isinstance(coins, list):
        raise UpstreamUnavailable("capital config is not a list of coins")
    parsed: dict[str, tuple[CoinNetwork, ...]] = {}
    for i, coin in enumerate(coins):
        networks = coin.get("networkList") if isinstance(coin, dict) else None
        if (
            not isinstance(coin, dict)
            or not isinstance(coin.get("coin"), str)
            or not isinstance(networks, list)
        ):
            raise UpstreamUnavailable(f"capital config: coins[{i}] has no coin and networkList")
        parsed[coin["coin"]] = tuple(_network(coin["coin"], n) for n in networks)
    return CapitalConfig(parsed, fetched_at)


def _network(coin: str, entry: Any) -> CoinNetwork:
    if not isinstance(entry, dict) or not isinstance(entry.get("network"), str):
        raise UpstreamUnavailable(f"capital config: a network of {coin} has no name")
    regex = entry.get("addressRegex")
    pattern = None
    if isinstance(regex, str) and regex:
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            # A pattern this side cannot read: refuse the whole answer rather than let
            # every address through unchecked.
            raise UpstreamUnavailable(
                f"capital config: {coin}/{entry['network']} addressRegex: {exc}"
            ) from exc
    return CoinNetwork(
        network=entry["network"],
        is_default=entry.get("isDefault") is True,
        withdraw_enable=entry.get("withdrawEnable") is True,
        address_pattern=pattern,
    )


class CoinNetworks(Refreshing):
    """The capital config, refetched every `refresh` seconds; too old past `max_age`."""

    def __init__(
        self, upstream: Upstream, metrics: GatewayMetrics, *, refresh: float, max_age: float
    ) -> None:
        self._upstream = upstream
        self._metrics = metrics
        self._refresh = refresh
        self._max_age = timedelta(seconds=max_age)
        self._what = "coin networks"
        self._config: CapitalConfig | None = None

    def current(self, now: datetime) -> CapitalConfig | None:
        """The config, unless it is too old to trust (then withdrawals get a 503)."""
        config = self._config
        if config is None or now - config.fetched_at > self._max_age:
            return None
        return config

    async def _fetch(self) -> bool:
        answer = await self._upstream.forward("GET", CONFIG_PATH, b"", None, SERVICE_ACCOUNT)
        if answer.status != 200:
            raise UpstreamUnavailable(f"capital config answered {answer.status}")
        self._config = parse_config(answer.body, utcnow())
        return True
