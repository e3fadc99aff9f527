"""Four eyes (GATEWAY_REVIEW_DUAL_CONTROL_ABOVE): a hold worth more than the threshold in
the home currency, or not valued there, is released only on the approvals of two different
officers, and then exactly once (two second approvals racing, in one gateway process or
two); the same officer twice is refused, by the service and by the database; a rejection
ends it at any point; held deposits follow the same rule."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest
import pytest_asyncio
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from gateway.audit.events import admin_actor
from gateway.settings import Settings
from rules.aml_stage import VALUATION_RULE
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.gateway.test_deposits_inbound import FX, LICENCES, deposit_body, report, resident
from tests.review.support import (
    ADDRESS,
    NOTE,
    another_gateway,
    events_of,
    hold_state,
    make_hold,
    review,
    withdrawals,
)
from tests.support import (
    AUDITOR_TOKEN,
    OFFICER_TOKEN,
    admin,
    ccxt_client,
    new_customer,
    serving,
    travel_rule_params,
)

pytestmark = pytest.mark.asyncio

ABOVE = Decimal("10000000")  # KRW: the Korean home's currency
WORTH_TWO = Decimal("25000000")
OFFICER_B, OFFICER_C = "test-officer-b-token", "test-officer-c-token"
OFFICER = "compliance_officer"
A, B, C = (admin_actor(OFFICER, t) for t in (OFFICER_TOKEN, OFFICER_B, OFFICER_C))
SECOND_NEEDED = "a second, different officer must approve"


def dual_settings(database_url: str, exchange_url: str, above: Decimal = ABOVE, **overrides: Any) -> Settings:
    """The test gateway's settings with dual control on and two more officers."""
    settings = gateway_settings(
        runtime_dsn(database_url), exchange_url, migration_database_url=SecretStr(database_url),
        review_dual_control_above=above, **overrides,
    )  # fmt: skip
    tokens = {**settings.admin_tokens, OFFICER_B: OFFICER, OFFICER_C: OFFICER}
    return settings.model_copy(update={"admin_tokens": tokens})


@pytest_asyncio.fixture
async def dual(database_url: str, exchange: Exchange) -> AsyncIterator[Gateway]:
    app = create_app(dual_settings(database_url, exchange.url))
    async with serving(app) as url:
        yield Gateway(url, app, database_url)


def _approvals_sample(gateway: Gateway, step: str) -> float:
    value = gateway.app[K.METRICS].registry.get_sample_value("gateway_review_approvals_total", {"step": step})
    assert value is not None
    return value


# -- how many officers -------------------------------------------------------------------

THRESHOLD_CASES = [
    ("below", Decimal("9999999.99"), 1),
    ("at-is-not-above", ABOVE, 1),
    ("just-above", Decimal("10000000.01"), 2),
    ("not-valued-fails-closed", None, 2),
]


@pytest.mark.parametrize(
    ("home_value", "required"), [c[1:] for c in THRESHOLD_CASES], ids=[c[0] for c in THRESHOLD_CASES]
)
async def test_the_threshold_decides_how_many_officers_approve(
    dual: Gateway, exchange: Exchange, http: aiohttp.ClientSession, home_value: Decimal | None, required: int
) -> None:
    customer = await new_customer(http, dual.url, "threshold")
    hold_id = await make_hold(dual, customer, home_value=home_value)
    status, hold = await admin(http, dual.url, "GET", f"/admin/v1/holds/{hold_id}", token=AUDITOR_TOKEN)
    assert status == 200 and (hold["approvals_required"], hold["approvals"]) == (required, [])
    assert (hold["home_currency"], hold["home_value"]) == (
        "KRW",
        None if home_value is None else str(home_value),
    )

    status, first = await review(http, dual.url, hold_id, "approve")
    if required == 2:
        assert (status, first["state"]) == (202, "pending"), first
        assert await withdrawals(http, exchange, customer.id) == []
        status, first = await review(http, dual.url, hold_id, "approve", token=OFFICER_B)
    assert (status, first["state"]) == (200, "forwarded"), first
    assert len(first["approvals"]) == required
    assert len(await withdrawals(http, exchange, customer.id)) == 1


