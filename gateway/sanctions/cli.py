"""`python -m gateway sanctions load PATH [--format F] [--accept-partial]
[--confirm-delisting] [--actor NAME] | list`.

Both print JSON on stdout and run as the runtime role. `load` exits 2 when the source is
not a valid snapshot or has entries that are not valid addresses (without
--accept-partial), and 3 when the switch would delist more than
GATEWAY_SANCTIONS_MAX_DELIST_RATIO of the list in force (without --confirm-delisting);
either way nothing is stored. Running gateways switch to a loaded snapshot at their next
refresh (GATEWAY_SANCTIONS_REFRESH_SECONDS).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from gateway.audit.events import EventLog, cli_actor
from gateway.ops.progress import Progress
from gateway.sanctions.service import DelistingRefused, LoadOptions, load_snapshot
from gateway.sanctions.sources import SnapshotError, SourceFormat, read_source
from gateway.settings import Settings
from gateway.store import db
from gateway.store import sanctions as store

_LIST_LIMIT = 100
_PATH_HELP = (
    "a directory with snapshot.toml (as aml/data/sanctions), a directory of"
    " sanctioned_addresses_<ASSET>.txt files (with --list and --as-of), a .json snapshot,"
    " OFAC's sdn.xml / sdn_advanced.xml or sdn.csv, or a CSV of address,network"
)
EXIT_REFUSED = 2  # not a valid snapshot, or entries refused: nothing stored
EXIT_DELISTING = 3  # past the delisting guard: nothing stored


def add_parser(sub: Any) -> None:
    sanctions = sub.add_parser("sanctions", help="load and list sanctioned-address list snapshots")
    commands = sanctions.add_subparsers(dest="sanctions_command", required=True)
    load = commands.add_parser("load", help="store a snapshot and make it the one in force")
    load.add_argument("path", type=Path, help=_PATH_HELP)
    load.add_argument("--actor", help="who loads it, for the audit log (default: cli:user@host)")
    load.add_argument("--list", dest="list_name", help="the list's name (overrides the source's)")
    load.add_argument("--as-of", type=date.fromisoformat, help="date of the source data (YYYY-MM-DD)")
    load.add_argument(
        "--format",
        dest="source_format",
        type=SourceFormat,
        choices=list(SourceFormat),
        help="the source's format (default: from the path: directory, .json, .xml, .csv by its header)",
    )
    load.add_argument(
        "--accept-partial",
        action="store_true",
        help="store the valid entries and record the rejected ones with the snapshot (default: refuse)",
    )
    load.add_argument(
        "--confirm-delisting",
        action="store_true",
        help="switch even when it delists more than GATEWAY_SANCTIONS_MAX_DELIST_RATIO of the list in force",
    )
    listing = commands.add_parser("list", help="the stored snapshots, newest first")
    listing.add_argument("--limit", type=int, default=_LIST_LIMIT)


def _print(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.sanctions_command == "list":
        conn = await db.connect(settings.require_database_url())
        try:
            snapshots = await store.list_snapshots(conn, args.limit)
            _print({"current": await store.current_id(conn), "snapshots": [s.as_json() for s in snapshots]})
            return 0
        finally:
            await conn.close()
    with Progress("reading the sanctions source") as shown:
        return await _load(args, settings, shown)


async def _load(args: argparse.Namespace, settings: Settings, shown: Progress) -> int:
    options = LoadOptions(args.accept_partial, args.confirm_delisting, settings.sanctions_max_delist_ratio)
    try:
        snapshot = read_source(
            args.path, source_format=args.source_format, list_name=args.list_name, as_of=args.as_of
        )
        refusal = snapshot.refusal(accept_partial=options.accept_partial)
        if refusal is not None:  # before connecting: a bad source needs no database to say so
            raise refusal
        shown.phase("storing the snapshot and making it current")
        conn = await db.connect(settings.require_database_url())
        try:
            actor = args.actor or cli_actor()
            result = await load_snapshot(conn, snapshot, actor, events=EventLog(cli_actor()), options=options)
        finally:
            await conn.close()
    except SnapshotError as exc:
        _print({"refused": exc.message, "details": exc.details})
        return EXIT_REFUSED
    except DelistingRefused as exc:
        _print({"refused": str(exc), "details": exc.counts})
        return EXIT_DELISTING
    _print(result.as_json())
    return 0
