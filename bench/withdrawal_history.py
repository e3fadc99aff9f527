"""Does a withdrawal cost the same as its customer's history grows? (issue 14)

    python bench/withdrawal_history.py                     # 300 in a row, then 64 customers for 30 s
    python bench/withdrawal_history.py --withdrawals 100 --load-seconds 10   # quicker

Starts the stack as bench/run.py does (embedded Postgres in a temp dir, the mock exchange,
`python -m gateway serve`, each on a free 127.0.0.1 port), creates verified Korean
customers through the admin API, then:

1. **one customer, N withdrawals in a row** (default 300), each signed afresh as a real
   client would (bench/loadgen.py's signing). Per withdrawal: the client's latency, and
   from the decision log afterwards the gateway's `decision_micros` and the stored facts'
   size (`octet_length(facts::text)`). Compares the 20th with the Nth, and the median of
   the 11th..30th with that of the last 11, against the target: the Nth costs at most
   1.25 x the 20th.
2. **withdrawals/s across many customers**: 64 customers, 64 workers (one each), bounded by
   a count and a duration (20,000 or 30 s), withdrawals/s per 5-second slice (a decline
   as histories grow would show there) and the decision log's figures per slice; every
   answer other than 200 counted by status.

Each withdrawal is 0.001 BTC (the mock's minimum, ~KRW 84,000 at its seed price) to one
Bitcoin address: under the KRW 1m travel-rule threshold, far under the structuring band
(KRW 9m-10m) and 312 of them (~KRW 26m) stay under the KRW 50m/24 h hold. After five in
24 hours Korea's KoFIU indicators answer allow_and_report (an STR candidate): still
forwarded, still 200. Every loop is bounded in count and time; every process and the temp
dir are cleaned up on exit, error or Ctrl-C (bench/run.py's Stack). Prints a table and
writes bench/results/withdrawal_history.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import run as stackrun
from loadgen import DECISION_HEADER, signed_body
from run import BENCH, ROOT, Services, Stack, create_customers, run_with_stack, start_services

WITHDRAW_PATH = "/sapi/v1/capital/withdraw/apply"
# The mock exchange's minimum BTC withdrawal; see the module docstring for why it stays
# clear of every AML band.
WITHDRAWAL = "coin=BTC&network=BTC&address=bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq&amount=0.001"
TARGET_RATIO = 1.25
# At most this many withdrawals per customer (~KRW 34m): more would near the KRW 50m/24 h
# hold, and a held withdrawal is parked, not measured.
PER_CUSTOMER = 400
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Answer:
    status: str  # the HTTP status, or "exc:<name>"
    seconds: float
    decision_id: str | None
    body: str


async def withdraw(session: aiohttp.ClientSession, url: str, customer: dict[str, str]) -> Answer:
    body = signed_body(customer["secret"].encode(), f"{WITHDRAWAL}&recvWindow=5000")
    headers = {**_FORM, "X-MBX-APIKEY": customer["api_key"]}
    t0 = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            payload = await response.read()
            decision_id = response.headers.get(DECISION_HEADER)
            sample = payload[:300].decode("utf-8", "replace")
            return Answer(str(response.status), time.perf_counter() - t0, decision_id, sample)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Answer(f"exc:{type(exc).__name__}", time.perf_counter() - t0, None, repr(exc)[:300])


async def until_ready(session: aiohttp.ClientSession, url: str, probe: dict[str, str], seconds: float) -> int:
    """The gateway values withdrawals with the exchange's prices, fetched after it starts:
    until it has them it answers 503 (fail closed). A customer of its own probes, so the
    measured customers' histories start empty. Returns the probes sent."""
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        sent += 1
        answer = await withdraw(session, url, probe)
        if answer.status == "200":
            return sent
        await asyncio.sleep(0.5)
    raise RuntimeError(f"no withdrawal allowed within {seconds} s; last answer {answer.status} {answer.body}")


