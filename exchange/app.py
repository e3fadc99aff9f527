"""The application factory, used by `python -m exchange` and by the tests."""

from __future__ import annotations

from aiohttp import web

from exchange import api_market, api_market_history, api_trade, api_wallet, ops
from exchange.accounts import Accounts
from exchange.catalog import SYMBOLS
from exchange.edge import gateway_middleware
from exchange.engine import Clock, Engine, wall_clock_ms
from exchange.market_maker import MarketMaker
from exchange.request_log import RequestLog
from exchange.settings import ExchangeSettings
from exchange.state import STATE, ExchangeState
from exchange.wallet import Wallet


def build_state(settings: ExchangeSettings, clock: Clock = wall_clock_ms) -> ExchangeState:
    accounts = Accounts(settings.starting_balances, settings.history_limit)
    engine = Engine(
        SYMBOLS,
        accounts,
        seed_prices=settings.seed_prices,
        market_maker=MarketMaker(settings.market_maker_levels, settings.market_maker_spacing_bps),
        clock=clock,
        history_limit=settings.history_limit,
    )
    return ExchangeState(
        token=settings.service_token.encode("utf-8", "surrogateescape"),
        accounts=accounts,
        engine=engine,
        wallet=Wallet(clock),
        requests=RequestLog(settings.request_log_size),
    )


def create_exchange_app(settings: ExchangeSettings) -> web.Application:
    app = web.Application(middlewares=[gateway_middleware])
    app[STATE] = build_state(settings)
    for module in (api_market, api_market_history, api_trade, api_wallet, ops):
        app.add_routes(module.routes())
    return app
