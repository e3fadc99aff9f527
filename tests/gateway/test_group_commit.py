"""Group commit: one committed row per decided request, and no answer before its commit."""

from __future__ import annotations

import asyncio
import re
import uuid

import aiohttp
import pytest

from gateway import appkeys as K
from tests.conftest import Gateway
from tests.support import new_customer, signed

pytestmark = pytest.mark.asyncio
CONCURRENT = 120


async def test_every_answer_follows_its_commit(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customers = [await new_customer(http, gateway.url, f"trader-{i}") for i in range(4)]
    seen_committed: list[bool] = []

    async def one(i: int) -> str:
        customer = customers[i % len(customers)]
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001",
                  "price": str(20000 + i), "timeInForce": "GTC"}  # fmt: skip
        status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order", customer, params)
        assert status == 200, body
        decision_id = headers["X-Decision-Id"]
        # Checked the moment the answer arrives, on a connection of our own: the row must
        # already be committed, or the gateway answered before it was durable.
        seen_committed.append(
            await gateway.pool.fetchval("SELECT true FROM decisions WHERE id = $1", uuid.UUID(decision_id))
            is True
        )
        return decision_id

    ids = await asyncio.gather(*(one(i) for i in range(CONCURRENT)))
    assert all(seen_committed) and len(seen_committed) == CONCURRENT
    assert len(set(ids)) == CONCURRENT
    rows = await gateway.pool.fetch("SELECT id::text FROM decisions WHERE operation = 'binance.order.create'")
    assert sorted(r["id"] for r in rows) == sorted(ids), "exactly one row per request"

    metrics = gateway.app[K.METRICS].exposition().decode()
    batches = float(re.search(r"^gateway_decision_write_batch_size_count (\S+)$", metrics, re.M)[1])  # type: ignore[index]
    rows_written = float(re.search(r"^gateway_decision_write_batch_size_sum (\S+)$", metrics, re.M)[1])  # type: ignore[index]
    assert rows_written >= CONCURRENT
    assert batches < rows_written, "concurrent decisions share commits"


async def test_a_lone_decision_is_written_at_once(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "lonely")
    for _ in range(3):
        status, _, _ = await signed(http, gateway.url, "GET", "/api/v3/account", customer, {})
        assert status == 200
    metrics = gateway.app[K.METRICS].exposition().decode()
    # Sequential requests never wait for company: each goes out in a batch of one.
    assert (
        re.search(r'^gateway_decision_write_batch_size_bucket\{le="1.0"\} (\S+)$', metrics, re.M)[1]
        == re.search(  # type: ignore[index]
            r"^gateway_decision_write_batch_size_count (\S+)$", metrics, re.M
        )[1]
    )  # type: ignore[index]
