"""Streaming exports of the decision log, CSV or JSON Lines, in constant memory.

Rows come from a server-side cursor inside one repeatable-read transaction, a few hundred
at a time, and each batch is written to the client before the next is fetched (aiohttp
waits for the socket to drain), so memory does not grow with the range. Long audit reads
use a connection of their own, never the pool's: an export of ten years must not take
the connections the decision writer needs. They go to the read replica when one is set
(gateway/store/audit_reads.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any

import asyncpg
from aiohttp import web

from gateway import appkeys as K
from gateway.audit.exports import CONTENT_TYPES, Present, export_chunks
from gateway.audit.masking import Viewer
from gateway.http.admin.queries import QuerySource, invalid, query_choice
from gateway.store import db
from gateway.store import decisions as store

log = logging.getLogger(__name__)


def export_format(request: QuerySource) -> str:
    """The export's required `format` query parameter, one of CONTENT_TYPES."""
    fmt = query_choice(request, "format", CONTENT_TYPES)
    if fmt is None:
        raise invalid("format", f"required: one of {', '.join(CONTENT_TYPES)}")
    return fmt


@asynccontextmanager
async def audit_connection(app: web.Application) -> AsyncIterator[asyncpg.Connection]:
    """A dedicated connection for a long audit read, on the read replica when one is set
    (GATEWAY_AUDIT_DATABASE_URL): it may lag the primary. Never for a write."""
    async with _dedicated(app, app[K.SETTINGS].audit_read_database_url()) as conn:
        yield conn


@asynccontextmanager
async def primary_connection(app: web.Application) -> AsyncIterator[asyncpg.Connection]:
    """A dedicated connection to the primary, for long work that also writes or locks
    (the checkpoint round: its advisory lock and the checkpoint it stores)."""
    async with _dedicated(app, app[K.SETTINGS].require_database_url()) as conn:
        yield conn


@asynccontextmanager
async def _dedicated(app: web.Application, dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """At most GATEWAY_AUDIT_READ_CONCURRENCY at once."""
    settings = app[K.SETTINGS]
    async with app[K.AUDIT_READ_SLOTS], db.dedicated(dsn, settings.db_timeout_seconds) as conn:
        yield conn


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
