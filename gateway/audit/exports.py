"""Decision-log exports as bytes, CSV or JSON Lines, a batch at a time from a server-side
cursor: shared by the admin API's streamed export and `python -m gateway audit export`."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from gateway.ops import progress

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_BATCH_ROWS = 500


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
