"""Real-name KYC through the real gateway with a real client: one readable id per case,
the rule id it expects, for KR, JP, US, CH, EE, HK and CN customers, then and now."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest

from gateway.app import create_app
from tests.conftest import TEST_LICENCES, Exchange, gateway_settings
from tests.support import (
    OFFICER_TOKEN,
    admin,
    ccxt_client,
    identity_body,
    new_customer,
    serving,
    travel_rule_params,
)

pytestmark = pytest.mark.asyncio
TODAY = datetime.now(UTC).date()
SEED = date(2018, 3, 1)
ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def born_years_ago(years: int, on: date = TODAY) -> str:
    return on.replace(year=on.year - years).isoformat()


@dataclass(frozen=True)
class Case:
    id: str
    call: str  # "order", "withdraw", "deposit_address", "balance"
    home: str = "KR"
    as_of: date | None = None
    residence: str = "KR"
    nationality: str = "KR"
    region: str | None = None
    identity: dict[str, Any] = field(default_factory=dict)  # overrides of the identity
    verified: bool = True
    level: str = "full"
    valid_until: str | None = None
    licences: frozenset[str] = TEST_LICENCES  # a Korean VASP's registration (kr.licence.kofiu_vasp)
    rules: tuple[str, ...] = ()  # deny rule ids; empty: allowed


CASES = [
    Case("kr-verified-trades", "order"),
    Case("kr-verified-withdraws", "withdraw"),
    Case("kr-unverified-cannot-trade", "order", verified=False, rules=("kyc.verification.not_verified",)),
    Case("kr-unverified-cannot-withdraw", "withdraw", verified=False, rules=("kyc.verification.not_verified",)),
    Case("kr-unverified-no-deposit-address", "deposit_address", verified=False, rules=("kyc.verification.not_verified",)),
    Case("kr-unverified-reads-own-account", "balance", verified=False),
    # Verified until today; the gateway judges the day after (its as-of date).
    Case("kr-verification-expired", "order", valid_until=TODAY.isoformat(), as_of=TODAY + timedelta(days=1),
         rules=("kyc.verification.verification_expired",)),
    Case("kr-document-expired", "order", identity={"identity_document": "expired"}, rules=("kyc.verification.document_expired",)),
    Case("kr-under-19-now", "order", identity={"date_of_birth": born_years_ago(18)}, rules=("kr.min_age.current",)),
    Case("kr-under-19-2018", "order", as_of=SEED, identity={"date_of_birth": born_years_ago(18, SEED)}, rules=("kr.min_age.2018",)),
    Case("kr-19-allowed", "order", identity={"date_of_birth": born_years_ago(19)}),
    Case("kr-basic-level-trades", "order", level="basic"),
    Case("kr-basic-level-cannot-withdraw", "withdraw", level="basic", rules=("kr.kyc.basic",)),
    Case("kr-corporate-refused", "order", identity={"customer_type": "corporate", "date_of_birth": None,
                                                    "national_id": None, "native_name": None}, rules=("kr.corporates.current",)),
    Case("jp-national-resident-in-kr", "order", nationality="JP", rules=("kr.foreigners.current",)),
    Case("jp-national-2018", "order", as_of=SEED, nationality="JP", rules=("kr.foreigners.2018",)),
    Case("jp-resident-non-resident-of-kr", "order", residence="JP", nationality="JP",
         rules=("jp.licence.fsa_registration", "kr.foreigners.current", "kr.non_residents.current")),
    Case("us-resident-on-kr", "order", residence="US", nationality="US", region="TX", licences=frozenset({"US-FINCEN-MSB"}),
         rules=("kr.foreigners.current", "kr.non_residents.current")),
    Case("ch-home-us-resident-served", "order", home="CH", residence="US", nationality="US", region="TX",
         licences=frozenset({"US-FINCEN-MSB"})),
    Case("ch-home-us-17-underage", "order", home="CH", residence="US", nationality="US", region="TX",
         licences=frozenset({"US-FINCEN-MSB"}), identity={"date_of_birth": born_years_ago(17)}, rules=("zz.min_age",)),
    Case("ch-home-ch-resident", "order", home="CH", residence="CH", nationality="CH"),
    Case("ch-home-ee-resident", "withdraw", home="CH", residence="EE", nationality="EE"),
    Case("ch-home-hk-resident-unverified", "order", home="CH", residence="HK", nationality="HK", verified=False,
         rules=("hk.licence.vatp", "hk.stablecoin.current", "kyc.verification.not_verified")),
    Case("ch-home-cn-resident", "order", home="CH", residence="CN", nationality="CN", rules=("cn.trading.current",)),
    Case("jp-home-19-year-old-2018", "order", home="JP", as_of=SEED, residence="JP", nationality="JP",
         licences=frozenset({"JP-FSA-CAESP"}), identity={"date_of_birth": born_years_ago(19, SEED)}, rules=("jp.min_age.2018",)),
    Case("jp-home-19-year-old-now", "order", home="JP", residence="JP", nationality="JP",
         licences=frozenset({"JP-FSA-CAESP"}), identity={"date_of_birth": born_years_ago(19)}),
]  # fmt: skip


def _identity(case: Case) -> dict[str, Any]:
    body = identity_body(case.residence, case.nationality, case.region)
    for key, value in case.identity.items():
        if key == "identity_document" and value == "expired":
            body["identity_document"]["expiry_date"] = (TODAY - timedelta(days=1)).isoformat()
        else:
            body[key] = value
    if body["customer_type"] == "corporate":
        body["identity_document"] = None
    return body


async def _customer(http: aiohttp.ClientSession, url: str, case: Case) -> Any:
    customer = await new_customer(http, url, "kyc", verified=False, identity=_identity(case))
    if case.verified:
        body = {"decision": "verify", "level": case.level, "valid_until": case.valid_until}
        status, answer = await admin(http, url, "POST", f"/admin/v1/customers/{customer.id}/verification",
                                     token=OFFICER_TOKEN, json=body)  # fmt: skip
        assert status == 200, answer
    return customer


async def _call(client: Any, call: str) -> None:
    if call == "order":
        await client.create_order("BTC/USDT", "market", "buy", 0.001)
    elif call == "withdraw":
        await client.withdraw("BTC", 0.001, ADDRESS, params=travel_rule_params())
    elif call == "deposit_address":
        await client.fetch_deposit_address("BTC")
    else:
        await client.fetch_balance()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_kyc_rules_through_ccxt(database_url: str, exchange: Exchange, http: aiohttp.ClientSession, case: Case) -> None:
    settings = gateway_settings(
        database_url, exchange.url, home_country=case.home, rules_as_of=case.as_of, licences_held=case.licences
    )
    async with serving(create_app(settings)) as url:
        customer = await _customer(http, url, case)
        client = ccxt_client(url, customer)
        try:
            await client.load_markets()
            if case.rules:
                with pytest.raises((ccxt.InvalidOrder, ccxt.BadRequest)):
                    await _call(client, case.call)
            else:
                await _call(client, case.call)
            decision_id = client.last_response_headers["X-Decision-Id"]
        finally:
            await client.close()
    conn = await asyncpg.connect(database_url)
    try:
        findings = json.loads(await conn.fetchval("SELECT findings::text FROM decisions WHERE id = $1", uuid.UUID(decision_id)))
    finally:
        await conn.close()
    assert tuple(f["rule_id"] for f in findings if f["outcome"] == "deny") == case.rules
    assert all(f.get("citation") for f in findings)
