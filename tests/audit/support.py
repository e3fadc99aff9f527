"""Helpers for the audit-trail tests: decision rows made to order, a busy log, partitions
old enough to drop, superuser access for tampering, and verification through the admin API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg

from gateway import appkeys as K
from gateway.feeds.markets import utcnow
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind, Side
from policy.decision import Finding, Outcome, Verdict
from tests.conftest import Gateway
from tests.support import AUDITOR_TOKEN, Customer, admin, new_customer, signed

ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def decision(
    customer_id: str | None,
    *,
    outcome: Outcome = Outcome.ALLOW,
    kind: ActionKind = ActionKind.ORDER,
    at: datetime | None = None,
    symbol: str = "BTCUSDT",
    quantity: str = "0.5",
    price: str = "20000",
    rule_id: str | None = None,
    country: str | None = None,
    address: str | None = None,
    client_order_id: str | None = None,
) -> DecisionRow:
    """A decision row as the proxy would build it, with just the parts a test cares about."""
    quote = "USDT" if symbol.endswith("USDT") else symbol[-3:]
    action = Action(
        kind=kind, operation=f"binance.{kind.value}", customer_id=customer_id, symbol=symbol,
        base_asset=symbol.removesuffix(quote), quote_asset=quote, side=Side.BUY, order_type="LIMIT",
        quantity=Decimal(quantity), price=Decimal(price), address=address, client_order_id=client_order_id,
    )  # fmt: skip
    findings: tuple[Finding, ...] = ()
    if rule_id is not None:
        findings = (
            Finding("test", rule_id, outcome, rule_id.rsplit(".", 1)[-1], "made by a test", {"n": 1}),
        )
    return DecisionRow(
        id=new_decision_id(), decided_at=at or utcnow(), request_id=uuid.uuid4().hex, customer_id=customer_id,
        api_key_id=None, dialect="binance", http_method="POST", path="/api/v3/order", action=action,
        verdict=Verdict(outcome, findings, "test-pack"), decision_micros=42, country=country,
    )  # fmt: skip


async def record_all(gateway: Gateway, rows: list[DecisionRow]) -> None:
    """Through the gateway's own group-commit writer: real chains, real batches."""
    writer = gateway.app[K.WRITER]
    await asyncio.gather(*(writer.record(r) for r in rows))


def spread(count: int, start: datetime, step: timedelta) -> list[datetime]:
    return [start + step * i for i in range(count)]


async def busy_log(http: aiohttp.ClientSession, gateway: Gateway, calls: int = 4) -> Customer:
    """A customer made and given a key (events), then signed calls (decisions and what
    the exchange answered)."""
    alice = await new_customer(http, gateway.url, "alice")
    for _ in range(calls):
        status, _, _ = await signed(http, gateway.url, "GET", "/api/v3/account", alice, {})
        assert status == 200
    await settle(gateway)
    return alice


async def settle(gateway: Gateway) -> None:
    """Upstream results ride with the next batch; one more lone decision flushes them."""
    await record_all(gateway, [decision(None, kind=ActionKind.ACCOUNT_READ)])


OLD = datetime(2014, 1, 10, tzinfo=UTC)  # in a partition old enough for retention to drop


async def old_partitions(gateway: Gateway) -> None:
    """January 2014 for every log table (the automatic ones start at this month)."""
    conn = await asyncpg.connect(gateway.database_url)
    try:
        for table in ("decisions", "upstream_results", "audit_events"):
            await conn.execute(
                f"CREATE TABLE {table}_p201401 PARTITION OF {table}"
                " FOR VALUES FROM ('2014-01-01 00:00Z') TO ('2014-02-01 00:00Z')"
            )
    finally:
        await conn.close()


@asynccontextmanager
async def superuser(gateway: Gateway) -> AsyncIterator[asyncpg.Connection]:
    """The owner's connection with triggers off: how someone with full control would tamper."""
    conn = await asyncpg.connect(gateway.database_url)
    await conn.execute("SET session_replication_role = replica")
    try:
        yield conn
    finally:
        await conn.close()


async def verify_api(http: aiohttp.ClientSession, gateway: Gateway, query: str = "") -> dict[str, Any]:
    status, body = await admin(
        http, gateway.url, "GET", "/admin/v1/audit/verify" + query, token=AUDITOR_TOKEN
    )
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
