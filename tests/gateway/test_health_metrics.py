"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import Gateway
from tests.support import new_customer, signed

pytestmark = pytest.mark.asyncio


async def test_health_and_readiness(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway.url + "/healthz") as r:
        assert r.status == 200
    async with http.get(gateway.url + "/readyz") as r:
        assert r.status == 200
        assert await r.json() == {"ready": True, "checks": {"database": True, "upstream": True}}


async def test_public_market_data_is_counted_not_decided(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    async with http.get(gateway.url + "/api/v3/ticker/24hr?symbol=BTCUSDT") as r:
        assert r.status == 200 and (await r.json())["symbol"] == "BTCUSDT"
        assert "X-Decision-Id" not in r.headers
    assert await gateway.pool.fetchval("SELECT count(*) FROM decisions") == 0
    async with http.get(gateway.url + "/metrics") as r:
        text = await r.text()
    assert 'gateway_requests_total{route_class="public_read",status="200"} 1.0' in text


async def test_metrics_carry_no_customer_ids(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    customer = await new_customer(http, gateway.url, "labelcheck")
    await signed(http, gateway.url, "GET", "/api/v3/account", customer, {})
    await signed(
        http,
        gateway.url,
        "POST",
        "/api/v3/order",
        customer,
        {"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"},
    )
    async with http.get(gateway.url + "/metrics") as r:
        text = await r.text()
    assert 'gateway_decisions_total{action_kind="account_read",outcome="allow",reason=""} 1.0' in text
    assert "gateway_decision_seconds_bucket" in text and "gateway_upstream_seconds_bucket" in text
    for secret in (customer.id, customer.api_key, customer.reference):
        assert secret not in text
