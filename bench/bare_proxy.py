"""The ceiling: a minimal aiohttp pass-through proxy in front of the mock exchange.

    python bench/bare_proxy.py --port 9100 --upstream http://127.0.0.1:9001 \
        --token SERVICE_TOKEN --keys keys.json

It does what the gateway must do at the very least to reach the exchange, and nothing else:
it maps the caller's `X-MBX-APIKEY` to a customer id through a static table (a JSON object
api_key -> customer_id, read once at start), adds `X-Gateway-Token` and `X-Customer-Id`, and
forwards method, path, raw query string and body; the answer goes back unchanged (status,
body, headers minus the hop-by-hop ones, exactly like the gateway). No signature check, no
policy, no database. One process, one event loop (uvloop when importable), like the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.heap import settle_heap

TOKEN_HEADER = "X-Gateway-Token"
CUSTOMER_HEADER = "X-Customer-Id"
API_KEY_HEADER = "X-MBX-APIKEY"
# The same hop-by-hop / self-set headers the gateway drops (gateway/upstream.py), so both
# sides answer with the same header set.
_DROPPED = frozenset(
    h.lower()
    for h in ("Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Content-Encoding",
              "Server", "Date")
)  # fmt: skip

SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


def create_app(upstream: str, token: str, keys: dict[str, str]) -> web.Application:
    base = upstream.rstrip("/")

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        app[SESSION] = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))
        yield
        await app[SESSION].close()

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = {TOKEN_HEADER: token}
        customer = keys.get(request.headers.get(API_KEY_HEADER, ""))
        if customer is not None:
            headers[CUSTOMER_HEADER] = customer
        content_type = request.headers.get("Content-Type")
        if content_type:
            headers["Content-Type"] = content_type
        body = await request.read()
        qs = request.rel_url.raw_query_string
        url = base + request.rel_url.raw_path + ("?" + qs if qs else "")
        try:
            async with request.app[SESSION].request(
                request.method, url, data=body or None, headers=headers
            ) as answer:
                payload = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED}
                return web.Response(body=payload, status=answer.status, headers=kept)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return web.json_response({"code": -1001, "msg": f"upstream: {exc!r}"}, status=502)

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
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
        create_app(args.upstream, args.token, {str(k): str(v) for k, v in keys.items()}),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        shutdown_timeout=2.0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
