"""Everything the handlers share, stored under one typed `web.AppKey`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import web

from exchange.accounts import Accounts
from exchange.engine import Engine
from exchange.request_log import RequestLog
from exchange.wallet import Wallet


@dataclass(slots=True)
class ExchangeState:
    token: bytes
    accounts: Accounts
    engine: Engine
    wallet: Wallet
    requests: RequestLog


STATE: Final = web.AppKey("exchange_state", ExchangeState)
