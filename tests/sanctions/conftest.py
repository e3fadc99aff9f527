"""Fixtures of the sanctions-list tests: a second replica on the same database, snapshot
bodies derived from the packaged list, and the CLI as an operator runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from aml.sanctions import AddressList
from gateway.app import create_app
from gateway.sanctions.service import packaged_snapshot
from gateway.sanctions.sources import CheckedSnapshot
from tests.conftest import Cli, Exchange, Gateway, gateway_cli, gateway_settings, runtime_dsn
from tests.support import serving

# Tornado Cash (ETH), listed in the packaged snapshot of 2024-09-27, delisted by OFAC in 2025.
TORNADO = "0x8589427373D6D84E98730D7795D8f6f8731FDA16"
# A listed Tron address (base58: case is part of the address).
TRON = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"
# A listed bech32 address (XBT).
BECH32 = "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw"
# Well-formed, and on no list.
UNLISTED_EVM = "0x" + "ab" * 20


def body_of(
    snapshot: CheckedSnapshot | AddressList, *, without: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The admin API's JSON for `snapshot`'s stored entries, less the entries spelled `without`."""
    stored = snapshot.addresses if isinstance(snapshot, CheckedSnapshot) else snapshot
    entries = [
        {"address": address, "network": network}
        for network, addresses in stored.addresses.items()
        for address in addresses
        if address != without
    ]
    return {"list": "OFAC SDN (test)", "as_of": "2025-03-21", "addresses": entries, **fields}


def packaged_without_tornado() -> dict[str, Any]:
    return body_of(packaged_snapshot(), without=TORNADO)


@dataclass
class Replica:
    url: str
    app: web.Application


@pytest_asyncio.fixture
async def second_replica(gateway: Gateway, exchange: Exchange) -> AsyncIterator[Replica]:
    """Another gateway process on the same database. Its background refresh is set far
    apart, so a test decides when it refreshes."""
    settings = gateway_settings(
        runtime_dsn(gateway.database_url), exchange.url, sanctions_refresh_seconds=3600.0
    )
    app = create_app(settings, migrate=False)
    async with serving(app) as url:
        yield Replica(url, app)


@pytest.fixture
def sanctions_cli(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """`python -m gateway sanctions ...` against the test database, as the runtime role."""
    return gateway_cli(gateway, capsys, monkeypatch, "sanctions")
