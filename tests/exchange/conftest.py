"""Fixtures for the mock exchange: a live server on 127.0.0.1 and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from exchange.app import create_exchange_app
from exchange.settings import ExchangeSettings
from tests.exchange.exchange_testkit import SERVICE_TOKEN


@pytest.fixture
def settings() -> ExchangeSettings:
    return ExchangeSettings(service_token=SERVICE_TOKEN)


@pytest_asyncio.fixture
async def server(settings: ExchangeSettings) -> AsyncIterator[TestServer]:
    srv = TestServer(create_exchange_app(settings), host="127.0.0.1", port=0)
    await srv.start_server()
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
