"""`python -m gateway audit verify | checkpoint | partitions | retention | drop-partitions | export`.

Each prints JSON on stdout. `verify` exits 1 when a link is broken, so a cron job or CI
step fails loudly. `partitions` and `drop-partitions` need the schema owner
(GATEWAY_MIGRATION_DATABASE_URL when set); the others run as the runtime role.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit import partitions
from gateway.audit.checkpoint import create_checkpoint, verify_log
from gateway.audit.drop import DropRefused, execute_drop, plan_drop
from gateway.audit.events import EventLog, cli_actor
from gateway.audit.retention import RetentionPolicy, policy_for
from gateway.audit.signing import CheckpointKey, CheckpointKeyMissing, public_key
from gateway.feeds.markets import utcnow
from gateway.feeds.rulestate import load_book
from gateway.ops import export_cli
from gateway.ops.progress import Progress
from gateway.settings import Settings
from gateway.store import db


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify, checkpoint, partitions and retention of the audit log")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    check = commands.add_parser("verify", help="recompute every chain; exit 1 on a broken link")
    check.add_argument("--since", type=datetime.fromisoformat, help="only entries at or after (ISO 8601)")
    check.add_argument("--until", type=datetime.fromisoformat, help="only entries before (ISO 8601)")
    check.add_argument("--checkpoint", type=Path, help="also check the heads of this checkpoint file")
    check.add_argument(
        "--public-key", help="base64 key to check the checkpoint and retention drops with (default: settings)"
    )
    point = commands.add_parser("checkpoint", help="sign the chain heads; print (and store) the checkpoint")
    point.add_argument("--out", type=Path, help="also write the checkpoint to this file")
    ahead = commands.add_parser("partitions", help="create partitions ahead and list them")
    ahead.add_argument("--months-ahead", type=int, default=None)
    commands.add_parser("retention", help="the retention policy in force and its cutoff")
    drop = commands.add_parser("drop-partitions", help="drop partitions older than retention (logged)")
    drop.add_argument("--before", type=date.fromisoformat, required=True, help="drop months ending by then")
    drop.add_argument("--reason", required=True, help="why, for the audit log")
    drop.add_argument("--out", type=Path, help="also write the final checkpoint to this file")
    export_cli.add_parser(commands)


def _print(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


def _write(path: Path | None, doc: dict[str, Any]) -> None:
    if path is not None:
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def _public_key(args: argparse.Namespace, settings: Settings) -> Ed25519PublicKey | None:
    """What checks checkpoints and the signed records of retention drops: --public-key,
    else the public half of the configured checkpoint key, if any."""
    if args.public_key:
        return public_key(args.public_key)
    seed = settings.audit_checkpoint_key.get_secret_value()
    return CheckpointKey(seed).public if seed else None


async def _verify(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    key = _public_key(args, settings)
    doc = None
    if args.checkpoint is not None:
        if key is None:
            raise SystemExit(
                "GATEWAY_AUDIT_CHECKPOINT_KEY is not set: give --public-key to check a checkpoint"
            )
        doc = orjson.loads(args.checkpoint.read_bytes())
    # Without --checkpoint, against the newest stored checkpoint.
    result = await verify_log(conn, key, since=args.since, until=args.until, checkpoint=doc)
    _print(result.as_json())
    return 0 if result.intact else 1


def _key(settings: Settings) -> CheckpointKey:
    try:
        return CheckpointKey(settings.audit_checkpoint_key.get_secret_value())
    except CheckpointKeyMissing as exc:
        raise SystemExit(str(exc)) from exc


async def _checkpoint(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    key = _key(settings)
    # Only verified heads are signed: a checkpoint over a cut tail would make it pass.
    verified = await verify_log(conn, key.public)
    if not verified.intact:
        _print(verified.as_json())
        return 1
    doc = await create_checkpoint(conn, key, EventLog(cli_actor()), cli_actor(), verified)
    _write(args.out, doc)
    _print(doc)
    return 0


async def _partitions(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    ensured = await partitions.ensure(conn, args.months_ahead or settings.audit_partition_months_ahead)
    listed = [
        {"name": p.name, "parent": p.parent, "from": p.lower, "to": p.upper}
        for p in await partitions.list_partitions(conn)
    ]
    _print({"created": ensured.created, "default_rows": ensured.default_rows, "partitions": listed})
    return 0


def _retention_policy(settings: Settings) -> RetentionPolicy:
    return policy_for(load_book(settings), settings.retention_jurisdictions, utcnow().date())


async def _retention(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    _print(_retention_policy(settings).as_json(utcnow().date()))
    return 0


async def _drop(conn: asyncpg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    policy = _retention_policy(settings)
    try:
        plan = await plan_drop(conn, policy, args.before, utcnow().date())
        done = await execute_drop(conn, plan, _key(settings), EventLog(cli_actor()), cli_actor(), args.reason)
    except DropRefused as exc:
        _print({"refused": str(exc)})
        return 2
    _write(args.out, done["checkpoint"])
    _print(done)
    return 0


Command = Callable[[asyncpg.Connection, argparse.Namespace, Settings], Awaitable[int]]
# command -> (handler, needs the schema owner)
_COMMANDS: dict[str, tuple[Command, bool]] = {
    "verify": (_verify, False),
    "checkpoint": (_checkpoint, False),
    "partitions": (_partitions, True),
    "retention": (_retention, False),
    "drop-partitions": (_drop, True),
    "export": (export_cli.run, False),  # shows its own progress
}
# The long walks, counted on a terminal (gateway/ops/progress.py): what the count is of.
_PROGRESS = {
    "verify": ("verifying the audit log", "entries"),
    "drop-partitions": ("verifying before the drop", "entries"),
}


async def run(args: argparse.Namespace, settings: Settings) -> int:
    handler, needs_owner = _COMMANDS[args.audit_command]
    dsn = settings.require_migration_database_url() if needs_owner else settings.require_database_url()
    conn = await db.connect(dsn)
    try:
        if args.audit_command not in _PROGRESS:
            return await handler(conn, args, settings)
        with Progress(*_PROGRESS[args.audit_command]):
            return await handler(conn, args, settings)
    finally:
        await conn.close()
