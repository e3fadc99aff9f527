"""The private link to the exchange: the gateway's service credential plus the customer id.

The exchange trusts only the gateway; the customer's own signature stays with us.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.feeds.http1 import Http1Error, Http1Pool
from policy.facts import Market, MarketCatalog

SERVICE_TOKEN_HEADER = "X-Gateway-Token"
CUSTOMER_HEADER = "X-Customer-Id"
# Hop-by-hop headers and ones the gateway sets itself are not copied from the exchange.
_DROPPED = frozenset(
    h.lower()
    for h in ("Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Content-Encoding",
              "Server", "Date")
)  # fmt: skip


class UpstreamUnavailable(Exception):
    pass


class UpstreamTimeout(Exception):
    pass


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


class Upstream:
    def __init__(self, base_url: str, token: str, *, timeout: float, connections: int = 256) -> None:
        self._base_url = base_url
        self._token = token
        self._timeout = timeout
        self._connections = connections
        self._pool: Http1Pool | None = None

    async def open(self) -> None:
        self._pool = Http1Pool(self._base_url, limit=self._connections)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def forward(
        self,
        method: str,
        path_qs: str,
        body: bytes,
        content_type: str | None,
        customer_id: str | None,
    ) -> UpstreamAnswer:
        """`path_qs`: the path and query string as the client sent them (percent-encoded)."""
        assert self._pool is not None, "Upstream.open() not called"
        headers = [(SERVICE_TOKEN_HEADER, self._token)]
        if customer_id is not None:
            headers.append((CUSTOMER_HEADER, customer_id))
        if content_type:
            headers.append(("Content-Type", content_type))
        try:
            response = await self._pool.request(method, path_qs, headers, body, timeout=self._timeout)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer within {self._timeout} s") from exc
        except Http1Error as exc:
            raise UpstreamUnavailable(str(exc) or type(exc).__name__) from exc
        kept = {k: v for k, v in response.headers if k.lower() not in _DROPPED}
        return UpstreamAnswer(response.status, response.body, kept)

    async def fetch_markets(self) -> MarketCatalog:
        """The exchange's market list. An answer that is not the expected shape (an object
        whose `symbols` is a list of objects with string `symbol`, `baseAsset` and
        `quoteAsset`) is refused whole, as `UpstreamUnavailable`, like a failed call."""
        answer = await self.forward("GET", "/api/v3/exchangeInfo", b"", None, None)
        if answer.status != 200:
            raise UpstreamUnavailable(f"exchangeInfo answered {answer.status}")
        try:
            info: Any = orjson.loads(answer.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(f"exchangeInfo answer is not JSON: {exc}") from exc
        symbols = info.get("symbols") if isinstance(info, dict) else None
        if not isinstance(symbols, list):
            raise UpstreamUnavailable("exchangeInfo answer is not an object with a list of symbols")
        markets: dict[str, Market] = {}
        for i, s in enumerate(symbols):
            if not isinstance(s, dict) or not all(
                isinstance(s.get(k), str) and s[k] for k in ("symbol", "baseAsset", "quoteAsset")
            ):
                raise UpstreamUnavailable(
                    f"exchangeInfo answer: symbols[{i}] has no string symbol, baseAsset and quoteAsset"
                )
            markets[s["symbol"]] = Market(
                s["symbol"], s["baseAsset"], s["quoteAsset"], s.get("status") == "TRADING"
            )
        assets = {m.base_asset for m in markets.values()} | {m.quote_asset for m in markets.values()}
        return MarketCatalog(markets, frozenset(assets), datetime.now(UTC))

    async def reachable(self) -> bool:
        try:
            answer = await asyncio.wait_for(self.forward("GET", "/api/v3/ping", b"", None, None), 2.0)
        except (UpstreamUnavailable, UpstreamTimeout, TimeoutError):
            return False
        return answer.status == 200
