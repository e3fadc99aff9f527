"""Self-hosted destinations through the real gateway with ccxt, an exchange at home in
Estonia (EU TFR): above EUR 1,000 a withdrawal to a self-hosted address needs a message
signed with that address's key, made for this customer (aml/ownership.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from coincurve import PrivateKey
from pydantic import SecretStr

from aml.ownership import ownership_message
from gateway.app import create_app
from tests.aml.test_ownership import EVM_ADDRESS, EVM_KEY, KEY_ONE, P2WPKH, bitcoin_proof, evm_proof
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.gateway.test_aml import _decision, _withdraw
from tests.support import ccxt_client, new_customer, serving, travel_rule_params

pytestmark = pytest.mark.asyncio
TAPROOT = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
OVER_EUR_1000 = "0.02"  # BTC at USDT 60,000: EUR 1,104 at the default USD/EUR 0.92


@pytest_asyncio.fixture
async def estonia(database_url: str, exchange: Exchange) -> AsyncIterator[Gateway]:
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        home_country="EE",
    )  # fmt: skip
    app = create_app(settings)
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


def _params(proof: str | None) -> dict[str, str]:
    params = {**travel_rule_params(), "walletType": "self_hosted"}  # EUR 0 travel rule in the EU
    if proof is not None:
        params["ownershipProof"] = proof
    return params


async def _outcome(http: aiohttp.ClientSession, gateway: Gateway, address: str, coin: str, amount: str,
                   proof: Any) -> tuple[str, list[str]]:  # fmt: skip
    customer = await new_customer(http, gateway.url, "self-hosted", residence_country="EE", nationality="EE")
    made = proof(customer.id) if callable(proof) else proof
    async with ccxt_client(gateway.url, customer) as client:
        decision_id = await _withdraw(client, coin, amount, address, _params(made))
    decision = await _decision(http, gateway.url, decision_id)
    return decision["outcome"], decision["reasons"]


async def test_a_signed_proof_for_this_customer_lets_the_withdrawal_through(
    estonia: Gateway, http: aiohttp.ClientSession
) -> None:
    def proof(customer_id: str) -> str:
        return bitcoin_proof(KEY_ONE, ownership_message(customer_id, P2WPKH), 39)

    assert await _outcome(http, estonia, P2WPKH, "BTC", OVER_EUR_1000, proof) == ("allow", [])


async def test_an_ethereum_proof_works_the_same(estonia: Gateway, http: aiohttp.ClientSession) -> None:
    def proof(customer_id: str) -> str:
        return evm_proof(EVM_KEY, ownership_message(customer_id, EVM_ADDRESS))

    assert await _outcome(http, estonia, EVM_ADDRESS, "ETH", "1", proof) == ("allow", [])


@pytest.mark.parametrize(
    ("address", "proof", "reason"),
    [
        (P2WPKH, None, "self_hosted_proof_missing"),
        # Signed by the address's key, but for someone else: a proof cannot be passed on.
        (P2WPKH, bitcoin_proof(KEY_ONE, ownership_message("someone-else", P2WPKH), 39),
         "self_hosted_proof_invalid"),
        # The right message, the wrong key.
        (P2WPKH, lambda c: bitcoin_proof(PrivateKey(), ownership_message(c, P2WPKH), 39),
         "self_hosted_proof_invalid"),
        ("0x" + "0" * 40, "a screenshot of my wallet app", "self_hosted_proof_invalid"),
        (TAPROOT, "signed elsewhere, somehow, trust me", "self_hosted_proof_unverifiable"),
    ],
    ids=["missing", "another-customers-proof", "another-key", "not-a-signature", "taproot"],
)
async def test_anything_else_is_refused_with_its_reason(
    estonia: Gateway, http: aiohttp.ClientSession, address: str, proof: Any, reason: str
) -> None:
    coin = "ETH" if address.startswith("0x") else "BTC"
    amount = "1" if coin == "ETH" else OVER_EUR_1000
    outcome, reasons = await _outcome(http, estonia, address, coin, amount, proof)
    assert (outcome, reasons) == ("deny", [reason])


async def test_under_eur_1000_no_proof_is_needed(estonia: Gateway, http: aiohttp.ClientSession) -> None:
    assert await _outcome(http, estonia, P2WPKH, "BTC", "0.01", None) == ("allow", [])
