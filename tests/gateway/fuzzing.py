"""What the fuzz tests share: the mock exchange and the gateway served from a background
thread's event loop (Hypothesis drives synchronous tests), a raw HTTP client that sends
the exact bytes it is given, and the hostile values.

The client is raw because aiohttp's and http.client's would normalise what is being
tested: invalid percent-escapes, escapes of invalid UTF-8, control characters.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import socket
import threading
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from exchange.app import create_exchange_app
from exchange.settings import ExchangeSettings
from exchange.state import STATE
from gateway.app import create_app
from gateway.ops.pgserver import EmbeddedPostgres
from tests.conftest import fresh_database, gateway_settings, runtime_dsn
from tests.support import SERVICE_TOKEN, Customer, serving

T = TypeVar("T")

# Bounded and derandomised everywhere, CI included: the same examples every run, so a
# failure is reproducible and the run's length is known. FUZZ_EXAMPLES widens a local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
_CALL_SECONDS = 60


class LiveStack:
    """A fresh database, the mock exchange and the gateway, on 127.0.0.1, for one module."""

    def __init__(self, postgres: EmbeddedPostgres) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-stack", daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()
        self.ids: dict[str, list[str]] = {}  # real ids a test seeded, by path parameter name
        self.trader: Customer | None = None  # a customer with a key, for signed calls
        self.gateway_url, self.exchange_url = self.run(self._start(postgres))
        self.port = int(self.gateway_url.rsplit(":", 1)[1])

    async def _start(self, postgres: EmbeddedPostgres) -> tuple[str, str]:
        self.exchange_app = create_exchange_app(ExchangeSettings(service_token=SERVICE_TOKEN))
        exchange_url = await self._stack.enter_async_context(serving(self.exchange_app))
        database_url = await fresh_database(postgres)
        settings_ = gateway_settings(
            runtime_dsn(database_url), exchange_url, migration_database_url=SecretStr(database_url)
        )
        self.gateway_app = create_app(settings_)
        gateway_url = await self._stack.enter_async_context(serving(self.gateway_app))
        self.session = await self._stack.enter_async_context(aiohttp.ClientSession())
        return gateway_url, exchange_url

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(_CALL_SECONDS)

    def close(self) -> None:
        try:
            self.run(self._stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(_CALL_SECONDS)
            self.loop.close()

    def calls_since(self, seq: int) -> list[Any]:
        """What the exchange accepted after `seq` (the gateway's background refreshes too)."""

        async def read() -> list[Any]:
            return self.exchange_app[STATE].requests.since(seq, 10_000)

        return self.run(read())

    def customer_calls_since(self, seq: int) -> list[Any]:
        """What the exchange accepted on a customer's behalf after `seq`: only the gateway's
        background refreshes carry no customer."""
        return [e for e in self.calls_since(seq) if e.customer_id is not None]

    def exchange_seq(self) -> int:
        async def read() -> int:
            return self.exchange_app[STATE].requests.total

        return self.run(read())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def send(port: int, method: str, target: str, headers: dict[str, bytes], body: bytes = b"") -> Answer:
    """One request of exactly these bytes (the target must be ASCII: escape the rest)."""
    lines = [f"{method} {target} HTTP/1.1".encode("ascii"), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode("ascii") + b": " + value for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=_CALL_SECONDS) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Answer(response.status, response.headers, response.read())


# --- hostile values -------------------------------------------------------------------

# Already escaped for a URL: each is sent exactly as written.
RAW_HOSTILE = [
    "", "%00", "a%00b", "%0A", "%0D%0A", "%09", "%7F", "%C2%85", "%C2%9F",  # C0, DEL, C1
    "%", "%z", "%zz", "%f", "%%", "100%", "%2", "%G0",  # invalid escapes
    "%ff", "%fe%ff", "%C0%80", "%ED%A0%80", "%F4%90%80%80", "%E2%82",  # invalid UTF-8
    "%E2%80%AE", "%EF%BB%BF", "%E2%80%8B",  # RTL override, BOM, zero width space
    "%D0%92%D0%A2%D0%A1", "%CE%92%CE%A4%CE%A3", "%EF%BC%91%EF%BC%92",  # homoglyphs, fullwidth
    "%C2%B2", "%D9%A3", "NaN", "-0", "1e9999", "-1", "0x10", "+1", "%201", "1.5", "00",
    "9" * 400, "a" * 257, "%C3%A9" * 200, "x" * 3000,  # huge, but under the request-line limit
    "null", "true", "[]", "%7B%7D", "'%3B--", "..%2F..", "%2F", "+", "%2B", "a&a", "a=b",
]  # fmt: skip
_ODD_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def escaped(text: str) -> str:
    """Any text as a URL component; a lone surrogate goes as the bytes CESU would give it,
    which no strict UTF-8 reader takes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
RAW_VALUES = st.one_of(
    st.sampled_from(RAW_HOSTILE),
    ANY_TEXT.map(escaped),
    _ODD_NUMBERS.map(escaped),
    st.builds(lambda v, n: v * n, st.sampled_from(["%00", "a", "%C3%A9", "%ff"]), st.integers(1, 600)),
)
JSON_HOSTILE_STRINGS = st.one_of(
    st.sampled_from(
        [
            "",
            "\x00",
            "a\x00",
            "\x1b[31m",
            "\x7f",
            "\x85",
            "\u202e",
            "\uff21\uff22\uff23",
            "\u0412\u0422\u0421",
            "x" * 5000,
        ]
    ),
    st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=40),
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), JSON_HOSTILE_STRINGS,
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(JSON_HOSTILE_STRINGS, inner, max_size=4)
    ),
    max_leaves=12,
)


def pairs_query(pairs: list[tuple[str, str]]) -> str:
    """Raw (already escaped) names and values as a query string."""
    return "&".join(f"{name}={value}" for name, value in pairs)


DOCUMENTED_503 = frozenset(
    {"decision_store_unavailable", "markets_unavailable", "upstream_unavailable", "price_unavailable",
     "sanctions_unavailable", "database_unavailable"}
)  # fmt: skip
REASON = re.compile(r"^[a-z][a-z0-9_]*: ")
