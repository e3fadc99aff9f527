"""Signed order traffic against a Binance-style endpoint (the gateway or the bare proxy).

    python bench/loadgen.py --url http://127.0.0.1:8000 --customers customers.json \
        --concurrency 64 --requests 20000 --seconds 30 --warmup-seconds 3 --json

`customers.json` is a list of {"api_key", "secret"} objects. N workers share one aiohttp
session (one connection pool). Worker i trades as customer i mod len(customers), on BTCUSDT
(even i) or ETHUSDT (odd i), alternating MARKET BUY and MARKET SELL of one small lot
(0.0001 BTC ≈ 6 USDT, 0.002 ETH ≈ 6 USDT: above the mock's 5 USDT minimum notional and a
multiple of its lot size), so balances do not drain however long it runs. Every request is
signed afresh (timestamp, HMAC-SHA256) as a real client would.

Two phases, each bounded by a request count AND a duration, whichever comes first:
a warm-up (not counted in the figures, reported separately) and the measured phase.
Throughput counts only 200 answers; latency percentiles are over the 200 answers too;
every other outcome is reported under `errors` by status (or by exception name).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ORDER_PATH = "/api/v3/order"
DECISION_HEADER = "X-Decision-Id"
# (symbol, quantity): one lot well above min notional (5 USDT) at the mock's seed prices.
ORDERS = (("BTCUSDT", "0.0001"), ("ETHUSDT", "0.002"))
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Phase:
    name: str
    max_requests: int
    max_seconds: float
    issued: int = 0
    latencies_ok: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    with_decision: int = 0
    error_samples: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    deadline: float = 0.0

    def claim(self) -> bool:
        """Take the right to send one more request in this phase (count and time bound)."""
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return False
        self.issued += 1
        return True

    def summary(self) -> dict[str, Any]:
        elapsed = max(self.ended - self.started, 1e-9)
        ok = self.statuses.get("200", 0)
        lat = sorted(self.latencies_ok)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000, 3)

        errors = {k: v for k, v in sorted(self.statuses.items()) if k != "200"}
        return {
            "phase": self.name,
            "requests": self.issued,
            "completed": sum(self.statuses.values()),
            "ok": ok,
            "errors": errors,
            "error_count": sum(errors.values()),
            "error_samples": self.error_samples,
            "with_decision_id": self.with_decision,
            "seconds": round(elapsed, 3),
            "rps": round(ok / elapsed, 1),
            "latency_ms": {
                "p50": pct(50), "p90": pct(90), "p99": pct(99),
                "max": round(lat[-1] * 1000, 3) if lat else None,
                "mean": round(sum(lat) / len(lat) * 1000, 3) if lat else None,
            },
        }  # fmt: skip


def signed_body(secret: bytes, params: str) -> bytes:
    payload = f"timestamp={time.time_ns() // 1_000_000}&{params}"
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}&signature={signature}".encode()


async def worker(
    index: int,
    session: aiohttp.ClientSession,
    url: str,
    customer: dict[str, str],
    phase_box: list[Phase],
    stop: asyncio.Event,
) -> None:
    symbol, qty = ORDERS[index % len(ORDERS)]
    # Start half the workers on SELL so the book sees both sides from the first moment.
    buy = index % 4 < 2
    secret = customer["secret"].encode()
    headers = {**_FORM_HEADERS, "X-MBX-APIKEY": customer["api_key"]}
    sent = 0
    while not stop.is_set():
        phase = phase_box[0]
        if not phase.claim():
            # This phase is over for this worker; wait for the next (or the end).
            await phase_done_or_stop(phase_box, phase, stop)
            continue
        side = "BUY" if buy else "SELL"
        buy = not buy
        # A client order id of its own, as ccxt gives every order: two workers of one
        # customer signing the same order in the same millisecond would otherwise send
        # byte-identical calls, which the gateway refuses as replays (replayed_request).
        sent += 1
        order = f"symbol={symbol}&side={side}&type=MARKET&quantity={qty}&newClientOrderId=b{index}-{sent}"
        body = signed_body(secret, f"{order}&recvWindow=5000")
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
                has_decision = DECISION_HEADER in response.headers
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            key = f"exc:{type(exc).__name__}"
            phase.statuses[key] += 1
            phase.error_samples.setdefault(key, repr(exc)[:300])
            continue
        elapsed = time.perf_counter() - t0
        key = str(status)
        phase.statuses[key] += 1
        if has_decision:
            phase.with_decision += 1
        if status == 200:
            phase.latencies_ok.append(elapsed)
        else:
            phase.error_samples.setdefault(key, payload[:300].decode("utf-8", "replace"))


async def phase_done_or_stop(phase_box: list[Phase], phase: Phase, stop: asyncio.Event) -> None:
    while phase_box[0] is phase and not stop.is_set():
        await asyncio.sleep(0.005)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cpu_at_start = _own_cpu()
    customers: list[dict[str, str]] = json.loads(Path(args.customers).read_text())
    if not customers:
        raise SystemExit("no customers")
    url = args.url.rstrip("/") + ORDER_PATH
    phases = [
        Phase("warmup", args.warmup_requests, args.warmup_seconds),
        Phase("measured", args.requests, args.seconds),
    ]
    phase_box = [phases[0]]
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: list[asyncio.Task[None]] = []
        for phase in phases:
            phase_box[0] = phase
            phase.started = time.perf_counter()
            phase.deadline = phase.started + phase.max_seconds
            if not tasks:
                tasks = [
                    asyncio.create_task(
                        worker(i, session, url, customers[i % len(customers)], phase_box, stop)
                    )
                    for i in range(args.concurrency)
                ]
            # The phase ends when its bound is hit and every in-flight request has answered.
            hard_end = phase.deadline + args.timeout + 5
            while time.perf_counter() < hard_end:
                in_flight = phase.issued - sum(phase.statuses.values())
                if in_flight == 0 and (
                    phase.issued >= phase.max_requests or time.perf_counter() >= phase.deadline
                ):
                    break
                await asyncio.sleep(0.002)
            phase.ended = time.perf_counter()
        stop.set()
        await asyncio.wait(tasks, timeout=args.timeout + 5)
        for task in tasks:
            task.cancel()
    return {
        "url": args.url,
        "label": args.label,
        "concurrency": args.concurrency,
        "customers": len(customers),
        "limits": {"requests": args.requests, "seconds": args.seconds},
        "warmup": phases[0].summary(),
        **phases[1].summary(),
        "cpu_seconds": round(_own_cpu() - cpu_at_start, 3),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 3)


def _print_human(result: dict[str, Any], out: Any) -> None:
    lat = result["latency_ms"]
    print(
        f"[{result['label'] or result['url']}] {result['ok']} ok of {result['requests']} in "
        f"{result['seconds']} s: {result['rps']} req/s; p50 {lat['p50']} p90 {lat['p90']} "
        f"p99 {lat['p99']} max {lat['max']} ms; errors {result['errors'] or 'none'}",
        file=out,
    )
    for key, sample in result["error_samples"].items():
        print(f"   {key}: {sample}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="base URL of the gateway or the bare proxy")
    parser.add_argument("--customers", required=True, help="JSON list of {api_key, secret}")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000, help="measured requests (upper bound)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured duration (upper bound)")
    parser.add_argument("--warmup-requests", type=int, default=2_000)
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request timeout, seconds")
    parser.add_argument("--label", default="")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args(argv)
    for name in ("concurrency", "requests", "seconds", "warmup_requests", "timeout"):
        if getattr(args, name) <= 0 and name != "warmup_requests":
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    if args.json:
        print(json.dumps(result))
        _print_human(result, sys.stderr)
    else:
        _print_human(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
