"""Helpers shared by the tests: running apps on 127.0.0.1, admin calls, signed calls, ccxt."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

OPERATOR_TOKEN = "test-operator-token"
AUDITOR_TOKEN = "test-auditor-token"
OFFICER_TOKEN = "test-officer-token"
SERVICE_TOKEN = "test-service-token"
SECRET_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, tests only


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run an app on 127.0.0.1 on a free port; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Customer:
    id: str
    reference: str
    api_key: str
    secret: str


async def admin(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    *,
    token: str = OPERATOR_TOKEN,
    json: Any = None,
) -> tuple[int, Any]:
    async with session.request(
        method, base + path, json=json, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json(content_type=None)


async def new_customer(
    session: aiohttp.ClientSession, base: str, reference: str, status: str = "active"
) -> Customer:
    code, customer = await admin(
        session, base, "POST", "/admin/v1/customers", json={"reference": reference, "status": status}
    )
    assert code == 201, customer
    code, key = await admin(
        session, base, "POST", f"/admin/v1/customers/{customer['id']}/api-keys", json={"label": "test"}
    )
    assert code == 201, key
    return Customer(customer["id"], reference, key["api_key"], key["secret"])


def sign(secret: str, params: dict[str, Any] | list[tuple[str, Any]], *, timestamp: int | None = None) -> str:
    """A Binance-style signed query: timestamp first, signature last, as ccxt does."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    pairs = [("timestamp", timestamp if timestamp is not None else int(time.time() * 1000)), *pairs]
    payload = urlencode(pairs)
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}&signature={signature}"


async def signed(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    customer: Customer,
    params: dict[str, Any] | list[tuple[str, Any]],
    **sign_args: Any,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    query = sign(customer.secret, params, **sign_args)
    headers = {"X-MBX-APIKEY": customer.api_key}
    if method in ("POST", "PUT"):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        kwargs: dict[str, Any] = {"data": query.encode()}
        url = base + path
    else:
        kwargs = {}
        url = f"{base}{path}?{query}"
    async with session.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json(content_type=None), response.headers


def ccxt_client(base: str, customer: Customer) -> Any:
    import ccxt.async_support as ccxt

    exchange = ccxt.binance(
        {
            "apiKey": customer.api_key,
            "secret": customer.secret,
            # ccxt's client-side throttle only slows the tests; the gateway is what we test.
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
        }
    )
    for name, url in list(exchange.urls["api"].items()):
        if isinstance(url, str):
            exchange.urls["api"][name] = re.sub(r"^https?://[^/]+", base, url)
    return exchange
