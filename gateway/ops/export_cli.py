"""`python -m gateway audit export --format csv|jsonl [filters] [--out FILE]`.

The decision log as the admin export gives it (GET /admin/v1/decisions/export): the same
query, fields, masking and encoder (gateway/http/admin/exports.py), in one read-only snapshot.
Personal data is masked as for an auditor. Without --out the file goes to stdout, and
nothing else does; with --out, stdout gets a JSON summary.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import orjson

from gateway.audit.exports import CONTENT_TYPES, export_chunks
from gateway.audit.masking import Viewer
from gateway.ops import progress
from gateway.settings import Settings
from gateway.store import decisions as store
from policy.action import ActionKind
from policy.decision import Outcome

# Whoever runs the command, the file may travel: masked, as the auditor role sees it.
EXPORT_ROLE = "auditor"


def add_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="export decisions as CSV or JSON Lines (masked)")
    export.add_argument("--format", choices=sorted(CONTENT_TYPES), required=True)
    export.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    export.add_argument("--since", type=datetime.fromisoformat, help="decided at or after (ISO 8601)")
    export.add_argument("--until", type=datetime.fromisoformat, help="decided before (ISO 8601)")
    export.add_argument("--customer-id", type=uuid.UUID)
    export.add_argument("--outcome", choices=[o.value for o in Outcome])
    export.add_argument("--action-kind", choices=[k.value for k in ActionKind])
    for name in ("--reason", "--rule-id", "--country", "--asset"):
        export.add_argument(name)
    export.add_argument("--sort", choices=("asc", "desc"), default="asc", help="by decision time")


def _filter(args: argparse.Namespace) -> store.DecisionFilter:
    return store.DecisionFilter(
        customer_id=args.customer_id, outcome=args.outcome, action_kind=args.action_kind,
        reason=args.reason, rule_id=args.rule_id, country=args.country, asset=args.asset,
        since=args.since, until=args.until, sort=args.sort,
    )  # fmt: skip


async def _write(conn: asyncpg.Connection, args: argparse.Namespace, out: BinaryIO) -> None:
    viewer = Viewer(EXPORT_ROLE)

    def present(row: asyncpg.Record) -> dict[str, Any]:
        return viewer.present("decision", store.decoded(row))

    query = store.export_query(_filter(args))
    chunks = export_chunks(conn, query, args.format, store.EXPORT_FIELDS, present)
    async with conn.transaction(isolation="repeatable_read", readonly=True), aclosing(chunks):
        async for chunk in chunks:
            out.write(chunk)


async def run(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    with progress.Progress("exporting decisions", "rows") as shown:
        if args.out is None:
            await _write(conn, args, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return 0
        with args.out.open("wb") as out:
            await _write(conn, args, out)
    summary = {"out": str(args.out), "format": args.format, "rows": shown.count}
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0
