"""The honest comparison: wrk as the load, equal worker counts, CPU per request per process group.

    python bench/honest.py                       # 2 workers a side, 2 rounds of 10 s (~4 min)
    python bench/honest.py --workers 1 --rounds 3 --seconds 15

Starts the stack as bench/run.py does (its `start_services`, `create_customers` and
cleanup), with GATEWAY_WORKERS=N for the gateway and N bare proxies sharing one port
(bench/bare_proxy.py --reuse-port). How many gateway processes and listening sockets
really ran is read from /proc and reported, whatever GATEWAY_WORKERS did.

The load is wrk (Debian's package; installed with apt-get when absent and run as root)
with bench/wrk/pool.lua: requests are signed here in Python before each run, each distinct
(the gateway refuses a byte-identical signed call), and the Lua script only hands them out,
so wrk's own CPU stays small; it is measured and reported. Then, in one run:

1. unloaded latency: one connection, `--probe-requests` in a row, bare then gateway;
   added latency at p50 and p99;
2. orders: bare, gateway, bare, gateway ... (`--rounds`), each a warm-up and a measured
   run bounded in time (`--seconds`) and connections (`--connections`); 2xx answers/s,
   CPU µs per 2xx answer and cores used per process group (gateway or bare, exchange,
   Postgres, wrk) from /proc/<pid>/stat; per gateway round the durability check: decision
   rows added == answers carrying X-Decision-Id, and allowed rows == 2xx answers ==
   the exchange's 2xx receipts for the path (its /ops/requests log, read while the run
   goes);
3. account reads (signed GET /api/v3/account), interleaved the same way;
4. withdrawals across 64 customers, back-to-back slices against the gateway (does the
   rate hold as histories grow?), each with the durability check.

Prints a table, writes bench/results/honest.json. Every loop is bounded in count and time;
everything listens on 127.0.0.1; every process is stopped on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import run as stackrun
from loadgen import ORDER_PATH, ORDERS
from run import (
    BENCH,
    Services,
    Stack,
    create_customers,
    db_counts,
    free_port,
    machine_snapshot,
    machine_usage,
    run_with_stack,
    start_services,
    wait_http,
)
from withdrawal_history import PER_CUSTOMER, WITHDRAW_PATH, WITHDRAWAL, until_ready

LUA = BENCH / "wrk" / "pool.lua"
ACCOUNT_PATH = "/api/v3/account"
TARGETS = {
    "orders_ratio": 0.6,
    "orders_ratio_aim": 0.7,
    "added_p50_ms": 0.5,
    "added_p99_ms": 2.0,
    "accounts_ratio": 0.6,
    "withdrawals_per_s": 600.0,
    "wrk_cores": 0.1,
}
# A slice counts as "flat" when the last slice keeps this share of the first one's rate.
FLAT_SHARE = 0.85
_TICKS = os.sysconf("SC_CLK_TCK")


# --- wrk ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: running `apt-get install -y wrk` (Debian's package)", file=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "wrk"],
            check=False,
            timeout=600,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is needed: install Debian's package (apt-get install wrk) and rerun")


def sign(secret: str, params: str) -> str:
    signature = hmac.new(secret.encode(), params.encode(), hashlib.sha256).hexdigest()
    return f"{params}&signature={signature}"


@dataclass
class Pools:
    """Writes request pools for wrk: every line a distinct, freshly timestamped signed call."""

    workdir: Path
    recv_window_ms: int
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    seq: int = 0
    withdrawn: dict[str, int] = field(default_factory=dict)

    def _write(self, name: str, lines: Iterable[str]) -> Path:
        path = self.workdir / f"pool-{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def orders(self, customers: list[dict[str, str]], count: int) -> Path:
        now, n, rw = time.time_ns() // 1_000_000, len(customers), self.recv_window_ms
        lines = []
        for i in range(count):
            c, k = customers[i % n], i // n
            # Each customer alternates BUY and SELL of one small lot, so balances never drain.
            symbol, qty = ORDERS[(k // 2) % len(ORDERS)]
            side = "BUY" if k % 2 == 0 else "SELL"
            self.seq += 1
            params = (
                f"symbol={symbol}&side={side}&type=MARKET&quantity={qty}"
                f"&newClientOrderId=h{self.tag}{self.seq}&recvWindow={rw}&timestamp={now}"
            )
            lines.append(f"POST {ORDER_PATH} {c['api_key']} {sign(c['secret'], params)}")
        return self._write("orders", lines)

    def accounts(self, customers: list[dict[str, str]], count: int) -> Path:
        now, n = time.time_ns() // 1_000_000, len(customers)
        lines = []
        for i in range(count):
            c = customers[i % n]
            query = sign(c["secret"], f"recvWindow={self.recv_window_ms}&timestamp={now - (i // n) % 1000}")
            lines.append(f"GET {ACCOUNT_PATH}?{query} {c['api_key']}")
        return self._write("accounts", lines)

    def withdrawals(self, customers: list[dict[str, str]], count: int) -> Path:
        """At most PER_CUSTOMER per customer over the whole run (the KRW 50m/24 h hold); a
        customer's calls in one pool differ by their timestamps, 1 ms apart."""
        now, lines = time.time_ns() // 1_000_000, []
        for i in range(count):
            c = customers[i % len(customers)]
            used = self.withdrawn.get(c["api_key"], 0)
            if used >= PER_CUSTOMER:
                break
            self.withdrawn[c["api_key"]] = used + 1
            params = f"{WITHDRAWAL}&recvWindow={self.recv_window_ms}&timestamp={now - i // len(customers)}"
            lines.append(f"POST {WITHDRAW_PATH} {c['api_key']} {sign(c['secret'], params)}")
        if not lines:
            raise RuntimeError(f"every customer has withdrawn {PER_CUSTOMER} times: use fewer slices")
        return self._write("withdrawals", lines)


