"""The ceiling: a minimal aiohttp pass-through proxy in front of the mock exchange.

    python bench/bare_proxy.py --port 9100 --upstream http://127.0.0.1:9001 \
        --token SERVICE_TOKEN --keys keys.json

It does what the gateway must do at the very least to reach the exchange, and nothing else:
it maps the caller's `X-MBX-APIKEY` to a customer id through a static table (a JSON object
api_key -> customer_id, read once at start), adds `X-Gateway-Token` and `X-Customer-Id`, and
forwards method, path, raw query string and body; the answer goes back unchanged (status,
body, headers minus the hop-by-hop ones, exactly like the gateway). No signature check, no
policy, no database. One process, one event loop (uvloop when importable), like the gateway.
With `--reuse-port`, several of these processes share one port (SO_REUSEPORT, the kernel
spreads connections over them): bench/honest.py starts as many as the gateway has workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.feeds.http1 import Http1Error, Http1Pool
from gateway.ops.heap import settle_heap

TOKEN_HEADER = "X-Gateway-Token"
CUSTOMER_HEADER = "X-Customer-Id"
API_KEY_HEADER = "X-MBX-APIKEY"
# The same hop-by-hop / self-set headers the gateway drops (gateway/feeds/upstream.py), so both
# sides answer with the same header set.
_DROPPED = frozenset(
    h.lower()
    for h in ("Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Content-Encoding",
              "Server", "Date")
)  # fmt: skip

Headers = list[tuple[str, str]]
# (method, path and query, headers, body) -> (status, body, headers)
Forward = Callable[[str, str, Headers, bytes], Awaitable[tuple[int, bytes, Headers]]]
FORWARD: web.AppKey[Forward] = web.AppKey("forward", object)  # type: ignore[arg-type]


def _aiohttp_client(base: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """aiohttp's client: the baseline as the issue defines it."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))

        async def forward(
            method: str, target: str, headers: Headers, body: bytes
        ) -> tuple[int, bytes, Headers]:
            async with session.request(method, base + target, data=body or None, headers=headers) as answer:
                return answer.status, await answer.read(), list(answer.headers.items())

        app[FORWARD] = forward
        yield
        await session.close()

    return ctx


def _http1_client(base: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """The gateway's own client (gateway/feeds/http1.py): the stronger baseline."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = Http1Pool(base)

        async def forward(
            method: str, target: str, headers: Headers, body: bytes
        ) -> tuple[int, bytes, Headers]:
            answer = await pool.request(method, target, headers, body, timeout=10)
            return answer.status, answer.body, answer.headers

        app[FORWARD] = forward
        yield
        await pool.close()

    return ctx


CLIENTS = {"aiohttp": _aiohttp_client, "http1": _http1_client}


def create_app(upstream: str, token: str, keys: dict[str, str], client: str = "aiohttp") -> web.Application:
    base = upstream.rstrip("/")

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = [(TOKEN_HEADER, token)]
        customer = keys.get(request.headers.get(API_KEY_HEADER, ""))
        if customer is not None:
            headers.append((CUSTOMER_HEADER, customer))
        content_type = request.headers.get("Content-Type")
        if content_type:
            headers.append(("Content-Type", content_type))
        body = await request.read()
        qs = request.rel_url.raw_query_string
        target = request.rel_url.raw_path + ("?" + qs if qs else "")
        try:
            forward = request.app[FORWARD]
            status, payload, answer_headers = await forward(request.method, target, headers, body)
        except (aiohttp.ClientError, Http1Error, OSError, TimeoutError) as exc:
            return web.json_response({"code": -1001, "msg": f"upstream: {exc!r}"}, status=502)
        kept = {k: v for k, v in answer_headers if k.lower() not in _DROPPED}
        return web.Response(body=payload, status=status, headers=kept)

    app = web.Application()
    app.cleanup_ctx.append(CLIENTS[client](base))
    # The same garbage-collector tuning as the gateway's server, so that the ceiling
    # stays a ceiling.
    app.on_startup.append(settle_heap)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the exchange's base URL")
    parser.add_argument("--token", required=True, help="the exchange's service token")
    parser.add_argument("--keys", type=Path, required=True, help="JSON object: api_key -> customer_id")
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="aiohttp", help="how to reach the exchange"
    )
    parser.add_argument(
        "--reuse-port", action="store_true", help="SO_REUSEPORT: share the port with other workers"
    )
    args = parser.parse_args(argv)
    keys = json.loads(args.keys.read_text())
    if not isinstance(keys, dict):
        raise SystemExit("--keys: expected a JSON object api_key -> customer_id")
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        create_app(args.upstream, args.token, {str(k): str(v) for k, v in keys.items()}, args.client),
        host=args.host,
        port=args.port,
        reuse_port=args.reuse_port or None,
        access_log=None,
        print=None,
        shutdown_timeout=2.0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
