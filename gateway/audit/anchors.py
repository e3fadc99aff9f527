"""External anchors: each new checkpoint also written outside the database, so whoever
can rewrite the database (and its checkpoints table) cannot rewrite what was published.

Two sinks: a folder (GATEWAY_AUDIT_ANCHOR_DIR, one file per checkpoint, written to a
temporary name, synced and renamed, mode 0640: a reader never sees half a file) and an
HTTP endpoint (GATEWAY_AUDIT_ANCHOR_URL, a POST of the signed checkpoint JSON; any 2xx
accepts it). Each write is bounded by GATEWAY_AUDIT_ANCHOR_TIMEOUT_SECONDS. A failure is
counted by sink, logged at most every few minutes per sink, and retried with the newest
checkpoint at the next round; it never stops the round. A sink may receive the same
checkpoint twice (another replica's turn, a restart): its signed `id` tells them apart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import orjson

from gateway.feeds.http1 import Http1Error, Http1Pool
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings

log = logging.getLogger(__name__)
_LOG_EVERY_SECONDS = 300.0  # one warning per sink per this long while failures go on
_FILE_MODE = 0o640
_DIR_MODE = 0o750


class AnchorRefused(Exception):
    """The sink answered but did not take the checkpoint."""


class Sink(Protocol):
    kind: str  # a label of gateway_audit_anchor_failures_total (metrics.ANCHOR_SINKS)

    async def write(self, doc: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


def anchor_file_name(doc: dict[str, Any]) -> str:
    """Sorts by time, so the newest anchor is the last file of the folder."""
    at = datetime.fromisoformat(doc["created_at"])
    return f"checkpoint-{at:%Y%m%dT%H%M%S%fZ}-{doc['id']}.json"


class DirectoryAnchor:
    kind = "directory"

    def __init__(self, folder: Path, timeout: float) -> None:
        self._folder = folder
        self._timeout = timeout

    async def write(self, doc: dict[str, Any]) -> None:
        # A hung file system (a lost network mount) must not hold the round: the thread
        # is left to finish or fail on its own.
        await asyncio.wait_for(asyncio.to_thread(self._write, doc), self._timeout)

    def _write(self, doc: dict[str, Any]) -> None:
        self._folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        final = self._folder / anchor_file_name(doc)
        if final.exists():
            return  # written before (by this replica or another sharing the folder)
        temporary = self._folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        try:
            os.fchmod(fd, _FILE_MODE)  # whatever the umask
            data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)  # as `audit checkpoint --out` writes it
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(temporary, final)
        folder = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)

    async def close(self) -> None:
        pass


class HttpAnchor:
    kind = "http"

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # The gateway's own HTTP/1.1 client (gateway/feeds/http1.py): one connection is
        # plenty for one checkpoint a round; redirects are not followed.
        self._client = Http1Pool(urlunsplit((parts.scheme, parts.netloc, "", "", "")), limit=1)
        self._timeout = timeout

    async def write(self, doc: dict[str, Any]) -> None:
        response = await self._client.request(
            "POST",
            self._target,
            [("Content-Type", "application/json")],
            orjson.dumps(doc),
            timeout=self._timeout,
        )
        if not 200 <= response.status < 300:
            raise AnchorRefused(f"HTTP {response.status}")

    async def close(self) -> None:
        await self._client.close()


class Anchors:
    """Every configured sink, each told about the newest checkpoint until it has it."""

    def __init__(self, sinks: list[Sink], metrics: GatewayMetrics) -> None:
        self._sinks = sinks
        self._metrics = metrics
        self._written: dict[str, str] = {}  # sink kind -> id of the last checkpoint it took
        self._warned_at: dict[str, float] = {}  # sink kind -> monotonic time of the last warning

    @classmethod
    def from_settings(cls, settings: Settings, metrics: GatewayMetrics) -> Anchors:
        timeout = settings.audit_anchor_timeout_seconds
        sinks: list[Sink] = []
        if settings.audit_anchor_dir:
            sinks.append(DirectoryAnchor(Path(settings.audit_anchor_dir), timeout))
        if settings.audit_anchor_url:
            sinks.append(HttpAnchor(settings.audit_anchor_url, timeout))
        return cls(sinks, metrics)

    async def write(self, doc: dict[str, Any]) -> None:
        for sink in self._sinks:
            if self._written.get(sink.kind) == doc["id"]:
                continue
            try:
                await sink.write(doc)
            except (OSError, TimeoutError, Http1Error, AnchorRefused) as exc:
                self._metrics.audit_anchor_failures.labels(sink.kind).inc()
                self._failed(sink.kind, doc["id"], exc)
                continue
            if sink.kind in self._warned_at:
                del self._warned_at[sink.kind]
                log.info("checkpoint anchor %s works again", sink.kind)
            self._written[sink.kind] = doc["id"]

    def _failed(self, kind: str, checkpoint_id: str, exc: BaseException) -> None:
        now = time.monotonic()
        last = self._warned_at.get(kind)
        if last is None or now - last >= _LOG_EVERY_SECONDS:
            self._warned_at[kind] = now
            log.warning("checkpoint %s not written to the %s anchor: %r", checkpoint_id, kind, exc)
        else:
            log.debug("checkpoint %s not written to the %s anchor: %r", checkpoint_id, kind, exc)

    async def close(self) -> None:
        for sink in self._sinks:
            await sink.close()
