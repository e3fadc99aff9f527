"""With Postgres gone, nothing that moves money or reads an account is forwarded: 503,
counted. When Postgres returns, traffic flows again without a restart."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import asyncpg
import pytest

from gateway.app import create_app
from gateway.ops.pgserver import EmbeddedPostgres
from tests.conftest import Exchange, gateway_settings
from tests.support import AUDITOR_TOKEN, SERVICE_TOKEN, admin, new_customer, serving, signed

pytestmark = pytest.mark.asyncio

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "20000",
    "timeInForce": "GTC",
}
WITHDRAWAL = {"coin": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": "0.01"}


async def _received(exchange: Exchange, http: aiohttp.ClientSession) -> int:
    """Calls made on behalf of a customer: the gateway's own background fetches of
    public data (market list, prices) go on while the database is down, and may."""
    url = exchange.url + "/ops/requests?limit=1000"
    async with http.get(url, headers={"X-Gateway-Token": SERVICE_TOKEN}) as r:
        return sum(1 for row in (await r.json())["requests"] if row["customer_id"] is not None)


async def test_database_down_fails_closed_then_recovers(
    own_postgres: EmbeddedPostgres,
    exchange: Exchange,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(gateway_settings(own_postgres.dsn, exchange.url, db_timeout_seconds=1.0))
    async with serving(app) as url:
        alice = await new_customer(http, url, "alice")
        status, _, _ = await signed(http, url, "POST", "/api/v3/order", alice, ORDER)
        assert status == 200

        await asyncio.to_thread(own_postgres.kill)
        before = await _received(exchange, http)
        for path, params in (
            ("/api/v3/order", ORDER),
            ("/sapi/v1/capital/withdraw/apply", WITHDRAWAL),
            ("/api/v3/account", {}),
        ):
            method = "GET" if path == "/api/v3/account" else "POST"
            status, body, _ = await signed(http, url, method, path, alice, params)
            assert (status, body["code"]) == (503, -1001), body
            assert body["msg"].startswith("decision_store_unavailable:")
        assert await _received(exchange, http) == before, "nothing may reach the exchange undecided"
        async with http.get(url + "/metrics") as response:
            metrics = await response.text()
        assert 'gateway_fail_closed_total{reason="decision_store_unavailable"} 3.0' in metrics
        async with http.get(url + "/readyz") as response:
            assert response.status == 503
        # The admin API too: one error shape, counted, and the log names the route, not
        # the customer in the path.
        with caplog.at_level(logging.WARNING, logger="gateway.http.middleware"):
            status, body = await admin(
                http, url, "GET", f"/admin/v1/customers/{alice.id}", token=AUDITOR_TOKEN
            )
        assert status == 503 and body["error"]["code"] == "database_unavailable", body
        assert "/admin/v1/customers/{customer_id}" in caplog.text and alice.id not in caplog.text
        async with http.get(url + "/metrics") as response:
            assert (
                'gateway_fail_closed_total{reason="admin_database_unavailable"} 1.0' in await response.text()
            )

        await asyncio.to_thread(own_postgres.start)
        status, body, headers = await signed(http, url, "POST", "/api/v3/order", alice, ORDER)
        assert status == 200, body
        conn = await asyncpg.connect(own_postgres.dsn)
        try:
            outcome = await conn.fetchval(
                "SELECT outcome FROM decisions WHERE id = $1::uuid", headers["X-Decision-Id"]
            )
        finally:
            await conn.close()
        assert outcome == "allow"
        async with http.get(url + "/readyz") as response:
            assert response.status == 200


async def test_upstream_down_is_a_503_counted(
    own_postgres: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    exchange_app_url = "http://127.0.0.1:9"  # discard port: nothing listens there
    app = create_app(gateway_settings(own_postgres.dsn, exchange_app_url, upstream_timeout_seconds=2.0))
    async with serving(app) as url:
        alice = await new_customer(http, url, "alice")
        # Without the exchange's market list the gateway cannot check the symbol: 503.
        status, body, _ = await signed(http, url, "POST", "/api/v3/order", alice, ORDER)
        assert (status, body["code"]) == (503, -1001) and body["msg"].startswith("markets_unavailable:")
        # A call that needs no market list is decided, recorded, and then cannot be delivered.
        status, body, headers = await signed(http, url, "GET", "/api/v3/account", alice, {})
        assert (status, body["code"]) == (503, -1001), body
        assert body["msg"].startswith("upstream_unavailable:")
        assert "X-Decision-Id" in headers
        async with http.get(url + "/metrics") as response:
            metrics = await response.text()
        assert 'gateway_upstream_errors_total{kind="unavailable"}' in metrics
        assert 'gateway_fail_closed_total{reason="markets_unavailable"} 1.0' in metrics
