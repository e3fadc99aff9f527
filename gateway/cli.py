"""`python -m gateway serve | migrate | seed-demo | up | audit ... | rules replay ... | --version`."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pydantic import SecretStr, ValidationError

from gateway import logs
from gateway.app import create_app
from gateway.audit import commands as audit_commands
from gateway.decide import replay as rules_commands
from gateway.feeds.rulestate import load_book
from gateway.http import edge_protocol, wiring
from gateway.metrics import group_directory
from gateway.ops import localstate, workers
from gateway.ops.demo import seed_demo
from gateway.ops.heap import settle_heap
from gateway.ops.pgserver import SUPERUSER, EmbeddedPostgres
from gateway.sanctions import cli as sanctions_cli
from gateway.sealing import SecretBox, new_key_b64
from gateway.settings import Settings
from gateway.store import db
from gateway.store.migrations import migrate_down, migrate_up

log = logging.getLogger("gateway")
RUNTIME_ROLE = "gateway_app"  # created by migration 0003


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Name the setting that is wrong, not a stack trace.
        problems = "; ".join(
            f"GATEWAY_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise SystemExit(f"bad settings: {problems}") from exc


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def serve(settings: Settings) -> None:
    """GATEWAY_WORKERS processes sharing the port (gateway/ops/workers.py), or this one."""
    if settings.workers == 1:
        serve_one(settings)
        return
    # Once, before any worker starts: N workers would only queue on the migration lock.
    asyncio.run(_migrate(settings, None))
    code = workers.run_group(settings, serve_one)
    if code:
        raise SystemExit(code)


def serve_one(settings: Settings, migrate: bool = True) -> None:
    """One gateway process: the single one, or a worker of a group."""
    _use_uvloop()
    app = create_app(settings, migrate=migrate)
    if group_directory() is not None:
        app.cleanup_ctx.append(wiring.computed_gauges)
    # Runs after every cleanup context has started (they are themselves an on_startup step).
    app.on_startup.append(settle_heap)
    edge_protocol.run(
        app,
        settings.host,
        settings.port,
        settings.shutdown_grace_seconds,
        lambda: log.info("gateway listening on http://%s:%d", settings.host, settings.port),
    )


async def _migrate(settings: Settings, down_to: int | None) -> None:
    conn = await db.connect(settings.require_migration_database_url())
    try:
        if down_to is None:
            done = await migrate_up(conn)
            log.info("applied migrations: %s", done or "none pending")
        else:
            undone = await migrate_down(conn, down_to)
            log.info("undid migrations: %s", undone or "none")
    finally:
        await conn.close()


async def _seed(settings: Settings) -> None:
    key = settings.secret_key.get_secret_value()
    owner = await db.connect(settings.require_migration_database_url())
    try:
        await migrate_up(owner)
    finally:
        await owner.close()
    conn = await db.connect(settings.require_database_url())
    try:
        for demo in await seed_demo(conn, SecretBox(key), key):
            print(f"  {demo.reference:<12} {demo.status:<10} api key {demo.api_key}  secret {demo.secret}")
    finally:
        await conn.close()


def up(settings: Settings) -> None:
    """Everything on one laptop: embedded Postgres (unless a DSN is set), mock exchange, gateway."""
    local = Path(settings.local_dir).resolve()
    localstate.prepare(local)
    updates: dict[str, object] = {}
    if not settings.secret_key.get_secret_value():
        updates["secret_key"] = SecretStr(localstate.persisted_secret(local / "secret.key", new_key_b64))
    if not settings.admin_tokens:
        generated = localstate.admin_tokens(local)
        if generated.replaced_legacy:
            log.warning(
                "%s held admin tokens derived from one another (an earlier version): "
                "every role now has a new independent token; the old ones no longer work",
                local,
            )
        updates["admin_tokens"] = generated.by_token
    if "licences_held" not in settings.model_fields_set:
        # A demo exchange is one in good standing where it operates: it holds the home
        # pack's own licences (KR: KoFIU registration). Other countries' stay unheld.
        updates["licences_held"] = load_book(settings).licences_of(settings.home_country)
    if not settings.upstream_token.get_secret_value():
        updates["upstream_token"] = SecretStr(secrets.token_urlsafe(24))
    if not settings.audit_checkpoint_key.get_secret_value():
        updates["audit_checkpoint_key"] = SecretStr(
            localstate.persisted_secret(local / "checkpoint.key", new_key_b64)
        )
    postgres = None
    if settings.database_url is None:
        postgres = EmbeddedPostgres(local / "pgdata")
        postgres.start()
        # As in production: migrations as the owner, the gateway as the runtime role that
        # cannot alter the audit log (created by migration 0003).
        updates["migration_database_url"] = SecretStr(postgres.dsn)
        runtime = postgres.dsn.replace(f"://{SUPERUSER}@", f"://{RUNTIME_ROLE}@", 1)
        updates["database_url"] = SecretStr(runtime)
    settings = settings.model_copy(update=updates)
    exchange_port = int(settings.upstream_url.rsplit(":", 1)[1].split("/")[0])
    exchange = subprocess.Popen(
        [sys.executable, "-m", "exchange", "--host", "127.0.0.1", "--port", str(exchange_port)],
        env={**os.environ, "EXCHANGE_SERVICE_TOKEN": settings.upstream_token.get_secret_value()},
    )
    try:
        _wait_for_port(exchange_port, exchange)
        asyncio.run(_seed(settings))
        by_role = {role: token for token, role in settings.admin_tokens.items()}
        print(f"\ngateway:  http://{settings.host}:{settings.port}   (exchange dialect: Binance Spot)")
        for role, token in sorted(by_role.items()):
            print(f"admin token ({role}): {token}")
        print(f"licences held: {', '.join(sorted(settings.licences_held)) or 'none'}")
        print(f"console:  http://{settings.host}:{settings.port}/console/   (sign in with an admin token)")
        print(f"metrics:  http://{settings.host}:{settings.port}/metrics\nCtrl-C stops everything.\n")
        serve(settings)
    finally:
        exchange.terminate()
        exchange.wait(10)
        if postgres is not None:
            postgres.stop()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit("the mock exchange exited at start")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v3/ping", timeout=1)
            return
        except OSError as exc:
            # 401 means it is up and refusing us (no service token): good enough.
            if getattr(exc, "code", None) == 401:
                return
            time.sleep(0.2)
    raise SystemExit("the mock exchange did not start in time")


def _version() -> str:
    try:
        return importlib.metadata.version("compliance-gateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    # Needs no settings: answers on a host not configured yet.
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway (GATEWAY_DATABASE_URL required)")
    migrate = sub.add_parser("migrate", help="apply pending migrations")
    migrate.add_argument("--down-to", type=int, default=None, help="undo migrations above this version")
    sub.add_parser("seed-demo", help="create demo customers and keys, print the keys")
    sub.add_parser("up", help="embedded Postgres + mock exchange + gateway + demo data")
    audit_commands.add_parser(sub)
    sanctions_cli.add_parser(sub)
    rules_commands.add_parser(sub)
    args = parser.parse_args(argv)
    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings, args.down_to))
    elif args.command == "seed-demo":
        asyncio.run(_seed(settings))
    elif args.command == "audit":
        raise SystemExit(asyncio.run(audit_commands.run(args, settings)))
    elif args.command == "sanctions":
        raise SystemExit(asyncio.run(sanctions_cli.run(args, settings)))
    elif args.command == "rules":
        raise SystemExit(asyncio.run(rules_commands.run(args, settings)))
    else:
        up(settings)