def run_wrk(wrk: str, url: str, pool: Path, connections: int, threads: int, seconds: float) -> dict[str, Any]:
    """One wrk run; its own CPU from wait4's rusage. Bounded: -d is `seconds` plus a grace in
    which the calls still in flight answer (the script stops sending at `seconds`)."""
    grace = 8
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(seconds + grace)}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(pool),
        str(threads),
        str(seconds),
    ]
    out_path = pool.with_suffix(".out")
    with out_path.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds + grace + 60
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("HONEST_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{text[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("HONEST_JSON "))
    result["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["pool"] = sum(1 for _ in pool.open())
    window = result["window_us"] / 1e6
    result["rps"] = round(result["ok2xx"] / window, 1) if window > 0 else 0.0
    result["pool_exhausted"] = result["sent"] >= result["pool"]
    return result


# --- process groups from /proc -------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(roots: Iterable[int]) -> list[int]:
    """The roots and all their live descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    out: list[int] = []
    todo = list(roots)
    while todo and len(out) < 10_000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu(roots: Iterable[int]) -> float:
    """CPU seconds of a process tree: utime+stime of each live process, plus cutime+cstime
    (its exited, reaped children)."""
    total = 0
    for pid in process_tree(roots):
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / _TICKS


def listening_sockets(port: int) -> int:
    """LISTEN sockets on the port: with SO_REUSEPORT each worker holds its own."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def wait_listening(port: int, want: int, seconds: float) -> int:
    end = time.monotonic() + seconds
    while listening_sockets(port) < want and time.monotonic() < end:
        time.sleep(0.1)
    return listening_sockets(port)


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120].strip()
    return ""


@dataclass
class Groups:
    """The root pids of each process group whose CPU is measured."""

    roots: dict[str, list[int]]

    def snapshot(self) -> dict[str, float]:
        return {name: tree_cpu(pids) for name, pids in self.roots.items()}


def postmaster_pid(stack: Stack) -> int:
    assert stack.postgres is not None
    return int((stack.postgres.data_dir / "postmaster.pid").read_text().split()[0])


# --- the exchange's receipts --------------------------------------------------------------


class Receipts:
    """Counts the exchange's 2xx answers on one path, reading its bounded request log
    (/ops/requests) every 0.25 s while a run goes, so the ring never wraps unseen; a gap
    in its sequence numbers is reported, not guessed over."""

    def __init__(self, services: Services, path: str) -> None:
        self.base, self.token, self.path = services.exchange_url, services.service_token, path
        self.count, self.gap = 0, False
        self._stop = threading.Event()
        self.last = int(self._get("/ops/stats")["requests_total"])
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.base + path, headers={"X-Gateway-Token": self.token})
        with urllib.request.urlopen(request, timeout=5) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def _poll(self) -> None:
        for _ in range(100):  # bounded: 10,000 entries a page
            rows = self._get(f"/ops/requests?since={self.last}&limit=10000")["requests"]
            for row in rows:
                self.gap |= row["seq"] != self.last + 1
                self.last = row["seq"]
                if row["path"] == self.path and 200 <= row["status"] < 300:
                    self.count += 1
            if len(rows) < 10_000:
                return

    def _loop(self) -> None:
        for _ in range(100_000):  # ~7 hours at most; stop() ends it
            if self._stop.wait(0.25):
                return
            self._poll()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(10)
        self._poll()
        return self.count