async def decision_rows(dsn: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT id::text AS id, decided_at, outcome, decision_micros,
                      octet_length(facts::text) AS facts_bytes
                 FROM decisions WHERE id = ANY ($1::uuid[])""",
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    return {row["id"]: dict(row) for row in rows}


# --- 1. one customer, N in a row ------------------------------------------------------


async def one_customer(
    session: aiohttp.ClientSession, url: str, dsn: str, customer: dict[str, str], n: int, seconds: float
) -> dict[str, Any]:
    answers: list[Answer] = []
    deadline = time.monotonic() + seconds
    for _ in range(n):
        if time.monotonic() >= deadline:
            break
        answers.append(await withdraw(session, url, customer))
    rows = await decision_rows(dsn, [a.decision_id for a in answers if a.decision_id])
    per: list[dict[str, Any]] = []
    for i, a in enumerate(answers, start=1):
        row = rows.get(a.decision_id or "", {})
        per.append({
            "n": i, "status": a.status, "client_ms": round(a.seconds * 1000, 3),
            "outcome": row.get("outcome"), "decision_ms": _ms(row.get("decision_micros")),
            "facts_bytes": row.get("facts_bytes"),
        })  # fmt: skip
    statuses = Counter(a.status for a in answers)
    errors = {k: v for k, v in statuses.items() if k != "200"}
    samples = {a.status: a.body for a in reversed(answers) if a.status != "200"}
    return {
        "requested": n,
        "sent": len(answers),
        "errors": errors,
        "error_samples": samples,
        "outcomes": dict(Counter(str(p["outcome"]) for p in per)),
        "compare": compare(per) if len(per) >= 30 else None,
        "withdrawals": per,
    }


def _ms(micros: int | None) -> float | None:
    return None if micros is None else micros / 1000


def compare(per: list[dict[str, Any]]) -> dict[str, Any]:
    """The 20th against the last, and (robust to one slow call) the median of the 11th..30th
    against that of the last 11, for each measure."""
    last = len(per)
    early, late = per[10:30], per[-11:]
    out: dict[str, Any] = {"last": last}
    for key in ("decision_ms", "facts_bytes", "client_ms"):
        at20, at_last = per[19][key], per[-1][key]
        med_early = _median(p[key] for p in early)
        med_late = _median(p[key] for p in late)
        # The fastest of each group: on a shared host, other work only ever adds time.
        min_early = min((p[key] for p in early if p[key] is not None), default=None)
        min_late = min((p[key] for p in late if p[key] is not None), default=None)
        out[key] = {
            "20th": at20, f"{last}th": at_last, "ratio": _ratio(at_last, at20),
            "median_11_30": med_early, f"median_{last - 10}_{last}": med_late,
            "median_ratio": _ratio(med_late, med_early), "min_ratio": _ratio(min_late, min_early),
        }  # fmt: skip
    # Every 30 in a row, so a trend shows apart from one noisy stretch.
    out["blocks"] = [_block(per[i : i + 30], i + 1) for i in range(0, last, 30)]
    # The target concerns the gateway's own work and what it stores, not the client's view
    # (which also carries the forward to the exchange and the loopback round trips).
    out["target_met"] = all(
        (out[k]["median_ratio"] or 99) <= TARGET_RATIO for k in ("decision_ms", "facts_bytes")
    )
    return out


def _block(chunk: list[dict[str, Any]], first: int) -> dict[str, Any]:
    times = [p["decision_ms"] for p in chunk if p["decision_ms"] is not None]
    return {
        "from": first, "to": first + len(chunk) - 1, "decision_ms_median": _median(times),
        "decision_ms_min": min(times, default=None),
        "facts_bytes_median": _median(p["facts_bytes"] for p in chunk),
    }  # fmt: skip


def _median(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


# --- 2. many customers, concurrently ----------------------------------------------------


@dataclass
class Load:
    max_requests: int
    deadline: float
    slice_seconds: float
    started: float
    issued: int = 0
    ok_by_slice: Counter[int] = field(default_factory=Counter)
    latencies_by_slice: dict[int, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    decision_ids: list[str] = field(default_factory=list)

    def claim(self) -> bool:
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return False
        self.issued += 1
        return True

    def record(self, answer: Answer) -> None:
        self.statuses[answer.status] += 1
        if answer.decision_id:
            self.decision_ids.append(answer.decision_id)
        if answer.status != "200":
            self.samples.setdefault(answer.status, answer.body)
            return
        at = int((time.perf_counter() - self.started) // self.slice_seconds)
        self.ok_by_slice[at] += 1
        self.latencies_by_slice.setdefault(at, []).append(answer.seconds)


async def load_worker(session: aiohttp.ClientSession, url: str, customer: dict[str, str], load: Load) -> None:
    for _ in range(PER_CUSTOMER):
        if not load.claim():
            return
        load.record(await withdraw(session, url, customer))


async def many_customers(
    url: str, dsn: str, customers: list[dict[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started, started_at = time.perf_counter(), dt.datetime.now(dt.UTC)
        load = Load(args.load_requests, started + args.load_seconds, args.slice_seconds, started)
        workers = [
            asyncio.create_task(load_worker(session, url, customers[i % len(customers)], load))
            for i in range(args.concurrency)
        ]
        # Each worker stops claiming at the deadline; its last call is bounded by the timeout.
        await asyncio.wait(workers, timeout=args.load_seconds + args.timeout + 5)
        for task in workers:
            task.cancel()
        ended = time.perf_counter()
    elapsed = ended - started
    rows = await decision_rows(dsn, load.decision_ids)
    db_by_slice: dict[int, list[dict[str, Any]]] = {}
    for row in rows.values():
        at = max(0, int((row["decided_at"] - started_at).total_seconds() // args.slice_seconds))
        db_by_slice.setdefault(at, []).append(row)
    slices = []
    for at in range(int(elapsed // args.slice_seconds) + 1):
        lat = sorted(load.latencies_by_slice.get(at, []))
        db = db_by_slice.get(at, [])
        span = min(args.slice_seconds, elapsed - at * args.slice_seconds)
        if span <= 0.5 and not lat:
            continue
        slices.append({
            "from_s": at * args.slice_seconds, "seconds": round(span, 2), "ok": len(lat),
            "withdrawals_per_s": round(len(lat) / span, 1) if span > 0 else None,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000, 2) if lat else None,
            "decision_ms_median": _median(_ms(r["decision_micros"]) for r in db),
            "facts_bytes_median": _median(r["facts_bytes"] for r in db),
        })  # fmt: skip
    ok = load.statuses.get("200", 0)
    return {
        "customers": len(customers),
        "concurrency": args.concurrency,
        "limits": {"requests": args.load_requests, "seconds": args.load_seconds},
        "sent": load.issued,
        "ok": ok,
        "seconds": round(elapsed, 2),
        "withdrawals_per_s": round(ok / elapsed, 1) if elapsed else None,
        "history_per_customer_at_end": round(load.issued / len(customers), 1),
        "errors": {k: v for k, v in sorted(load.statuses.items()) if k != "200"},
        "error_samples": load.samples,
        "outcomes": dict(Counter(str(r["outcome"]) for r in rows.values())),
        "slices": slices,
    }


# --- the run ------------------------------------------------------------------------------


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


async def measure(
    services: Services, customers: list[dict[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    url = services.gateway_url + WITHDRAW_PATH
    probe, single, crowd = customers[0], customers[1], customers[2:]
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        probes = await until_ready(session, url, probe, 60.0)
        print(f"1. one customer, {args.withdrawals} withdrawals in a row ...", file=sys.stderr)
        first = await one_customer(session, url, services.dsn, single, args.withdrawals, args.single_seconds)
    print(f"2. {len(crowd)} customers, {args.concurrency} workers, up to {args.load_requests} "
          f"withdrawals or {args.load_seconds} s ...", file=sys.stderr)  # fmt: skip
    second = await many_customers(url, services.dsn, crowd, args) if crowd else None
    return {"probes": probes, "one_customer": first, "many_customers": second}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--withdrawals", type=int, default=300, help="1: withdrawals in a row (>= 30)")
    parser.add_argument("--single-seconds", type=float, default=300.0, help="1: time bound")
    parser.add_argument("--customers", type=int, default=64, help="2: customers (0 skips part 2)")
    parser.add_argument("--concurrency", type=int, default=64, help="2: workers")
    parser.add_argument("--load-requests", type=int, default=20_000, help="2: withdrawals (bound)")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="2: seconds (bound)")
    parser.add_argument("--slice-seconds", type=float, default=5.0, help="2: reporting slice")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request timeout, seconds")
    parser.add_argument("--db-pool-size", type=int, default=None, help="GATEWAY_DB_POOL_SIZE")
    parser.add_argument("--source", type=Path, default=None, help="run gateway/exchange from this tree")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "withdrawal_history.json")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, pgdata)")
    args = parser.parse_args(argv)
    if args.withdrawals < 30 or args.customers < 0 or args.concurrency < 1 or args.slice_seconds <= 0:
        raise SystemExit("--withdrawals >= 30, --customers >= 0, --concurrency >= 1, --slice-seconds > 0")
    if args.withdrawals > PER_CUSTOMER:
        raise SystemExit(f"--withdrawals: at most {PER_CUSTOMER} (the KRW 50m/24 h hold)")
    if args.source is not None:
        stackrun.SOURCE = args.source.resolve()
        if not (stackrun.SOURCE / "gateway" / "__main__.py").exists():
            raise SystemExit(f"--source {stackrun.SOURCE}: no gateway package there")

    def body(stack: Stack, workdir: Path) -> int:
        started_at = dt.datetime.now(dt.UTC)
        load_before = loadavg()
        services = start_services(stack, workdir, args.db_pool_size)
        print(f"creating {args.customers + 2} customers ...", file=sys.stderr)
        customers = create_customers(services, args.customers + 2)
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(measure(services, customers, args))
        else:
            result = uvloop.run(measure(services, customers, args))
        stack.check_alive()
        report = {
            "date": started_at.isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, "bench/withdrawal_history.py", *sys.argv[1:]]),
            "commit": _commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "platform": platform.platform(),
            "loadavg": {"before": load_before, "after": loadavg()},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "target_ratio": TARGET_RATIO,
            **result,
        }
        print_report(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nwrote {args.output}")
        compared = report["one_customer"]["compare"]
        return 0 if compared and compared["target_met"] else 2

    return run_with_stack(body, args.keep)


def _commit() -> str | None:
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (ROOT / ".git" / ref[5:]).read_text().strip()[:10]
        return ref[:10]
    except OSError:
        return None


_SLICE_COLUMNS = (("withdrawals_per_s", 8), ("p50_ms", 9), ("p99_ms", 9), ("decision_ms_median", 13),
                  ("facts_bytes_median", 9))  # fmt: skip


def print_report(report: dict[str, Any]) -> None:
    first = report["one_customer"]
    cmp = first["compare"]
    print(f"\n1. one customer: {first['sent']} withdrawals in a row; outcomes {first['outcomes']}; "
          f"errors {first['errors'] or 0}")  # fmt: skip
    for status, sample in first["error_samples"].items():
        print(f"   {status}: {sample}")
    if cmp:
        last = cmp["last"]
        head = (f"{'measure':<14}{'20th':>10}{f'{last}th':>10}{'ratio':>8}"
                f"{'med 11-30':>11}{f'med {last - 10}-{last}':>13}{'ratio':>8}")  # fmt: skip
        print(head + "\n" + "-" * len(head))
        for key in ("decision_ms", "facts_bytes", "client_ms"):
            m = cmp[key]
            late = m[f"median_{last - 10}_{last}"]
            print(f"{key:<14}{m['20th']:>10}{m[f'{last}th']:>10}{m['ratio']:>8}"
                  f"{m['median_11_30']:>11}{late:>13}{m['median_ratio']:>8}")  # fmt: skip
        print(
            "(min ratio, fastest of the last 11 / of the 11th-30th: "
            f"decision_ms {cmp['decision_ms']['min_ratio']}, client_ms {cmp['client_ms']['min_ratio']})"
        )
        print(f"\n{'withdrawals':<14}{'decision ms median':>20}{'decision ms min':>17}{'facts B median':>16}")
        for b in cmp["blocks"]:
            print(f"{b['from']:>5} - {b['to']:<6}{b['decision_ms_median']:>20}{b['decision_ms_min']:>17}"
                  f"{b['facts_bytes_median']:>16}")  # fmt: skip
        verdict = "met" if cmp["target_met"] else "NOT met"
        print(f"target: the last costs <= {report['target_ratio']} x the 20th (decision time and facts "
              f"bytes, medians): {verdict}")  # fmt: skip
    crowd = report["many_customers"]
    if crowd:
        print(f"\n2. {crowd['customers']} customers, {crowd['concurrency']} workers: {crowd['ok']} of "
              f"{crowd['sent']} withdrawals answered 200 in {crowd['seconds']} s = "
              f"{crowd['withdrawals_per_s']}/s; ~{crowd['history_per_customer_at_end']} per customer; "
              f"outcomes {crowd['outcomes']}; errors {crowd['errors'] or 0}")  # fmt: skip
        for status, sample in crowd["error_samples"].items():
            print(f"   {status}: {sample}")
        head = (f"{'from s':>7}{'ok':>7}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}"
                f"{'decision ms':>13}{'facts B':>9}")  # fmt: skip
        print(head + "\n" + "-" * len(head))
        for s in crowd["slices"]:
            cells = "".join(f"{'-' if s[key] is None else s[key]:>{width}}" for key, width in _SLICE_COLUMNS)
            print(f"{s['from_s']:>7.0f}{s['ok']:>7}{cells}")
    print(f"\nload average before {report['loadavg']['before']}; after {report['loadavg']['after']}")


if __name__ == "__main__":
    sys.exit(main())
