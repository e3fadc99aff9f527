"""`python -m exchange --host 127.0.0.1 --port 9001 --service-token TOKEN`

The token may instead come from the environment variable EXCHANGE_SERVICE_TOKEN; this is the
only place in the package that reads the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final, NamedTuple

from aiohttp import web

from exchange.app import create_exchange_app
from exchange.settings import DEFAULT_STARTING_BALANCES, ExchangeSettings

TOKEN_ENV: Final = "EXCHANGE_SERVICE_TOKEN"
log = logging.getLogger("exchange")


def _pairs(values: Sequence[str], flag: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in values:
        key, sep, amount = item.partition("=")
        try:
            if not sep or not key:
                raise InvalidOperation
            out[key] = Decimal(amount)
        except InvalidOperation:
            raise SystemExit(f"{flag}: expected NAME=DECIMAL, got {item!r}") from None
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exchange", description="Mock Binance spot exchange.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--service-token", help=f"gateway token (default: ${TOKEN_ENV})")
    parser.add_argument("--starting-balance", action="append", default=[], metavar="ASSET=AMOUNT",
                        help="override a starting balance of new accounts (repeatable)")
    parser.add_argument("--seed-price", action="append", default=[], metavar="SYMBOL=PRICE",
                        help="override a market-maker reference price (repeatable)")
    parser.add_argument("--log-level", default="INFO")
    return parser


class CliConfig(NamedTuple):
    settings: ExchangeSettings
    host: str
    port: int
    log_level: str


def parse_cli(argv: Sequence[str] | None = None) -> CliConfig:
    args = _parser().parse_args(argv)
    token = args.service_token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"--service-token or ${TOKEN_ENV} is required")
    balances = dict(DEFAULT_STARTING_BALANCES)
    balances.update(_pairs(args.starting_balance, "--starting-balance"))
    try:
        settings = ExchangeSettings(
            service_token=token,
            starting_balances=balances,
            seed_prices=_pairs(args.seed_price, "--seed-price"),
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return CliConfig(settings, args.host, args.port, args.log_level.upper())


async def serve(settings: ExchangeSettings, host: str, port: int) -> None:
    runner = web.AppRunner(create_exchange_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        log.info("mock exchange listening on http://%s:%s", host, bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("mock exchange shutting down")
    finally:
        await runner.cleanup()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_cli(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(config.settings, config.host, config.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
