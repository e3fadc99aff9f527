"""Logging: text or one JSON object per line, each record carrying the request and
decision it belongs to, and the optional access log.

The ids travel in contextvars: aiohttp runs each request in a task of its own, so what the
middleware sets is seen by every record logged while handling that request (and by tasks
it starts), never by another request's.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from gateway.randomness import RandomChunks

LogFormat = Literal["text", "json"]
REQUEST_ID_HEADER = "X-Request-Id"
ACCESS_LOGGER = "gateway.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Set on every decided call, read only when a record is logged: written out then.
decision_id: ContextVar[uuid.UUID | None] = ContextVar("decision_id", default=None)

# A client's id is reused only when it is short and cannot break a log line or a header.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_for(given: str | None) -> str:
    """The client's X-Request-Id when it is short and safe, else a new one."""
    if given is not None and _CLIENT_REQUEST_ID.fullmatch(given):
        return given
    return _request_id_bytes.take().hex()


# New request ids: 128 random bits as hex, from batches of 256 (gateway/randomness.py).
_request_id_bytes = RandomChunks(16, 256)


class _RequestIds(logging.Filter):
    """Puts the current request and decision ids on every record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        decided = decision_id.get()
        record.decision_id = None if decided is None else str(decided)
        ids = [f"{name}={value}" for name, value in _ids(record).items() if value]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return True


def _ids(record: logging.LogRecord) -> dict[str, Any]:
    return {
        "request_id": getattr(record, "request_id", None),
        "decision_id": getattr(record, "decision_id", None),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids
    when known, and the traceback as one string when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update((k, v) for k, v in _ids(record).items() if v)
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                doc[field] = getattr(record, field)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


# What an access-log record carries besides its message (fields of the JSON object).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


class _Stderr(logging.StreamHandler[Any]):
    """To whatever sys.stderr is when a record is written (a test may swap it), never to
    stdout: that is for commands' JSON and CSV."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure(level: str, fmt: LogFormat = "text", *, force: bool = False) -> None:
    """The root logger's handler for this process (replacing one set up before). As
    logging.basicConfig, it leaves alone a process whose host set up logging already
    (a test runner), unless `force`."""
    root = logging.getLogger()
    if not force and any(not isinstance(h, _Stderr) for h in root.handlers):
        return
    handler = _Stderr()
    handler.addFilter(_RequestIds())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


access_log = logging.getLogger(ACCESS_LOGGER)


def log_access(method: str, route: str, status: int, duration_ms: float) -> None:
    """One access-log line. `route` never holds a query string: queries carry signatures
    and API parameters."""
    fields = {"method": method, "route": route, "status": status, "duration_ms": round(duration_ms, 3)}
    access_log.info("%s %s %d %.1fms", method, route, status, duration_ms, extra=fields)