# --- one measured run ---------------------------------------------------------------------


def measured(
    wrk: str, url: str, pool: Path, conns: int, args: argparse.Namespace, groups: Groups, seconds: float
) -> dict[str, Any]:
    cpu_before, machine_before, t0 = groups.snapshot(), machine_snapshot(), time.perf_counter()
    result = run_wrk(wrk, url, pool, conns, args.threads, seconds)
    cpu_after, machine_after = groups.snapshot(), machine_snapshot()
    wall = time.perf_counter() - t0
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    cpu["wrk"] = result.pop("wrk_cpu_s")
    ok = max(result["ok2xx"], 1)
    # Cores over the answering window (the run's grace after the last answer is idle).
    busy = result["window_us"] / 1e6 or wall
    result["cores"] = {k: round(v / busy, 3) for k, v in cpu.items()}
    result["cpu_us_per_2xx"] = {k: round(v / ok * 1e6, 1) for k, v in cpu.items()}
    # The whole machine from /proc/stat, over the whole wrk run: its start and the idle
    # grace after the last answer included, so "busy" reads lower than the groups' cores.
    result["machine_cores"] = machine_usage(machine_before, machine_after, wall)
    result["machine_wall_s"] = round(wall, 2)
    return result


def durable(
    services: Services, path: str, run: Callable[[], list[dict[str, Any]]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`run()` -> a list of wrk results; around it, the decision log and the exchange's
    receipts; the check that every answer is a logged decision and every 2xx reached it."""
    before = db_counts(services.dsn)
    receipts = Receipts(services, path)
    try:
        results = run()
    finally:
        time.sleep(0.5)  # the exchange's log and the last batch settle
        got = receipts.stop()
    after = db_counts(services.dsn)
    ok2xx = sum(r["ok2xx"] for r in results)
    check = {
        "decision_rows": after["decisions"] - before["decisions"],
        "allowed_rows": after["allowed"] - before["allowed"],
        "answers_with_decision_id": sum(r["with_decision_id"] for r in results),
        "answers_2xx": ok2xx,
        "exchange_receipts_2xx": got,
        "sent": sum(r["sent"] for r in results),
        "answered": sum(r["answered"] for r in results),
        "receipt_log_gap": receipts.gap,
    }
    check["holds"] = (
        check["decision_rows"] == check["answers_with_decision_id"]
        and check["allowed_rows"] == ok2xx == got
        and check["sent"] == check["answered"]
        and not receipts.gap
    )
    return results, check


# --- the run ------------------------------------------------------------------------------


COMMIT_PROBES = 300


async def _commit_floor(dsn: str, probes: int) -> dict[str, Any]:
    """What one durable commit of one small row costs on this machine's Postgres, with
    nothing else to do: the floor under the gateway's added latency, since every decided
    call waits for its decision's commit (an fsync of the WAL) and the bare proxy waits
    for none. A table of its own, dropped after."""
    conn = await asyncpg.connect(dsn)
    try:
        settings = {name: await conn.fetchval(f"SHOW {name}") for name in ("fsync", "synchronous_commit")}
        await conn.execute("CREATE TABLE bench_commit_floor (n bigint PRIMARY KEY, at timestamptz)")
        times = []
        for n in range(probes):
            t0 = time.perf_counter()
            await conn.execute("INSERT INTO bench_commit_floor VALUES ($1, now())", n)
            times.append(time.perf_counter() - t0)
        await conn.execute("DROP TABLE bench_commit_floor")
    finally:
        await conn.close()
    times.sort()
    return {
        "p50_ms": round(times[len(times) // 2] * 1000, 3),
        "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3),
        "settings": settings,
    }


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def start_bare(stack: Stack, services: Services, workdir: Path, keys: Path, n: int) -> tuple[str, int]:
    port, py = free_port(), sys.executable
    for w in range(n):
        proc = stack.spawn(
            f"bare_proxy_{w}",
            [
                py,
                str(BENCH / "bare_proxy.py"),
                "--port",
                str(port),
                "--upstream",
                services.exchange_url,
                f"--token={services.service_token}",
                "--keys",
                str(keys),
                "--client",
                "aiohttp",
                "--reuse-port",
            ],
        )
        if wait_listening(port, w + 1, 30) < w + 1:
            raise RuntimeError(f"bare proxy {w} did not listen:\n{stack.tail(f'bare_proxy_{w}')}")
        wait_http(f"http://127.0.0.1:{port}/api/v3/ping", proc, f"bare proxy {w}")
    return f"http://127.0.0.1:{port}", port


def _body(args: argparse.Namespace, wrk: str, stack: Stack, workdir: Path) -> int:
    started, load_before = dt.datetime.now(dt.UTC), loadavg()
    os.environ["GATEWAY_WORKERS"] = str(args.workers)  # start_services passes os.environ on
    services = start_services(stack, workdir, args.db_pool_size)
    gw_port = int(services.gateway_url.rsplit(":", 1)[1])
    gw_listen = wait_listening(gw_port, args.workers, 20)
    people = create_customers(services, args.customers + args.withdrawal_customers + 1)
    traders, crowd, probe = people[: args.customers], people[args.customers : -1], people[-1]
    keys = workdir / "keys.json"
    keys.write_text(json.dumps({c["api_key"]: c["customer_id"] for c in people}))
    bare_url, _ = start_bare(stack, services, workdir, keys, args.workers)
    gw_pids = process_tree([services.gateway.pid])
    bare_roots = [p.pid for name, p in stack.procs.items() if name.startswith("bare_proxy_")]
    ran = {
        "workers_asked": args.workers,
        "gateway_processes": len(gw_pids),
        "gateway_listening_sockets": gw_listen,
        "gateway_cmdlines": [cmdline(p) for p in gw_pids],
        "bare_processes": len(process_tree(bare_roots)),
    }
    print(f"ran: {ran}", file=sys.stderr)
    groups = Groups(
        {
            "gateway": [services.gateway.pid],
            "bare": bare_roots,
            "exchange": [stack.procs["exchange"].pid],
            "postgres": [postmaster_pid(stack)],
        }
    )
    longest = max(args.seconds, args.probe_seconds, args.slice_seconds) + args.warmup_seconds
    pools = Pools(workdir, min(60_000, int((longest + 15) * 1000)))

    async def ready() -> int:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            return await until_ready(session, services.gateway_url + WITHDRAW_PATH, probe, 60.0)

    asyncio.run(ready())
    sides = {"bare": bare_url, "gateway": services.gateway_url}

    # 1. unloaded latency, and the floor one durable commit puts under it
    print("durable commit floor ...", file=sys.stderr)
    floor = asyncio.run(_commit_floor(services.dsn, COMMIT_PROBES))
    unloaded: dict[str, Any] = {}
    for side, url in sides.items():
        print(f"unloaded latency: {side} ...", file=sys.stderr)
        run_wrk(wrk, url, pools.orders(traders, args.probe_requests // 10 + 1), 1, 1, args.warmup_seconds)
        pool = pools.orders(traders, args.probe_requests)
        unloaded[side] = measured(wrk, url, pool, 1, args, groups, args.probe_seconds)
        # A count-bounded run: a used-up pool is its end, not a ceiling on the rate.
        unloaded[side].pop("pool_exhausted")

    # 2./3. orders and account reads, interleaved
    def interleaved(kind: str) -> list[dict[str, Any]]:
        rounds = []
        for r in range(1, args.rounds + 1):
            entry: dict[str, Any] = {"round": r}
            for side, url in sides.items():
                print(f"{kind} round {r}/{args.rounds}: {side} ...", file=sys.stderr)
                make = pools.orders if kind == "orders" else pools.accounts

                def both(url: str = url, make: Any = make) -> list[dict[str, Any]]:
                    warm = run_wrk(
                        wrk,
                        url,
                        make(traders, int(args.max_rate * args.warmup_seconds)),
                        args.connections,
                        args.threads,
                        args.warmup_seconds,
                    )
                    pool = make(traders, int(args.max_rate * args.seconds))
                    return [warm, measured(wrk, url, pool, args.connections, args, groups, args.seconds)]

                if side == "gateway" and kind == "orders":
                    (warm, main), check = durable(services, ORDER_PATH, both)
                    main["durability"] = check
                else:
                    warm, main = both()
                main["warmup"] = {k: warm[k] for k in ("ok2xx", "non2xx", "rps", "samples")}
                entry[side] = main
            entry["ratio"] = (
                round(entry["gateway"]["rps"] / entry["bare"]["rps"], 3) if entry["bare"]["rps"] else 0
            )
            rounds.append(entry)
        return rounds

    orders = interleaved("orders")
    accounts = interleaved("accounts")

    # 4. withdrawals across the crowd, slice after slice
    slices = []
    for s in range(1, args.withdrawal_slices + 1):
        print(f"withdrawals slice {s}/{args.withdrawal_slices} ...", file=sys.stderr)
        pool = pools.withdrawals(crowd, int(args.max_withdrawal_rate * args.slice_seconds))

        def one(pool: Path = pool) -> list[dict[str, Any]]:
            conns = min(args.connections, len(crowd))
            return [measured(wrk, services.gateway_url, pool, conns, args, groups, args.slice_seconds)]

        (result,), check = durable(services, WITHDRAW_PATH, one)
        result["durability"] = check
        slices.append(result)

    report = summarise(args, started, load_before, ran, unloaded, orders, accounts, slices)
    report["unloaded"]["commit_floor"] = floor
    print_report(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0 if report["checks"]["durability_holds"] else 2


def summarise(
    args: argparse.Namespace,
    started: dt.datetime,
    load_before: str,
    ran: dict[str, Any],
    unloaded: dict[str, Any],
    orders: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    slices: list[dict[str, Any]],
) -> dict[str, Any]:
    lat = {side: unloaded[side]["latency_us"] for side in unloaded}
    added = {p: round((lat["gateway"][p] - lat["bare"][p]) / 1000, 3) for p in ("p50", "p99")}
    order_ratio = statistics.median(r["ratio"] for r in orders)
    account_ratio = statistics.median(r["ratio"] for r in accounts)
    w_rates = [s["rps"] for s in slices]
    w_rate = statistics.median(w_rates) if w_rates else 0.0
    every = [*(r[side] for r in orders + accounts for side in ("bare", "gateway")), *slices]
    wrk_cores = max(x["cores"]["wrk"] for x in every)
    checks = [r["gateway"]["durability"] for r in orders] + [s["durability"] for s in slices]
    cpus = os.cpu_count() or 1
    return {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/honest.py", *sys.argv[1:]]),
        "machine": {
            "cpus": cpus,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "ran": ran,
        "unloaded": {**unloaded, "added_ms": added},
        "orders": orders,
        "accounts": accounts,
        "withdrawal_slices": slices,
        "summary": {
            "orders_ratio_median": order_ratio,
            "accounts_ratio_median": account_ratio,
            "added_ms": added,
            "withdrawals_per_s_median": w_rate,
            "withdrawals_last_over_first": round(w_rates[-1] / w_rates[0], 3)
            if w_rates and w_rates[0]
            else None,
            "wrk_cores_max": wrk_cores,
            "withdrawal_budget_us": withdrawal_budget(slices, cpus),
        },
        "targets": {
            **TARGETS,
            "orders_ratio_met": order_ratio >= TARGETS["orders_ratio"],
            "added_p50_met": added["p50"] <= TARGETS["added_p50_ms"],
            "added_p99_met": added["p99"] <= TARGETS["added_p99_ms"],
            "accounts_ratio_met": account_ratio >= TARGETS["accounts_ratio"],
            "withdrawals_met": w_rate >= TARGETS["withdrawals_per_s"],
            "withdrawals_flat": bool(w_rates) and w_rates[-1] >= FLAT_SHARE * w_rates[0],
            "wrk_small": wrk_cores <= TARGETS["wrk_cores"],
        },
        "checks": {"durability_holds": all(c["holds"] for c in checks)},
    }


def withdrawal_budget(slices: list[dict[str, Any]], cpus: int) -> dict[str, int] | None:
    """What the withdrawal target leaves the gateway on this machine. At the target rate every
    process shares the `cpus` cores, so one withdrawal may cost them all together at most
    cpus / rate; what the exchange, Postgres and wrk were measured to take of that is not the
    gateway's to cut. A negative `left_for_gateway_us`: the target is out of reach here
    whatever the gateway does."""
    if not slices:
        return None

    def median_us(process: str) -> float:
        return float(statistics.median(s["cpu_us_per_2xx"][process] for s in slices))

    budget = cpus * 1e6 / TARGETS["withdrawals_per_s"]
    others = median_us("exchange") + median_us("postgres") + median_us("wrk")
    return {
        "budget_us": round(budget),
        "others_us": round(others),
        "left_for_gateway_us": round(budget - others),
        "gateway_us": round(median_us("gateway")),
    }


def _row(name: str, r: dict[str, Any]) -> str:
    lat = r["latency_us"]
    cpu = "  ".join(f"{k} {v:.0f}" for k, v in r["cpu_us_per_2xx"].items() if v >= 0.5)
    cores = " ".join(f"{k} {v:.2f}" for k, v in r["cores"].items() if v >= 0.005)
    errors = r["non2xx"] + sum(r["socket_errors"].values())
    flag = " POOL EXHAUSTED" if r.get("pool_exhausted") else ""
    return (
        f"{name:<16}{r['ok2xx']:>8}{r['rps']:>9.1f}{lat['p50'] / 1000:>8.2f}{lat['p99'] / 1000:>8.2f}"
        f"{errors:>6}  cpu µs/2xx: {cpu}  | cores: {cores}{flag}"
    )


def print_report(report: dict[str, Any]) -> None:
    ran, s, t = report["ran"], report["summary"], report["targets"]
    print(
        f"\nworkers asked {ran['workers_asked']}: gateway {ran['gateway_processes']} processes, "
        f"{ran['gateway_listening_sockets']} listening sockets; bare {ran['bare_processes']} processes"
    )
    print(f"\n{'run':<16}{'2xx':>8}{'per s':>9}{'p50 ms':>8}{'p99 ms':>8}{'err':>6}")
    for side in ("bare", "gateway"):
        print(_row(f"unloaded {side}", report["unloaded"][side]))
    for kind in ("orders", "accounts"):
        for entry in report[kind]:
            for side in ("bare", "gateway"):
                print(_row(f"{kind[:5]} {side[:4]} r{entry['round']}", entry[side]))
    for i, sl in enumerate(report["withdrawal_slices"], 1):
        print(_row(f"withdraw s{i}", sl))
    print(
        "\ndurability (decision rows / with X-Decision-Id / allowed / 2xx / exchange receipts;"
        " sent/answered):"
    )
    checks = [(f"orders r{e['round']}", e["gateway"]["durability"]) for e in report["orders"]]
    checks += [(f"withdraw s{i}", sl["durability"]) for i, sl in enumerate(report["withdrawal_slices"], 1)]
    for name, c in checks:
        print(
            f"  {name:<12}{c['decision_rows']} / {c['answers_with_decision_id']} / {c['allowed_rows']} / "
            f"{c['answers_2xx']} / {c['exchange_receipts_2xx']}; {c['sent']}/{c['answered']}: "
            f"{'OK' if c['holds'] else 'MISMATCH'}"
        )
    print(
        f"\norders gateway ÷ bare (median of rounds {[e['ratio'] for e in report['orders']]}): "
        f"{s['orders_ratio_median']:.3f} (target ≥ {t['orders_ratio']}, aim {t['orders_ratio_aim']}: "
        f"{'met' if t['orders_ratio_met'] else 'NOT met'})"
    )
    print(
        f"unloaded added latency p50 {s['added_ms']['p50']:.3f} ms (≤ {t['added_p50_ms']}: "
        f"{'met' if t['added_p50_met'] else 'NOT met'}), p99 {s['added_ms']['p99']:.3f} ms "
        f"(≤ {t['added_p99_ms']}: {'met' if t['added_p99_met'] else 'NOT met'})"
    )
    floor = report["unloaded"].get("commit_floor")
    if floor:
        print(
            f"  (one durable single-row commit on this Postgres, nothing else running: p50 "
            f"{floor['p50_ms']:.3f} ms, p99 {floor['p99_ms']:.3f} ms; every decided call waits for one)"
        )
    print(
        f"account reads gateway ÷ bare: {s['accounts_ratio_median']:.3f} (≥ {t['accounts_ratio']}: "
        f"{'met' if t['accounts_ratio_met'] else 'NOT met'})"
    )
    print(
        f"withdrawals/s across customers: {s['withdrawals_per_s_median']:.1f} "
        f"(≥ {t['withdrawals_per_s']:.0f}: "
        f"{'met' if t['withdrawals_met'] else 'NOT met'}); last slice ÷ first "
        f"{s['withdrawals_last_over_first']} ({'flat' if t['withdrawals_flat'] else 'NOT flat'})"
    )
    budget = s.get("withdrawal_budget_us")
    if budget:
        print(
            f"  (at {t['withdrawals_per_s']:.0f}/s on {report['machine']['cpus']} cores a withdrawal may "
            f"cost {budget['budget_us']} µs of CPU in all; the exchange, Postgres and wrk took "
            f"{budget['others_us']}, leaving {budget['left_for_gateway_us']} µs for the gateway, "
            f"which used {budget['gateway_us']})"
        )
    print(
        f"wrk's own CPU: at most {s['wrk_cores_max']:.3f} of a core (≤ {t['wrk_cores']}: "
        f"{'met' if t['wrk_small'] else 'NOT met'})"
    )
    m = report["machine"]
    print(f"load average before {m['loadavg_before']}; after {m['loadavg_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="gateway workers = bare proxy processes")
    parser.add_argument("--rounds", type=int, default=2, help="bare/gateway alternations per kind")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (bound)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (bound)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--customers", type=int, default=8, help="order and account-read customers")
    parser.add_argument(
        "--max-rate",
        type=int,
        default=10_000,
        help="pool size per second of a run: the most requests/s a run can show",
    )
    parser.add_argument("--probe-requests", type=int, default=2_000, help="unloaded: requests in a row")
    parser.add_argument("--probe-seconds", type=float, default=20.0, help="unloaded: time bound")
    parser.add_argument("--withdrawal-customers", type=int, default=64)
    parser.add_argument("--withdrawal-slices", type=int, default=3)
    parser.add_argument("--slice-seconds", type=float, default=5.0)
    parser.add_argument("--max-withdrawal-rate", type=int, default=1_500, help="withdrawal pool per second")
    parser.add_argument("--db-pool-size", type=int, default=None, help="GATEWAY_DB_POOL_SIZE")
    parser.add_argument("--source", type=Path, default=None, help="run gateway/exchange from this tree")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "honest.json")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, pgdata, pools)")
    args = parser.parse_args(argv)
    positive = (
        "workers",
        "rounds",
        "seconds",
        "warmup_seconds",
        "connections",
        "threads",
        "customers",
        "max_rate",
        "probe_requests",
        "probe_seconds",
        "withdrawal_customers",
        "withdrawal_slices",
        "slice_seconds",
        "max_withdrawal_rate",
    )
    if any(getattr(args, name) <= 0 for name in positive):
        raise SystemExit("every count and duration must be positive")
    if max(args.seconds, args.probe_seconds, args.slice_seconds) > 40:
        raise SystemExit("a run lasts at most 40 s: its pool is signed before it, within one recvWindow")
    if args.source is not None:
        stackrun.SOURCE = args.source.resolve()
        if not (stackrun.SOURCE / "gateway" / "__main__.py").exists():
            raise SystemExit(f"--source {stackrun.SOURCE}: no gateway package there")
    wrk = ensure_wrk()
    return run_with_stack(lambda stack, workdir: _body(args, wrk, stack, workdir), args.keep)


if __name__ == "__main__":
    sys.exit(main())
