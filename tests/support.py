"""Helpers shared by the tests: running apps on 127.0.0.1, admin calls, signed calls, ccxt."""

from __future__ import annotations

import ast
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yarl
from aiohttp import web

from gateway import appkeys as K
from gateway.http.edge_protocol import EdgeRunner

OPERATOR_TOKEN = "test-operator-token"
AUDITOR_TOKEN = "test-auditor-token"
OFFICER_TOKEN = "test-officer-token"
SERVICE_TOKEN = "test-service-token"
SECRET_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, tests only


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run an app on 127.0.0.1 on a free port; yield its base URL. A gateway app is run
    as `python -m gateway serve` runs it: its edge answers what aiohttp cannot parse."""
    runner_class = EdgeRunner if K.SETTINGS in app else web.AppRunner
    runner = runner_class(app, access_log=None)
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


_passports = itertools.count(10_000_000)
# A valid IVMS101 identity payload (TRISA's test data, MIT; see its SOURCE.md).
IVMS101_SAMPLE = Path(__file__).parent / "aml/fixtures/ivms101/trisa/ivms101_testdata/identity_payload.json"


def travel_rule_params(legal_name: str = "Kim Minjun") -> dict[str, str]:
    """Withdrawal params carrying travel-rule data whose originator is `legal_name`."""
    payload = json.loads(IVMS101_SAMPLE.read_text())
    family, _, given = legal_name.partition(" ")
    person = payload["originator"]["originatorPersons"][0]["naturalPerson"]
    person["name"]["nameIdentifier"] = [
        {"primaryIdentifier": family, "secondaryIdentifier": given or None, "nameIdentifierType": "LEGL"}
    ]
    return {"questionnaire": json.dumps(payload)}


def identity_body(
    residence_country: str = "KR",
    nationality: str = "KR",
    residence_region: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid identity for the admin API. Synthetic: a passport number unique per call."""
    passport = f"M{next(_passports)}"
    body: dict[str, Any] = {
        "customer_type": "individual",
        "legal_name": "Kim Minjun",
        "native_name": "김민준",
        "date_of_birth": "1990-05-17",
        "nationality": nationality,
        "residence_country": residence_country,
        "residence_region": residence_region,
        "contact": {"email": "trader@example.org"},
        "national_id": {"country": nationality, "type": "passport", "number": passport},
        "identity_document": {"type": "passport", "number": passport, "issuing_country": nationality,
                              "expiry_date": "2035-01-01"},
        "risk_rating": "low",
    }  # fmt: skip
    body.update(overrides)
    return body


async def new_customer(
    session: aiohttp.ClientSession,
    base: str,
    reference: str,
    status: str = "active",
    *,
    verified: bool = True,
    level: str = "full",
    identity: dict[str, Any] | None = None,
    **jurisdiction: str,
) -> Customer:
    """A customer with an API key: by default a verified Korean resident of Korean nationality."""
    code, customer = await admin(
        session, base, "POST", "/admin/v1/customers", json={"reference": reference, "status": status}
    )
    assert code == 201, customer
    if identity is None and verified:
        identity = identity_body(**jurisdiction)
    elif identity is None:
        jurisdiction = {"residence_country": "KR", "nationality": "KR", **jurisdiction}
        code, body = await admin(
            session, base, "PATCH", f"/admin/v1/customers/{customer['id']}", json=jurisdiction
        )
        assert code == 200, body
    if identity is not None:
        code, body = await admin(
            session, base, "PUT", f"/admin/v1/customers/{customer['id']}/identity", json=identity
        )
        assert code == 200, body
    if verified:
        code, body = await admin(session, base, "POST", f"/admin/v1/customers/{customer['id']}/verification",
                                 token=OFFICER_TOKEN, json={"decision": "verify", "level": level})  # fmt: skip
        assert code == 200, body
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
    # Sent as signed, like ccxt does: a plain str URL would be re-quoted by yarl first.
    url_as_signed = yarl.URL(url, encoded=True)
    async with session.request(method, url_as_signed, headers=headers, **kwargs) as response:
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


# Packages domain code (kyc/, aml/) must not import: no HTTP, no database, no other layer
# of the service (STYLE 1).
IO_PACKAGES = frozenset({"aiohttp", "asyncpg", "gateway", "exchange", "socket", "urllib", "http", "requests"})


def imported_packages(module: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports only)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    return imported
