"""The console's overview: its aggregate queries against decisions the gateway's own writer
recorded (the window's edges, refusals apart from could-not-decide answers, the review
queue), and the page itself for each role."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from gateway import appkeys as K
from gateway.app import create_app
from gateway.metrics import FAIL_CLOSED_REASONS
from gateway.store import overview as store
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind
from policy.decision import Finding, Outcome, Verdict
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.console.conftest import ConsoleClient, NewClient, SignIn
from tests.review.support import another_gateway, make_hold
from tests.support import AUDITOR_TOKEN, Customer, new_customer, serving

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
    gateway: Gateway, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, gateway.url, "alice")
    empty = await read(gateway, half_past_this_hour())
    assert empty.queue == store.ReviewQueue(pending=0, forwarding=0, oldest_pending=None, second_officer=0)

    await make_hold(gateway, alice, held_ago=timedelta(hours=5))
    newest = await make_hold(gateway, alice, held_ago=timedelta(minutes=3))
    # Two under four eyes (a gateway with a threshold, on the same database), one of them
    # approved by one officer so far: that one waits for a second officer.
    async with another_gateway(gateway, exchange, review_dual_control_above=Decimal("1")) as (app, url):
        four_eyes = Gateway(url, app, gateway.database_url)
        approved_once = await make_hold(four_eyes, alice, home_value=Decimal("5"))
        await make_hold(four_eyes, alice, home_value=Decimal("5"))
        step = await app[K.REVIEW].approve(
            approved_once, "admin:compliance_officer:test", "First look: fine."
        )
        assert step.state == "pending"
    view = await read(gateway, half_past_this_hour())

    assert view.queue.pending == 4 and view.queue.forwarding == 0
    assert view.queue.second_officer == 1
    held_at = await gateway.pool.fetchval("SELECT min(held_at) FROM held_calls WHERE id <> $1", newest)
    assert view.queue.oldest_pending == held_at
    assert datetime.now(UTC) - held_at >= timedelta(hours=5)


def relations(plan: Any) -> set[str]:
    """Every table a plan reads (its nodes' "Relation Name"), in EXPLAIN's JSON."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= relations(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= relations(item)
    return found


async def test_the_log_queries_read_only_the_windows_partitions(gateway: Gateway) -> None:
    """Every decisions query of the overview is bounded by decided_at: Postgres reads the
    window's monthly partitions, never an old month's, however long the log."""
    conn = await asyncpg.connect(gateway.database_url)  # the owner, to add an old month
    try:
        await conn.execute(
            "CREATE TABLE decisions_y2020m01 PARTITION OF decisions FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')"
        )
        since, until = store.window(datetime.now(UTC))
        reasons = list(FAIL_CLOSED_REASONS)
        queries = [
            (store.OUTCOMES_BY_HOUR, (since, until)),
            (store.REFUSALS_BY_REASON, (since, until, reasons)),
            (store.COULD_NOT_DECIDE_BY_REASON, (since, until, reasons)),
        ]
        months = await conn.fetch(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'decisions'::regclass"""
        )
        assert len(months) >= 3, "the old month, the window's, the default"
        for sql, args in queries:
            plan = json.loads(await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args))
            read = relations(plan)
            assert read, sql
            assert "decisions_y2020m01" not in read, sql
            assert len(read) <= 2, f"at most the two months a day can span: {read}"
    finally:
        await conn.close()


# -- the page -------------------------------------------------------------------------


def section(page: str, element_id: str) -> str:
    """The markup of the element with this id, up to its closing tag (tables, charts)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return found[0]


def cells(table: str) -> list[tuple[str, str]]:
    """(row header, first cell) of each body row, tags stripped."""
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td class="num">(\d+)</td>', table, re.S)
    return [(re.sub(r"<[^>]+>", "", head).strip(), count) for head, count in rows]


async def page_of(client: ConsoleClient) -> str:
    async with client.get("/console/") as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/html"
        return str(await response.text())


@pytest.mark.parametrize("role", ["compliance_officer", "auditor"])
async def test_the_page_charts_the_log_and_gives_the_numbers(
    console_app: Gateway, signed_in: SignIn, http: aiohttp.ClientSession, role: str
) -> None:
    alice = await new_customer(http, console_app.url, "alice")
    now = datetime.now(UTC)
    deny = Outcome.DENY
    await record(console_app, alice, now - timedelta(seconds=5), Outcome.ALLOW)
    await record(console_app, alice, now - timedelta(seconds=5), deny, finding(deny, "sanctioned_address"))
    await record(console_app, alice, now - timedelta(seconds=5), deny, finding(deny, "<b>odd</b>"))
    await record(console_app, alice, now - timedelta(seconds=5), deny, undecidable("price_unavailable"))
    await make_hold(console_app, alice, held_ago=timedelta(hours=2, minutes=5))

    page = await page_of(await signed_in(role))

    outcomes = section(page, "outcomes-chart")
    assert '<title id="outcomes-chart-title">Decisions per hour by outcome</title>' in outcomes
    refusals = section(page, "refusals-chart")
    assert "sanctioned_address" in refusals and "price_unavailable" not in refusals
    # A reason is data: escaped in the chart and the table, never markup.
    assert "<b>odd</b>" not in page and "&lt;b&gt;odd&lt;/b&gt;" in page
    assert ("sanctioned_address", "1") in cells(page)
    assert section(page, "queue-pending") == '<dd id="queue-pending">1</dd>'
    assert section(page, "queue-second") == '<dd id="queue-second">0</dd>'
    assert "held 2 h ago" in section(page, "queue-oldest")
    assert cells(section(page, "fail-closed-recorded")) == [("price_unavailable", "1")]
    # Each reason links to the decision search for it, over the same window.
    link = re.search(r'href="(/console/decisions\?outcome=deny&amp;reason=sanctioned_address[^"]*)"', page)
    assert link is not None and "since=" in link[1] and "until=" in link[1]
    # The CSP allows no inline style or script: the page needs neither.
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)


async def test_every_could_not_decide_answer_since_start_is_shown(
    console_app: Gateway, signed_in: SignIn
) -> None:
    metrics = console_app.app[K.METRICS]
    metrics.child(metrics.fail_closed, "markets_unavailable").inc(3)
    metrics.child(metrics.fail_closed, "decision_store_unavailable").inc()

    page = await page_of(await signed_in("auditor"))

    shown = cells(section(page, "fail-closed-unrecorded"))
    assert shown == [("markets_unavailable", "3"), ("decision_store_unavailable", "1")]


async def test_an_operator_is_sent_to_their_own_first_page(signed_in: SignIn) -> None:
    operator = await signed_in("operator")
    async with operator.get("/console/") as response:
        assert response.status == 303
        assert response.headers["Location"] == "/console/customers"


async def test_signed_out_the_page_asks_to_sign_in(browser: NewClient) -> None:
    client = await browser()
    async with client.get("/console/") as response:
        assert response.status == 303
        assert response.headers["Location"].startswith("/console/login")


async def test_an_unreachable_audit_replica_is_a_503_page(database_url: str, exchange: Exchange) -> None:
    """The overview reads through the audit read pool; that pool down fails closed."""
    settings = gateway_settings(
        runtime_dsn(database_url), exchange.url, migration_database_url=SecretStr(database_url),
        audit_database_url=SecretStr("postgresql://gateway_app@127.0.0.1:1/gone"),
    )  # fmt: skip
    async with (
        serving(create_app(settings)) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        client = ConsoleClient(url, session)
        assert (await client.sign_in(AUDITOR_TOKEN)).status == 303
        async with client.get("/console/") as response:
            assert response.status == 503
            assert response.content_type == "text/html"
            assert "Traceback" not in await response.text()


async def test_an_empty_log_says_so_rather_than_drawing_nothing(signed_in: SignIn) -> None:
    page = await page_of(await signed_in("compliance_officer"))

    assert "No decisions in the last 24 hours" in section(page, "outcomes-chart")
    assert "No refusals in the last 24 hours" in section(page, "refusals-chart")
    assert section(page, "queue-oldest") == '<dd id="queue-oldest">none waiting</dd>'
    assert cells(section(page, "fail-closed-recorded")) == []