async def test_without_the_setting_one_officer_releases_even_an_unvalued_hold(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, gateway.url, "single")
    hold_id = await make_hold(gateway, customer, home_value=None)
    status, body = await review(http, gateway.url, hold_id, "approve")
    assert (status, body["state"], body["approvals_required"]) == (200, "forwarded", 1), body
    assert [a["actor"] for a in body["approvals"]] == [A]


# -- two different officers ------------------------------------------------------------------


async def test_two_different_officers_release_a_hold_once(
    dual: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, dual.url, "four-eyes")
    hold_id = await make_hold(dual, customer, home_value=WORTH_TWO)
    first_before, final_before = _approvals_sample(dual, "first"), _approvals_sample(dual, "final")

    status, first = await review(http, dual.url, hold_id, "approve")
    assert status == 202, first
    assert (first["state"], first["approvals_required"], first["reviewed_by"]) == ("pending", 2, None)
    assert [(a["actor"], a["note"]) for a in first["approvals"]] == [(A, NOTE)]
    assert [h["action"] for h in first["history"]] == ["held", "first_approval"]
    assert first["history"][-1]["details"] == {"approvals": 1, "approvals_required": 2}
    assert await withdrawals(http, exchange, customer.id) == []

    # The same officer again: refused, nothing changes.
    status, again = await review(http, dual.url, hold_id, "approve", json={"note": "approving once more"})
    assert status == 409 and SECOND_NEEDED in again["error"]["message"], again
    assert again["error"]["details"] == [{"field": "actor", "problem": "approved_already"}]
    assert await hold_state(dual, hold_id) == "pending"

    # The list shows who approved and how many are needed.
    status, page = await admin(http, dual.url, "GET", "/admin/v1/holds?state=pending", token=AUDITOR_TOKEN)
    assert status == 200
    assert [
        (h["id"], [a["actor"] for a in h["approvals"]], h["approvals_required"]) for h in page["holds"]
    ] == [(str(hold_id), [A], 2)]

    status, second = await review(http, dual.url, hold_id, "approve", token=OFFICER_B)
    assert (status, second["state"], second["reviewed_by"]) == (200, "forwarded", B), second
    assert [a["actor"] for a in second["approvals"]] == [A, B]
    assert [h["action"] for h in second["history"]] == ["held", "first_approval", "approved", "forwarded"]
    assert len(await withdrawals(http, exchange, customer.id)) == 1

    # Every step is an audit event on the decision, with its officer.
    assert await events_of(dual, hold_id) == [
        ("review.approved", A), ("review.approved", B), ("review.forwarded", "system:review"),
    ]  # fmt: skip
    steps = await dual.pool.fetch(
        """SELECT details->>'to_state' AS to_state, details->>'approvals' AS approvals FROM audit_events
            WHERE subject_id = $1 AND kind = 'review.approved' ORDER BY occurred_at, seq""",
        str(hold_id),
    )
    assert [(s["to_state"], s["approvals"]) for s in steps] == [("pending", "1"), ("forwarding", "2")]
    assert _approvals_sample(dual, "first") == first_before + 1
    assert _approvals_sample(dual, "final") == final_before + 1


async def test_a_rejection_after_the_first_approval_ends_it(
    dual: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, dual.url, "rejected")
    hold_id = await make_hold(dual, customer, home_value=WORTH_TWO)
    assert (await review(http, dual.url, hold_id, "approve"))[0] == 202
    status, rejected = await review(http, dual.url, hold_id, "reject", token=OFFICER_C)
    assert (status, rejected["state"], rejected["reviewed_by"]) == (200, "rejected", C), rejected
    assert [h["action"] for h in rejected["history"]] == ["held", "first_approval", "rejected"]
    status, late = await review(http, dual.url, hold_id, "approve", token=OFFICER_B)
    assert status == 409 and late["error"]["details"] == [{"field": "state", "problem": "rejected"}], late
    assert await withdrawals(http, exchange, customer.id) == []
    assert await events_of(dual, hold_id) == [("review.approved", A), ("review.rejected", C)]


# -- races -------------------------------------------------------------------------------


