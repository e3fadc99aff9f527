"""Helpers for the review tests: a held withdrawal made as the AML path will make it (a
hold decision through the gateway's own writer, then `park` with the real signed call),
and looks at what the exchange did."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from gateway.feeds.markets import utcnow
from gateway.review.keys import key_secret
from gateway.review.store import HeldCall, park
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome, Verdict
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.support import OFFICER_TOKEN, SECRET_KEY, SERVICE_TOKEN, Customer, admin, serving, sign

ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
WITHDRAW_PATH = "/sapi/v1/capital/withdraw/apply"
FORM = "application/x-www-form-urlencoded"
HOLD_FINDING = Finding(
    "aml", "kr.aml.rolling_24h", Outcome.HOLD, "rolling_window_exceeded", "24 h withdrawals over the limit",
    {"window_total": "15000000", "threshold": "10000000", "currency": "KRW"}, "Test citation",
)  # fmt: skip
NOTE = "Source of funds documented; released."


async def make_hold(
    gateway: Gateway,
    customer: Customer,
    *,
    amount: str = "0.01",
    expires_in: timedelta = timedelta(hours=72),
    held_ago: timedelta = timedelta(0),
    extra: list[tuple[str, str]] | None = None,
    asset: str = "BTC",
    home_value: Decimal | None = None,
) -> uuid.UUID:
    """A hold decision committed by the gateway's writer, and its call parked with the real
    signed withdraw body the customer sent. `home_value`: its value in KRW (the Korean
    home's currency), which the gateway's dual control compares; None: not valued."""
    body = sign(customer.secret, [("coin", asset), ("address", ADDRESS), ("amount", amount), *(extra or [])])
    held_at = utcnow() - held_ago
    api_key_id = await gateway.pool.fetchval("SELECT id FROM api_keys WHERE api_key = $1", customer.api_key)
    action = Action(
        kind=ActionKind.WITHDRAWAL, operation="binance.withdraw.apply", customer_id=customer.id,
        asset=asset, quantity=Decimal(amount), address=ADDRESS,
    )  # fmt: skip
    row = DecisionRow(
        id=new_decision_id(), decided_at=held_at, request_id=uuid.uuid4().hex, customer_id=customer.id,
        api_key_id=str(api_key_id), dialect="binance", http_method="POST", path=WITHDRAW_PATH,
        action=action, verdict=Verdict(Outcome.HOLD, (HOLD_FINDING,), "test-pack"), decision_micros=7,
    )  # fmt: skip
    await gateway.app[K.WRITER].record(row)
    held = HeldCall(
        decision_id=row.id, customer_id=uuid.UUID(customer.id), api_key_id=api_key_id,
        action_kind="withdrawal", asset=asset, amount=Decimal(amount), address=ADDRESS, network=None,
        http_method="POST", path=WITHDRAW_PATH, raw_query="", body=body.encode(), content_type=FORM,
        findings=[HOLD_FINDING.as_json()], held_at=held_at, expires_at=held_at + expires_in,
        home_currency="KRW", home_value=home_value,
    )  # fmt: skip
    dual_control_above = gateway.app[K.SETTINGS].review_dual_control_above
    async with gateway.pool.acquire() as conn, conn.transaction():
        await park(conn, held, key_secret(SECRET_KEY), dual_control_above)
    return row.id


async def account(http: aiohttp.ClientSession, exchange: Exchange, customer_id: str) -> dict[str, Any]:
    """What the exchange holds for the customer (created, and funded, on first use)."""
    headers = {"X-Gateway-Token": SERVICE_TOKEN}
    async with http.get(f"{exchange.url}/ops/accounts/{customer_id}", headers=headers) as response:
        if response.status == 404:
            # First use creates the account with the exchange's starting balances.
            async with http.get(
                f"{exchange.url}/sapi/v1/capital/withdraw/history",
                headers={**headers, "X-Customer-Id": customer_id},
            ) as created:
                assert created.status == 200
            return await account(http, exchange, customer_id)
        body: dict[str, Any] = await response.json()
        return body


async def withdrawals(
    http: aiohttp.ClientSession, exchange: Exchange, customer_id: str
) -> list[dict[str, Any]]:
    headers = {"X-Gateway-Token": SERVICE_TOKEN, "X-Customer-Id": customer_id}
    async with http.get(f"{exchange.url}/sapi/v1/capital/withdraw/history", headers=headers) as response:
        assert response.status == 200
        rows: list[dict[str, Any]] = await response.json()
        return rows


async def review(
    http: aiohttp.ClientSession, base: str, hold_id: uuid.UUID, verb: str, *, token: str = OFFICER_TOKEN,
    json: Any = None,
) -> tuple[int, Any]:  # fmt: skip
    return await admin(
        http, base, "POST", f"/admin/v1/holds/{hold_id}/{verb}", token=token,
        json={"note": NOTE} if json is None else json,
    )  # fmt: skip


async def hold_state(gateway: Gateway, hold_id: uuid.UUID) -> str:
    state: str = await gateway.pool.fetchval("SELECT state FROM held_calls WHERE id = $1", hold_id)
    return state


async def events_of(gateway: Gateway, hold_id: uuid.UUID) -> list[tuple[str, str]]:
    rows = await gateway.pool.fetch(
        """SELECT kind, actor FROM audit_events WHERE subject_type = 'decision' AND subject_id = $1
            ORDER BY occurred_at, seq""",
        str(hold_id),
    )
    return [(r["kind"], r["actor"]) for r in rows]


@asynccontextmanager
async def another_gateway(
    gateway: Gateway, exchange: Exchange, **overrides: Any
) -> AsyncIterator[tuple[web.Application, str]]:
    """A second gateway process on the same database (as a replica, or after a restart)."""
    settings = gateway_settings(
        runtime_dsn(gateway.database_url), exchange.url,
        migration_database_url=SecretStr(gateway.database_url), **overrides,
    )  # fmt: skip
    app = create_app(settings)
    async with serving(app) as url:
        yield app, url
