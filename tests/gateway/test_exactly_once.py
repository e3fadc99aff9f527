"""A held withdrawal's idempotency key cannot be pre-empted: the gateway's keys live in a
namespace clients may not use (refused at the edge, recorded) and are derived with a
server secret, so the id the client is shown does not predict them. The approval then
forwards exactly once and the exchange holds one withdrawal for the hold."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from gateway.review.keys import RESERVED_KEY_PREFIX, derived_key, key_secret, reserved_key
from tests.conftest import Exchange, Gateway
from tests.review.support import ADDRESS, FORM, WITHDRAW_PATH, make_hold, review, withdrawals
from tests.support import SECRET_KEY, SERVICE_TOKEN, new_customer, signed


@pytest.mark.asyncio
async def test_a_client_cannot_take_the_key_of_a_held_withdrawal_first(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    mallory = await new_customer(http, gateway.url, "mallory")
    hold_id = await make_hold(gateway, mallory, amount="0.01")
    key = derived_key(key_secret(SECRET_KEY), hold_id)
    assert hold_id.hex not in key, "the key must not follow from the id the client is shown"
    decisions_before = await gateway.pool.fetchval("SELECT count(*) FROM decisions")
    # The key itself (had it leaked), the pre-namespace form the hold id predicted, and the
    # reserved prefix in any case: each refused before anything reaches the exchange.
    for attempt in (key, "g" + hold_id.hex, RESERVED_KEY_PREFIX.upper() + "x", "gw:anything"):
        params = {"coin": "BTC", "address": ADDRESS, "amount": "0.001", "withdrawOrderId": attempt}
        status, body, _ = await signed(http, gateway.url, "POST", WITHDRAW_PATH, mallory, params)
        assert (status, body["code"]) == (400, -1102), body
        assert body["msg"].startswith("invalid_value:"), body
    assert await withdrawals(http, exchange, mallory.id) == []
    # Each refusal is a recorded decision.
    assert await gateway.pool.fetchval("SELECT count(*) FROM decisions") == decisions_before + 4

    status, answer = await review(http, gateway.url, hold_id, "approve")
    assert status == 200 and answer["state"] == "forwarded", answer
    sent = await withdrawals(http, exchange, mallory.id)
    assert [(w["withdrawOrderId"], Decimal(w["amount"])) for w in sent] == [(key, Decimal("0.01"))]


@pytest.mark.asyncio
async def test_an_answer_describing_another_withdrawal_is_forward_failed_and_counted(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """The key taken outside this gateway (another system on the same exchange account,
    a leaked key): the exchange answers the forward with that other withdrawal, 200 and
    an id. The hold must not be recorded as forwarded."""
    alice = await new_customer(http, gateway.url, "alice")
    hold_id = await make_hold(gateway, alice, amount="0.01")
    key = derived_key(key_secret(SECRET_KEY), hold_id)
    headers = {"X-Gateway-Token": SERVICE_TOKEN, "X-Customer-Id": alice.id, "Content-Type": FORM}
    other = f"coin=BTC&address={ADDRESS}&amount=0.002&withdrawOrderId={key}"
    async with http.post(exchange.url + WITHDRAW_PATH, data=other.encode(), headers=headers) as r:
        assert r.status == 200, await r.text()

    status, answer = await review(http, gateway.url, hold_id, "approve")
    assert status == 200, answer
    assert answer["state"] == "forward_failed", answer
    stored = await gateway.pool.fetchval("SELECT upstream_body FROM held_calls WHERE id = $1", hold_id)
    assert stored.startswith("answer_mismatch: the exchange's withdrawal differs in amount"), stored
    assert await _metric(http, gateway, "gateway_review_forward_mismatch_total") == 1
    assert [Decimal(w["amount"]) for w in await withdrawals(http, exchange, alice.id)] == [Decimal("0.002")]


async def _metric(http: aiohttp.ClientSession, gateway: Gateway, name: str) -> float:
    async with http.get(gateway.url + "/metrics") as r:
        text = await r.text()
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


@pytest.mark.parametrize(
    ("client_id", "reserved"),
    [
        ("gw:1234", True),
        ("GW:1234", True),
        ("g" + "0" * 32, True),
        ("G" + "ab" * 16, True),
        ("g" + "0" * 31, False),  # not the legacy form's length
        ("gw-1234", False),
        ("my-order-7", False),
    ],
)
def test_the_reserved_namespace(client_id: str, reserved: bool) -> None:
    assert reserved_key(client_id) is reserved