async def test_racing_approvals_release_once(
    dual: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    customer = await new_customer(http, dual.url, "race")
    # Two second approvals at once, after a first: one releases, the other is told why not.
    hold_id = await make_hold(dual, customer, home_value=WORTH_TWO)
    assert (await review(http, dual.url, hold_id, "approve"))[0] == 202
    answers = await asyncio.gather(
        review(http, dual.url, hold_id, "approve", token=OFFICER_B),
        review(http, dual.url, hold_id, "approve", token=OFFICER_C),
    )
    assert sorted(status for status, _ in answers) == [200, 409], answers
    (lost,) = [body for status, body in answers if status == 409]
    assert lost["error"]["details"][0]["problem"] in ("forwarding", "forwarded")
    assert len(await withdrawals(http, exchange, customer.id)) == 1
    assert await dual.pool.fetchval("SELECT count(*) FROM hold_approvals WHERE hold_id = $1", hold_id) == 2

    # Two officers approving a fresh hold at once: one is the first approval, one releases.
    other = await make_hold(dual, customer, home_value=WORTH_TWO)
    answers = await asyncio.gather(
        review(http, dual.url, other, "approve"), review(http, dual.url, other, "approve", token=OFFICER_B)
    )
    assert sorted(status for status, _ in answers) == [200, 202], answers
    assert len(await withdrawals(http, exchange, customer.id)) == 2

    # One officer's double click: one first approval, one refusal.
    third = await make_hold(dual, customer, home_value=WORTH_TWO)
    clicks = await asyncio.gather(*(review(http, dual.url, third, "approve") for _ in range(3)))
    assert sorted(status for status, _ in clicks) == [202, 409, 409], clicks
    assert await hold_state(dual, third) == "pending"
    assert len(await withdrawals(http, exchange, customer.id)) == 2


async def test_two_gateway_processes_release_once(
    dual: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """The other process runs without the setting: the requirement is the hold's, fixed
    when it was parked, so it needs two officers there too."""
    customer = await new_customer(http, dual.url, "replicas")
    first, second = [await make_hold(dual, customer, home_value=WORTH_TWO) for _ in range(2)]
    assert (await review(http, dual.url, second, "approve", token=OFFICER_B))[0] == 202
    async with another_gateway(dual, exchange) as (_, other_url):
        # From nothing, two officers on two processes: one first approval, one release.
        answers = await asyncio.gather(
            review(http, dual.url, first, "approve", token=OFFICER_B),
            review(http, other_url, first, "approve"),
        )
        assert sorted(status for status, _ in answers) == [200, 202], answers
        # The second approval sent to both processes at once: one release.
        answers = await asyncio.gather(
            review(http, dual.url, second, "approve"), review(http, other_url, second, "approve")
        )
        assert sorted(status for status, _ in answers) == [200, 409], answers
    assert len(await withdrawals(http, exchange, customer.id)) == 2
    assert {await hold_state(dual, h) for h in (first, second)} == {"forwarded"}


# -- the database's guarantee ----------------------------------------------------------------


async def test_the_database_refuses_one_officer_twice_and_a_release_short_of_approvals(
    dual: Gateway, http: aiohttp.ClientSession
) -> None:
    """Whatever the code does: the runtime role itself cannot release a hold short of its
    approvals, count one officer twice, or rewrite an approval or the requirement."""
    customer = await new_customer(http, dual.url, "database")
    hold_id, settled = [await make_hold(dual, customer, home_value=WORTH_TWO) for _ in range(2)]
    release = """UPDATE held_calls SET state = 'forwarding', reviewed_by = 'admin:x', reviewed_at = now(),
                        review_note = 'n', updated_at = now() WHERE id = $1"""
    approve = "INSERT INTO hold_approvals (hold_id, actor, at, note) VALUES ($1, $2, now(), 'n')"
    conn = await asyncpg.connect(runtime_dsn(dual.database_url))
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="0 of 2 approvals"):
            await conn.execute(release, hold_id)
        await conn.execute(approve, hold_id, A)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(approve, hold_id, A)
        with pytest.raises(asyncpg.CheckViolationError, match="1 of 2 approvals"):
            async with conn.transaction():
                await conn.execute(release, hold_id)
        for change in (
            "UPDATE hold_approvals SET actor = 'admin:y' WHERE hold_id = $1",
            "DELETE FROM hold_approvals WHERE hold_id = $1",
            "UPDATE held_calls SET approvals_required = 1 WHERE id = $1",
            "UPDATE held_calls SET home_value = 1 WHERE id = $1",
        ):
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute(change, hold_id)
        assert await hold_state(dual, hold_id) == "pending"
        # No approval is added to a settled hold.
        assert (await review(http, dual.url, settled, "reject"))[0] == 200
        with pytest.raises(asyncpg.CheckViolationError, match="pending hold"):
            await conn.execute(approve, settled, B)
    finally:
        await conn.close()


# -- through the real decision path ---------------------------------------------------------


async def _withdraw(client: Any, params: dict[str, str]) -> None:
    with contextlib.suppress(ccxt.ExchangeError):
        await client.withdraw("BTC", 0.25, ADDRESS, params=dict(params))


async def test_a_held_withdrawal_is_parked_with_its_value_in_the_home_currency(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """The third withdrawal of ~KRW 21m in 24 h is held (KRW 50m window); its KRW value,
    as the decision's valuation finding recorded it, is above KRW 20m: two officers."""
    settings = dual_settings(database_url, exchange.url, above=Decimal("20000000"))
    async with serving(create_app(settings)) as url:
        customer = await new_customer(http, url, "valued")
        travel = travel_rule_params()
        async with ccxt_client(url, customer) as client:
            for _ in range(2):
                await _withdraw(client, travel)
            held = await client.withdraw("BTC", 0.25, ADDRESS, params=dict(travel))
            assert client.last_response_headers["X-Review-Status"] == "pending"
        status, hold = await admin(http, url, "GET", f"/admin/v1/holds/{held['id']}", token=AUDITOR_TOKEN)
        assert status == 200
        (valuation,) = [f for f in hold["decision"]["findings"] if f["rule_id"] == VALUATION_RULE]
        krw = {Decimal(c["value"]) for c in valuation["values"]["conversions"] if c["currency"] == "KRW"}
        assert hold["home_currency"] == "KRW" and {Decimal(hold["home_value"])} == krw
        assert Decimal(hold["home_value"]) > Decimal("20000000") and hold["approvals_required"] == 2
        sent = len(await withdrawals(http, exchange, customer.id))
        assert (await review(http, url, uuid.UUID(held["id"]), "approve"))[0] == 202
        status, released = await review(http, url, uuid.UUID(held["id"]), "approve", token=OFFICER_B)
        assert (status, released["state"]) == (200, "forwarded"), released
        assert len(await withdrawals(http, exchange, customer.id)) == sent + 1


async def test_a_held_deposit_needs_two_officers_before_it_is_credited(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    """US home: a USDT 3,000 deposit without originator data is held; valued USD 3,000,
    above a USD 2,999 threshold. Credited on the second officer's approval; nothing sent."""
    settings = dual_settings(
        database_url,
        exchange.url,
        above=Decimal("2999"),
        home_country="US",
        licences_held=LICENCES,
        fx_rates=FX,
    )
    async with serving(create_app(settings)) as url:
        customer = await resident(http, url, "US")
        status, answer = await report(http, url, deposit_body(customer, "USDT", "3000"))
        assert status == 201 and answer["outcome"] == "hold", answer
        hold_id = uuid.UUID(answer["decision_id"])
        status, first = await review(http, url, hold_id, "approve")
        assert (status, first["state"], first["home_currency"], first["approvals_required"]) == (
            202, "pending", "USD", 2,
        ), first  # fmt: skip
        assert Decimal(first["home_value"]) == Decimal("3000")
        status, again = await review(http, url, hold_id, "approve")
        assert status == 409 and SECOND_NEEDED in again["error"]["message"]
        status, credited = await review(http, url, hold_id, "approve", token=OFFICER_B)
        assert (status, credited["state"]) == (200, "credited"), credited
        assert [a["actor"] for a in credited["approvals"]] == [A, B]
    conn = await asyncpg.connect(database_url)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM upstream_results WHERE decision_id = $1", hold_id) == 0
        )
    finally:
        await conn.close()
