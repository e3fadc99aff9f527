"""The hold-and-review queue: approval forwards exactly once (double clicks, two reviewers,
two gateway processes, a crash between claim and forward), rejection and expiry refuse for
good, and bad input or the wrong role changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from gateway import appkeys as K
from gateway.review import queue
from gateway.review.forwarder import forward_call
from gateway.review.keys import derived_key, key_secret
from tests.conftest import Exchange, Gateway, runtime_dsn
from tests.review.support import (
    ADDRESS,
    NOTE,
    account,
    another_gateway,
    events_of,
    hold_state,
    make_hold,
    review,
    withdrawals,
)
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, OPERATOR_TOKEN, SECRET_KEY, admin, new_customer

pytestmark = pytest.mark.asyncio


async def test_approve_forwards_once_and_money_moves_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    before = await account(http, exchange, alice.id)
    hold_id = await make_hold(gateway, alice, amount="0.01")

    status, body = await review(http, gateway.url, hold_id, "approve")
    assert status == 200, body
    assert body["state"] == "forwarded" and body["upstream_status"] == 200
    assert body["reviewed_by"].startswith("admin:compliance_officer:") and body["review_note"] == NOTE
    assert [h["action"] for h in body["history"]] == ["held", "approved", "forwarded"]

    sent = await withdrawals(http, exchange, alice.id)
    assert len(sent) == 1
    # The key the gateway added.
    assert sent[0]["withdrawOrderId"] == derived_key(key_secret(SECRET_KEY), hold_id)
    assert body["exchange_withdraw_id"] == sent[0]["id"]
    after = await account(http, exchange, alice.id)
    debit = Decimal(before["balances"]["BTC"]["free"]) - Decimal(after["balances"]["BTC"]["free"])
    assert debit == Decimal("0.01") + Decimal(sent[0]["transactionFee"])

    # Approving again is a conflict and sends nothing.
    status, again = await review(http, gateway.url, hold_id, "approve")
    assert status == 409 and again["error"]["code"] == "conflict"
    assert len(await withdrawals(http, exchange, alice.id)) == 1
    # Each step is an audit event on the original decision, with its actor.
    assert await events_of(gateway, hold_id) == [
        ("review.approved", body["reviewed_by"]), ("review.forwarded", "system:review"),
    ]  # fmt: skip
    # What the exchange answered is beside the decision too.
    results = await gateway.pool.fetch(
        "SELECT http_status FROM upstream_results WHERE decision_id = $1", hold_id
    )
    assert [r["http_status"] for r in results] == [200]
    # The decision is linked, never updated.
    review_status = await gateway.pool.fetchval(
        "SELECT review_status FROM decision_reviews WHERE decision_id = $1", hold_id
    )
    assert review_status == "approved"
    # ... and the decision log shows it, in search and detail.
    _, one = await admin(http, gateway.url, "GET", f"/admin/v1/decisions/{hold_id}", token=AUDITOR_TOKEN)
    assert one["review_status"] == "approved"


async def test_the_decision_log_shows_each_holds_review_status(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    pending, rejected = await make_hold(gateway, alice), await make_hold(gateway, alice)
    assert (await review(http, gateway.url, rejected, "reject"))[0] == 200
    for wanted, shown in (("pending", pending), ("rejected", rejected)):
        status, found = await admin(
            http, gateway.url, "GET", f"/admin/v1/decisions?review_status={wanted}", token=AUDITOR_TOKEN
        )
        assert status == 200
        assert [(d["id"], d["review_status"]) for d in found["decisions"]] == [(str(shown), wanted)]


async def test_concurrent_approvals_forward_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    bob = await new_customer(http, gateway.url, "bob")
    hold_id = await make_hold(gateway, bob)
    answers = await asyncio.gather(*(review(http, gateway.url, hold_id, "approve") for _ in range(5)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409, 409, 409, 409]
    assert len(await withdrawals(http, exchange, bob.id)) == 1
    assert await hold_state(gateway, hold_id) == "forwarded"


async def test_two_gateway_processes_forward_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    carol = await new_customer(http, gateway.url, "carol")
    hold_id = await make_hold(gateway, carol)
    async with another_gateway(gateway, exchange) as (_, other_url):
        answers = await asyncio.gather(
            review(http, gateway.url, hold_id, "approve"), review(http, other_url, hold_id, "approve")
        )
    assert sorted(status for status, _ in answers) == [200, 409]
    assert len(await withdrawals(http, exchange, carol.id)) == 1


async def test_crash_between_claim_and_forward_is_resumed_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    dave = await new_customer(http, gateway.url, "dave")
    hold_id = await make_hold(gateway, dave)
    # A process claims (committed), then dies before forwarding: its lease runs out at once.
    async with gateway.pool.acquire() as conn, gateway.app[K.AUDIT_EVENTS].transaction(conn) as events:
        claimed = await queue.claim(conn, events, hold_id, "admin:compliance_officer:test", NOTE, 0)
    assert claimed is not None and await hold_state(gateway, hold_id) == "forwarding"
    assert await withdrawals(http, exchange, dave.id) == []

    async with another_gateway(gateway, exchange):  # the start-up sweep resumes it
        pass
    assert await hold_state(gateway, hold_id) == "forwarded"
    assert len(await withdrawals(http, exchange, dave.id)) == 1
    async with another_gateway(gateway, exchange):  # and nothing is sent again
        pass
    assert len(await withdrawals(http, exchange, dave.id)) == 1


async def test_crash_after_forward_before_record_moves_money_once(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    erin = await new_customer(http, gateway.url, "erin")
    before = await account(http, exchange, erin.id)
    hold_id = await make_hold(gateway, erin, extra=[("withdrawOrderId", "erin-order-1")])
    async with gateway.pool.acquire() as conn, gateway.app[K.AUDIT_EVENTS].transaction(conn) as events:
        claimed = await queue.claim(conn, events, hold_id, "admin:compliance_officer:test", NOTE, 0)
    assert claimed is not None
    # The call reached the exchange, and the process died before recording the answer.
    call = forward_call(claimed)
    answer = await gateway.app[K.UPSTREAM].forward(
        call.method, call.path_qs, call.body, call.content_type, erin.id
    )
    assert answer.status == 200

    async with another_gateway(gateway, exchange):
        pass
    sent = await withdrawals(http, exchange, erin.id)
    assert len(sent) == 1 and sent[0]["withdrawOrderId"] == "erin-order-1"  # the client's own key
    assert await hold_state(gateway, hold_id) == "forwarded"
    after = await account(http, exchange, erin.id)
    debit = Decimal(before["balances"]["BTC"]["free"]) - Decimal(after["balances"]["BTC"]["free"])
    assert debit == Decimal("0.01") + Decimal(sent[0]["transactionFee"])


async def test_reject_refuses_for_good(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    frank = await new_customer(http, gateway.url, "frank")
    hold_id = await make_hold(gateway, frank)
    status, body = await review(
        http, gateway.url, hold_id, "reject", json={"note": "Counterparty unverifiable."}
    )
    assert status == 200 and body["state"] == "rejected"
    status, body = await review(http, gateway.url, hold_id, "approve")
    assert status == 409 and body["error"]["details"] == [{"field": "state", "problem": "rejected"}]
    assert await withdrawals(http, exchange, frank.id) == []
    assert [k for k, _ in await events_of(gateway, hold_id)] == ["review.rejected"]
    # Not even the runtime role can bring it back.
    conn = await asyncpg.connect(runtime_dsn(gateway.database_url))
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE held_calls SET state = 'forwarding' WHERE id = $1", hold_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM hold_history WHERE hold_id = $1", hold_id)
    finally:
        await conn.close()


async def test_expired_hold_cannot_be_approved(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    grace = await new_customer(http, gateway.url, "grace")
    hold_id = await make_hold(gateway, grace, held_ago=timedelta(hours=2), expires_in=timedelta(hours=1))
    status, body = await review(http, gateway.url, hold_id, "approve")
    assert status == 409 and body["error"]["details"] == [{"field": "state", "problem": "expired"}]
    assert await hold_state(gateway, hold_id) == "expired"
    assert await events_of(gateway, hold_id) == [("review.expired", "system:expiry")]
    assert await withdrawals(http, exchange, grace.id) == []


async def test_sweep_expires_due_holds(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    heidi = await new_customer(http, gateway.url, "heidi")
    due = await make_hold(gateway, heidi, held_ago=timedelta(hours=2), expires_in=timedelta(hours=1))
    waiting = await make_hold(gateway, heidi)
    await gateway.app[K.REVIEW].sweep()
    assert (await hold_state(gateway, due), await hold_state(gateway, waiting)) == ("expired", "pending")
    assert await events_of(gateway, due) == [("review.expired", "system:expiry")]
    assert gateway.app[K.METRICS].review_queue_depth._value.get() == 1


async def test_exchange_refusal_is_recorded_as_forward_failed(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    ivan = await new_customer(http, gateway.url, "ivan")
    hold_id = await make_hold(gateway, ivan, amount="500")  # more BTC than the account holds
    status, body = await review(http, gateway.url, hold_id, "approve")
    assert status == 200 and body["state"] == "forward_failed"
    assert body["upstream_status"] == 400 and body["forwarded_at"] is None
    assert await withdrawals(http, exchange, ivan.id) == []


async def test_list_and_detail(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    judy = await new_customer(http, gateway.url, "judy")
    first, second = await make_hold(gateway, judy), await make_hold(gateway, judy)
    status, page = await admin(
        http, gateway.url, "GET", "/admin/v1/holds?state=pending&limit=1", token=OFFICER_TOKEN
    )
    assert status == 200 and [h["id"] for h in page["holds"]] == [str(second)]
    status, rest = await admin(
        http, gateway.url, "GET", f"/admin/v1/holds?state=pending&limit=1&cursor={page['next_cursor']}",
        token=OFFICER_TOKEN,
    )  # fmt: skip
    assert [h["id"] for h in rest["holds"]] == [str(first)] and rest["next_cursor"] is None
    status, mine = await admin(
        http, gateway.url, "GET", f"/admin/v1/holds?customer_id={uuid.uuid4()}", token=OFFICER_TOKEN
    )
    assert status == 200 and mine["holds"] == []
    # The auditor reads, masked; the detail carries the findings and the original decision.
    status, detail = await admin(http, gateway.url, "GET", f"/admin/v1/holds/{first}", token=AUDITOR_TOKEN)
    assert status == 200
    assert detail["customer_id"] != judy.id and detail["address"] != ADDRESS and "…" in detail["address"]
    assert detail["findings"][0]["rule_id"] == "kr.aml.rolling_24h"
    assert detail["decision"]["outcome"] == "hold" and detail["decision"]["id"] == str(first)
    assert "body" not in detail and "raw_query" not in detail  # the signed call is not shown


@pytest.mark.parametrize(
    ("token", "json", "status", "code"),
    [
        (AUDITOR_TOKEN, {"note": NOTE}, 403, "forbidden"),  # auditors read, never approve
        (OPERATOR_TOKEN, {"note": NOTE}, 403, "forbidden"),
        ("not-a-token", {"note": NOTE}, 401, "unauthorized"),
        (OFFICER_TOKEN, {}, 422, "validation_failed"),  # the note is required
        (OFFICER_TOKEN, {"note": "   "}, 422, "validation_failed"),
        (OFFICER_TOKEN, {"note": "x" * 1001}, 422, "validation_failed"),
        (OFFICER_TOKEN, {"note": NOTE, "force": True}, 422, "validation_failed"),
        (OFFICER_TOKEN, ["note"], 422, "validation_failed"),
    ],
    ids=[
        "auditor",
        "operator",
        "bad-token",
        "no-note",
        "blank-note",
        "long-note",
        "extra-field",
        "not-object",
    ],
)
async def test_bad_approvals_change_nothing(
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession, token: str, json: object, status: int,
    code: str,
) -> None:  # fmt: skip
    kim = await new_customer(http, gateway.url, "kim")
    hold_id = await make_hold(gateway, kim)
    for verb in ("approve", "reject"):
        got, body = await review(http, gateway.url, hold_id, verb, token=token, json=json)
        assert (got, body["error"]["code"]) == (status, code)
    assert await hold_state(gateway, hold_id) == "pending"
    assert await events_of(gateway, hold_id) == []
    assert await withdrawals(http, exchange, kim.id) == []


async def test_unknown_or_malformed_ids_are_not_found(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    for hold in (uuid.uuid4(), "not-a-uuid"):
        status, body = await admin(
            http,
            gateway.url,
            "POST",
            f"/admin/v1/holds/{hold}/approve",
            token=OFFICER_TOKEN,
            json={"note": NOTE},
        )
        assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/holds?state=nope", token=AUDITOR_TOKEN)
    assert (status, body["error"]["code"]) == (422, "validation_failed")
    status, body = await admin(http, gateway.url, "GET", "/admin/v1/holds?cursor=bogus", token=AUDITOR_TOKEN)
    assert (status, body["error"]["code"]) == (422, "validation_failed")
