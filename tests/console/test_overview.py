"""The console's overview: its aggregate queries against decisions the gateway's own writer
recorded (the window's edges, refusals apart from could-not-decide answers, the review
queue), and the page itself for each role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from gateway import appkeys as K
from gateway.metrics import FAIL_CLOSED_REASONS
from gateway.store import overview as store
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome, Verdict
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import Customer, new_customer

pytestmark = pytest.mark.asyncio

HOUR = timedelta(hours=1)


def finding(outcome: Outcome, reason: str) -> Finding:
    return Finding("test", f"test.{reason}", outcome, reason, f"{reason} (test)")


def undecidable(reason: str) -> Finding:
    return Finding.cannot_decide("aml", f"aml.{reason}", reason, f"{reason} (test)")


async def record(
    gateway: Gateway, customer: Customer, at: datetime, outcome: Outcome, *findings: Finding
) -> None:
    """A decision committed by the gateway's writer at `at`, as the decision path would."""
    action = Action(
        kind=ActionKind.ORDER, operation="binance.order.new", customer_id=customer.id, symbol="BTCUSDT"
    )
    verdict = Verdict(outcome, findings or (finding(outcome, ""),), "test-pack")
    row = DecisionRow(
        id=new_decision_id(), decided_at=at, request_id=uuid.uuid4().hex, customer_id=customer.id,
        api_key_id=None, dialect="binance", http_method="POST", path="/api/v3/order", action=action,
        verdict=verdict, decision_micros=5,
    )  # fmt: skip
    await gateway.app[K.WRITER].record(row)


def half_past_this_hour() -> datetime:
    """`now` for the overview, half way through a clock hour so ±10 min stays in it."""
    return datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


async def read(gateway: Gateway, now: datetime) -> store.Overview:
    async with gateway.app[K.AUDIT_READS].acquire() as conn:
        return await store.read_overview(conn, now, FAIL_CLOSED_REASONS)


async def test_outcomes_are_counted_per_clock_hour_inside_the_window_only(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    now = half_past_this_hour()
    this_hour = now - timedelta(minutes=30)
    first_hour = this_hour - 23 * HOUR
    await record(gateway, alice, now - timedelta(minutes=10), Outcome.ALLOW)
    await record(gateway, alice, now - timedelta(minutes=20), Outcome.ALLOW)
    await record(gateway, alice, now - timedelta(minutes=25), Outcome.HOLD)
    await record(
        gateway, alice, this_hour - 2 * HOUR + timedelta(minutes=5), Outcome.DENY, finding(Outcome.DENY, "x")
    )
    await record(gateway, alice, first_hour + timedelta(minutes=1), Outcome.ALLOW_AND_REPORT)
    # Just outside: before the first hour, and after `now`.
    await record(gateway, alice, first_hour - timedelta(minutes=1), Outcome.ALLOW)
    await record(gateway, alice, now + timedelta(minutes=1), Outcome.ALLOW)

    view = await read(gateway, now)

    assert view.since == first_hour and view.until == now
    assert len(view.hours) == store.WINDOW_HOURS
    assert [h.start for h in view.hours] == [first_hour + i * HOUR for i in range(store.WINDOW_HOURS)]
    assert view.hours[-1].counts == {"allow": 2, "allow_and_report": 0, "hold": 1, "deny": 0}
    assert view.hours[-3].counts["deny"] == 1
    assert view.hours[0].counts == {"allow": 0, "allow_and_report": 1, "hold": 0, "deny": 0}
    assert sum(sum(h.counts.values()) for h in view.hours) == 5


async def test_refusals_by_reason_leave_could_not_decide_answers_apart(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    now = half_past_this_hour()
    at = now - timedelta(minutes=5)
    deny = Outcome.DENY
    for _ in range(3):
        await record(gateway, alice, at, deny, finding(deny, "sanctioned_address"))
    await record(gateway, alice, at, deny, finding(deny, "kyc_not_verified"))
    # Could not decide: only undecidable findings. Answered 503, not a refusal.
    await record(gateway, alice, at, deny, undecidable("price_unavailable"))
    await record(gateway, alice, at, deny, undecidable("price_unavailable"))
    await record(gateway, alice, at, deny, undecidable("aml_facts_missing"))
    # Sanctioned whatever the price: a refusal, under its real reason only.
    await record(
        gateway, alice, at, deny, finding(deny, "sanctioned_address"), undecidable("price_unavailable")
    )
    # Not refusals at all.
    await record(gateway, alice, at, Outcome.HOLD, finding(Outcome.HOLD, "rolling_window_exceeded"))
    # Outside the window: not counted.
    await record(gateway, alice, now - 25 * HOUR, deny, finding(deny, "kyc_not_verified"))
    await record(gateway, alice, now - 25 * HOUR, deny, undecidable("price_unavailable"))

    view = await read(gateway, now)

    assert view.refusal_reasons == [("sanctioned_address", 4), ("kyc_not_verified", 1)]
    assert view.other_refusals == 0
    assert view.fail_closed == [("price_unavailable", 2), ("aml_facts_missing", 1)]


async def test_reasons_beyond_the_top_are_summed_as_other(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    now = half_past_this_hour()
    reasons = [f"reason_{i:02d}" for i in range(store.TOP_REASONS + 2)]
    for i, reason in enumerate(reasons):
        for _ in range(len(reasons) - i):  # reason_00 most often
            await record(
                gateway, alice, now - timedelta(minutes=1), Outcome.DENY, finding(Outcome.DENY, reason)
            )

    view = await read(gateway, now)

    assert [reason for reason, _ in view.refusal_reasons] == reasons[: store.TOP_REASONS]
    assert view.other_refusals == 2 + 1  # the two least frequent: 2 and 1 refusals


async def test_review_queue_depth_and_oldest_pending_hold(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    empty = await read(gateway, half_past_this_hour())
    assert empty.queue == store.ReviewQueue(pending=0, forwarding=0, oldest_pending=None)

    await make_hold(gateway, alice, held_ago=timedelta(hours=5))
    newest = await make_hold(gateway, alice, held_ago=timedelta(minutes=3))
    view = await read(gateway, half_past_this_hour())

    assert view.queue.pending == 2 and view.queue.forwarding == 0
    held_at = await gateway.pool.fetchval("SELECT held_at FROM held_calls WHERE id <> $1", newest)
    assert view.queue.oldest_pending == held_at
    assert datetime.now(UTC) - held_at >= timedelta(hours=5)
