"""CPU per call of the two HTTP clients the benchmark's sides use to reach the exchange.

    python bench/upstream_client.py [--calls 3000] [--concurrency 30] [--rounds 2]

One process, uvloop: an aiohttp server on 127.0.0.1 answering an order-sized JSON body, then
the same signed-order-shaped POST sent through aiohttp's client (what bench/bare_proxy.py
uses) and through the gateway's own (gateway/feeds/http1.py), alternating, `--rounds` times each.
Prints CPU microseconds per call (client and server together: they share the process) and
calls per second. Bounded by `--calls` per round.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import uvloop
from aiohttp import web

from gateway.feeds.http1 import Http1Pool

ANSWER = b'{"symbol":"BTCUSDT","orderId":1,"status":"FILLED","executedQty":"0.0001"}' * 2
BODY = b"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0001&timestamp=1700000000000&signature=" + b"a" * 64
HEADERS = {
    "X-Gateway-Token": "token",
    "X-Customer-Id": "5f0c6b1e-8a43-4d43-9a55-3f3f5f1b2c01",
    "Content-Type": "application/x-www-form-urlencoded",
}


async def _measure(call: Callable[[], Awaitable[None]], calls: int, concurrency: int) -> tuple[float, float]:
    per_worker = calls // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = per_worker * concurrency
    return (time.process_time() - cpu) / done * 1e6, done / (time.perf_counter() - wall)


async def main(calls: int, concurrency: int, rounds: int) -> None:
    async def order(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/v3/order", order)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    pool = Http1Pool(base)

    async def via_aiohttp() -> None:
        async with session.post(base + "/api/v3/order?x=1", data=BODY, headers=HEADERS) as answer:
            await answer.read()
            assert answer.status == 200

    async def via_http1() -> None:
        answer = await pool.request("POST", "/api/v3/order?x=1", list(HEADERS.items()), BODY, timeout=10)
        assert answer.status == 200

    clients = {"aiohttp client": via_aiohttp, "gateway/feeds/http1.py": via_http1}
    try:
        for call in clients.values():  # warm up connections and code paths
            await _measure(call, min(calls, 300), concurrency)
        for n in range(1, rounds + 1):
            for name, call in clients.items():
                cpu, rate = await _measure(call, calls, concurrency)
                print(f"round {n}  {name:18} {cpu:6.0f} µs CPU per call   {rate:7.0f} calls/s")
    finally:
        await session.close()
        await pool.close()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    uvloop.run(main(args.calls, args.concurrency, args.rounds))
