"""Streaming exports of the decision log, CSV or JSON Lines, in constant memory.

Rows come from a server-side cursor inside one repeatable-read transaction, a few hundred
at a time, and each batch is written to the client before the next is fetched (aiohttp
waits for the socket to drain), so memory does not grow with the range. Long audit reads
use a connection of their own, never the pool's: an export of ten years must not take
the connections the decision writer needs.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from gateway import appkeys as K
from gateway.audit.masking import Viewer
from gateway.http.admin.queries import invalid, query_choice
from gateway.ops import progress
from gateway.store import decisions as store
from gateway.store.db import UNAVAILABLE_ERRORS, DatabaseUnavailable

log = logging.getLogger(__name__)

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_BATCH_ROWS = 500


def export_format(request: web.Request) -> str:
    """The export's required `format` query parameter, one of CONTENT_TYPES."""
    fmt = query_choice(request, "format", CONTENT_TYPES)
    if fmt is None:
        raise invalid("format", f"required: one of {', '.join(CONTENT_TYPES)}")
    return fmt


@asynccontextmanager
async def audit_connection(app: web.Application) -> AsyncIterator[asyncpg.Connection]:
    """A dedicated connection for a long read; at most GATEWAY_AUDIT_READ_CONCURRENCY at once."""
    settings = app[K.SETTINGS]
    async with app[K.AUDIT_READ_SLOTS]:
        try:
            conn = await asyncpg.connect(settings.require_database_url(), timeout=settings.db_timeout_seconds)
        except UNAVAILABLE_ERRORS as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        try:
            yield conn
        finally:
            await conn.close()


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV
# Injection"); the full-width forms too, which some spreadsheets fold to ASCII. Client
# order ids, references, notes and reasons reach exports, so any text may start so.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> str:
    """One CSV cell: empty for null, JSON for lists and objects, else the JSON API's text;
    text that a spreadsheet would run as a formula is escaped with a leading `'`, as OWASP
    recommends (numbers we produced are left as they are: a negative amount is not text)."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return orjson.dumps(value, default=str).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | Decimal):  # bool is an int: True/False start with no formula sign
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv(fields: Sequence[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    # RFC 4180's CRLF: the writer quotes a cell holding any character of the terminator,
    # so with "\n" alone a bare "\r" in a value would split the row for most readers.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([csv_cell(row[f]) for f in fields] for row in rows)
    return buffer.getvalue().encode()


def _jsonl(fields: Sequence[str], rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row, default=str) + b"\n" for row in rows)


Present = Callable[[asyncpg.Record], dict[str, Any]]


async def export_chunks(
    conn: asyncpg.Connection, query: tuple[str, list[Any]], fmt: str, fields: Sequence[str], present: Present
) -> AsyncGenerator[bytes, None]:
    """A query's rows as CSV (header first) or JSON Lines, `_BATCH_ROWS` at a time from a
    server-side cursor, each row presented (masked) first. Run it inside a transaction
    (a cursor needs one); the HTTP export and `python -m gateway audit export` both do."""
    sql, args = query
    encode = _csv if fmt == "csv" else _jsonl
    cursor = await conn.cursor(sql, *args)
    batch = await cursor.fetch(_BATCH_ROWS)
    if fmt == "csv":
        yield _csv(fields, [{f: f for f in fields}])
    while batch:
        progress.advance(len(batch))
        yield encode(fields, [present(r) for r in batch])
        batch = await cursor.fetch(_BATCH_ROWS) if len(batch) == _BATCH_ROWS else []


async def stream_rows(
    request: web.Request,
    query: tuple[str, list[Any]],
    fmt: str,
    *,
    name: str,
    fields: Sequence[str],
    present: Present,
) -> web.StreamResponse:
    """Stream a query's rows as CSV or JSON Lines in constant memory, in a read-only
    snapshot (export_chunks)."""
    async with (
        audit_connection(request.app) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
        aclosing(export_chunks(conn, query, fmt, fields, present)) as chunks,
    ):
        first = await anext(chunks, b"")  # before the answer starts: errors stay admin errors
        response = web.StreamResponse(
            headers={
                "Content-Type": CONTENT_TYPES[fmt],
                "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            }
        )
        await response.prepare(request)
        try:
            await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
        except Exception:
            # The status line is gone: the only honest signal left is a cut connection, so
            # the client cannot mistake a partial file for a complete one.
            log.exception("export of %s failed mid-stream", name)
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
    return response


async def stream_decisions(
    request: web.Request, viewer: Viewer, flt: store.DecisionFilter, fmt: str
) -> web.StreamResponse:
    request.app[K.METRICS].audit_exports.labels(fmt).inc()
    return await stream_rows(
        request, store.export_query(flt), fmt, name="decisions", fields=store.EXPORT_FIELDS,
        present=lambda r: viewer.present("decision", store.decoded(r)),
    )  # fmt: skip
