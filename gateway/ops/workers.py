"""A group of gateway workers sharing one port (GATEWAY_WORKERS above 1).

One Python process is one event loop, which saturates one core. The supervisor here starts
N workers, each a fresh interpreter (spawn) with its own loop, pool, decision writer, feeds
and background loops, all binding the same port with SO_REUSEPORT: the kernel spreads new
connections over them. Migrations run once, in the supervisor, before any worker starts.

Stopping: SIGTERM or SIGINT to the supervisor is passed to every worker, which stops
accepting and drains within GATEWAY_SHUTDOWN_GRACE_SECONDS; a worker still running a few
seconds after that is killed. A worker that exits on its own (a crash, a failed start)
stops the whole group and the supervisor exits non-zero, so the orchestrator restarts it:
fail fast rather than restart one worker in place, which could hide a crash loop behind a
port that still answers. A worker whose supervisor dies stops too (it watches it).

Metrics: the supervisor gives the group a fresh private directory in
PROMETHEUS_MULTIPROC_DIR (gateway/metrics.py), removed when the group ends.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from prometheus_client import multiprocess

from gateway import logs
from gateway.metrics import MULTIPROCESS_DIR_ENV
from gateway.settings import Settings

log = logging.getLogger(__name__)

# Past the grace, a worker still running is stuck: it is killed, and the group fails.
KILL_MARGIN_SECONDS = 5.0

ServeOne = Callable[[Settings, bool], None]


def run_group(settings: Settings, serve_one: ServeOne) -> int:
    """Start `settings.workers` workers running `serve_one(settings, migrate=False)`, wait
    until they all end; 0 only if a signal asked for the stop and every worker drained."""
    if settings.port == 0:
        raise SystemExit(
            "GATEWAY_PORT=0 cannot be shared by several workers: set a port or GATEWAY_WORKERS=1"
        )
    directory = tempfile.mkdtemp(prefix="gateway-metrics-")
    os.environ[MULTIPROCESS_DIR_ENV] = directory  # inherited by the workers spawned below
    try:
        return _Group(settings, serve_one, directory).run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class _Group:
    def __init__(self, settings: Settings, serve_one: ServeOne, directory: str) -> None:
        self._grace = settings.shutdown_grace_seconds
        self._directory = directory
        spawn = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = [
            spawn.Process(target=_worker, args=(serve_one, settings), name=f"gateway-worker-{n}")
            for n in range(settings.workers)
        ]
        self._stop_at: float | None = None  # monotonic deadline once the group is stopping
        self._signalled = False
        self._failed = False

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for worker in self._workers:
                worker.start()
            log.info("started %d gateway workers: %s", len(self._workers), [w.pid for w in self._workers])
            self._wait_for_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        codes = [w.exitcode for w in self._workers]
        if self._failed or not self._signalled or not all(map(_stopped_cleanly, codes)):
            log.error("the gateway workers stopped with exit codes %s", codes)
            return 1
        return 0

    def _wait_for_all(self) -> None:
        running = {w.sentinel: w for w in self._workers}
        while running:  # bounded: every round ends a worker, or ends in the kill deadline
            timeout = None if self._stop_at is None else max(0.0, self._stop_at - time.monotonic())
            ready = wait(list(running), timeout)
            for sentinel in ready:
                worker = running.pop(int(sentinel))  # type: ignore[arg-type]
                worker.join()
                if worker.pid is not None:
                    # Its live gauges leave the group's figures; its counters stay.
                    multiprocess.mark_process_dead(worker.pid, self._directory)  # type: ignore[no-untyped-call]
                if self._stop_at is None:
                    log.error(
                        "gateway worker %s exited (code %s): stopping the group", worker.pid, worker.exitcode
                    )
                    self._failed = True
                    self._stop()
            if not ready and self._stop_at is not None and time.monotonic() >= self._stop_at:
                for worker in running.values():
                    log.error("gateway worker %s did not stop within the grace: killing it", worker.pid)
                    worker.kill()
                self._failed = True
                self._stop_at = time.monotonic() + KILL_MARGIN_SECONDS

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True
        self._stop()

    def _stop(self) -> None:
        """Every live worker drains (a second request changes nothing: they ignore it)."""
        if self._stop_at is None:
            self._stop_at = time.monotonic() + self._grace + KILL_MARGIN_SECONDS
        for worker in self._workers:
            if worker.pid is not None and worker.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM)


def _worker(serve_one: ServeOne, settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)
    _stop_with_supervisor()
    # Until its event loop takes the signals over, a worker is still starting and has no
    # request in flight: a stop asked for now ends it at once and cleanly, rather than by
    # SIGTERM's default (killed, which the supervisor would read as a failed worker).
    signal.signal(signal.SIGTERM, _stop_while_starting)
    serve_one(settings, False)  # migrated by the supervisor


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _stopped_cleanly(code: int | None) -> bool:
    """After the group was asked to stop: 0, or ended by the SIGTERM it forwarded before
    the worker could take the signal over (still importing, so nothing was in flight: a
    worker that serves turns SIGTERM into a drain and exits 0)."""
    return code in (0, -signal.SIGTERM)


def _stop_with_supervisor() -> None:
    """A worker left behind by a killed supervisor would hold the port: it drains and exits."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        log.error("the gateway supervisor is gone: stopping this worker")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
