"""The console's decision search, a decision's page and the export, against decisions made
by sending real calls through the gateway: every filter reads as the admin API reads it
(the same rows for the same query), paging follows the page's own "Next page" link,
exports are byte for byte the admin API's, personal data is masked by role, and a bad
filter is a 400 page."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.http.admin.decisions import FILTERS
from tests.conftest import Exchange, Gateway, gateway_settings, runtime_dsn
from tests.console.conftest import ConsoleClient, SignIn
from tests.support import AUDITOR_TOKEN, OFFICER_TOKEN, Customer, admin, new_customer, serving, signed

pytestmark = pytest.mark.asyncio

_ROW_LINK = re.compile(r'href="/console/decisions/([0-9a-f-]{36})"')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">Next page</a>')
_EXPORT = re.compile(r'<a href="(/console/decisions/export\?[^"]+)" download>')
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000",
         "timeInForce": "GTC"}  # fmt: skip
UNKNOWN = {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
_UPSTREAM_ATTEMPTS = 50  # a bound on polling for the exchange's answer, not a speed expectation
TOKEN_OF = {"auditor": AUDITOR_TOKEN, "compliance_officer": OFFICER_TOKEN}


@dataclass
class Log:
    frank: Customer
    grace: Customer
    order_id: str  # forwarded: the exchange answered
    denied_id: str  # refused: never forwarded


async def _log(gateway: Gateway, http: aiohttp.ClientSession) -> Log:
    """Six decisions: frank reads his account three times, places a real order and one for
    a symbol that does not exist; grace reads her account once."""
    frank = await new_customer(http, gateway.url, "frank")
    grace = await new_customer(http, gateway.url, "grace")
    for _ in range(3):
        status, _, _ = await signed(http, gateway.url, "GET", "/api/v3/account", frank, {})
        assert status == 200
    status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order", frank, ORDER)
    assert status == 200, body
    order_id = headers["X-Decision-Id"]
    status, body, headers = await signed(http, gateway.url, "POST", "/api/v3/order", frank, UNKNOWN)
    assert status == 400, body
    denied_id = headers["X-Decision-Id"]
    status, _, _ = await signed(http, gateway.url, "GET", "/api/v3/account", grace, {})
    assert status == 200
    return Log(frank, grace, order_id, denied_id)


async def _page(client: ConsoleClient, path: str, status: int = 200) -> str:
    async with client.get(path) as response:
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == "text/html"
        return text


def _ids(page: str) -> list[str]:
    return _ROW_LINK.findall(page)


async def _api_ids(
    gateway: Gateway, http: aiohttp.ClientSession, query: str, token: str = AUDITOR_TOKEN
) -> list[str]:
    status, body = await admin(http, gateway.url, "GET", f"/admin/v1/decisions?{query}", token=token)
    assert status == 200, body
    assert body["next_cursor"] is None
    return [d["id"] for d in body["decisions"]]


def _filter_cases(log: Log) -> list[tuple[str, dict[str, str]]]:
    """One case per filter of the admin API (query_schemas.DecisionFilterQuery)."""
    return [
        ("outcome", {"outcome": "deny"}),
        ("action_kind", {"action_kind": "order"}),
        ("customer_id", {"customer_id": log.grace.id}),
        ("reason", {"reason": "unknown_symbol"}),
        ("rule_id", {"rule_id": "core.instrument.unknown_symbol"}),
        ("country", {"country": "US"}),
        ("asset", {"asset": "BTC"}),
        ("notional_min", {"notional_min": "40"}),
        ("notional_max", {"notional_max": "60", "action_kind": "order"}),
        ("review_status", {"review_status": "pending"}),
        ("since", {"since": "2999-01-01T00:00:00Z"}),
        ("until", {"until": "2000-01-01T00:00:00Z"}),
    ]


async def test_every_filter_narrows_as_the_api_does(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    log = await _log(console_app, http)
    auditor = await signed_in("auditor")
    everything = _ids(await _page(auditor, "/console/decisions"))
    assert everything == await _api_ids(console_app, http, "") and len(everything) == 6
    # A submitted form sends its empty fields: they are no filter.
    blank = urlencode({name: "" for name in ("outcome", "customer_id", "reason", "since", "sort", "limit")})
    assert _ids(await _page(auditor, f"/console/decisions?{blank}")) == everything
    cases = _filter_cases(log)
    # A filter the API gains needs its field on the form and its case here.
    assert {name for name, _ in cases} | {"sort"} == FILTERS
    form = await _page(auditor, "/console/decisions")
    for name in FILTERS | {"limit"}:
        assert f'<label for="f-{name}">' in form and f'name="{name}"' in form, name
    for name, params in cases:
        query = urlencode(params)
        shown = _ids(await _page(auditor, f"/console/decisions?{query}"))
        assert shown == await _api_ids(console_app, http, query), name
        assert set(shown) < set(everything), f"{name} does not narrow"
    assert _ids(await _page(auditor, "/console/decisions?outcome=deny")) == [log.denied_id]
    oldest_first = _ids(await _page(auditor, "/console/decisions?sort=asc"))
    assert oldest_first == list(reversed(everything))
    # The form shows the filter it ran, so the URL is the search.
    page = await _page(auditor, f"/console/decisions?reason=unknown_symbol&customer_id={log.frank.id}")
    assert f'value="{log.frank.id}"' in page and 'value="unknown_symbol"' in page


async def test_paging_follows_the_next_link_with_the_filter(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    log = await _log(console_app, http)
    officer = await signed_in("compliance_officer")
    path: str | None = f"/console/decisions?customer_id={log.frank.id}&limit=2"
    pages: list[list[str]] = []
    while path is not None:
        page = await _page(officer, path)
        pages.append(_ids(page))
        found = _NEXT.search(page)
        path = html.unescape(found[1]) if found else None
        if path is not None:
            assert f"customer_id={log.frank.id}" in path and "limit=2" in path and "cursor=" in path
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [i for p in pages for i in p]
    assert seen == await _api_ids(console_app, http, f"customer_id={log.frank.id}", OFFICER_TOKEN)
    assert len(set(seen)) == 5


async def _upstream(gateway: Gateway, http: aiohttp.ClientSession, decision_id: str) -> dict[str, Any]:
    """The decision as the API shows it, once the exchange's answer has joined it (it
    is written with a later batch)."""
    for _ in range(_UPSTREAM_ATTEMPTS):
        status, body = await admin(
            http, gateway.url, "GET", f"/admin/v1/decisions/{decision_id}", token=AUDITOR_TOKEN
        )
        assert status == 200, body
        if body["upstream"]:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("the exchange's answer never joined the decision")


async def test_a_decisions_page_shows_findings_facts_chain_and_the_exchanges_answer(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    log = await _log(console_app, http)
    api = await _upstream(console_app, http, log.order_id)
    auditor = await signed_in("auditor")
    page = await _page(auditor, f"/console/decisions/{log.order_id}")
    for field in ("chain_id", "seq", "prev_hash", "entry_hash"):
        assert f">{api[field]}<" in page, field
    assert "<code>decisions</code>" in page  # the stream
    answer = api["upstream"][0]
    assert f"<td>{answer['http_status']}</td>" in page
    facts = page[page.find('id="facts"') :]
    assert "BTCUSDT" in facts and "0.001" in facts and "50000" in facts, facts[:3000]  # the call's facts
    assert api["rule_pack_version"] in page

    denied = await _page(auditor, f"/console/decisions/{log.denied_id}")
    status, detail = await admin(
        http, console_app.url, "GET", f"/admin/v1/decisions/{log.denied_id}", token=AUDITOR_TOKEN
    )
    assert status == 200, detail
    finding = next(f for f in detail["findings"] if f["rule_id"] == "core.instrument.unknown_symbol")
    assert finding["rule_id"] in denied and finding["reason"] in denied
    assert html.escape(finding["message"]) in denied
    if finding.get("citation"):
        assert html.escape(finding["citation"]) in denied
    assert "not forwarded to the exchange" in denied
    await _page(auditor, "/console/decisions/00000000-0000-0000-0000-000000000000", status=404)


@pytest.mark.parametrize("role", ["auditor", "compliance_officer"])
async def test_exports_are_the_admin_apis_bytes(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn, role: str
) -> None:
    log = await _log(console_app, http)
    await _upstream(console_app, http, log.order_id)
    client = await signed_in(role)
    query = urlencode({"customer_id": log.frank.id, "action_kind": "order", "limit": "1"})
    page = await _page(client, f"/console/decisions?{query}")
    links = [html.unescape(link) for link in _EXPORT.findall(page)]
    assert len(links) == 2, "CSV and JSON Lines, for a role that may export"
    for link in links:
        assert "limit=" not in link and f"customer_id={log.frank.id}" in link
        fmt = "csv" if "format=csv" in link else "jsonl"
        async with client.get(link) as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"] == f'attachment; filename="decisions.{fmt}"'
            ours = await response.read()
        api_query = urlencode({"customer_id": log.frank.id, "action_kind": "order", "format": fmt})
        headers = {"Authorization": f"Bearer {TOKEN_OF[role]}"}
        async with http.get(
            f"{console_app.url}/admin/v1/decisions/export?{api_query}", headers=headers
        ) as api:
            assert api.status == 200
            assert ours == await api.read()
        assert log.order_id.encode() in ours and log.denied_id.encode() in ours
        assert log.frank.id.encode() not in ours, "masked as the API masks it"


async def test_personal_data_is_masked_by_role(
    console_app: Gateway, http: aiohttp.ClientSession, signed_in: SignIn
) -> None:
    log = await _log(console_app, http)
    masked = log.frank.id[:4] + "…" + log.frank.id[-4:]
    for role in ("auditor", "compliance_officer"):
        client = await signed_in(role)
        for path in ("/console/decisions", f"/console/decisions/{log.order_id}"):
            page = await _page(client, path)
            assert log.frank.id not in page.replace(f'value="{log.frank.id}"', ""), (role, path)
            assert masked in page, (role, path)
        # Filtering by the customer is allowed: the id the person typed stays in the form and
        # the links that carry the filter, never in the rows.
        page = await _page(client, f"/console/decisions?customer_id={log.frank.id}")
        rows = page[page.index('<table class="records">') :]
        assert log.frank.id not in rows and masked in rows
    operator = await signed_in("operator")
    for path in (
        "/console/decisions",
        f"/console/decisions/{log.order_id}",
        "/console/decisions/export?format=csv",
    ):
        text = await _page(operator, path, status=403)
        assert log.frank.id not in text and masked not in text


BAD_QUERIES = [
    ("bad-outcome", "/console/decisions?outcome=maybe", "outcome"),
    ("bad-kind", "/console/decisions?action_kind=teleport", "action_kind"),
    ("bad-customer", "/console/decisions?customer_id=42", "customer_id"),
    ("naive-time", "/console/decisions?since=2026-01-01T00:00:00", "since"),
    (
        "since-after-until",
        "/console/decisions?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        "until",
    ),
    ("min-above-max", "/console/decisions?notional_min=10&notional_max=1", "notional_max"),
    ("float-amount", "/console/decisions?notional_min=1e3", "notional_min"),
    ("bad-cursor", "/console/decisions?cursor=bm9wZQ", "cursor"),
    ("bad-limit", "/console/decisions?limit=0", "limit"),
    ("unknown-filter", "/console/decisions?colour=red", "colour"),
    ("duplicated-filter", "/console/decisions?outcome=deny&outcome=allow", "outcome"),
    ("control-character", "/console/decisions?reason=a%00b", "reason"),
    ("export-no-format", "/console/decisions/export?outcome=deny", "format"),
    ("export-bad-format", "/console/decisions/export?format=xml", "format"),
    ("export-paging", "/console/decisions/export?format=csv&cursor=x", "cursor"),
    ("detail-query", "/console/decisions/00000000-0000-0000-0000-000000000000?x=1", "x"),
]


@pytest.mark.parametrize(("path", "field"), [c[1:] for c in BAD_QUERIES], ids=[c[0] for c in BAD_QUERIES])
async def test_a_bad_filter_is_a_400_page_naming_it(
    console_app: Gateway, signed_in: SignIn, path: str, field: str
) -> None:
    auditor = await signed_in("auditor")
    page = await _page(auditor, path, status=400)
    assert field in page


async def test_an_unreachable_audit_replica_fails_closed_with_a_503_page(
    database_url: str, exchange: Exchange
) -> None:
    """The search, a decision's page and both exports read the audit read pool (or a
    dedicated connection to it): that database down is a 503 page, never a 500 and never
    a partial file."""
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
        for path in (
            "/console/decisions", "/console/decisions/00000000-0000-0000-0000-000000000000",
            "/console/decisions/export?format=csv", "/console/reports/export?format=jsonl",
        ):  # fmt: skip
            page = await _page(client, path, status=503)
            assert "Traceback" not in page, path
