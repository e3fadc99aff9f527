"""The console's review queue: held calls oldest first and masked by role, a hold's page
with what held it (rules and citations) and what the reviewer weighs, approve / reject
with a required note through the same ReviewService as the admin API (exactly once, the
loser of a race told why), and an auditor who sees no form and whose POST changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import ccxt.async_support as ccxt
import pytest

from gateway.app import create_app
from gateway.http.console.render import money
from gateway.http.console.review import PAGE_SIZE, RESULTS
from tests.conftest import Exchange, Gateway
from tests.console.conftest import ConsoleClient, SignIn
from tests.review.support import ADDRESS, HOLD_FINDING, NOTE, events_of, hold_state, make_hold, withdrawals
from tests.review.test_dual_control import ABOVE, OFFICER_B, SECOND_NEEDED, WORTH_TWO, dual_settings
from tests.support import OFFICER_TOKEN, ccxt_client, new_customer, serving, travel_rule_params

pytestmark = pytest.mark.asyncio

_HOLD_LINK = re.compile(r'href="/console/review/([0-9a-f-]{36})"')


async def _page(client: ConsoleClient, path: str) -> tuple[int, str]:
    async with client.get(path) as response:
        return response.status, await response.text()


async def _post(client: ConsoleClient, path: str, note: str | None = NOTE) -> tuple[int, str, str]:
    data = {} if note is None else {"note": note}
    async with client.post(path, data) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def _withdraw(client: Any) -> str:
    """The decision id of a withdrawal of 0.25 BTC (about KRW 21m), whatever the outcome."""
    with contextlib.suppress(ccxt.ExchangeError):
        await client.withdraw("BTC", 0.25, ADDRESS, params=travel_rule_params())
    return str(client.last_response_headers["X-Decision-Id"])


def _masked(customer_id: str) -> str:
    return customer_id[:4] + "…" + customer_id[-4:]


async def test_queue_lists_pending_holds_oldest_first_masked_for_every_role(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    alice = await new_customer(http, console_app.url, "alice")
    newer = await make_hold(console_app, alice, held_ago=timedelta(minutes=5))
    older = await make_hold(console_app, alice, held_ago=timedelta(hours=3))
    oldest_settled = await make_hold(console_app, alice, held_ago=timedelta(hours=9))
    officer = await signed_in("compliance_officer")
    status, _, _ = await _post(officer, f"/console/review/{oldest_settled}/reject")
    assert status == 303

    for role in ("compliance_officer", "auditor"):
        client = officer if role == "compliance_officer" else await signed_in(role)
        status, page = await _page(client, "/console/review")
        assert status == 200, page
        # Pending only, by default, and the longest wait first, with its age.
        assert _HOLD_LINK.findall(page) == [str(older), str(newer)], role
        assert "3 h" in page and "5 min" in page
        # The customer is masked for both roles, as in the admin API.
        assert alice.id not in page and _masked(alice.id) in page
        # What held it, with the rule and its citation.
        assert HOLD_FINDING.rule_id in page and "Test citation" in page

    status, page = await _page(officer, "/console/review?state=rejected")
    assert status == 200 and _HOLD_LINK.findall(page) == [str(oldest_settled)]
    status, page = await _page(officer, "/console/review?state=any")
    assert _HOLD_LINK.findall(page) == [str(oldest_settled), str(older), str(newer)]
    # An operator has no review permission: the page is refused, as the admin API's is.
    operator = await signed_in("operator")
    assert (await _page(operator, "/console/review"))[0] == 403


async def test_queue_pages_with_a_cursor_and_refuses_bad_query_values(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    bob = await new_customer(http, console_app.url, "bob")
    holds = [
        await make_hold(console_app, bob, held_ago=timedelta(minutes=n)) for n in range(PAGE_SIZE + 1, 0, -1)
    ]
    auditor = await signed_in("auditor")
    status, first = await _page(auditor, "/console/review")
    assert status == 200 and _HOLD_LINK.findall(first) == [str(h) for h in holds[:PAGE_SIZE]]
    next_link = re.search(r'href="(/console/review\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert next_link is not None
    status, second = await _page(auditor, next_link[1].replace("&amp;", "&"))
    assert status == 200 and _HOLD_LINK.findall(second) == [str(holds[-1])]
    assert 'rel="next"' not in second

    for bad in ("state=approved", "cursor=not-a-cursor", "state=pending&cursor=eyJ4IjoxfQ%3D%3D"):
        status, page = await _page(auditor, f"/console/review?{bad}")
        assert status == 400, bad
        assert "not-a-cursor" not in page


async def test_hold_page_shows_the_decision_findings_citations_windows_and_history(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    carol = await new_customer(http, console_app.url, "carol")
    earlier = await make_hold(console_app, carol, amount="0.02", held_ago=timedelta(hours=1))
    hold_id = await make_hold(console_app, carol, amount="0.01")
    officer = await signed_in("compliance_officer")
    status, page = await _page(officer, f"/console/review/{hold_id}")
    assert status == 200, page
    # The original decision: outcome, reasons, every finding with its citation, the pack.
    assert "test-pack" in page and HOLD_FINDING.rule_id in page and HOLD_FINDING.reason in page
    assert "Test citation" in page and HOLD_FINDING.message in page
    # The customer's latest decisions include the earlier hold; masked customer and address.
    assert f"/console/decisions/{earlier}" in page
    assert carol.id not in page and "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" not in page
    # The hold's history: who, what.
    assert "system:policy" in page and ">held<" in page
    # The approve / reject form, with its required, labelled note.
    assert f'action="/console/review/{hold_id}/approve"' in page
    assert f'formaction="/console/review/{hold_id}/reject"' in page
    assert '<label for="note">' in page and 'maxlength="1000"' in page and "required" in page

    assert (await _page(officer, f"/console/review/{uuid.uuid4()}"))[0] == 404
    # Not an id at all: the console edge's check of path parameters (a 400 page).
    assert (await _page(officer, "/console/review/not-a-uuid"))[0] == 400
    # The result line comes from a fixed vocabulary; anything else is refused, never shown.
    status, page = await _page(officer, f"/console/review/{hold_id}?result=%3Cscript%3E")
    assert status == 400 and "<script>" not in page


async def test_a_real_held_withdrawal_shows_its_valuation_movements_and_window_sums(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    judy = await new_customer(http, console_app.url, "judy")
    async with ccxt_client(console_app.url, judy) as client:
        allowed = [await _withdraw(client) for _ in range(2)]
        held = await _withdraw(client)  # the third takes the day over KRW 50m: held
    conn = await asyncpg.connect(console_app.database_url)
    try:
        recorded = await conn.fetch(
            """SELECT decision_id::text AS id, ("values" ->> 'KRW')::numeric AS krw FROM movements
                WHERE customer_id = $1 ORDER BY occurred_at""",
            uuid.UUID(judy.id),
        )
    finally:
        await conn.close()
    assert [r["id"] for r in recorded] == [*allowed, held]
    auditor = await signed_in("auditor")
    status, page = await _page(auditor, f"/console/review/{held}")
    assert status == 200, page
    # What held it: the hold rule with its citation; the STR rules that fired beside it are
    # on the decision's full list of findings.
    held_by = re.search(r"<caption>What held it</caption>(.*?)</table>", page, re.S)
    assert held_by is not None
    assert re.findall(r"<code>([a-z0-9_.]+)</code>", held_by[1]) == ["kr.withdrawal.day_total.hold"]
    assert "<cite>" in held_by[1] and "kr.str.day_total.current" in page
    # The amount's value in the home currency, as the decision recorded it.
    assert f"{money(recorded[-1]['krw'])} KRW" in page
    # Its movements, newest first, all counted (the held one too, until it is refused).
    table = re.search(r'<table class="records movements">(.*?)</table>', page, re.S)
    assert table is not None
    assert re.findall(r"<td>withdrawal( \(held\))?</td>", table[1]) == [" (held)", "", ""]
    assert table[1].count("<td>yes</td>") == 3
    # The 24 h window as the AML stage reads it: the three withdrawals, none deposited.
    row = re.search(r'<th scope="row">24h</th>(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([0-9.]+) KRW <span class="muted">\((\d+)\)</span>', row[1])
    total = sum((r["krw"] for r in recorded), Decimal(0))
    assert [(Decimal(v), int(n)) for v, n in cells] == [(Decimal(0), 0), (total, 3), (total, 3)]


async def test_approve_forwards_once_and_shows_the_result(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    dave = await new_customer(http, console_app.url, "dave")
    hold_id = await make_hold(console_app, dave)
    officer = await signed_in("compliance_officer")
    status, location, _ = await _post(officer, f"/console/review/{hold_id}/approve")
    assert status == 303 and location == f"/console/review/{hold_id}?result=forwarded"
    assert len(await withdrawals(http, exchange, dave.id)) == 1
    assert await hold_state(console_app, hold_id) == "forwarded"
    status, page = await _page(officer, location)
    assert status == 200 and RESULTS["forwarded"] in page
    assert NOTE in page and 'action="/console/review/' not in page  # settled: no form
    # The same audit trail as the admin API's approval, naming the officer.
    assert [kind for kind, _ in await events_of(console_app, hold_id)] == [
        "review.approved",
        "review.forwarded",
    ]

    # Submitted again (a double click): a 409 page that says who did what; nothing sent.
    status, _, page = await _post(officer, f"/console/review/{hold_id}/approve")
    assert status == 409 and "Already approved by admin:compliance_officer:" in page
    assert "forwarded" in page and "nothing changed" in page
    assert len(await withdrawals(http, exchange, dave.id)) == 1


async def test_reject_refuses_for_good(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    erin = await new_customer(http, console_app.url, "erin")
    hold_id = await make_hold(console_app, erin)
    officer = await signed_in("compliance_officer")
    status, location, _ = await _post(officer, f"/console/review/{hold_id}/reject")
    assert status == 303 and location == f"/console/review/{hold_id}?result=rejected"
    assert await hold_state(console_app, hold_id) == "rejected"
    assert (await _page(officer, location))[1].count(RESULTS["rejected"]) == 1
    status, _, page = await _post(officer, f"/console/review/{hold_id}/approve")
    assert status == 409 and "Already rejected by admin:compliance_officer:" in page
    assert await withdrawals(http, exchange, erin.id) == []


@pytest.mark.parametrize(
    "note", [None, "", "   \n\t ", "x" * 1001], ids=["missing", "empty", "blank", "too-long"]
)
async def test_a_note_that_is_missing_blank_or_too_long_re_renders_the_form_with_422(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn, note: str | None
) -> None:
    frank = await new_customer(http, console_app.url, "frank")
    hold_id = await make_hold(console_app, frank)
    officer = await signed_in("compliance_officer")
    for verb in ("approve", "reject"):
        status, _, page = await _post(officer, f"/console/review/{hold_id}/{verb}", note)
        assert status == 422, page
        assert "A note is required" in page and 'aria-invalid="true"' in page
    assert await hold_state(console_app, hold_id) == "pending"
    assert await events_of(console_app, hold_id) == []
    assert await withdrawals(http, exchange, frank.id) == []


async def test_an_auditor_sees_no_form_and_a_posted_review_is_refused(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    grace = await new_customer(http, console_app.url, "grace")
    hold_id = await make_hold(console_app, grace)
    auditor = await signed_in("auditor")
    status, page = await _page(auditor, f"/console/review/{hold_id}")
    assert status == 200 and HOLD_FINDING.rule_id in page
    assert "<textarea" not in page and "Approve</button>" not in page and "Reject</button>" not in page
    for verb in ("approve", "reject"):
        status, _, page = await _post(auditor, f"/console/review/{hold_id}/{verb}")
        assert status == 403, page
    assert await hold_state(console_app, hold_id) == "pending"
    assert await events_of(console_app, hold_id) == []
    assert await withdrawals(http, exchange, grace.id) == []


async def test_two_officers_racing_one_wins_the_other_is_told_why(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    heidi = await new_customer(http, console_app.url, "heidi")
    approved, contested = await make_hold(console_app, heidi), await make_hold(console_app, heidi)
    first, second = await signed_in("compliance_officer"), await signed_in("compliance_officer")

    answers = await asyncio.gather(
        _post(first, f"/console/review/{approved}/approve"),
        _post(second, f"/console/review/{approved}/approve"),
    )
    assert sorted(status for status, _, _ in answers) == [303, 409]
    loser = next(page for status, _, page in answers if status == 409)
    assert "Already approved by admin:compliance_officer:" in loser and "nothing changed" in loser
    assert len(await withdrawals(http, exchange, heidi.id)) == 1

    # One approves while the other rejects: whichever lands first decides, once.
    answers = await asyncio.gather(
        _post(first, f"/console/review/{contested}/approve"),
        _post(second, f"/console/review/{contested}/reject"),
    )
    assert sorted(status for status, _, _ in answers) == [303, 409]
    state = await hold_state(console_app, contested)
    loser = next(page for status, _, page in answers if status == 409)
    assert ("Already rejected by" in loser) == (state == "rejected")
    assert len(await withdrawals(http, exchange, heidi.id)) == (2 if state == "forwarded" else 1)


async def test_an_expired_hold_cannot_be_approved(
    console_app: Gateway, exchange: Exchange, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    ivan = await new_customer(http, console_app.url, "ivan")
    hold_id = await make_hold(console_app, ivan, held_ago=timedelta(hours=2), expires_in=timedelta(hours=1))
    officer = await signed_in("compliance_officer")
    status, _, page = await _post(officer, f"/console/review/{hold_id}/approve")
    assert status == 409 and "expired before it was reviewed" in page
    assert await hold_state(console_app, hold_id) == "expired"
    assert await withdrawals(http, exchange, ivan.id) == []


async def _officer(url: str, session: aiohttp.ClientSession, token: str, database_url: str) -> ConsoleClient:
    client = ConsoleClient(url, session, "compliance_officer")
    assert (await client.sign_in(token)).status == 303
    client.csrf = await client.session_csrf(database_url)
    return client


async def test_dual_control_above_the_threshold_needs_two_different_officers(
    database_url: str, exchange: Exchange, http: aiohttp.ClientSession
) -> None:
    app = create_app(dual_settings(database_url, exchange.url))
    async with (
        serving(app) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser_a,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser_b,
    ):
        dual = Gateway(url, app, database_url)
        kim = await new_customer(http, url, "kim")
        hold_id = await make_hold(dual, kim, home_value=WORTH_TWO)
        first = await _officer(url, browser_a, OFFICER_TOKEN, database_url)
        second = await _officer(url, browser_b, OFFICER_B, database_url)
        status, page = await _page(first, "/console/review")
        assert status == 200 and "0 of 2 approvals" in page

        status, location, _ = await _post(first, f"/console/review/{hold_id}/approve")
        assert status == 303 and location == f"/console/review/{hold_id}?result=first_approval"
        assert await hold_state(dual, hold_id) == "pending"
        assert await withdrawals(http, exchange, kim.id) == []
        status, page = await _page(second, location)
        assert RESULTS["first_approval"] in page and "1 of 2" in page
        assert f'action="/console/review/{hold_id}/approve"' in page  # still pending: the form stays
        assert ">Approve</button>" in page and ">Reject</button>" in page
        # The officer who approved is offered no second approval, only a rejection.
        status, page = await _page(first, location)
        assert ">Approve</button>" not in page and ">Reject</button>" in page
        assert "a second, different officer must approve" in page
        # The same officer again: refused, told why; still nothing sent.
        status, _, page = await _post(first, f"/console/review/{hold_id}/approve")
        assert status == 409 and SECOND_NEEDED in page and "nothing changed" in page
        assert await withdrawals(http, exchange, kim.id) == []

        status, location, _ = await _post(second, f"/console/review/{hold_id}/approve")
        assert status == 303 and location == f"/console/review/{hold_id}?result=forwarded"
        assert len(await withdrawals(http, exchange, kim.id)) == 1
        status, page = await _page(first, location)
        assert "2 of 2" in page and RESULTS["forwarded"] in page

        # At or below the threshold one officer is enough.
        small = await make_hold(dual, kim, home_value=ABOVE)
        status, location, _ = await _post(first, f"/console/review/{small}/approve")
        assert status == 303 and location.endswith("?result=forwarded")
        assert len(await withdrawals(http, exchange, kim.id)) == 2
