"""In Chromium: every main page of the console, with data on it, renders for an officer
without a CSP violation or a failed resource, with a label on every field, buttons that
are buttons and table headers with a scope; the overview's charts are drawn. The data on
them comes from real calls through the gateway (an_hour_of_real_calls), so the pages show
the real rule pack's holds, citations, valuations and report candidates.

With CONSOLE_SCREENSHOTS=1 the pages are also saved as docs/console/<name>.png, the
pictures the README shows (taken once and committed; not in every run, so a run leaves
the tree clean)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest

from gateway import appkeys as K
from gateway.store.records import DecisionRow, new_decision_id
from policy.action import Action, ActionKind, Side
from policy.decision import Finding, Outcome, Verdict
from tests.browser.conftest import SCREENSHOT_MAX_HEIGHT, Browser, screenshot
from tests.conftest import Gateway
from tests.review.support import review
from tests.support import Customer, ccxt_client, identity_body, new_customer, signed, travel_rule_params

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]

BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
LISTED_BTC = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"  # on the packaged OFAC snapshot
# Pages whose first results sit below a long filter form: pictured taller, to show some.
TALL_PAGES = {"decision-search": 1500}
# How busy each UTC hour is, as a multiple of the real calls: Korea trades from morning
# (00:00 UTC is 09:00 KST) to past midnight, and sleeps from about 17:00 to 22:00 UTC.
BUSY_BY_UTC_HOUR = (4, 4, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 3)

# In the page: fields without a label, "buttons" that are inputs, table headers without scope.
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
INPUT_BUTTONS = (
    "document.querySelectorAll('input[type=submit], input[type=button], input[type=reset]').length"
)
UNSCOPED_HEADERS = "document.querySelectorAll('tbody th:not([scope]), thead th:not([scope])').length"


def _finding(stored: dict[str, Any]) -> Finding:
    return Finding(
        stored["stage"], stored["rule_id"], Outcome(stored["outcome"]), stored["reason"], stored["message"],
        stored.get("values", {}), stored.get("citation"),
    )  # fmt: skip


def _earlier(row: asyncpg.Record, at: datetime) -> DecisionRow:
    """A decision recorded at `at` with the findings and call of a real one."""
    action = Action(
        kind=ActionKind(row["action_kind"]), operation=row["operation"],
        customer_id=str(row["customer_id"]) if row["customer_id"] else None, symbol=row["symbol"],
        base_asset=row["base_asset"], quote_asset=row["quote_asset"], asset=row["asset"],
        side=Side(row["side"]) if row["side"] else None, order_type=row["order_type"],
        quantity=row["quantity"], price=row["price"], address=row["address"], network=row["network"],
    )  # fmt: skip
    findings = tuple(_finding(f) for f in row["findings"])  # the pool decodes jsonb
    return DecisionRow(
        id=new_decision_id(), decided_at=at, request_id=uuid.uuid4().hex, customer_id=action.customer_id,
        api_key_id=str(row["api_key_id"]) if row["api_key_id"] else None, dialect=row["dialect"],
        http_method=row["http_method"], path=row["path"], action=action,
        verdict=Verdict(Outcome(row["outcome"]), findings, row["rule_pack_version"]),
        decision_micros=row["decision_micros"], country=row["country"],
    )  # fmt: skip


async def a_day_like_this_hour(gateway: Gateway) -> None:
    """The overview's history: the day before as the real calls just made, through the
    gateway's own writer. Real calls are all made now, and a decision's time is the
    chain's, so earlier hours can only be recorded as such. The allowed calls come as
    often as the Korean day trades (BUSY_BY_UTC_HOUR); each other kind in two hours of three."""
    made = await gateway.pool.fetch("SELECT * FROM decisions ORDER BY decided_at")
    allowed = [row for row in made if row["outcome"] == "allow"]
    others = [row for row in made if row["outcome"] != "allow"]
    now = datetime.now(UTC)
    rows = []
    for hours_ago in range(1, 24):
        at = now - timedelta(hours=hours_ago, minutes=7)
        rows += [_earlier(row, at) for _ in range(BUSY_BY_UTC_HOUR[at.hour]) for row in allowed]
        rows += [_earlier(row, at) for n, row in enumerate(others) if (hours_ago + n) % 3]
    await asyncio.gather(*(gateway.app[K.WRITER].record(row) for row in rows))


@dataclass(frozen=True)
class Person:
    """A customer of a Korean exchange as the seeding makes them: names as on their papers."""

    reference: str
    legal_name: str
    native_name: str
    email: str
    nationality: str = "KR"


PARK = Person("UB-2104-88317", "Park Seoyeon", "박서연", "seoyeon.park@example.kr")
LEE = Person("UB-2107-10452", "Lee Jiho", "이지호", "jiho.lee@example.kr")
CHOI = Person("UB-2203-55019", "Choi Yuna", "최유나", "yuna.choi@example.kr")
JUNG = Person("UB-2301-72268", "Jung Hyunwoo", "정현우", "hyunwoo.jung@example.kr")
KANG = Person("UB-2305-30981", "Kang Minseo", "강민서", "minseo.kang@example.kr")
TANAKA = Person("UB-2402-01177", "Tanaka Haruto", "田中陽翔", "haruto.tanaka@example.jp", nationality="JP")


async def customer_of(http: aiohttp.ClientSession, url: str, person: Person, **options: Any) -> Customer:
    identity = identity_body(
        nationality=person.nationality, legal_name=person.legal_name, native_name=person.native_name,
        contact={"email": person.email},
    )  # fmt: skip
    return await new_customer(http, url, person.reference, identity=identity, **options)


async def withdraw_btc(client: Any, person: Person, amount: float, address: str = BTC_ADDRESS) -> str:
    """The decision id of one BTC withdrawal with the customer's own travel-rule data,
    whatever the outcome (held and refused ones are answered with an error)."""
    with contextlib.suppress(ccxt.ExchangeError):
        await client.withdraw("BTC", amount, address, params=travel_rule_params(person.legal_name))
    return str(client.last_response_headers["X-Decision-Id"])


async def buy_btc(client: Any, amount: float) -> None:
    with contextlib.suppress(ccxt.ExchangeError):
        await client.create_order("BTC/KRW", "market", "buy", amount)


@dataclass
class Seeded:
    """What the screenshots open: ids made by real calls through the gateway."""

    dual_hold: str  # approved by one officer, waiting for the second
    hold: str  # below the four-eyes threshold
    refusal: str  # a withdrawal to a sanctioned address
    customer: Customer


async def an_hour_of_real_calls(gateway: Gateway, http: aiohttp.ClientSession) -> Seeded:
    """Customers trading and withdrawing through the gateway (ccxt, and a signed call), so
    that every hold, finding, citation, valuation and report candidate on the pictures is
    the real rule pack's: KRW 50m of withdrawals a day held (kr.aml), four eyes above
    DUAL_CONTROL_ABOVE, STR candidates, and refusals for the overview's chart."""
    url = gateway.url
    park, lee, choi, jung = [await customer_of(http, url, p) for p in (PARK, LEE, CHOI, JUNG)]
    kang = await customer_of(http, url, KANG, verified=False)
    tanaka = await customer_of(http, url, TANAKA)
    held: dict[str, str] = {}
    # 0.25 BTC is about KRW 21m: withdrawals are allowed (and STR candidates) until one
    # takes the day over KRW 50m, which is held; Park's and Lee's last are worth more than
    # DUAL_CONTROL_ABOVE, Choi's (about KRW 6.7m) less.
    days = (
        (PARK, park, (0.25, 0.25, 0.25)),
        (LEE, lee, (0.25, 0.25, 0.25)),
        (CHOI, choi, (0.25, 0.25, 0.05, 0.08)),
    )
    for person, customer, amounts in days:
        async with ccxt_client(url, customer) as client:
            for amount in amounts:
                held[person.reference] = await withdraw_btc(client, person, amount)
            await buy_btc(client, 0.02)
    async with ccxt_client(url, jung) as client:
        await buy_btc(client, 0.05)
        await withdraw_btc(client, JUNG, 0.13)  # about KRW 11m: allowed, an STR candidate
        refusal = await withdraw_btc(client, JUNG, 0.01, LISTED_BTC)
        with contextlib.suppress(ccxt.ExchangeError):  # no travel-rule data: refused
            await client.withdraw("BTC", 0.02, BTC_ADDRESS)
    for customer in (kang, tanaka):  # not verified; a foreign national
        async with ccxt_client(url, customer) as client:
            await buy_btc(client, 0.01)
    # A trading bot with a stale secret, retrying: the day's most common refusal.
    stale = Customer(choi.id, choi.reference, choi.api_key, "stale-" + choi.secret)
    for _ in range(2):
        status, _, _ = await signed(http, url, "POST", "/api/v3/order", stale,
                                    {"symbol": "BTCKRW", "side": "BUY", "type": "MARKET", "quantity": "0.01"})  # fmt: skip
        assert status == 400
    dual_hold = held[PARK.reference]
    status, body = await review(http, url, uuid.UUID(dual_hold), "approve",
                                json={"note": "Salary and bonus statements on file; first approval."})  # fmt: skip
    assert status in (200, 202), body
    return Seeded(dual_hold, held[CHOI.reference], refusal, park)


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
    seeded = await an_hour_of_real_calls(console_gateway, http)
    await a_day_like_this_hour(console_gateway)
    officer = await browser.signed_in("compliance_officer")
    # The four-eyes hold as the officer who has not approved it yet sees it: the first
    # officer's approval above the form that would forward it.
    second = await browser.signed_in("second_officer")

    pages = {
        "overview": "/console/",
        "review-list": "/console/review",
        "hold-detail": f"/console/review/{seeded.dual_hold}",
        "decision-search": "/console/decisions?outcome=deny",
        "decision-detail": f"/console/decisions/{seeded.refusal}",
        "reports": "/console/reports",
        "customer": f"/console/customers?id={seeded.customer.id}",
        "proof": "/console/proof",
    }
    for name, path in pages.items():
        page = second if name == "hold-detail" else officer
        await check_page(page, path)
        if name == "overview":
            for chart in ("Decisions per hour by outcome", "Top refusal reasons"):
                assert await page.get_by_role("img", name=chart).is_visible(), chart
            bars = page.locator("svg#outcomes-chart rect.chart-bar")
            assert await bars.count() > 24, "a stacked bar per outcome and hour"
        if name == "review-list":  # the real holds, oldest first: four eyes on the first two
            approvals = await page.locator("table .approvals").all_inner_texts()
            assert approvals == ["(1 of 2 approvals)", "(0 of 2 approvals)"], approvals
            held = page.locator(f'a[href="/console/review/{seeded.hold}"]')
            assert await held.count() == 1, "the hold below the threshold, one officer's"
        if name == "proof":  # shown with a verification's result, as after the button
            await page.get_by_role("button", name="Run verification").click()
            await page.wait_for_load_state()
            assert await page.get_by_role("status").filter(has_text="Intact").count() == 1
        await screenshot(page, name, TALL_PAGES.get(name, SCREENSHOT_MAX_HEIGHT))


async def test_a_refusal_reason_on_the_overview_opens_its_decisions(
    browser: Browser, console_gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    await an_hour_of_real_calls(console_gateway, http)
    await a_day_like_this_hour(console_gateway)
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
