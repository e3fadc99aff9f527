"""Logging conventions: JSON lines carrying request and decision ids, the request id on
every answer, and an access log that holds no query string and no personal data."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio

from gateway import logs
from gateway.app import create_app
from tests.conftest import Exchange, Gateway, gateway_settings
from tests.support import OPERATOR_TOKEN, identity_body, new_customer, serving, signed

DECISION = uuid.UUID("0190d6a2-7c3e-7f00-8000-000000000002")
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "100"}  # fmt: skip


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The process configured as `GATEWAY_LOG_FORMAT=json` would configure it."""
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    logs.configure("INFO", "json", force=True)
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)


@pytest_asyncio.fixture
async def logged_gateway(database_url: str, exchange: Exchange) -> AsyncIterator[Gateway]:
    app = create_app(gateway_settings(database_url, exchange.url, access_log=True))
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


def json_lines(err: str) -> list[dict[str, Any]]:
    """Every line on stderr must be one JSON object."""
    return [orjson.loads(line) for line in err.splitlines() if line.strip()]


@pytest.mark.asyncio
async def test_json_lines_carry_the_request_and_decision_ids(
    logged_gateway: Gateway, http: aiohttp.ClientSession, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    trader = await new_customer(http, logged_gateway.url, "log-trader")
    capsys.readouterr()
    status, _, headers = await signed(http, logged_gateway.url, "POST", "/api/v3/order", trader, ORDER)
    assert status in (200, 400)
    decision_id, request_id = headers["X-Decision-Id"], headers["X-Request-Id"]
    lines = json_lines(capsys.readouterr().err)
    access = [line for line in lines if line["logger"] == logs.ACCESS_LOGGER]
    assert len(access) == 1
    entry = access[0]
    assert {"time", "level", "logger", "message"} <= set(entry)
    assert entry["request_id"] == request_id and entry["decision_id"] == decision_id
    assert (entry["method"], entry["route"], entry["status"]) == ("POST", "/api/v3/order", status)
    assert entry["duration_ms"] >= 0
    # The decision row records the same request id.
    conn = await asyncpg.connect(logged_gateway.database_url)
    try:
        recorded = await conn.fetchval("SELECT request_id FROM decisions WHERE id = $1::uuid", decision_id)
    finally:
        await conn.close()
    assert recorded == request_id


@pytest.mark.asyncio
async def test_the_access_log_holds_no_query_string_and_no_personal_data(
    logged_gateway: Gateway, http: aiohttp.ClientSession, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = identity_body(legal_name="Zelda Quixote-Personal")
    trader = await new_customer(http, logged_gateway.url, "ref-personal-77", identity=identity)
    await signed(http, logged_gateway.url, "GET", "/api/v3/account", trader, {})
    err = capsys.readouterr().err
    lines = json_lines(err)
    routes = {line["route"] for line in lines if line["logger"] == logs.ACCESS_LOGGER}
    assert "/api/v3/account" in routes
    assert "/admin/v1/customers/{customer_id}/identity" in routes
    for secret in ("signature=", "timestamp=", "Zelda", "Quixote", "ref-personal-77", trader.id, trader.api_key,
                   identity["national_id"]["number"], "trader@example.org"):  # fmt: skip
        assert secret not in err


@pytest.mark.parametrize(
    "given, kept",
    [("trace-1234.abc_DEF", True), ("x" * 65, False), ("has space", False), ("a;b=<c>", False),
     ("", False), (None, False)],
    ids=["safe", "too long", "space", "punctuation", "empty", "absent"],
)  # fmt: skip
@pytest.mark.asyncio
async def test_the_request_id_is_the_clients_only_when_short_and_safe(
    gateway: Gateway, http: aiohttp.ClientSession, given: str | None, kept: bool
) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    if given is not None:
        headers[logs.REQUEST_ID_HEADER] = given
    async with http.get(gateway.url + "/admin/v1/customers", headers=headers) as response:
        answered = response.headers[logs.REQUEST_ID_HEADER]
    if kept:
        assert answered == given
    else:
        assert answered != given and logs.request_id_for(answered) == answered  # safe itself


def test_the_text_format_names_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    logs.configure("INFO", "text", force=True)
    token_r, token_d = logs.request_id.set("req-1"), logs.decision_id.set(DECISION)
    try:
        logging.getLogger("gateway.test").warning("something happened")
    finally:
        logs.request_id.reset(token_r)
        logs.decision_id.reset(token_d)
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
    line = capsys.readouterr().err.strip()
    assert line.endswith(
        f"WARNING gateway.test: something happened [request_id=req-1 decision_id={DECISION}]"
    )


def test_a_json_line_keeps_a_traceback_on_its_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    logs.configure("INFO", "json", force=True)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("gateway.test").exception("failed")
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
    (line,) = capsys.readouterr().err.strip().splitlines()
    doc = orjson.loads(line)
    assert doc["level"] == "ERROR" and "RuntimeError: boom" in doc["exception"]
    assert "request_id" not in doc  # outside a request
