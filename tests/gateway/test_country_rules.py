"""Country rules through the real gateway with a real client (ccxt), then and now: one
readable id per case, the rule id it expects, and the decision row that names it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_errors
import pytest

from gateway.app import create_app
from rules.loader import load_rule_book
from tests.conftest import Exchange, gateway_settings
from tests.support import admin, ccxt_client, new_customer

pytestmark = pytest.mark.asyncio
US_LICENCES = frozenset({"US-FINCEN-MSB"})
KR_LICENCES = frozenset({"KR-KOFIU-VASP"})  # KoFIU VASP registration, needed since 25 Mar 2021


@dataclass(frozen=True)
class Case:
    id: str
    residence: str
    nationality: str
    symbol: str = "BTC/USDT"
    region: str | None = None
    as_of: date | None = None
    licences: frozenset[str] = frozenset()
    rules: tuple[str, ...] = ()  # rule ids of the deny findings; empty: allowed
    # Switzerland's pack restricts no customer by nationality or residence, so the country
    # rules of the customer's residence show alone (Korea's home rules are KYC's tests).
    home: str = "CH"
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("kr-resident-trades-now", "KR", "KR", licences=KR_LICENCES),
    Case("kr-resident-needs-kofiu-registration-now", "KR", "KR", rules=("kr.licence.kofiu_vasp",)),
    Case("kr-resident-trades-2018-without-registration", "KR", "KR", as_of=date(2018, 3, 1)),
    Case("cn-resident-no-trading-now", "CN", "CN", rules=("cn.trading.current",)),
    Case("cn-resident-no-trading-2018", "CN", "CN", as_of=date(2018, 3, 1), rules=("cn.trading.2018",)),
    Case("kr-privacy-coin-barred-now", "KR", "KR", symbol="XMR/USDT", licences=KR_LICENCES, rules=("kr.privacy_coin.current",)),
    Case("kr-privacy-coin-allowed-2018", "KR", "KR", symbol="XMR/USDT", as_of=date(2018, 3, 1)),
    Case("kr-ico-token-barred", "KR", "KR", symbol="ICOT/USDT", licences=KR_LICENCES, rules=("kr.ico_token.banned",)),
    Case("kr-ico-token-barred-2018", "KR", "KR", symbol="ICOT/USDT", as_of=date(2018, 3, 1), rules=("kr.ico_token.banned",)),
    Case("jp-resident-needs-fsa-registration", "JP", "JP", rules=("jp.licence.fsa_registration",)),
    Case("jp-resident-served-with-registration", "JP", "JP", licences=frozenset({"JP-FSA-CAESP"})),
    Case("jp-privacy-coin-allowed-2018", "JP", "JP", symbol="XMR/USDT", as_of=date(2018, 3, 1),
         licences=frozenset({"JP-FSA-CAESP"})),
    Case("jp-privacy-coin-barred-now", "JP", "JP", symbol="XMR/USDT", licences=frozenset({"JP-FSA-CAESP"}),
         rules=("jp.privacy_coin.current",)),
    Case("kr-home-privacy-rule-binds-jp-residents", "JP", "JP", symbol="XMR/USDT", home="KR",
         licences=frozenset({"JP-FSA-CAESP"}),
         rules=("kr.privacy_coin.current", "jp.privacy_coin.current", "kr.foreigners.current", "kr.non_residents.current")),
    Case("us-ny-needs-bitlicense", "US", "US", region="NY", licences=US_LICENCES, rules=("us.licence.ny_bitlicense",)),
    Case("us-tx-served-with-fincen", "US", "US", region="TX", licences=US_LICENCES),
    Case("us-security-token-barred", "US", "US", region="TX", symbol="STKN/USDT", licences=US_LICENCES, rules=("us.security_token",)),
    Case("us-without-fincen-registration", "US", "US", region="TX", rules=("us.licence.fincen_msb",)),
    Case("br-resident-default-pack", "BR", "BR"),
    Case("kp-national-call-for-action", "BR", "KP", rules=("zz.call_for_action.current",)),
    Case("ir-resident-call-for-action-2018", "IR", "IR", as_of=date(2018, 3, 1), rules=("zz.call_for_action.2018",)),
]  # fmt: skip


@asynccontextmanager
async def gateway_for(database_url: str, exchange: Exchange, case: Case) -> AsyncIterator[str]:
    from tests.support import serving

    settings = gateway_settings(
        database_url, exchange.url, rules_as_of=case.as_of, licences_held=case.licences, home_country=case.home
    )
    async with serving(create_app(settings)) as url:
        yield url


async def _denied_rule_ids(database_url: str, decision_id: str) -> tuple[str, ...]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        findings = await conn.fetchval("SELECT findings::text FROM decisions WHERE id = $1", uuid.UUID(decision_id))
    finally:
        await conn.close()
    import json

    return tuple(f["rule_id"] for f in json.loads(findings) if f["outcome"] == "deny")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_country_rules_through_ccxt(database_url: str, exchange: Exchange, http: aiohttp.ClientSession, case: Case) -> None:
    async with gateway_for(database_url, exchange, case) as url:
        jurisdiction = {"residence_country": case.residence, "nationality": case.nationality}
        if case.region:
            jurisdiction["residence_region"] = case.region
        customer = await new_customer(http, url, "trader", **jurisdiction)
        client = ccxt_client(url, customer)
        try:
            await client.load_markets()
            amount = 0.001 if case.symbol.startswith("BTC") else 1.0
            if case.rules:
                with pytest.raises(ccxt_errors.InvalidOrder) as raised:
                    await client.create_order(case.symbol, "market", "buy", amount)
                assert "-4000" in str(raised.value)
            else:
                order = await client.create_order(case.symbol, "market", "buy", amount)
                assert order["status"] == "closed"
            decision_id = client.last_response_headers["X-Decision-Id"]
        finally:
            await client.close()
    assert await _denied_rule_ids(database_url, decision_id) == case.rules


async def test_decisions_record_the_pack_version(database_url: str, exchange: Exchange, http: aiohttp.ClientSession) -> None:
    case = Case("version", "KR", "KR", home="KR")
    async with gateway_for(database_url, exchange, case) as url:
        status, packs = await admin(http, url, "GET", "/admin/v1/rule-packs")
        assert status == 200 and packs["active"] == load_rule_book().version
        customer = await new_customer(http, url, "versioned")
        client = ccxt_client(url, customer)
        try:
            await client.fetch_balance()
            decision_id = client.last_response_headers["X-Decision-Id"]
        finally:
            await client.close()
        status, decision = await admin(http, url, "GET", f"/admin/v1/decisions/{decision_id}", token="test-auditor-token")
        assert decision["rule_pack_version"] == packs["active"]
