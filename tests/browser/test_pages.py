"""In Chromium: every main page of the console, with data on it, renders for an officer
without a CSP violation or a failed resource, with a label on every field, buttons that
are buttons and table headers with a scope; the overview's charts are drawn.

With CONSOLE_SCREENSHOTS=1 the pages are also saved as docs/console/<name>.png, the
pictures the README shows (taken once and committed; not in every run, so a run leaves
the tree clean)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from gateway import appkeys as K
from gateway.review.store import ReportCandidate, open_report
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind, Side
from policy.decision import Finding, Outcome, Verdict
from tests.browser.conftest import Browser, screenshot
from tests.conftest import Gateway
from tests.review.support import make_hold
from tests.support import Customer, new_customer

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

# A day of traffic for the overview: (outcome, reason) and how many per hour, varied by hour.
TRAFFIC = (
    (Outcome.ALLOW, "", 9),
    (Outcome.DENY, "bad_signature", 2),
    (Outcome.DENY, "kyc_document_expired", 1),
    (Outcome.DENY, "foreigner_not_allowed", 1),
    (Outcome.HOLD, "rolling_window_exceeded", 1),
    (Outcome.ALLOW_AND_REPORT, "cash_report_threshold", 1),
)
PRICE_UNAVAILABLE = "price_unavailable"

# In the page: fields without a label, "buttons" that are inputs, table headers without scope.
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
INPUT_BUTTONS = (
    "document.querySelectorAll('input[type=submit], input[type=button], input[type=reset]').length"
)
UNSCOPED_HEADERS = "document.querySelectorAll('tbody th:not([scope]), thead th:not([scope])').length"


def _row(customer: Customer, at: datetime, outcome: Outcome, reason: str) -> DecisionRow:
    finding = (
        Finding.cannot_decide("aml", "aml.valuation", reason, "No price for the asset.")
        if reason == PRICE_UNAVAILABLE
        else Finding("test", f"kr.{reason or 'ok'}", outcome, reason, reason.replace("_", " ") or "allowed")
    )
    action = Action(
        kind=ActionKind.ORDER, operation="binance.order.new", customer_id=customer.id, symbol="BTCKRW", base_asset="BTC", quote_asset="KRW", order_type="LIMIT",
        side=Side.BUY, quantity=Decimal("0.0105"), price=Decimal("98500000"),
    )  # fmt: skip
    return DecisionRow(
        id=new_decision_id(), decided_at=at, request_id=uuid.uuid4().hex, customer_id=customer.id,
        api_key_id=None, dialect="binance", http_method="POST", path="/api/v3/order", action=action,
        verdict=Verdict(outcome, (finding,), "kr-2026.1"), decision_micros=850, country="KR",
    )  # fmt: skip


async def a_day_of_decisions(gateway: Gateway, customer: Customer) -> uuid.UUID:
    """Decisions spread over the last 24 hours (the writer's own group commit); one id."""
    now = datetime.now(UTC)
    rows = []
    for hours_ago in range(24):
        at = now - timedelta(hours=hours_ago, minutes=7)
        busy = 1 + (hours_ago * 7) % 5  # some hours busier than others
        for outcome, reason, per_hour in TRAFFIC:
            rows += [_row(customer, at, outcome, reason) for _ in range(per_hour * busy // 3)]
        if hours_ago % 6 == 0:
            rows.append(_row(customer, at, Outcome.DENY, PRICE_UNAVAILABLE))
    await asyncio.gather(*(gateway.app[K.WRITER].record(row) for row in rows))
    return rows[0].id


async def a_ctr(gateway: Gateway, customer: Customer, decision_id: uuid.UUID) -> None:
    candidate = ReportCandidate(
        kind="CTR", customer_id=uuid.UUID(customer.id), decision_ids=(decision_id,),
        rule_ids=("kr.cash_report.current",), amount=Decimal("12000000"), currency="KRW",
        details={"threshold": "10000000", "period": "day"},
    )  # fmt: skip
    async with gateway.pool.acquire() as conn, conn.transaction():
        await open_report(conn, candidate)


async def check_page(page: Any, path: str) -> None:
    response = await page.goto(path)
    assert response is not None and response.status == 200, path
    assert await page.locator("h1").count() == 1, path
    assert await page.evaluate(UNLABELLED) == [], f"fields without a label on {path}"
    assert await page.evaluate(INPUT_BUTTONS) == 0, f"input buttons on {path}: use <button>"
    assert await page.evaluate(UNSCOPED_HEADERS) == 0, f"table headers without scope on {path}"


async def test_the_main_pages_render_cleanly_with_data(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    alice = await new_customer(http, console_gateway.url, "alice-7731")
    decision_id = await a_day_of_decisions(console_gateway, alice)
    await make_hold(
        console_gateway, alice, amount="0.25", held_ago=timedelta(hours=3), home_value=Decimal("24625000")
    )
    hold_id = await make_hold(console_gateway, alice, amount="0.05", held_ago=timedelta(minutes=40),
                              home_value=Decimal("4925000"))  # fmt: skip
    await a_ctr(console_gateway, alice, hold_id)
    officer = await browser.signed_in("compliance_officer")

    pages = {
        "overview": "/console/",
        "review-list": "/console/review",
        "hold-detail": f"/console/review/{hold_id}",
        "decision-search": "/console/decisions?outcome=deny",
        "decision-detail": f"/console/decisions/{decision_id}",
        "reports": "/console/reports",
        "customer": f"/console/customers?id={alice.id}",
        "proof": "/console/proof",
    }
    for name, path in pages.items():
        await check_page(officer, path)
        if name == "overview":
            for chart in ("Decisions per hour by outcome", "Top refusal reasons"):
                assert await officer.get_by_role("img", name=chart).is_visible(), chart
            bars = officer.locator("svg#outcomes-chart rect.chart-bar")
            assert await bars.count() > 24, "a stacked bar per outcome and hour"
        if name == "proof":  # shown with a verification's result, as after the button
            await officer.get_by_role("button", name="Run verification").click()
            await officer.wait_for_load_state()
            assert await officer.get_by_role("status").filter(has_text="Intact").count() == 1
        await screenshot(officer, name)


async def test_a_refusal_reason_on_the_overview_opens_its_decisions(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    bob = await new_customer(http, console_gateway.url, "bob")
    await a_day_of_decisions(console_gateway, bob)
    auditor = await browser.signed_in("auditor")
    await auditor.goto("/console/")
    shown = await auditor.locator("#refusals-chart text.chart-value").all_text_contents()

    await auditor.get_by_text("The numbers").nth(1).click()  # the refusal table's <details>
    await auditor.get_by_role("link", name="bad_signature", exact=True).click()
    await auditor.wait_for_url("**/console/decisions?*")

    rows = auditor.locator("table tbody tr")
    reasons = await rows.locator("td:nth-child(6)").all_inner_texts()
    assert reasons and set(reasons) == {"bad_signature"}
    assert str(len(reasons)) == shown[0], "the search finds what the chart counted"
